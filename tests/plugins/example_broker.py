"""build/ringmq with plugins from a config file, for the message_log and example tests.

PluginBroker is tests/interop's Broker with `--config FILE` (and --log-level info, so the
plugins' own lines reach the log) added to its command line; the file holds the
[[plugin]] tables the test gives. start_or_skip() exits 77 (meson: skipped) when the broker
knows no --config yet, i.e. before the plugin host and config loader landed; any other
failure is a failure.

RawClient speaks just enough MQTT 5.0 to see exact reason codes (PUBACK), which paho 1.6
does not report.
"""
import os
import socket
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "interop"))
import interop  # noqa: E402

SKIP = 77


def toml_string(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def plugin_table(name, path, options):
    """One [[plugin]] table; `options` values are str (quoted) or int/float (as written)."""
    lines = ["[[plugin]]", f"name = {toml_string(name)}", f"path = {toml_string(path)}",
             "[plugin.options]"]
    for key, value in options.items():
        lines.append(f"{key} = {toml_string(value) if isinstance(value, str) else value}")
    return "\n".join(lines) + "\n"


class PluginBroker(interop.Broker):
    def __init__(self, config_text):
        os.environ.setdefault("RINGMQ_TEST_BROKER", "ringmq")
        super().__init__()
        self.config = os.path.join(self.dir, "ringmq.toml")
        with open(self.config, "w") as f:
            f.write(config_text)

    def _start_ringmq(self, timeout):
        real_popen = interop.popen

        def popen_with_config(argv, **kwargs):
            return real_popen(list(argv) + ["--log-level", "info", "--config", self.config],
                              **kwargs)

        interop.popen = popen_with_config
        try:
            super()._start_ringmq(timeout)
        finally:
            interop.popen = real_popen

    def start_or_skip(self):
        exe = os.environ.get("RINGMQ_BROKER", "")
        if not os.access(exe, os.X_OK):
            print(f"SKIP: no broker at RINGMQ_BROKER={exe!r} (build it: ninja ringmq)")
            sys.exit(SKIP)
        try:
            return self.start()
        except SystemExit as e:
            log = self.log_tail(200)
            if "Unknown command line flag 'config'" in log:
                print("SKIP: build/ringmq has no --config yet (the plugin host has not landed)")
                self.cleanup()
                sys.exit(SKIP)
            print(e, flush=True)
            self.cleanup()
            sys.exit(1)

    def read_log(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")


# ---- a raw MQTT 5.0 client ------------------------------------------------------------------

def _varint(n):
    out = bytearray()
    while True:
        b, n = n % 128, n // 128
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _str(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack(">H", len(b)) + b


class RawClient:
    def __init__(self, port, client_id, timeout=interop.DEFAULT_TIMEOUT):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.next_id = 1
        # CONNECT: "MQTT", level 5, clean start, keep alive 60, no properties.
        body = _str("MQTT") + bytes([5, 0x02]) + struct.pack(">H", 60) + b"\x00" + _str(client_id)
        self._send(0x10, body)
        kind, body = self._read()
        interop.expect_equal("CONNACK packet type", 0x20, kind & 0xF0)
        interop.expect_equal(f"CONNACK reason for {client_id}", 0, body[1])

    def _send(self, first_byte, body):
        self.sock.sendall(bytes([first_byte]) + _varint(len(body)) + body)

    def _exact(self, n):
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise interop.ScenarioFailure("the broker closed the connection")
            data += chunk
        return data

    def _read(self):
        first = self._exact(1)[0]
        length, shift = 0, 0
        while True:
            b = self._exact(1)[0]
            length |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        return first, self._exact(length)

    def publish_qos1(self, topic, payload):
        """Returns the PUBACK's reason code (0 when the PUBACK has none)."""
        packet_id = self.next_id
        self.next_id += 1
        self._send(0x32, _str(topic) + struct.pack(">H", packet_id) + b"\x00" + payload)
        while True:
            kind, body = self._read()
            if kind & 0xF0 == 0x40:
                interop.expect_equal("PUBACK packet id", packet_id, struct.unpack(">H", body[:2])[0])
                return body[2] if len(body) > 2 else 0

    def disconnect(self):
        self._send(0xE0, b"\x00")
        self.sock.close()
