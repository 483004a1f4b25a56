#!/usr/bin/python3
"""The plugin host's ABI rules, each against build/ringmq with tests/plugins/abi/test_plugin.c:

  version-mismatch   a plugin built for ABI 2.x is refused; the message names both versions
  init-fails         global_init fails: the broker stops with the plugin's message
  crash-global-init  a crash in global_init: "plugin ... crashed in global_init", no service
  crash-core-init    the same in core_init (on a shard's thread)
  core-init-fails    core_init fails on shard 1: the broker stops, naming plugin and shard
  null-hooks         a hooks table with only its size: every hook skipped, MQTT works
  per-shard          every hook ran on the thread and core of its core_init (counted by the
                     plugin, logged at core_fini), on both shards; host->publish on each tick
  pending-thread     authentication completed from the plugin's own thread: right password
                     in, wrong one out (5.0 0x86, 3.1.1 return code 4)
  pending-timer      the same completed by a timer on the shard (host->timer_start)
  deadline           a decision never completed: refused at the deadline (5.0 0x88, 3.1.1 3)
  decisions          publish and subscribe refused by the plugin: PUBACK 0x87 (5.0), not
                     delivered, SUBACK 0x87 (5.0) / 0x80 (3.1.1); a will to a refused topic
                     refuses the CONNECT
  chain              two plugins: the second is asked only after the first's pending ALLOW
  disconnect         host->disconnect from a plugin thread: DISCONNECT 0x98 to that client
  enhanced-auth      5.0 AUTH exchange (challenge, answer, CONNACK with the method and data),
                     synchronous and completed from a thread; a wrong answer 0x87; another
                     method 0x8C; re-authentication (AUTH 0x19 -> 0x18 -> 0x00) while connected
  reload             SIGHUP: reload and core_reload on every shard; an invalid file or a
                     refusing plugin keeps the running configuration; connections stay up
  transport          a transport plugin (test_transport.c) on a ws:// listener: its handshake
                     answer, MQTT through it both ways with a TCP client (frames per flush:
                     tests/plugins/websocket_test.py), the state moving with clients to the
                     other shard, transport_closing's
                     bytes after a takeover's DISCONNECT, and every state closed once
  transport-refuses  CLOSE_AFTER_WIRE sends the transport's answer, then closes; CLOSE closes
                     at once; the broker goes on serving
"""
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import traceback

import interop

PLUGINS = os.environ.get("RINGMQ_TEST_PLUGIN_DIR", "")
BROKER = os.environ.get("RINGMQ_BROKER", "")
TIMEOUT = 10.0


# ---- a raw MQTT client: exact reason codes ------------------------------------------------

def _varint(n):
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _s(b):
    b = b.encode() if isinstance(b, str) else b
    return struct.pack(">H", len(b)) + b


def _packet(kind, body):
    return bytes([kind]) + _varint(len(body)) + body


def _auth_props(method, data):
    props = b"\x15" + _s(method) + (b"\x16" + _s(data) if data is not None else b"")
    return _varint(len(props)) + props


def parse_props(body, at):
    """The properties at body[at:] (after a varint length): {id: bytes}."""
    mult, length = 1, 0
    while True:
        b = body[at]
        at += 1
        length += (b & 0x7F) * mult
        mult *= 128
        if not b & 0x80:
            break
    props, end = {}, at + length
    while at < end:
        pid = body[at]
        at += 1
        if pid in (0x15, 0x16, 0x1F):
            n = struct.unpack(">H", body[at:at + 2])[0]
            props[pid] = body[at + 2:at + 2 + n]
            at += 2 + n
        elif pid in (0x11, 0x27):
            at += 4
        elif pid in (0x21, 0x22, 0x13):
            at += 2
        elif pid == 0x12:
            n = struct.unpack(">H", body[at:at + 2])[0]
            props[pid] = body[at + 2:at + 2 + n]
            at += 2 + n
        else:
            at += 1
    return props


def recv_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed by the broker")
        data += chunk
    return data


