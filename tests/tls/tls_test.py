#!/usr/bin/python3
"""TLS listeners of build/ringmq with real clients: mosquitto_pub/mosquitto_sub (--cafile,
--cert/--key) and Eclipse Paho (tls_set), against certificates made here (certs.py).

One broker, four listeners: plain MQTT; mqtts:// (server certificate only); mqtts:// that
requires a client certificate; mqtts:// that requires one and takes the user name from its
subject CN, with the auth_file plugin (ACL: alice may use alice/# only; anonymous clients may
use everything). Scenarios:
  mosquitto        mosquitto_sub/pub over mqtts with --cafile: a QoS 1 message arrives
  paho             Paho over mqtts (3.1.1 and 5.0), subscribe + publish QoS 0/1/2
  wrong_ca         a client that trusts another CA refuses the broker (mosquitto, paho)
  mtls             client certificate required: with one (mosquitto --cert/--key, paho) in;
                   without one, with one of another CA, with an expired one: refused
  identity         the CN is the user name (whatever CONNECT says): alice's certificate may
                   publish to alice/x, not to bob/x (5.0 PUBACK 0x87), with no password
  plain_on_tls     plain MQTT (a CONNECT) to a TLS port: closed at once, no CONNACK
  stalled          a TCP connection that sends nothing, or half a ClientHello: closed by the
                   connect timeout (2 s here), within a bound
  reload           new certificate files + SIGHUP: new handshakes see the new certificate, a
                   subscriber connected before still receives
  tls_counters     $SYS/broker/tls/... counts the handshakes, the refusals, the unfinished
Environment (meson sets them): RINGMQ_BROKER, RINGMQ_AUTH_FILE_PLUGIN.
Statements: [MQTT-4.2-1] (a transport that is ordered, lossless, bidirectional: TLS over TCP),
MQTT 5.0 section 5.4.5 / 3.1.1 section 5.4.5 (TLS) and 5.4.7 (client certificates as identity).
"""

import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "interop"))
import interop  # noqa: E402
from interop import ScenarioFailure, check, expect_equal, queue_get, wait_for  # noqa: E402

import paho.mqtt.client as mqtt  # noqa: E402
from paho.mqtt.packettypes import PacketTypes  # noqa: E402

from certs import Authority  # noqa: E402

PLUGIN = os.environ.get("RINGMQ_AUTH_FILE_PLUGIN", "")
MOSQUITTO_PUB = "/usr/bin/mosquitto_pub"
MOSQUITTO_SUB = "/usr/bin/mosquitto_sub"
CONNECT_TIMEOUT_S = 2
ACL = """\
# tests/tls/tls_test.py: anonymous clients (the plain and server-certificate listeners)
topic readwrite #
topic read $SYS/#
user alice
topic readwrite alice/#
"""


class Setup:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="ringmq-tls-")
        self.ca = Authority(self.dir, "ringmq test")
        self.other_ca = Authority(self.dir, "other")
        self.server = self.ca.issue("server", "localhost", server=True)
        self.alice = self.ca.issue("alice", "alice", email="alice@example.com")
        self.stranger = self.other_ca.issue("mallory", "mallory")
        self.expired = self.ca.issue("expired", "bob", valid_days=-1)
        self.ports = {}

    def broker_args(self):
        acl = os.path.join(self.dir, "acl")
        with open(acl, "w") as f:
            f.write(ACL)
        pw = os.path.join(self.dir, "passwords")
        open(pw, "w").close()
        config = os.path.join(self.dir, "ringmq.toml")
        with open(config, "w") as f:
            f.write(f'[[plugin]]\nname = "auth_file"\npath = "{PLUGIN}"\n[plugin.options]\n'
                    f'password_file = "{pw}"\nacl_file = "{acl}"\nallow_anonymous = true\n')
        need = f"client_certs=require&ca={self.ca.path}"
        return ["--config", config, "--tls-cert", self.server[0], "--tls-key", self.server[1],
                "--listen", "mqtts://127.0.0.1:0",
                "--listen", f"mqtts://127.0.0.1:0?{need}",
                "--listen", f"mqtts://127.0.0.1:0?{need}&identity_as_username=cn",
                "--connect-timeout", str(CONNECT_TIMEOUT_S), "--sys-interval", "1",
                "--admin-listen", "127.0.0.1:0"]


S = None  # the Setup


