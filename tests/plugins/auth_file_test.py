#!/usr/bin/python3
"""The auth_file plugin inside build/ringmq, with real clients (Eclipse Paho 1.6.1 and
mosquitto_pub), in MQTT 3.1.1 and 5.0.

The broker runs as in tests/interop/interop.py (ephemeral 127.0.0.1 port, temporary --data-dir,
port read from its "listening" line) plus `--config FILE`, a TOML file written here that loads
the plugin with a password file (made with ringmq-passwd) and an ACL file. Scenarios:
  connect    right / wrong password and unknown user (3.1.1: CONNACK 0 / 4; 5.0: 0 / 0x86),
             anonymous refused (3.1.1: 5; 5.0: 0x87)
  publish    allowed and refused (5.0 PUBACK 0x87 seen by mosquitto_pub); a refused publish is
             not delivered to a subscriber allowed to read everything, in either version
  subscribe  SUBACK 0x80 (3.1.1) / 0x87 (5.0) for a forbidden filter, granted for an allowed one
  will       a will to a forbidden topic refuses the CONNECT (5.0: 0x87; 3.1.1: 5)
  patterns   %u and %c rules
  $SYS       only for a user whose rules name $SYS
  reload     SIGHUP after ringmq-passwd changes a password: new connections use the new file,
             a client connected before stays connected
Environment (meson sets them): RINGMQ_BROKER, RINGMQ_AUTH_FILE_PLUGIN, RINGMQ_PASSWD.
"""

import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "interop"))
import interop  # noqa: E402
from interop import ScenarioFailure, check, expect_equal, queue_get, queue_quiet  # noqa: E402

import paho.mqtt.client as mqtt  # noqa: E402
from paho.mqtt.packettypes import PacketTypes  # noqa: E402
from paho.mqtt.properties import Properties  # noqa: E402

PASSWD = os.environ.get("RINGMQ_PASSWD", "")
PLUGIN = os.environ.get("RINGMQ_AUTH_FILE_PLUGIN", "")
MOSQUITTO_PUB = "/usr/bin/mosquitto_pub"

USERS = {"alice": "alice-pw", "admin": "admin-pw", "dev": "dev-pw"}
ACL = """\
# written by tests/plugins/auth_file_test.py
user alice
topic readwrite alice/#
topic read public/#
user admin
topic read #
topic read $SYS/#
user dev
pattern readwrite users/%u/#
pattern write devices/%c/state
"""


def _code(rc):
    return getattr(rc, "value", rc)


class Client:
    """A paho client on its own network thread; events arrive through queues."""

    def __init__(self, port, version, user=None, password=None, client_id="", will=None,
                 session_expiry=None):
        """session_expiry (5.0): seconds of a persistent session (Clean Start 0); None: clean."""
        self.v5 = version == "v5"
        self.c = mqtt.Client(client_id=client_id, reconnect_on_failure=False,
                             protocol=mqtt.MQTTv5 if self.v5 else mqtt.MQTTv311)
        self.connacks, self.subacks = queue.Queue(), queue.Queue()
        self.messages, self.disconnects = queue.Queue(), queue.Queue()
        self.c.on_connect = lambda _c, _u, _f, rc, *_: self.connacks.put(_code(rc))
        self.c.on_subscribe = lambda _c, _u, _m, granted, *_: self.subacks.put(
            [_code(g) for g in granted])
        self.c.on_message = lambda _c, _u, m: self.messages.put((m.topic, m.payload.decode()))
        self.c.on_disconnect = lambda _c, _u, rc, *_: self.disconnects.put(_code(rc))
        if user is not None:
            self.c.username_pw_set(user, password)
        if will is not None:
            self.c.will_set(will, b"gone", qos=1)
        if session_expiry is None:
            self.c.connect("127.0.0.1", port, keepalive=60)
        else:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = session_expiry
            self.c.connect("127.0.0.1", port, keepalive=60, clean_start=False, properties=props)
        self.c.loop_start()

    def connack(self):
        return queue_get(self.connacks, "CONNACK")

    def subscribe(self, filt, qos=1):
        self.c.subscribe(filt, qos)
        return queue_get(self.subacks, f"SUBACK for {filt}")

    def publish(self, topic, payload, qos=1):
        info = self.c.publish(topic, payload, qos=qos)
        info.wait_for_publish(timeout=5)
        check(info.is_published(), f"{topic}: no PUBACK")

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