class Raw:
    def __init__(self, port, client_id, version=5, username=None, password=None, will=None,
                 auth=None, sock=None):
        self.v5 = version == 5
        self.sock = sock or socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        flags = 0x02
        payload = _s(client_id)
        if will:
            flags |= 0x04 | 0x08  # will, QoS 1
            payload += (b"\x00" if self.v5 else b"") + _s(will[0]) + _s(will[1])
        if username is not None:
            flags |= 0x80
            payload += _s(username)
        if password is not None:
            flags |= 0x40
            payload += _s(password)
        name = _s("MQTT")
        body = name + bytes([version, flags]) + struct.pack(">H", 30)
        props = _auth_props(*auth) if auth else b"\x00"
        body += (props if self.v5 else b"") + payload
        self.sock.sendall(_packet(0x10, body))
        self.connack = self.auth = None
        self.take_connect_answer()

    def take_connect_answer(self):
        """CONNACK (self.connack, self.connack_props) or AUTH (self.auth = (reason, props))."""
        kind, body = self.read()
        if kind == 0xF0:
            self.auth = (body[0], parse_props(body, 1))
            return
        assert kind == 0x20, f"expected CONNACK, got 0x{kind:02x}"
        self.connack = body[1]
        self.connack_props = parse_props(body, 2) if self.v5 else {}

    def send_auth(self, reason, method, data):
        self.sock.sendall(_packet(0xF0, bytes([reason]) + _auth_props(method, data)))

    def read(self):
        head = self._exact(1)
        mult, length = 1, 0
        while True:
            b = self._exact(1)[0]
            length += (b & 0x7F) * mult
            mult *= 128
            if not b & 0x80:
                break
        return head[0] & 0xF0, self._exact(length)

    def _exact(self, n):
        return recv_exact(self.sock, n)

    def publish1(self, topic, payload, pid=1):
        """QoS 1; returns the PUBACK reason code (0 for 3.1.1; 0x10 without subscribers)."""
        body = _s(topic) + struct.pack(">H", pid) + (b"\x00" if self.v5 else b"") + payload
        self.sock.sendall(_packet(0x32, body))
        kind, body = self.read()
        assert kind == 0x40, f"expected PUBACK, got 0x{kind:02x}"
        return body[2] if self.v5 and len(body) > 2 else 0

    def subscribe(self, filt, pid=2):
        body = struct.pack(">H", pid) + (b"\x00" if self.v5 else b"") + _s(filt) + b"\x01"
        self.sock.sendall(_packet(0x82, body))
        kind, body = self.read()
        assert kind == 0x90, f"expected SUBACK, got 0x{kind:02x}"
        return body[3] if self.v5 else body[2]

    def close(self):
        self.sock.close()


def accepted(puback_reason):
    return puback_reason < 0x80


# ---- running the broker with a config -----------------------------------------------------

def plugin_block(so, **options):
    lines = ['[[plugin]]', f'name = "{so}"', f'path = "{os.path.join(PLUGINS, so + ".so")}"',
             '[plugin.options]']
    lines += [f'{k} = "{v}"' for k, v in options.items()]
    return "\n".join(lines) + "\n"


def write_config(directory, *blocks):
    path = os.path.join(directory, "ringmq.toml")
    with open(path, "w") as f:
        f.write("\n".join(blocks))
    return path


def start(config_text, *args, log_level="info"):
    d = tempfile.mkdtemp(prefix="ringmq-abi-")
    conf = write_config(d, config_text)
    b = interop.Broker(extra_args=["--config", conf] + list(args), log_level=log_level)
    b.conf = conf
    return b.start()


def refused_start(config_text, *expect):
    """The broker must exit (not listen) and say each of `expect` on stderr."""
    d = tempfile.mkdtemp(prefix="ringmq-abi-")
    conf = write_config(d, config_text)
    p = subprocess.run([BROKER, "--listen", "127.0.0.1:0", "--config", conf, "--data-dir",
                        os.path.join(d, "data")], capture_output=True, timeout=30)
    out = p.stdout.decode(errors="replace")
    err = p.stderr.decode(errors="replace")
    assert p.returncode != 0, f"the broker ran (status 0): {err}"
    assert "listening" not in out or p.returncode != 0
    for e in expect:
        assert e in err, f"stderr lacks {e!r}:\n{err}"
    return p.returncode


def wait_log(b, text, timeout=TIMEOUT):
    interop.wait_for(lambda: text in open(b.log_path, errors="replace").read(),
                     f"'{text}' in the broker's log", timeout=timeout)


# ---- the rules ---------------------------------------------------------------------------

def test_version_mismatch():
    refused_start(plugin_block("test_plugin_abi2"), "built for plugin ABI 2.",
                  "speaks 1.1")


def test_init_fails():
    refused_start(plugin_block("test_plugin", fail_init="true"), "global_init failed",
                  "told to fail")


def test_crash_in_global_init():
    rc = refused_start(plugin_block("test_plugin", crash_in="global_init"),
                       "plugin test_plugin crashed in global_init")
    assert rc == -signal.SIGSEGV, f"status {rc}"