def mosquitto(tool, port, args, cafile=None, cert=None, timeout=10):
    argv = [tool, "-h", "127.0.0.1", "-p", str(port), "--cafile", cafile or S.ca.path] + args
    if cert:
        argv += ["--cert", cert[0], "--key", cert[1]]
    return subprocess.run(argv, capture_output=True, timeout=timeout)


def mosquitto_roundtrip(port, cert=None, topic="tls/mosquitto"):
    sub = subprocess.Popen([MOSQUITTO_SUB, "-h", "127.0.0.1", "-p", str(port), "--cafile",
                            S.ca.path, "-t", topic, "-q", "1", "-C", "1", "-W", "10", "-v"]
                           + (["--cert", cert[0], "--key", cert[1]] if cert else []),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        # mosquitto_sub prints nothing when subscribed: publish retained-free until it arrives.
        deadline = time.monotonic() + 10
        while sub.poll() is None and time.monotonic() < deadline:
            p = mosquitto(MOSQUITTO_PUB, port, ["-t", topic, "-m", "over tls", "-q", "1"],
                          cert=cert)
            expect_equal("mosquitto_pub exit", 0, p.returncode)
            try:
                sub.wait(timeout=0.3)
            except subprocess.TimeoutExpired:
                pass
        out, err = sub.communicate(timeout=5)
    finally:
        if sub.poll() is None:
            sub.kill()
    expect_equal("mosquitto_sub output", f"{topic} over tls", out.decode().strip())


class Paho:
    """A paho client over TLS; connect() returns the CONNACK reason (or raises on TLS errors)."""

    def __init__(self, v5=False, cafile=None, cert=None, client_id="", username=None):
        proto = mqtt.MQTTv5 if v5 else mqtt.MQTTv311
        self.c = mqtt.Client(client_id=client_id, protocol=proto)
        self.c.tls_set(ca_certs=cafile or S.ca.path, certfile=cert[0] if cert else None,
                       keyfile=cert[1] if cert else None)
        if username:
            self.c.username_pw_set(username)
        self.messages = __import__("queue").Queue()
        self.acks = __import__("queue").Queue()
        self.connacks = __import__("queue").Queue()
        self.c.on_message = lambda c, u, m: self.messages.put((m.topic, m.payload))
        self.c.on_connect = lambda c, u, f, rc, p=None: self.connacks.put(rc)
        self.c.on_subscribe = lambda c, u, mid, granted, p=None: self.acks.put(("suback", granted))

    def connect(self, port):
        self.c.connect("127.0.0.1", port, keepalive=30)
        self.c.loop_start()
        return queue_get(self.connacks, "CONNACK")

    def close(self):
        try:
            self.c.disconnect()
        finally:
            self.c.loop_stop()


def scenario_mosquitto(ports):
    mosquitto_roundtrip(ports["tls"])


def scenario_paho(ports):
    for v5 in (False, True):
        sub, pub = Paho(v5=v5), Paho(v5=v5)
        try:
            expect_equal("sub CONNACK", 0, getattr(sub.connect(ports["tls"]), "value", 0))
            expect_equal("pub CONNACK", 0, getattr(pub.connect(ports["tls"]), "value", 0))
            sub.c.subscribe("tls/paho/#", qos=2)
            queue_get(sub.acks, "SUBACK")
            for qos in (0, 1, 2):
                pub.c.publish(f"tls/paho/{qos}", f"qos {qos}".encode(), qos=qos)
                expect_equal(f"message at QoS {qos}", (f"tls/paho/{qos}", f"qos {qos}".encode()),
                             queue_get(sub.messages, f"QoS {qos} message"))
            big = os.urandom(200_000)  # several TLS records
            pub.c.publish("tls/paho/big", big, qos=1)
            expect_equal("200 kB payload", ("tls/paho/big", big), queue_get(sub.messages, "big"))
        finally:
            sub.close()
            pub.close()


def scenario_wrong_ca(ports):
    p = mosquitto(MOSQUITTO_PUB, ports["tls"], ["-t", "x", "-m", "x"], cafile=S.other_ca.path)
    check(p.returncode != 0, "mosquitto_pub trusting another CA connected")
    c = Paho(cafile=S.other_ca.path)
    try:
        c.c.connect("127.0.0.1", ports["tls"])
    except ssl.SSLCertVerificationError:
        return
    finally:
        c.c.loop_stop()
    raise ScenarioFailure("paho trusting another CA connected")


def refused_handshake(port, cert):
    """True when a TLS client with `cert` (None: none) cannot complete an MQTT exchange."""
    p = mosquitto(MOSQUITTO_PUB, port, ["-t", "x", "-m", "x", "-q", "1"], cert=cert)
    return p.returncode != 0


def scenario_mtls(ports):
    mosquitto_roundtrip(ports["mtls"], cert=S.alice, topic="tls/mtls")
    c = Paho(cert=S.alice)
    try:
        expect_equal("paho with a client certificate", 0, c.connect(ports["mtls"]))
    finally:
        c.close()
    check(refused_handshake(ports["mtls"], None), "no client certificate: connected")
    check(refused_handshake(ports["mtls"], S.stranger), "another CA's certificate: connected")
    check(refused_handshake(ports["mtls"], S.expired), "an expired certificate: connected")


def scenario_identity(ports):
    # CONNECT says "bob" and no password: the certificate says alice, and alice it is.
    c = Paho(v5=True, cert=S.alice, client_id="alice-1", username="bob")
    watcher = Paho(v5=True)
    try:
        expect_equal("CONNACK", 0, c.connect(ports["identity"]).value)
        expect_equal("watcher CONNACK", 0, watcher.connect(ports["tls"]).value)
        watcher.c.subscribe("#", qos=1)
        queue_get(watcher.acks, "SUBACK")
        ok = c.c.publish("alice/x", b"mine", qos=1)
        expect_equal("alice/x delivered", ("alice/x", b"mine"),
                     queue_get(watcher.messages, "alice/x"))
        refused = c.c.publish("bob/x", b"not mine", qos=1)
        refused.wait_for_publish(timeout=5)
        check(refused.is_published(), "no PUBACK for bob/x")
        # The watcher must not see bob/x: the next message it gets must be alice/y.
        c.c.publish("alice/y", b"after", qos=1)
        expect_equal("next delivery", ("alice/y", b"after"), queue_get(watcher.messages, "alice/y"))
        check(ok.is_published(), "no PUBACK for alice/x")
    finally:
        c.close()
        watcher.close()
    # A plain-TLS client claiming "alice" without a password is not alice.
    p = mosquitto(MOSQUITTO_PUB, ports["tls"], ["-t", "alice/x", "-m", "x", "-u", "alice",
                                                "-V", "mqttv5", "-q", "1"])
    check(p.returncode != 0, "alice without a certificate or password was accepted")


def read_until_closed(sock, limit_s):
    """Seconds until the peer closed `sock` (reading and discarding), or None."""
    start = time.monotonic()
    sock.settimeout(limit_s)
    try:
        while True:
            data = sock.recv(4096)
            if not data:
                return time.monotonic() - start
    except (ConnectionResetError, BrokenPipeError):
        return time.monotonic() - start
    except socket.timeout:
        return None


def scenario_plain_on_tls(ports):
    connect = bytes([0x10, 0x10, 0x00, 0x04]) + b"MQTT" + bytes([0x04, 0x02, 0x00, 0x3C,
                                                                   0x00, 0x04]) + b"test"
    with socket.create_connection(("127.0.0.1", ports["tls"]), timeout=5) as s:
        s.sendall(connect)
        s.settimeout(2)
        first = b""
        try:
            first = s.recv(4)
        except (ConnectionResetError, socket.timeout):
            pass
        check(not first.startswith(b"\x20"), f"a CONNACK came back: {first!r}")
        closed = read_until_closed(s, 2) if first else 0
        check(closed is not None and closed < 1.5, f"not closed at once ({closed})")


def scenario_stalled(ports):
    bound = CONNECT_TIMEOUT_S + 2.5
    with socket.create_connection(("127.0.0.1", ports["tls"]), timeout=5) as s:
        closed = read_until_closed(s, bound)
        check(closed is not None, f"a silent connection was still open after {bound} s")
    with socket.create_connection(("127.0.0.1", ports["tls"]), timeout=5) as s:
        s.sendall(bytes([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]))  # half a ClientHello
        closed = read_until_closed(s, bound)
        check(closed is not None, f"a stalled handshake was still open after {bound} s")


def peer_common_name(port):
    ctx = ssl.create_default_context(cafile=S.ca.path)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
            subject = dict(x[0] for x in s.getpeercert()["subject"])
            return subject["commonName"]


def scenario_reload(ports, broker):
    expect_equal("certificate before", "localhost", peer_common_name(ports["tls"]))
    old = Paho()
    pub = None
    try:
        expect_equal("old CONNACK", 0, old.connect(ports["tls"]))
        old.c.subscribe("tls/reload", qos=1)
        queue_get(old.acks, "SUBACK")
        renewed = S.ca.issue("renewed", "localhost-renewed", server=True)
        shutil.copy(renewed[0], S.server[0])
        shutil.copy(renewed[1], S.server[1])
        broker.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "read again" in open(broker.log_path, errors="replace").read(),
                 "the reload's log line")
        expect_equal("certificate after SIGHUP", "localhost-renewed", peer_common_name(ports["tls"]))
        pub = Paho()
        expect_equal("new CONNACK", 0, pub.connect(ports["tls"]))
        pub.c.publish("tls/reload", b"after reload", qos=1)
        expect_equal("old subscriber still served", ("tls/reload", b"after reload"),
                     queue_get(old.messages, "message after reload"))
    finally:
        old.close()
        if pub:
            pub.close()