class Broker(interop.Broker):
    """build/ringmq with the plugin configured through --config."""

    def start_with(self, config_path, timeout=20.0):
        exe = os.environ["RINGMQ_BROKER"]
        argv = [exe, "--listen", "127.0.0.1:0", "--threads", "2", "--log-level", "info",
                "--data-dir", os.path.join(self.dir, "data"), "--config", config_path]
        self.proc = interop.popen(argv, stdout=subprocess.PIPE, stderr=self.log)
        deadline = time.monotonic() + timeout
        for raw in self.proc.stdout:  # the first "listening" line carries the port
            line = raw.decode(errors="replace")
            if line.startswith("listening"):
                self.port = interop.port_from_listening_line(line.strip())
                break
            if time.monotonic() > deadline:
                break
        if not self.port:
            self.stop(check_status=False)
            raise SystemExit("ringmq did not print a 'listening' line\n" + self.log_tail())
        # Keep draining stdout so the broker never blocks on a full pipe.
        threading.Thread(target=lambda: [None for _ in self.proc.stdout], daemon=True).start()
        return self


def run_scenarios(broker, scenarios):
    """Runs (name, fn(port)) in order against `broker` and stops it (also on an unexpected
    exception); prints ok/FAIL lines and, on failure, the broker's log. Returns the exit code."""
    failed = []
    try:
        for name, fn in scenarios:
            try:
                fn(broker.port)
                print(f"ok   {name}", flush=True)
            except ScenarioFailure as e:
                failed.append(name)
                print(f"FAIL {name}: {e}", flush=True)
            if broker.proc.poll() is not None:
                failed.append("broker exited")
                break
    finally:
        broker.stop(check_status=False)
    if failed:
        print(broker.log_tail(), flush=True)
        print(f"failed: {', '.join(failed)}", flush=True)
        return 1
    return 0


def set_password(pw_file, user, password):
    p = subprocess.run([PASSWD, "--stdin", "--opslimit", "1", "--memlimit", "8K", pw_file,
                        "change" if os.path.exists(pw_file) and user in open(pw_file).read()
                        else "add", user], input=(password + "\n").encode(), capture_output=True)
    if p.returncode != 0:
        raise SystemExit(f"ringmq-passwd failed: {p.stderr.decode()}")


def connect_code(port, version, user=None, password=None, **kw):
    c = Client(port, version, user, password, **kw)
    try:
        return c.connack()
    finally:
        c.close()


# ---- scenarios ---------------------------------------------------------------------------------

def scenario_connect(port):
    for version, wrong, anon in (("v311", 4, 5), ("v5", 0x86, 0x87)):
        expect_equal(f"{version} right password", 0, connect_code(port, version, "alice", "alice-pw"))
        expect_equal(f"{version} wrong password", wrong, connect_code(port, version, "alice", "x"))
        expect_equal(f"{version} unknown user", wrong, connect_code(port, version, "eve", "alice-pw"))
        expect_equal(f"{version} anonymous", anon, connect_code(port, version))


def reader(port, version="v5"):
    """admin: may read everything (and $SYS); subscribed to '#'."""
    r = Client(port, version, "admin", "admin-pw", client_id=f"reader-{version}")
    expect_equal("admin CONNACK", 0, r.connack())
    expect_equal("admin SUBACK for #", [1], r.subscribe("#"))
    return r


def scenario_publish(port):
    r = reader(port)
    try:
        for version in ("v311", "v5"):
            a = Client(port, version, "alice", "alice-pw", client_id=f"alice-{version}")
            expect_equal(f"{version} alice CONNACK", 0, a.connack())
            a.publish("forbidden/x", f"no-{version}")  # 3.1.1: acknowledged, dropped
            a.publish(f"alice/{version}", f"yes-{version}")
            expect_equal("delivered to admin", (f"alice/{version}", f"yes-{version}"),
                         queue_get(r.messages, f"alice/{version} at the reader"))
            queue_quiet(r.messages, f"the refused {version} publish")
            a.close()
        # 5.0 PUBACK with 0x87: mosquitto_pub reports the reason code.
        p = subprocess.run([MOSQUITTO_PUB, "-p", str(port), "-h", "127.0.0.1", "-V", "5",
                            "-q", "1", "-u", "alice", "-P", "alice-pw", "-t", "forbidden/y",
                            "-m", "no"], capture_output=True, timeout=10)
        err = (p.stdout + p.stderr).decode()
        check("Not authorized" in err or "135" in err,
              f"mosquitto_pub -V 5 to a forbidden topic: expected PUBACK 0x87, got "
              f"exit {p.returncode}: {err!r}")
        queue_quiet(r.messages, "mosquitto_pub's refused publish")
    finally:
        r.close()


