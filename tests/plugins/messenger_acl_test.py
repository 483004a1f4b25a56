#!/usr/bin/python3
"""The messenger's ACL (examples/messenger/auth/acl, the shipped file itself) in build/ringmq
with the auth_file plugin, checked with paho (MQTT 5.0) over real sockets: what
docs/messenger.md promises a signed-in user can and cannot do.

  inbox     alice reads her own inbox (msgr/u/alice/#), not bob's (SUBACK 0x87); a wildcard
            over every inbox (msgr/u/+/dm/#) is refused too
  sender    alice writes into bob's inbox under her own name (delivered); a message whose last
            level names someone else (msgr/u/bob/dm/carol: a forged sender) is refused with
            PUBACK 0x87 and never delivered; the same for receipts and typing
  rooms     members read and write their rooms under their own name; carol, not in 'team',
            may neither subscribe to it nor post to it
  presence  everyone reads msgr/p/+; a user sets only their own presence, and a will on
            someone else's presence topic refuses the CONNECT (0x87)
  sessions  with the shipped config's client_id_prefix (msgr-%u-), bob cannot connect with
            alice's client id (5.0: 0x85, 3.1.1: 2), so he cannot take over her session and
            its queue
The auth_file options are the shipped config's (examples/messenger/auth/ringmq.toml) with
this test's password file. The broker runs as in auth_file_test.py (ephemeral 127.0.0.1 port, temporary --data-dir,
passwords made with ringmq-passwd). Environment (meson): RINGMQ_BROKER,
RINGMQ_AUTH_FILE_PLUGIN, RINGMQ_PASSWD.
"""

import json
import os
import shutil
import sys
import tempfile
import tomllib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "interop"))
from auth_file_test import PLUGIN, Broker, Client, run_scenarios, set_password  # noqa: E402
from interop import check, expect_equal, queue_get, queue_quiet  # noqa: E402

AUTH_DIR = os.path.join(HERE, "..", "..", "examples", "messenger", "auth")
ACL_FILE = os.path.join(AUTH_DIR, "acl")
SHIPPED_CONFIG = os.path.join(AUTH_DIR, "ringmq.toml")
USERS = ("alice", "bob", "carol")
REFUSED = 0x87


def signed_in(port, user, **kw):
    c = Client(port, "v5", user, f"{user}-pw", client_id=f"msgr-{user}-test", **kw)
    expect_equal(f"{user} CONNACK", 0, c.connack())
    return c


def refused_publish(client, topic):
    """Publishes at QoS 1 and waits for the PUBACK (0x87, which paho 1.6 does not report:
    auth_file_test.py checks the code with mosquitto_pub; callers here check that nothing is
    delivered)."""
    info = client.c.publish(topic, b'{"id":"x","ts":0,"text":"forged"}', qos=1)
    info.wait_for_publish(timeout=5)
    check(info.is_published(), f"{topic}: no PUBACK")


def scenario_inbox(port):
    alice = signed_in(port, "alice")
    try:
        expect_equal("alice's own inbox", [1], alice.subscribe("msgr/u/alice/#"))
        expect_equal("bob's inbox", [REFUSED], alice.subscribe("msgr/u/bob/#"))
        expect_equal("every inbox's messages", [REFUSED], alice.subscribe("msgr/u/+/dm/#"))
        expect_equal("everything", [REFUSED], alice.subscribe("msgr/#"))
    finally:
        alice.close()


def scenario_sender(port):
    bob, alice = signed_in(port, "bob"), signed_in(port, "alice")
    try:
        expect_equal("bob's inbox", [1], bob.subscribe("msgr/u/bob/#"))
        for kind in ("dm", "rcpt", "typing"):
            alice.publish(f"msgr/u/bob/{kind}/alice", f"from alice ({kind})")
            expect_equal(f"{kind} under her own name", (f"msgr/u/bob/{kind}/alice",
                                                        f"from alice ({kind})"),
                         queue_get(bob.messages, f"alice's {kind} at bob"))
            refused_publish(alice, f"msgr/u/bob/{kind}/carol")
        queue_quiet(bob.messages, "the publishes under someone else's name")
    finally:
        alice.close()
        bob.close()