def sys_value(port, topic):
    c = mqtt.Client()
    got = __import__("queue").Queue()
    c.on_message = lambda cl, u, m: got.put(m.payload.decode())
    c.connect("127.0.0.1", port)
    c.loop_start()
    try:
        c.subscribe(topic)
        return int(queue_get(got, topic))
    finally:
        c.disconnect()
        c.loop_stop()


def metric(port, name):
    """One counter of /metrics (the admin listener's), or None."""
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    for line in body.splitlines():
        if line.startswith(name + " "):
            return int(line.split()[1])
    return None


def scenario_tls_counters(ports):
    base = "$SYS/broker/tls/"
    wait_for(lambda: sys_value(ports["plain"], base + "handshake_failures") >= 4,
             "handshake_failures to count the refusals", timeout=10)
    wait_for(lambda: sys_value(ports["plain"], base + "handshakes_unfinished") >= 2,
             "handshakes_unfinished to count the stalled connections", timeout=10)
    check(sys_value(ports["plain"], base + "handshakes") >= 10, "handshakes not counted")
    # /metrics shows the same counters, from the same source.
    failures = metric(ports["admin"], "ringmq_tls_handshake_failures_total")
    check(failures is not None and failures >= 4, f"ringmq_tls_handshake_failures_total {failures}")
    check((metric(ports["admin"], "ringmq_tls_reloads_total") or 0) >= 1, "reloads not in /metrics")