def test_crash_in_core_init():
    rc = refused_start(plugin_block("test_plugin", crash_in="core_init"),
                       "plugin test_plugin crashed in core_init")
    assert rc == -signal.SIGSEGV, f"status {rc}"


def test_core_init_fails():
    refused_start(plugin_block("test_plugin", fail_core_init="1"),
                  "core_init failed on shard 1")


def test_null_hooks():
    b = start(plugin_block("test_plugin_null_hooks"))
    try:
        sub = Raw(b.port, "n-sub")
        assert sub.subscribe("t/#") == 1
        pub = Raw(b.port, "n-pub")
        assert accepted(pub.publish1("t/1", b"x"))
        kind, _ = sub.read()
        assert kind == 0x30, "no message delivered"
    finally:
        assert b.stop() is None, b.log_tail()


def test_per_shard_state_and_ticks():
    b = start(plugin_block("test_plugin"))
    try:
        watcher = Raw(b.port, "tick-watcher")
        watcher.subscribe("plugin-test/tick/+")
        seen = set()
        while len(seen) < 2:
            kind, body = watcher.read()
            n = struct.unpack(">H", body[:2])[0]
            seen.add(body[2:2 + n].decode())
            if kind == 0x30 and (body[0] >> 1) & 3:
                pass
        assert seen == {"plugin-test/tick/0", "plugin-test/tick/1"}, seen
        clients = [Raw(b.port, f"spread-{i}") for i in range(8)]
        for i, c in enumerate(clients):
            assert accepted(c.publish1(f"s/{i}", b"p"))
    finally:
        assert b.stop() is None, b.log_tail()
    log = open(b.log_path).read()
    for core in (0, 1):
        line = [ln for ln in log.splitlines() if f"core {core}: hooks" in ln]
        assert line, f"no core_fini line for core {core}:\n{log}"
        assert line[0].endswith("wrong thread 0"), line[0]
        hooks = int(line[0].split("hooks ")[1].split(",")[0])
        assert hooks > 0, line[0]


def check_password_decisions(port):
    assert Raw(port, "pw-ok", 5, "u", "secret").connack == 0
    assert Raw(port, "pw-bad", 5, "u", "wrong").connack == 0x86
    assert Raw(port, "pw-ok3", 4, "u", "secret").connack == 0
    assert Raw(port, "pw-bad3", 4, "u", "wrong").connack == 4


def test_pending_from_thread():
    b = start(plugin_block("test_plugin", connect="pending_thread"))
    try:
        check_password_decisions(b.port)
    finally:
        assert b.stop() is None, b.log_tail()


def test_pending_from_timer():
    b = start(plugin_block("test_plugin", connect="pending_timer"))
    try:
        check_password_decisions(b.port)
    finally:
        assert b.stop() is None, b.log_tail()


def test_deadline():
    b = start(plugin_block("test_plugin", connect="never"), "--decision-timeout-ms", "300")
    try:
        t0 = time.monotonic()
        assert Raw(b.port, "late5", 5).connack == 0x88
        assert Raw(b.port, "late3", 4).connack == 3
        took = time.monotonic() - t0
        assert 0.5 <= took < 5, f"two refusals took {took:.2f} s"
    finally:
        assert b.stop() is None, b.log_tail()


def test_decisions():
    b = start(plugin_block("test_plugin", deny_topic_prefix="secret/"))
    try:
        reader = Raw(b.port, "reader")
        # +/+: secret/a and open/a, not the plugin's retained plugin-test/tick/N, which its
        # first tick publishes at any moment (with '#' it was read in place of a SUBACK).
        assert reader.subscribe("+/+") == 1
        assert reader.subscribe("secret/x") == 0x87
        assert Raw(b.port, "reader3", 4).subscribe("secret/x") == 0x80
        pub = Raw(b.port, "writer")
        assert pub.publish1("secret/a", b"no") == 0x87
        assert accepted(pub.publish1("open/a", b"yes"))
        kind, body = reader.read()
        n = struct.unpack(">H", body[:2])[0]
        assert body[2:2 + n] == b"open/a", body  # the refused one never came first
        assert Raw(b.port, "will-bad", 5, will=("secret/will", b"w")).connack == 0x87
        assert Raw(b.port, "will-bad3", 4, will=("secret/will", b"w")).connack == 5
        assert Raw(b.port, "will-ok", 5, will=("open/will", b"w")).connack == 0
    finally:
        assert b.stop() is None, b.log_tail()


