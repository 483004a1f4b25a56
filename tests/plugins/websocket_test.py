#!/usr/bin/python3
"""The websocket plugin against build/ringmq over real sockets (RFC 6455 from the client's
side, written out here so every byte is under the test's control):

  upgrade            101 with Sec-WebSocket-Accept and the subprotocol; MQTT over it
  handshake-errors   missing key 400, version 8 426 (+ Sec-WebSocket-Version: 13), Connection
                     without upgrade 400, wrong path 404, disallowed Origin 403, oversized head
                     431, a subprotocol other than mqtt 400; each answer ends the connection
  slowloris          a head sent a byte at a time is cut off at the broker's connect timeout
  frames             MQTT packets split over frames and several packets in one frame, ping ->
                     pong, fragmentation with a ping between fragments, close echoed
  one-frame-per-flush  20 PUBLISHes read at once reach a WebSocket subscriber in <= 10 frames
  violations         unmasked frame 1002, text frame 1003, oversized frame 1009, reserved bits
                     1002: each a Close with its code, then the end of the connection
  broker-closes      a takeover: DISCONNECT 0x8E in a Binary frame, then Close 1000
  static-files       index.html with its type, ETag -> 304, gzip variant, HEAD, POST 405,
                     traversal refused, query ignored; a plain GET without http_root is 404
"""
import base64
import gzip
import hashlib
import os
import socket
import struct
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "interop"))
import interop  # noqa: E402

TIMEOUT = 10.0
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


# ---- a WebSocket client -----------------------------------------------------------------------

def upgrade_request(path="/mqtt", key=None, version="13", protocol="mqtt", extra=""):
    key = key if key is not None else base64.b64encode(os.urandom(16)).decode()
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", "Upgrade: websocket",
             "Connection: Upgrade"]
    if key:
        lines.append(f"Sec-WebSocket-Key: {key}")
    if version:
        lines.append(f"Sec-WebSocket-Version: {version}")
    if protocol:
        lines.append(f"Sec-WebSocket-Protocol: {protocol}")
    return ("\r\n".join(lines) + "\r\n" + extra + "\r\n").encode(), key


def read_head(sock):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(1)
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace")


def read_all(sock):
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            return data
        data += chunk
    return data


def frame(opcode, payload, fin=True, mask=True, rsv=0):
    head = bytes([(0x80 if fin else 0) | rsv | opcode])
    n = len(payload)
    m = 0x80 if mask else 0
    if n < 126:
        head += bytes([m | n])
    elif n < 65536:
        head += bytes([m | 126]) + struct.pack(">H", n)
    else:
        head += bytes([m | 127]) + struct.pack(">Q", n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


class WebSocket:
    def __init__(self, port, **upgrade):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        request, key = upgrade_request(**upgrade)
        self.sock.sendall(request)
        self.head = read_head(self.sock)
        accept = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()
        assert self.head.startswith("HTTP/1.1 101 "), self.head
        assert f"Sec-WebSocket-Accept: {accept}" in self.head, self.head
        self.buffer = b""

    def send(self, opcode, payload, **kw):
        self.sock.sendall(frame(opcode, payload, **kw))

    def _exact(self, n):
        while len(self.buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed by the broker")
            self.buffer += chunk
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def read_frame(self):
        b0, b1 = self._exact(2)
        assert not b1 & 0x80, "a server frame must not be masked"
        n = b1 & 0x7F
        if n == 126:
            (n,) = struct.unpack(">H", self._exact(2))
        elif n == 127:
            (n,) = struct.unpack(">Q", self._exact(8))
        return b0 & 0x0F, bool(b0 & 0x80), self._exact(n)

    def expect_close(self, code):
        opcode, _, payload = self.read_frame()
        assert opcode == 0x8, f"expected Close, got opcode {opcode}"
        assert struct.unpack(">H", payload[:2])[0] == code, payload
        assert read_all(self.sock) == b"", "the connection must end after the Close"


class MqttOverWs:
    """A raw MQTT client (tests/plugins/abi/abi_test.py's Raw) on a WebSocket: sendall sends
    one Binary frame, recv hands on the payload of Binary frames."""

    def __init__(self, ws):
        self.ws = ws
        self.pending = b""
        self.frames = 0

    def sendall(self, data):
        self.ws.send(0x2, data)

    def recv(self, n):
        while not self.pending:
            opcode, _, payload = self.ws.read_frame()
            if opcode == 0x8:
                return b""
            assert opcode in (0x0, 0x2), opcode
            self.frames += 1
            self.pending = payload
        out, self.pending = self.pending[:n], self.pending[n:]
        return out

    def close(self):
        self.ws.sock.close()


sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "abi"))
from abi_test import Raw, _packet, _s  # noqa: E402