def main():
    global S
    if not PLUGIN:
        raise SystemExit("RINGMQ_AUTH_FILE_PLUGIN is not set")
    S = Setup()
    broker = interop.Broker(extra_args=S.broker_args(), log_level="info").start()
    ports = [p for _, p in broker.listening]
    names = [n for n, _ in broker.listening]
    expect_equal("listeners", ["mqtt", "mqtts", "mqtts", "mqtts"], names)
    by_name = dict(zip(["plain", "tls", "mtls", "identity"], ports))
    by_name["admin"] = broker.admin_port
    scenarios = [
        ("mosquitto", scenario_mosquitto), ("paho", scenario_paho),
        ("wrong_ca", scenario_wrong_ca), ("mtls", scenario_mtls),
        ("identity", scenario_identity), ("plain_on_tls", scenario_plain_on_tls),
        ("stalled", scenario_stalled), ("reload", lambda p: scenario_reload(p, broker)),
        ("tls_counters", scenario_tls_counters),
    ]
    failed = []
    try:
        for name, fn in scenarios:
            t0 = time.monotonic()
            try:
                fn(by_name)
                print(f"ok   {name} ({time.monotonic() - t0:.2f} s)", flush=True)
            except ScenarioFailure as e:
                failed.append(name)
                print(f"FAIL {name}: {e}", flush=True)
            if broker.proc.poll() is not None:
                failed.append("broker exited")
                break
    finally:
        stop_error = broker.stop()
    if stop_error:
        failed.append(stop_error)
    if failed:
        print(broker.log_tail(60), flush=True)
        print(f"failed: {', '.join(failed)}", flush=True)
    broker.cleanup()
    shutil.rmtree(S.dir, ignore_errors=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