def test_chain():
    config = (plugin_block("test_plugin", connect="pending_thread") +
              plugin_block("test_plugin_second", connect="deny"))
    b = start(config)
    try:
        assert Raw(b.port, "c1", 5, "u", "secret").connack == 0
        assert Raw(b.port, "c2", 5, "bad", "secret").connack == 0x86  # second plugin
        assert Raw(b.port, "c3", 5, "u", "wrong").connack == 0x86     # first plugin
    finally:
        assert b.stop() is None, b.log_tail()


def test_refusal_codes_3x_lacks():
    """A plugin's refusal with a code 3.1.1 has no return code for: return code 5."""
    b = start(plugin_block("test_plugin", connect="deny"))
    try:
        assert Raw(b.port, "q5", 5, "quota", "x").connack == 0x97
        assert Raw(b.port, "q3", 4, "quota", "x").connack == 5
    finally:
        assert b.stop() is None, b.log_tail()


def test_disconnect():
    b = start(plugin_block("test_plugin"))
    try:
        victim = Raw(b.port, "victim", 5)
        Raw(b.port, "admin", 5).publish1("plugin-test/kick", b"victim")
        kind, body = victim.read()
        assert kind == 0xE0 and body[0] == 0x98, (hex(kind), body)
    finally:
        assert b.stop() is None, b.log_tail()


def check_enhanced_auth(port):
    c = Raw(port, "ea-ok", 5, auth=("TEST-CHALLENGE", b""))
    assert c.connack is None and c.auth == (0x18, {0x15: b"TEST-CHALLENGE", 0x16: b"challenge"}), \
        c.auth
    c.send_auth(0x18, "TEST-CHALLENGE", b"answer")
    c.take_connect_answer()
    assert c.connack == 0, c.connack
    assert c.connack_props.get(0x15) == b"TEST-CHALLENGE", c.connack_props
    assert c.connack_props.get(0x16) == b"welcome", c.connack_props
    assert accepted(c.publish1("ea/after", b"x"))
    # Re-authentication while connected [MQTT-4.12.1-1].
    c.send_auth(0x19, "TEST-CHALLENGE", b"")
    kind, body = c.read()
    assert kind == 0xF0 and body[0] == 0x18, (hex(kind), body)
    c.send_auth(0x18, "TEST-CHALLENGE", b"answer")
    kind, body = c.read()
    assert kind == 0xF0 and body[0] == 0x00, (hex(kind), body)
    assert accepted(c.publish1("ea/after-reauth", b"x"))
    # A wrong answer, then a failed re-authentication (DISCONNECT 0x87).
    bad = Raw(port, "ea-bad", 5, auth=("TEST-CHALLENGE", b""))
    bad.send_auth(0x18, "TEST-CHALLENGE", b"wrong")
    bad.take_connect_answer()
    assert bad.connack == 0x87, bad.connack
    c.send_auth(0x19, "TEST-CHALLENGE", b"")
    c.read()
    c.send_auth(0x18, "TEST-CHALLENGE", b"wrong")
    kind, body = c.read()
    assert kind == 0xE0 and body[0] == 0x87, (hex(kind), body)
    # A method nobody offers.
    assert Raw(port, "ea-other", 5, auth=("SCRAM-SHA-1", b"x")).connack == 0x8C


def test_enhanced_auth():
    b = start(plugin_block("test_plugin", auth="sync"))
    try:
        check_enhanced_auth(b.port)
    finally:
        assert b.stop() is None, b.log_tail()


def test_enhanced_auth_completed_from_a_thread():
    b = start(plugin_block("test_plugin", auth="thread"))
    try:
        check_enhanced_auth(b.port)
    finally:
        assert b.stop() is None, b.log_tail()


def test_enhanced_auth_without_a_plugin_offering_it():
    b = start(plugin_block("test_plugin"))
    try:
        assert Raw(b.port, "ea-none", 5, auth=("TEST-CHALLENGE", b"")).connack == 0x8C
    finally:
        assert b.stop() is None, b.log_tail()


def test_reload():
    b = start(plugin_block("test_plugin", tag="first"))
    try:
        wait_log(b, "init tag=first")
        keep = Raw(b.port, "stays-up", 5)
        with open(b.conf, "w") as f:
            f.write(plugin_block("test_plugin", tag="second"))
        b.proc.send_signal(signal.SIGHUP)
        wait_log(b, "reload tag=second")
        wait_log(b, "core_reload on core 0")
        wait_log(b, "core_reload on core 1")
        assert accepted(keep.publish1("after/reload", b"x"))
        with open(b.conf, "w") as f:
            f.write("this is not toml = = =\n")
        b.proc.send_signal(signal.SIGHUP)
        wait_log(b, "the running configuration stays")
        with open(b.conf, "w") as f:
            f.write(plugin_block("test_plugin", tag="refuse"))
        b.proc.send_signal(signal.SIGHUP)
        wait_log(b, "kept its running configuration: tag 'refuse' is refused")
        assert accepted(keep.publish1("after/refusal", b"x"))
    finally:
        assert b.stop() is None, b.log_tail()