def connect_packet(client_id):
    return _packet(0x10, _s("MQTT") + bytes([5, 0x02]) + struct.pack(">H", 30) + b"\x00"
                   + _s(client_id))


# ---- the broker --------------------------------------------------------------------------------

def start(options=None, *args):
    d = tempfile.mkdtemp(prefix="ringmq-ws-")
    extra = ["--listen", "ws://127.0.0.1:0"] + list(args)
    if options:
        conf = os.path.join(d, "ringmq.toml")
        with open(conf, "w") as f:
            f.write('[[plugin]]\nname = "websocket"\n[plugin.options]\n')
            for k, v in options.items():
                f.write(f"{k} = {v!r}\n".replace("'", '"'))
        extra += ["--config", conf]
    b = interop.Broker(extra_args=extra, log_level="info").start()
    b.ws = b.ports["websocket"]
    return b


def raw_exchange(port, data, chunks=1):
    s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    step = max(1, len(data) // chunks)
    for i in range(0, len(data), step):
        s.sendall(data[i:i + step])
    out = read_all(s)
    s.close()
    return out.decode(errors="replace")


# ---- the tests ---------------------------------------------------------------------------------

def test_upgrade_and_mqtt(b):
    ws = WebSocket(b.ws, protocol="mqttv3.1, mqtt")
    assert "Sec-WebSocket-Protocol: mqttv3.1" in ws.head, ws.head
    c = Raw(0, "ws-one", sock=MqttOverWs(WebSocket(b.ws)))
    assert c.connack == 0 and c.subscribe("ws/t") == 1
    tcp = Raw(b.port, "tcp-one")
    assert tcp.publish1("ws/t", b"over tcp") == 0
    kind, body = c.read()
    assert kind == 0x30 and body.endswith(b"over tcp")


def test_one_frame_per_flush(b):
    """20 PUBLISHes that reach the broker in one read leave towards a WebSocket subscriber in
    far fewer than 20 frames: the plugin frames per flush, not per packet."""
    sub = Raw(0, "ws-batch", sock=MqttOverWs(WebSocket(b.ws)))
    assert sub.subscribe("batch/t") == 1
    pub = socket.create_connection(("127.0.0.1", b.port), timeout=TIMEOUT)
    pub.sendall(_packet(0x10, _s("MQTT") + bytes([4, 0x02]) + struct.pack(">H", 30)
                        + _s("batch-pub")))
    assert pub.recv(4)[0] == 0x20
    pub.sendall(b"".join(_packet(0x30, _s("batch/t") + b"m%02d" % i) for i in range(20)))
    frames_before = sub.sock.frames
    for i in range(20):
        kind, body = sub.read()
        assert kind == 0x30 and body.endswith(b"m%02d" % i), body
    frames = sub.sock.frames - frames_before
    print(f"     20 messages in {frames} frame(s)")
    assert frames <= 10, f"20 messages came in {frames} frames"
    pub.close()


def test_handshake_errors(b):
    cases = [
        (dict(key=""), "400"),
        (dict(version="8"), "426"),
        (dict(path="/other"), "404"),
        (dict(protocol="chat"), "400"),
    ]
    for kw, status in cases:
        request, _ = upgrade_request(**kw)
        answer = raw_exchange(b.ws, request)
        assert answer.startswith(f"HTTP/1.1 {status} "), (kw, answer)
        if status == "426":
            assert "Sec-WebSocket-Version: 13" in answer, answer
    no_upgrade = (b"GET /mqtt HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: keep-alive"
                  b"\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                  b"Sec-WebSocket-Version: 13\r\n\r\n")
    assert raw_exchange(b.ws, no_upgrade).startswith("HTTP/1.1 400 ")
    big = upgrade_request(extra="X-Filler: " + "a" * 9000 + "\r\n")[0]
    assert raw_exchange(b.ws, big).startswith("HTTP/1.1 431 ")
    assert raw_exchange(b.ws, b"NONSENSE\r\n\r\n").startswith("HTTP/1.1 400 ")
    origin = start({"allowed_origins": "https://app.example"})
    try:
        bad = upgrade_request(extra="Origin: https://evil.example\r\n")[0]
        assert raw_exchange(origin.ws, bad).startswith("HTTP/1.1 403 ")
        good = upgrade_request(extra="Origin: https://app.example\r\n")[0]
        assert raw_exchange_head(origin.ws, good).startswith("HTTP/1.1 101 ")
    finally:
        assert origin.stop() is None, origin.log_tail()


def raw_exchange_head(port, data):
    s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    s.sendall(data)
    head = read_head(s)
    s.close()
    return head


def test_slowloris():
    b = start(None, "--connect-timeout", "2")
    try:
        s = socket.create_connection(("127.0.0.1", b.ws), timeout=TIMEOUT)
        request, _ = upgrade_request()
        t0 = time.monotonic()
        closed = False
        for byte in request[:-2]:  # never the final CRLF
            try:
                s.sendall(bytes([byte]))
            except OSError:
                closed = True
                break
            time.sleep(0.05)
            if time.monotonic() - t0 > 6:
                break
        if not closed:
            s.settimeout(6)
            closed = read_all(s) == b""
        elapsed = time.monotonic() - t0
        assert closed and elapsed < 6, f"still open after {elapsed:.1f} s"
    finally:
        assert b.stop() is None, b.log_tail()


def test_frames(b):
    ws = WebSocket(b.ws)
    packet = connect_packet("ws-frames")
    ws.send(0x2, packet[:3], fin=False)             # one CONNECT in three frames,
    ws.send(0x9, b"ping!")                          # a ping between the fragments,
    ws.send(0x0, packet[3:7], fin=False)
    ws.send(0x0, packet[7:])
    opcode, fin, payload = ws.read_frame()
    assert (opcode, fin, payload) == (0xA, True, b"ping!"), (opcode, payload)
    opcode, _, payload = ws.read_frame()
    assert opcode == 0x2 and payload[0] == 0x20, payload  # CONNACK
    # Two SUBSCRIBEs in one frame: two SUBACKs.
    sub = lambda pid, f: _packet(0x82, struct.pack(">H", pid) + b"\x00" + _s(f) + b"\x01")
    ws.send(0x2, sub(1, "a/1") + sub(2, "a/2"))
    got = b""
    while got.count(b"\x90") < 2:
        opcode, _, payload = ws.read_frame()
        got += payload
    ws.send(0x8, struct.pack(">H", 1000) + b"bye")
    ws.expect_close(1000)


def test_disconnect_and_close_in_one_read(b):
    """A DISCONNECT and the WebSocket Close in one read: the DISCONNECT still counts (no will),
    and a PUBLISH before a Close is delivered."""
    watcher = Raw(b.port, "will-watcher", version=4)
    assert watcher.subscribe("wills/#") == 1
    ws = WebSocket(b.ws)
    c = Raw(0, "polite", version=4, will=("wills/polite", b"gone"), sock=MqttOverWs(ws))
    assert c.connack == 0
    ws.sock.sendall(frame(0x2, _packet(0x30, _s("wills/last") + b"last words"))
                    + frame(0x2, b"\xe0\x00") + frame(0x8, struct.pack(">H", 1000)))
    ws.expect_close(1000)
    kind, body = watcher.read()
    assert kind == 0x30 and body.endswith(b"last words"), body
    watcher.sock.settimeout(1.0)  # the will, if wrongly published, comes within milliseconds
    try:
        kind, body = watcher.read()
        raise AssertionError(f"the will was published after a DISCONNECT: {body!r}")
    except socket.timeout:
        pass


def test_pipelined_requests_are_not_all_served(b):
    """Many requests in one read: one answer (with Connection: close), then the end; the
    broker does not build the answers to all of them at once."""
    root = tempfile.mkdtemp(prefix="ringmq-www-")
    with open(os.path.join(root, "big.bin"), "wb") as f:
        f.write(b"x" * (1 << 20))
    files = start({"http_root": root})
    try:
        answer = raw_exchange(files.ws, b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n" * 200)
        assert answer.startswith("HTTP/1.1 200 ") and "Connection: close" in answer, answer[:200]
        assert answer.count("HTTP/1.1 200 ") == 1, answer.count("HTTP/1.1 200 ")
        assert Raw(files.port, "still-quick").connack == 0
    finally:
        assert files.stop() is None, files.log_tail()


def test_answer_survives_the_clients_half_close(b):
    """A request followed at once by the client's FIN still gets its answer (io_uring saw the
    FIN before the answer went out and closed without sending it)."""
    for _ in range(20):
        s = socket.create_connection(("127.0.0.1", b.ws), timeout=TIMEOUT)
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        s.shutdown(socket.SHUT_WR)
        answer = read_all(s).decode(errors="replace")
        s.close()
        assert answer.startswith("HTTP/1.1 404 "), repr(answer)


def test_body_on_a_get_is_refused():
    root = tempfile.mkdtemp(prefix="ringmq-www-")
    with open(os.path.join(root, "index.html"), "w") as f:
        f.write("hi")
    files = start({"http_root": root})
    try:
        answer = raw_exchange(files.ws, b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                              b"\r\nGET /")
        assert answer.startswith("HTTP/1.1 400 ") and answer.count("HTTP/1.1") == 1, answer
    finally:
        assert files.stop() is None, files.log_tail()


def test_violations(b):
    for name, data, code in (
            ("unmasked", frame(0x2, b"x", mask=False), 1002),
            ("text", frame(0x1, b"hello"), 1003),
            ("reserved bits", frame(0x2, b"x", rsv=0x40), 1002),
            ("too big", frame(0x2, b"x" * 2000), 1009)):
        ws = WebSocket(b.ws)
        ws.sock.sendall(data)
        try:
            ws.expect_close(code)
        except AssertionError as e:
            raise AssertionError(f"{name}: {e}") from e


def test_broker_closes(b):
    victim = Raw(0, "ws-victim", sock=MqttOverWs(WebSocket(b.ws)))
    Raw(b.port, "ws-victim")  # takes the session over
    kind, body = victim.read()
    assert kind == 0xE0 and body[0] == 0x8E, (kind, body)
    victim.sock.ws.expect_close(1000)


def test_static_files():
    root = tempfile.mkdtemp(prefix="ringmq-www-")
    with open(os.path.join(root, "index.html"), "w") as f:
        f.write("<h1>chat</h1>")
    with open(os.path.join(root, "app.js"), "w") as f:
        f.write("console.log(1);" * 50)
    with gzip.open(os.path.join(root, "app.js.gz"), "wb") as f:
        f.write(b"console.log(1);" * 50)
    b = start({"http_root": root})
    try:
        page = raw_exchange(b.ws, b"GET /?x=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert page.startswith("HTTP/1.1 200 ") and "text/html" in page and "<h1>chat</h1>" in page
        etag = [ln.split(": ", 1)[1] for ln in page.split("\r\n") if ln.startswith("ETag: ")][0]
        again = raw_exchange(b.ws, f"GET / HTTP/1.1\r\nHost: x\r\nIf-None-Match: {etag}\r\n"
                             "Connection: close\r\n\r\n".encode())
        assert again.startswith("HTTP/1.1 304 "), again
        js = raw_exchange(b.ws, b"GET /app.js HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n"
                          b"Connection: close\r\n\r\n")
        assert "Content-Encoding: gzip" in js and "javascript" in js, js[:300]
        head = raw_exchange(b.ws, b"HEAD /app.js HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert head.startswith("HTTP/1.1 200 ") and head.endswith("\r\n\r\n"), head
        post = raw_exchange(b.ws, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        assert post.startswith("HTTP/1.1 405 ") and "Allow: GET, HEAD" in post, post
        for target in ("/../etc/passwd", "/%2e%2e/etc/passwd", "/a/../../etc/passwd"):
            answer = raw_exchange(b.ws, f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            assert answer.split(" ")[1] in ("400", "404"), (target, answer[:100])
            assert "root:" not in answer
        # Keep-alive: two requests on one connection, then an upgrade on the same one.
        s = socket.create_connection(("127.0.0.1", b.ws), timeout=TIMEOUT)
        s.sendall(b"GET /app.js HTTP/1.1\r\nHost: x\r\n\r\n")
        first = read_head(s)
        assert first.startswith("HTTP/1.1 200 ")
        length = int([ln.split(": ")[1] for ln in first.split("\r\n")
                      if ln.startswith("Content-Length")][0])
        body = b""
        while len(body) < length:
            body += s.recv(length - len(body))
        s.sendall(upgrade_request()[0])
        assert read_head(s).startswith("HTTP/1.1 101 ")
        s.close()
    finally:
        assert b.stop() is None, b.log_tail()


def test_plain_get_without_http_root(b):
    answer = raw_exchange(b.ws, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert answer.startswith("HTTP/1.1 404 "), answer


def main():
    if not os.environ.get("RINGMQ_BROKER"):
        print("RINGMQ_BROKER must be set")
        return 1
    shared = start({"max_frame_bytes": 1024})
    tests = [(n[5:], f) for n, f in sorted(globals().items()) if n.startswith("test_")]
    failed = 0
    try:
        for name, fn in tests:
            t0 = time.monotonic()
            try:
                fn(shared) if fn.__code__.co_argcount == 1 else fn()
                print(f"ok   {name} ({time.monotonic() - t0:.2f} s)", flush=True)
            except (Exception, SystemExit):  # noqa: BLE001  (report every rule, then fail)
                failed += 1
                print(f"FAIL {name}\n{traceback.format_exc()}", flush=True)
    finally:
        stop_error = shared.stop()
    if stop_error:
        failed += 1
        print(f"FAIL broker: {stop_error}\n{shared.log_tail()}")
    print(f"{len(tests) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