def scenario_rooms(port):
    alice, carol = signed_in(port, "alice"), signed_in(port, "carol")
    try:
        expect_equal("alice in general", [1], alice.subscribe("msgr/r/general/#"))
        expect_equal("alice in team", [1], alice.subscribe("msgr/r/team/#"))
        expect_equal("carol in general", [1], carol.subscribe("msgr/r/general/#"))
        expect_equal("carol not in team", [REFUSED], carol.subscribe("msgr/r/team/#"))
        expect_equal("carol over every room", [REFUSED], carol.subscribe("msgr/r/+/m/#"))
        carol.publish("msgr/r/general/m/carol", "hi general")
        expect_equal("carol's room message", ("msgr/r/general/m/carol", "hi general"),
                     queue_get(alice.messages, "carol's message in general"))
        refused_publish(carol, "msgr/r/team/m/carol")      # not a member
        refused_publish(carol, "msgr/r/general/m/alice")   # a member, as someone else
        queue_quiet(alice.messages, "carol's refused room messages")
    finally:
        alice.close()
        carol.close()


def scenario_presence(port):
    watcher = signed_in(port, "bob")
    try:
        expect_equal("everyone's presence", [1], watcher.subscribe("msgr/p/+"))
        carol = signed_in(port, "carol", will="msgr/p/carol")
        carol.publish("msgr/p/carol", '{"state":"online","ts":1}')
        expect_equal("carol online", ("msgr/p/carol", '{"state":"online","ts":1}'),
                     queue_get(watcher.messages, "carol's presence"))
        refused_publish(carol, "msgr/p/alice")
        queue_quiet(watcher.messages, "carol setting alice's presence")
        carol.close()
        forged = Client(port, "v5", "carol", "carol-pw", client_id="msgr-carol-forge",
                        will="msgr/p/alice")
        try:
            expect_equal("a will on someone else's presence", REFUSED, forged.connack())
        finally:
            forged.close()
    finally:
        watcher.close()


def scenario_sessions(port):
    alice = signed_in(port, "alice", session_expiry=600)
    try:
        expect_equal("alice's inbox", [1], alice.subscribe("msgr/u/alice/#"))
        alice.close()
        for version, refused in (("v5", 0x85), ("v311", 2)):  # 3.1.1: identifier rejected
            thief = Client(port, version, "bob", "bob-pw", client_id="msgr-alice-test")
            try:
                expect_equal(f"{version} bob with alice's client id", refused, thief.connack())
            finally:
                thief.close()
        bob = signed_in(port, "bob")
        bob.publish("msgr/u/alice/dm/bob", "queued for alice")
        bob.close()
        alice = signed_in(port, "alice", session_expiry=600)  # her session, message queued
        expect_equal("queued for alice", ("msgr/u/alice/dm/bob", "queued for alice"),
                     queue_get(alice.messages, "the message queued for alice"))
    finally:
        alice.close()


def plugin_options(pw_file):
    """The shipped config's auth_file options as TOML lines, with our files."""
    with open(SHIPPED_CONFIG, "rb") as f:
        shipped = tomllib.load(f)
    options = next(p["options"] for p in shipped["plugin"] if p["name"] == "auth_file")
    options.update(password_file=pw_file, acl_file=os.path.abspath(ACL_FILE))
    check("client_id_prefix" in options, f"{SHIPPED_CONFIG} sets no client_id_prefix")
    return "".join(f"{k} = {json.dumps(v)}\n" for k, v in options.items())


def main():
    for name, path in (("RINGMQ_AUTH_FILE_PLUGIN", PLUGIN), ("the ACL", ACL_FILE)):
        if not path or not os.path.exists(path):
            raise SystemExit(f"{name}={path!r} does not exist (is it built?)")
    work = tempfile.mkdtemp(prefix="ringmq-messenger-acl-test-")
    pw_file = os.path.join(work, "passwords")
    for user in USERS:
        set_password(pw_file, user, f"{user}-pw")
    config = os.path.join(work, "ringmq.toml")
    with open(config, "w") as f:
        f.write(f'[[plugin]]\nname = "auth_file"\npath = "{PLUGIN}"\n[plugin.options]\n'
                + plugin_options(pw_file))
    broker = Broker().start_with(config)
    code = run_scenarios(broker, [("inbox", scenario_inbox), ("sender", scenario_sender),
                                  ("rooms", scenario_rooms), ("presence", scenario_presence),
                                  ("sessions", scenario_sessions)])
    if code == 0:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"files kept in {work}", flush=True)
    return code

if __name__ == "__main__":
    sys.exit(main())