# ---- transports (test_transport.c) --------------------------------------------------------

def xor(data):
    return bytes(b ^ 0x5A for b in data)


class ToySocket:
    """test_transport.c's protocol under a Raw client: sendall XORs, recv reads frames."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.sock.sendall(b"HELLO\n")
        assert self._exact(8) == b"WELCOME\n"
        self.pending = b""
        self.frames = 0
        self.empty_frames = 0

    def _exact(self, n):
        return recv_exact(self.sock, n)

    def sendall(self, data):
        self.sock.sendall(xor(data))

    def recv(self, n):
        while not self.pending:
            (length,) = struct.unpack(">I", self._exact(4))
            if length == 0:
                self.empty_frames += 1
                continue
            self.frames += 1
            self.pending = xor(self._exact(length))
        out, self.pending = self.pending[:n], self.pending[n:]
        return out

    def close(self):
        self.sock.close()


def transport_broker(*args):
    return start(plugin_block("test_transport"), "--listen", "ws://127.0.0.1:0", *args)


def test_transport():
    b = transport_broker()
    try:
        ws_port = b.ports["websocket"]
        # Client ids hash to both shards: most clients move after CONNECT, with their state.
        subs = [Raw(0, f"toy-{i}", sock=ToySocket(ws_port)) for i in range(8)]
        for i, s in enumerate(subs):
            assert s.connack == 0
            assert s.subscribe(f"toy/{i}") == 1
        tcp = Raw(b.port, "tcp-publisher")
        for i in range(8):
            assert tcp.publish1(f"toy/{i}", b"hello %d" % i) == 0
        for i, s in enumerate(subs):
            kind, body = s.read()
            assert kind == 0x30 and body.endswith(b"hello %d" % i), body
        # A transport client publishes to a TCP subscriber.
        assert tcp.subscribe("back/#") == 1
        assert subs[0].publish1("back/x", b"from toy") == 0
        kind, body = tcp.read()
        assert kind == 0x30 and body.endswith(b"from toy")
        # A takeover: DISCONNECT 0x8E, then transport_closing's empty frame, then EOF.
        Raw(b.port, "toy-3")
        kind, body = subs[3].read()
        assert kind == 0xE0 and body[0] == 0x8E, (kind, body)
        interop.wait_for(lambda: _closed_after_empty_frame(subs[3].sock),
                         "the empty closing frame and EOF")
    finally:
        assert b.stop() is None, b.log_tail()
    log = open(b.log_path, errors="replace").read()
    assert "transports opened 8 closed 8" in log, b.log_tail()


def _closed_after_empty_frame(sock):
    """True once the socket delivered a zero-length frame and then EOF."""
    data = b""
    while True:
        chunk = sock.sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data == b"\x00\x00\x00\x00"


def test_transport_refuses():
    b = transport_broker()
    try:
        ws_port = b.ports["websocket"]
        for line, answer in ((b"BOGUS\n", b"NO\n"), (b"DROP\n", b"")):
            s = socket.create_connection(("127.0.0.1", ws_port), timeout=TIMEOUT)
            s.sendall(line)
            got = b""
            while True:
                chunk = s.recv(100)
                if not chunk:
                    break
                got += chunk
            assert got == answer, (line, got)
            s.close()
        assert Raw(b.port, "still-serving").connack == 0
    finally:
        assert b.stop() is None, b.log_tail()


def main():
    if not BROKER or not PLUGINS:
        print("RINGMQ_BROKER and RINGMQ_TEST_PLUGIN_DIR must be set")
        return 1
    tests = [(n[5:], f) for n, f in sorted(globals().items()) if n.startswith("test_")]
    failed = 0
    for name, fn in tests:
        t0 = time.monotonic()
        try:
            fn()
            print(f"ok   {name} ({time.monotonic() - t0:.2f} s)", flush=True)
        except (Exception, SystemExit):  # noqa: BLE001  (report every rule, then fail)
            failed += 1
            print(f"FAIL {name}\n{traceback.format_exc()}", flush=True)
    print(f"{len(tests) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