def scenario_subscribe(port):
    for version, refused in (("v311", 0x80), ("v5", 0x87)):
        a = Client(port, version, "alice", "alice-pw")
        expect_equal(f"{version} CONNACK", 0, a.connack())
        expect_equal(f"{version} SUBACK forbidden", [refused], a.subscribe("secret/#"))
        expect_equal(f"{version} SUBACK +/x not covered", [refused], a.subscribe("+/x"))
        expect_equal(f"{version} SUBACK allowed", [1], a.subscribe("public/#"))
        expect_equal(f"{version} SUBACK $SYS", [refused], a.subscribe("$SYS/#"))
        a.close()
    r = Client(port, "v5", "admin", "admin-pw")
    expect_equal("admin CONNACK", 0, r.connack())
    expect_equal("admin SUBACK $SYS/#", [1], r.subscribe("$SYS/#"))
    r.close()


def scenario_will(port):
    for version, refused in (("v311", 5), ("v5", 0x87)):
        expect_equal(f"{version} forbidden will", refused,
                     connect_code(port, version, "alice", "alice-pw", will="forbidden/will"))
        expect_equal(f"{version} allowed will", 0,
                     connect_code(port, version, "alice", "alice-pw", will="alice/will"))


def scenario_patterns(port):
    r = reader(port)
    try:
        d = Client(port, "v5", "dev", "dev-pw", client_id="sensor7")
        expect_equal("dev CONNACK", 0, d.connack())
        d.publish("users/dev/x", "mine")
        d.publish("users/alice/x", "not mine")
        d.publish("devices/sensor7/state", "own id")
        d.publish("devices/sensor8/state", "other id")
        got = sorted(queue_get(r.messages, f"pattern message {i + 1} of 2") for i in range(2))
        expect_equal("pattern publishes delivered",
                     [("devices/sensor7/state", "own id"), ("users/dev/x", "mine")], got)
        queue_quiet(r.messages, "publishes outside the patterns")
        expect_equal("SUBACK users/dev/#", [1], d.subscribe("users/dev/#"))
        expect_equal("SUBACK users/+/#", [0x87], d.subscribe("users/+/#"))
        d.close()
    finally:
        r.close()


def scenario_reload(port, broker, pw_file):
    keeper = Client(port, "v5", "alice", "alice-pw", client_id="keeper")
    expect_equal("keeper CONNACK", 0, keeper.connack())
    set_password(pw_file, "alice", "alice-new")
    broker.proc.send_signal(signal.SIGHUP)
    interop.wait_for(lambda: connect_code(port, "v5", "alice", "alice-new") == 0,
                     "the new password to work after SIGHUP")
    expect_equal("old password after reload", 0x86, connect_code(port, "v5", "alice", "alice-pw"))
    check(keeper.disconnects.empty(), "the client connected before the reload stays connected")
    expect_equal("keeper still subscribes", [1], keeper.subscribe("alice/#"))
    keeper.publish("alice/after-reload", "still here")
    expect_equal("keeper round trip", ("alice/after-reload", "still here"),
                 queue_get(keeper.messages, "the keeper's own message"))
    keeper.close()


def main():
    for name, path in (("RINGMQ_PASSWD", PASSWD), ("RINGMQ_AUTH_FILE_PLUGIN", PLUGIN)):
        if not path or not os.path.exists(path):
            raise SystemExit(f"{name}={path!r} does not exist (is it built?)")
    work = tempfile.mkdtemp(prefix="ringmq-auth-file-test-")
    pw_file = os.path.join(work, "passwords")
    for user, password in USERS.items():
        set_password(pw_file, user, password)
    acl_file = os.path.join(work, "acl")
    with open(acl_file, "w") as f:
        f.write(ACL)
    config = os.path.join(work, "ringmq.toml")
    with open(config, "w") as f:
        f.write(f'[[plugin]]\nname = "auth_file"\npath = "{PLUGIN}"\n[plugin.options]\n'
                f'password_file = "{pw_file}"\nacl_file = "{acl_file}"\n')

    broker = Broker().start_with(config)
    print(f"broker: pid {broker.proc.pid} on 127.0.0.1:{broker.port}", flush=True)
    scenarios = [("connect", scenario_connect), ("publish", scenario_publish),
                 ("subscribe", scenario_subscribe), ("will", scenario_will),
                 ("patterns", scenario_patterns),
                 ("reload", lambda p: scenario_reload(p, broker, pw_file))]
    return run_scenarios(broker, scenarios)

if __name__ == "__main__":
    sys.exit(main())
