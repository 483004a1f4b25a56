#!/usr/bin/python3
"""Disk-full test for the offline store: the file system that holds --data-dir fills up while
publishers keep publishing; the broker must keep serving, refuse what it cannot store, lose
nothing it acknowledged, and resume by itself once there is room again.

The small disk. A 8 MiB tmpfs in a private mount namespace, held by a long-lived process:
    unshare --mount --propagation private -- sh -c 'mount -t tmpfs -o size=8m ... MNT;
                                                    echo mounted; exec sleep 600'
The broker runs inside that namespace, started by
    nsenter --target HOLDER --mount -- $RINGMQ_BROKER --listen 127.0.0.1:0 --threads 2
        --data-dir MNT/data --log-level warning --sys-interval 1 --max-queued-messages 100000
(nsenter execs the broker in the same process: its PID is the broker's, checked through
/proc/PID/exe). The tmpfs outlives the broker, so a kill -9 and a restart on the same store
are possible. The disk is filled with `nsenter ... dd if=/dev/zero of=MNT/filler bs=64k`
(until ENOSPC) and freed with `nsenter ... rm MNT/filler`. The test skips (exit status 77)
with the reason when it cannot do this: not root, a tool missing, unshare or mount refused.

Clients. Publishers in MQTT 5 are a small raw-socket client written here (CONNECT, PUBLISH
QoS 1/2, PUBACK/PUBREC with its reason code, PUBREL/PUBCOMP) so that every acknowledgement is
seen with its exact reason code. The 3.1.1 publisher, the subscribers and the $SYS watcher are
paho (Debian's python3-paho-mqtt 1.6). A publisher waits for each acknowledgement before its
next PUBLISH on that connection (acknowledgements come in PUBLISH order, so a message whose
commit waits for the disk holds back every later one on its connection): while the disk fills
or frees, a message that gets no acknowledgement within a second is "pending" and left there
(it must be acknowledged 0x00 once there is room), and the publisher goes on over a new
connection. Payloads are "STREAM SEQ " + padding; a stream is one publisher
connection.

Steps:
 1. Start the namespace holder and the broker. Four persistent subscriber sessions subscribe
    full/# at QoS 1 and go offline: A (5.0, clean start 0, session expiry 600) and B (3.1.1,
    clean session 0), checked live before the kill -9; C (5.0) and D (3.1.1), checked only
    after the kill -9 restart. Online: a clean-session subscriber on live/# and a $SYS
    watcher on $SYS/broker/store/#.
 2. Before the disk fills: QoS 1 publishes (5.0 and 3.1.1) on full/... all succeed (5.0:
    0x00 exactly; 0x10 would mean the persistent sessions did not match); a retained QoS 1
    message on ret/dfull.
 3. Fill the disk to ENOSPC. The 5.0 publisher keeps publishing (3 KB payloads) until the
    first 0x97 (Quota exceeded), within 15 s; then, while full:
      - 5.0 QoS 1 on full/...: 0x97 each; QoS 2: PUBREC 0x97; the retained one: 0x97;
      - 3.1.1 QoS 1 on full/...: no PUBACK (checked precisely: a later QoS 1 publish on
        live/... from the same connection is acknowledged, and acknowledgements are in order);
      - still served: QoS 0 and QoS 1 on live/... reach the online clean-session subscriber,
        QoS 1 acknowledged 0x00; a new subscriber still gets the old retained message;
      - $SYS/broker/store/accepting becomes 0, store/refused and store/failed-commits > 0.
 4. Free the space. Within 10 s: every pending message is acknowledged (0x00; or 0x97 when
    the store stopped accepting between one shard's sessions taking it and the other's), a
    new 5.0 publish gets 0x00, $SYS accepting is 1; then more 5.0 and 3.1.1 publishes all
    succeed, the retained message is replaced; the refused 3.1.1 messages are never
    acknowledged; no 5.0 publish is left without an acknowledgement; $SYS store/refused is
    exactly the number of refusals seen.
 5. A and B reconnect (session present 1): every message acknowledged with success was
    delivered (at least once), first arrivals in publishing order per stream.
 6. kill -9 the broker; restart it on the same store (same namespace). C and D reconnect
    (session present 1) and get every message acknowledged with success, in order; A and B
    still have their sessions; a new publish reaches all four (subscriptions recovered);
    the retained message is the last one acknowledged; accepting is 1. SIGTERM: exit 0.

Every wait is a condition with a timeout (the whole run takes ~5 s; a watchdog ends it at
100 s). Everything started is stopped by PID: the broker (SIGTERM, SIGKILL if it hangs), then
the namespace holder (SIGKILL), whose tmpfs goes with it. On failure the test prints what
was expected and seen, the broker's store log lines and its log tail.

Run: RINGMQ_BROKER=build/ringmq /usr/bin/python3 tests/store/disk_full_test.py
     (as root), or meson test -C build store/disk-full.
"""

import os
import queue
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "interop"))
import interop  # noqa: E402  (popen with the parent-death signal, the listening line)
from interop import ScenarioFailure as Failure  # noqa: E402

import paho.mqtt.client as mqtt  # noqa: E402
from paho.mqtt.packettypes import PacketTypes  # noqa: E402
from paho.mqtt.properties import Properties  # noqa: E402

SKIP = 77
HOST = "127.0.0.1"
TMPFS_SIZE = "8m"
PAD = 3000                 # payload padding: the WAL must grow past what the disk has
ACK_WAIT = 1.0             # s: no acknowledgement by then -> the message waits for the disk
FULL_DEADLINE = 15.0       # s: from the disk full to the first 0x97
RESUME_DEADLINE = 10.0     # s: from the space freed to a new publish succeeding
EVENT_TIMEOUT = 10.0       # s: any other single expected event
SESSION_EXPIRY = 600       # s: 5.0 persistent subscribers
WATCHDOG = 100.0           # s: the whole run

QUOTA_EXCEEDED = 0x97
NO_MATCHING = 0x10


def log(text):
    print(f"[{time.monotonic() - T0:6.2f}] {text}", flush=True)


T0 = time.monotonic()


def skip(reason):
    print(f"SKIP store/disk-full: {reason}", flush=True)
    sys.exit(SKIP)


def code(reason):
    """A reason code as text; None: no acknowledgement."""
    return "no acknowledgement" if reason is None else f"0x{reason:02x}"


def check(cond, message):
    if not cond:
        raise Failure(message)


def wait_for(predicate, what, timeout=EVENT_TIMEOUT):
    return interop.wait_for(predicate, what, timeout=timeout, interval=0.01)


# ---- processes -----------------------------------------------------------------------------

class Lines:
    """A child's stdout, read line by line by a thread, so that its pipe never fills."""

    def __init__(self, stream, echo=None):
        self.q = queue.Queue()
        self.all = []

        def read():
            for raw in stream:
                line = raw.decode(errors="replace").rstrip("\n")
                self.all.append(line)
                if echo is not None:
                    echo.write((line + "\n").encode())
                    echo.flush()
                self.q.put(line)
            self.q.put(None)

        threading.Thread(target=read, daemon=True).start()

    def get(self, timeout):
        try:
            return self.q.get(timeout=max(0.0, timeout))
        except queue.Empty:
            return None


class Namespace:
    """A private mount namespace with a tmpfs on `mnt`, held by a sleeping process."""

    SCRIPT = ('mount -t tmpfs -o "size=$2,mode=0755" ringmq-disk-full "$1" || exit 3; '
              'echo mounted; exec sleep 600')

    def __init__(self, tools, mnt):
        self.tools = tools
        self.mnt = mnt
        self.proc = None

    def start(self, timeout=10.0):
        self.proc = interop.popen(
            [self.tools["unshare"], "--mount", "--propagation", "private", "--",
             self.tools["sh"], "-c", self.SCRIPT, "sh", self.mnt, TMPFS_SIZE],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        lines = Lines(self.proc.stdout)
        line = lines.get(timeout)
        if line != "mounted":
            try:
                self.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                pass
            err = self.proc.stderr.read().decode(errors="replace").strip() \
                if self.proc.poll() is not None else "(no output)"
            self.stop()
            return f"unshare --mount + mount -t tmpfs failed: {err or line!r}"
        log(f"namespace holder pid {self.proc.pid}: tmpfs size={TMPFS_SIZE} on {self.mnt}")
        return None

    def run(self, *argv, timeout=30.0):
        """Runs a command inside the namespace; returns the CompletedProcess."""
        return subprocess.run([self.tools["nsenter"], "--target", str(self.proc.pid), "--mount",
                               "--"] + list(argv), capture_output=True, timeout=timeout)

    def free_bytes(self):
        r = self.run("stat", "-f", "-c", "%a %S", self.mnt)
        check(r.returncode == 0, f"stat -f {self.mnt} in the namespace: {r.stderr!r}")
        avail, bsize = (int(x) for x in r.stdout.split())
        return avail * bsize

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass


class Broker:
    """build/ringmq inside the namespace, on an ephemeral port; its log goes to a host file."""

    def __init__(self, exe, ns, data_dir, log_path):
        self.exe = exe
        self.ns = ns
        self.data_dir = data_dir
        self.log_path = log_path
        self.proc = None
        self.port = None
        self.starts = 0

    def start(self, timeout=20.0):
        self.starts += 1
        logf = open(self.log_path, "ab")
        logf.write(f"=== ringmq start {self.starts} ===\n".encode())
        logf.flush()
        argv = [self.ns.tools["nsenter"], "--target", str(self.ns.proc.pid), "--mount", "--",
                self.exe, "--listen", "127.0.0.1:0", "--threads", "2",
                "--data-dir", self.data_dir, "--log-level", "warning", "--sys-interval", "1",
                "--max-queued-messages", "100000"]
        self.proc = interop.popen(argv, stdout=subprocess.PIPE, stderr=logf)
        logf.close()
        lines = Lines(self.proc.stdout, echo=open(self.log_path, "ab"))
        deadline = time.monotonic() + timeout
        store_line = None
        while True:
            line = lines.get(deadline - time.monotonic())
            if line is None:
                raise Failure(f"ringmq printed no 'listening' line within {timeout} s "
                              f"(status {self.proc.poll()})")
            if line.startswith("store "):
                store_line = line
            if line.startswith("listening"):
                self.port = interop.port_from_listening_line(line)
                check(self.port, f"no port in {line!r}")
                break
        want = f"store sqlite {os.path.join(self.data_dir, 'ringmq.db')} sync normal"
        check(store_line == want, f"store line: expected {want!r}, got {store_line!r}")
        # nsenter (mount namespace only) execs the broker in its own process: the PID is the
        # broker's, so every signal below reaches the broker itself.
        exe = os.readlink(f"/proc/{self.proc.pid}/exe")
        check(os.path.realpath(exe) == os.path.realpath(self.exe),
              f"pid {self.proc.pid} runs {exe}, not {self.exe} (did nsenter fork?)")
        log(f"broker pid {self.proc.pid} on {HOST}:{self.port} ({store_line})")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def check_alive(self, when):
        check(self.alive(), f"the broker died ({when}): status {self.proc.returncode}")

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        log(f"broker pid {self.proc.pid} killed (SIGKILL), status {self.proc.returncode}")

    def stop(self, timeout=10.0):
        """SIGTERM by PID, SIGKILL after `timeout`; returns the exit status (None: killed)."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc is not None else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
            return None

    def log_lines(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace").splitlines()
        except OSError:
            return []


# ---- a raw MQTT 5 publisher ------------------------------------------------------------------

def _varint(n):
    out = bytearray()
    while True:
        b, n = n % 128, n // 128
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _str(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("!H", len(b)) + b


def _packet(first, body):
    return bytes([first]) + _varint(len(body)) + body


class RawV5:
    """An MQTT 5 client that publishes and records each acknowledgement's reason code.

    acks[pid] = (reason code of the PUBACK or PUBREC, arrival time); QoS 2 with a success
    PUBREC is released at once and completed[pid] set at PUBCOMP."""

    def __init__(self, port, client_id):
        self.client_id = client_id
        self.cond = threading.Condition()
        self.acks = {}
        self.completed = {}
        self.problems = []        # protocol surprises (an acknowledgement twice, ...)
        self.closed = None        # why the connection ended
        self.next_pid = 1
        self.send_lock = threading.Lock()
        self.sock = socket.create_connection((HOST, port), timeout=EVENT_TIMEOUT)
        body = _str("MQTT") + bytes([5, 0x02]) + struct.pack("!H", 60) + _varint(0) \
            + _str(client_id)
        self.sock.sendall(_packet(0x10, body))
        first, body = self._read_packet()
        check(first >> 4 == 2 and len(body) >= 2,
              f"{client_id}: expected CONNACK, got packet type {first >> 4}")
        check(body[1] == 0, f"{client_id}: CONNACK reason 0x{body[1]:02x}")
        self.sock.settimeout(None)
        threading.Thread(target=self._reader, daemon=True).start()

    def _read_exact(self, n):
        data = bytearray()
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise EOFError("connection closed by the broker")
            data += chunk
        return bytes(data)

    def _read_packet(self):
        first = self._read_exact(1)[0]
        length, shift = 0, 0
        while True:
            b = self._read_exact(1)[0]
            length |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        return first, self._read_exact(length)

    def _send(self, data):
        with self.send_lock:
            self.sock.sendall(data)

    def _reader(self):
        try:
            while True:
                first, body = self._read_packet()
                kind = first >> 4
                if kind in (4, 5, 7):  # PUBACK, PUBREC, PUBCOMP
                    pid = struct.unpack("!H", body[:2])[0]
                    reason = body[2] if len(body) > 2 else 0
                    with self.cond:
                        table = self.completed if kind == 7 else self.acks
                        if pid in table:
                            self.problems.append(f"{['', '', '', '', 'PUBACK', 'PUBREC', '', 'PUBCOMP'][kind]}"
                                                 f" twice for packet id {pid}")
                        table[pid] = (reason, time.monotonic())
                        self.cond.notify_all()
                    if kind == 5 and reason < 0x80:
                        self._send(_packet(0x62, struct.pack("!H", pid)))
                elif kind == 14:  # DISCONNECT
                    with self.cond:
                        self.closed = f"DISCONNECT reason 0x{body[0] if body else 0:02x}"
                        self.cond.notify_all()
                    return
                elif kind == 13:  # PINGRESP
                    pass
                else:
                    with self.cond:
                        self.problems.append(f"unexpected packet type {kind}")
        except (EOFError, OSError) as e:
            with self.cond:
                if self.closed is None:
                    self.closed = str(e)
                self.cond.notify_all()

    def publish(self, topic, payload, qos=1, retain=False):
        pid = self.next_pid
        self.next_pid += 1
        check(pid < 65536, "packet ids exhausted")
        first = 0x30 | (qos << 1) | (1 if retain else 0)
        body = _str(topic) + (struct.pack("!H", pid) if qos else b"") + _varint(0) + payload
        self._send(_packet(first, body))
        return pid

    def wait_ack(self, pid, timeout):
        """The reason code of pid's PUBACK/PUBREC, or None if none came within `timeout`."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while pid not in self.acks:
                left = deadline - time.monotonic()
                if left <= 0 or self.closed is not None:
                    break
                self.cond.wait(left)
            got = self.acks.get(pid)
        return None if got is None else got[0]

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


# ---- paho clients ----------------------------------------------------------------------------

class Paho:
    """A paho client, network loop on paho's thread, without automatic reconnection."""

    def __init__(self, client_id, version, persistent):
        self.client_id = client_id
        self.version = version
        self.persistent = persistent
        self.cond = threading.Condition()
        self.messages = []        # (topic, payload, qos, arrival time), in arrival order
        self.acked = {}           # mid -> time of its PUBACK (on_publish)
        self.connack = None
        self.subacks = {}
        self.client = None

    def _make(self):
        if self.version == 5:
            c = mqtt.Client(client_id=self.client_id, protocol=mqtt.MQTTv5,
                            reconnect_on_failure=False)
        else:
            c = mqtt.Client(client_id=self.client_id, clean_session=not self.persistent,
                            protocol=mqtt.MQTTv311, reconnect_on_failure=False)
        c.max_inflight_messages_set(0)  # unlimited: refused 3.1.1 messages are never acked
        c.on_connect = self._on_connect
        c.on_message = self._on_message
        c.on_publish = self._on_publish
        c.on_subscribe = self._on_subscribe
        return c

    def _on_connect(self, client, userdata, flags, rc, properties=None):
        with self.cond:
            self.connack = (int(flags.get("session present", 0)), int(getattr(rc, "value", rc)))
            self.cond.notify_all()

    def _on_message(self, client, userdata, msg):
        with self.cond:
            self.messages.append((msg.topic, bytes(msg.payload), msg.qos, time.monotonic()))
            self.cond.notify_all()

    def _on_publish(self, client, userdata, mid):
        with self.cond:
            self.acked[mid] = time.monotonic()
            self.cond.notify_all()

    def _on_subscribe(self, client, userdata, mid, granted, properties=None):
        with self.cond:
            self.subacks[mid] = [int(getattr(g, "value", g)) for g in granted]
            self.cond.notify_all()

    def connect(self, port, first=False):
        """Connects (a new client object, same client id); returns session present."""
        self.client = self._make()
        with self.cond:
            self.connack = None
        if self.version == 5:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = SESSION_EXPIRY if self.persistent else 0
            # The first connection of a persistent session starts clean, later ones resume.
            clean = first or not self.persistent
            self.client.connect(HOST, port, 60, clean_start=clean, properties=props)
        else:
            self.client.connect(HOST, port, 60)
        self.client.loop_start()
        with self.cond:
            ok = self.cond.wait_for(lambda: self.connack is not None, EVENT_TIMEOUT)
        check(ok, f"{self.client_id}: no CONNACK within {EVENT_TIMEOUT} s")
        present, rc = self.connack
        check(rc == 0, f"{self.client_id}: CONNACK rc {rc}")
        return present

    def subscribe(self, filt, qos):
        rc, mid = self.client.subscribe(filt, qos)
        check(rc == mqtt.MQTT_ERR_SUCCESS, f"{self.client_id}: subscribe {filt}: rc {rc}")
        with self.cond:
            ok = self.cond.wait_for(lambda: mid in self.subacks, EVENT_TIMEOUT)
        check(ok, f"{self.client_id}: no SUBACK for {filt} within {EVENT_TIMEOUT} s")
        check(self.subacks[mid] == [qos],
              f"{self.client_id}: SUBACK for {filt}: {self.subacks[mid]}, expected [{qos}]")

    def publish(self, topic, payload, qos, retain=False):
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        check(info.rc == mqtt.MQTT_ERR_SUCCESS, f"{self.client_id}: publish rc {info.rc}")
        return info.mid

    def wait_acked(self, mid, timeout=EVENT_TIMEOUT):
        with self.cond:
            return self.cond.wait_for(lambda: mid in self.acked, timeout)

    def wait_message(self, pred, what, timeout=EVENT_TIMEOUT):
        with self.cond:
            ok = self.cond.wait_for(lambda: any(pred(m) for m in self.messages), timeout)
        check(ok, f"{self.client_id}: timed out after {timeout} s waiting for {what}")

    def disconnect(self):
        if self.client is not None:
            self.client.disconnect()
            self.client.loop_stop()
            self.client = None


# ---- the ledger ------------------------------------------------------------------------------

class Message:
    """One QoS 1/2 PUBLISH on full/...: who sent it, and what came back."""

    def __init__(self, stream, seq, qos, phase, ack_of):
        self.stream = stream
        self.seq = seq
        self.qos = qos
        self.phase = phase
        self.ack_of = ack_of      # fn() -> None (no acknowledgement) or a reason code
        self.sent_t = time.monotonic()

    def key(self):
        return (self.stream, self.seq)

    def __repr__(self):
        return f"{self.stream}:{self.seq} ({self.phase})"


class Ledger:
    def __init__(self):
        self.messages = []
        self.next_seq = {}

    def payload(self, stream):
        seq = self.next_seq.get(stream, 0) + 1
        self.next_seq[stream] = seq
        return seq, f"{stream} {seq} ".encode() + b"." * PAD

    def by_key(self):
        return {m.key(): m for m in self.messages}

    def owed(self):
        """Acknowledged with success: must reach every persistent subscriber."""
        return [m for m in self.messages if m.ack_of() == 0x00]

    def summary(self):
        counts = {}
        for m in self.messages:
            a = m.ack_of()
            k = "no ack" if a is None else f"0x{a:02x}"
            counts[(m.phase, k)] = counts.get((m.phase, k), 0) + 1
        return ", ".join(f"{p} {k}: {n}" for (p, k), n in sorted(counts.items()))


def parse_payload(payload):
    parts = payload.split(b" ", 2)
    if len(parts) < 3:
        return None
    try:
        return parts[0].decode(), int(parts[1])
    except ValueError:
        return None


def check_delivered(sub, ledger, what):
    """Every message acknowledged with success reached `sub` at least once, first arrivals in
    publishing order per stream, nothing that was never published."""
    known = ledger.by_key()
    owed = {m.key() for m in ledger.owed()}

    def arrived():
        with sub.cond:
            return {parse_payload(p) for t, p, q, _ in sub.messages if t.startswith("full/")}

    try:
        wait_for(lambda: owed <= arrived(), f"{sub.client_id} to receive all {len(owed)} "
                 f"messages acknowledged with success ({what})")
    except Failure:
        missing = sorted(owed - arrived())
        raise Failure(f"{sub.client_id} ({what}): {len(missing)} of {len(owed)} messages "
                      f"acknowledged with success were not delivered: "
                      f"{[known[k] for k in missing][:30]}") from None
    with sub.cond:
        msgs = list(sub.messages)
    first, order, dups, refused_delivered = set(), {}, 0, []
    for topic, payload, qos, _ in msgs:
        if not topic.startswith("full/"):
            continue
        key = parse_payload(payload)
        check(key in known, f"{sub.client_id}: received {payload[:20]!r} on {topic}, which was "
              "never published")
        if key in first:
            dups += 1
            continue
        first.add(key)
        order.setdefault(key[0], []).append(key[1])
        if key not in owed:
            refused_delivered.append(known[key])
    for stream, seqs in order.items():
        check(seqs == sorted(seqs),
              f"{sub.client_id} ({what}): stream {stream} delivered out of order: {seqs}")
    log(f"  {sub.client_id}: all {len(owed)} owed messages delivered in order "
        f"({len(first)} distinct, {dups} duplicates; delivered though not acknowledged with "
        f"success: {refused_delivered[:10]}{'...' if len(refused_delivered) > 10 else ''})")


# ---- the test --------------------------------------------------------------------------------

class SysWatch(Paho):
    """Keeps every $SYS/broker/store/... value with its arrival time."""

    def __init__(self):
        super().__init__("dfull-sys", 4, persistent=False)

    def seen(self, name, pred, after):
        with self.cond:
            for topic, payload, _, t in self.messages:
                if topic == f"$SYS/broker/store/{name}" and t >= after:
                    try:
                        if pred(int(payload)):
                            return True
                    except ValueError:
                        pass
        return False

    def latest(self, name):
        with self.cond:
            for topic, payload, _, _ in reversed(self.messages):
                if topic == f"$SYS/broker/store/{name}":
                    return int(payload)
        return None

    def wait(self, name, pred, after, what, timeout=EVENT_TIMEOUT):
        wait_for(lambda: self.seen(name, pred, after),
                 f"$SYS/broker/store/{name} {what} (published after the event)", timeout)
        return self.latest(name)


class DiskFullTest:
    def __init__(self, exe, tools, workdir):
        self.workdir = workdir
        mnt = os.path.join(workdir, "mnt")
        os.mkdir(mnt)
        self.mnt = mnt
        self.ns = Namespace(tools, mnt)
        self.broker = Broker(exe, self.ns, os.path.join(mnt, "data"),
                             os.path.join(workdir, "broker.log"))
        self.ledger = Ledger()
        self.conns = []           # every RawV5 opened, to close at the end
        self.pubconn = None       # the 5.0 publisher's current connection
        self.stream = None
        self.pending = []         # 5.0 messages left without an acknowledgement (disk)
        self.late = []            # (pending message, the reason code it got in the end)
        self.conn_count = 0
        self.pub311 = None
        self.refused311 = []
        self.paho = []

    # -- 5.0 publishing

    def new_pubconn(self):
        self.conn_count += 1
        self.pubconn = RawV5(self.broker.port, f"dfull-pub5-{self.conn_count}")
        self.conns.append(self.pubconn)
        self.stream = f"v5c{self.conn_count}"
        return self.pubconn

    def publish5(self, phase, qos=1, topic="full/v5", wait=EVENT_TIMEOUT):
        """A QoS 1/2 message on full/... over the current connection; returns (message,
        reason code or None: no acknowledgement within `wait`, the message is pending and
        the publisher moves on to a new connection). ACK_WAIT while the outcome is open (the
        disk filling, the space coming back), else EVENT_TIMEOUT."""
        conn = self.pubconn
        seq, payload = self.ledger.payload(self.stream)
        pid = conn.publish(topic, payload, qos=qos)

        def ack_of(conn=conn, pid=pid):
            with conn.cond:
                got = conn.acks.get(pid)
            if got is None:
                return None
            # QoS 2 is a success only once completed (PUBCOMP).
            if qos == 2 and got[0] < 0x80 and pid not in conn.completed:
                return None
            return got[0]

        m = Message(self.stream, seq, qos, phase, ack_of)
        self.ledger.messages.append(m)
        reason = conn.wait_ack(pid, wait)
        if reason is None:
            check(conn.closed is None, f"{conn.client_id}: connection ended: {conn.closed}")
            self.pending.append(m)
            check(len(self.pending) <= 5, f"{len(self.pending)} messages neither acknowledged "
                  f"nor refused in time: {self.pending}")
            log(f"  {m}: no acknowledgement within {wait} s: pending; new connection")
            self.new_pubconn()
        return m, reason

    def publish5_other(self, topic, payload, qos, retain=False):
        """A message that is not on full/ (live/..., ret/...): its reason code."""
        pid = self.pubconn.publish(topic, payload, qos=qos, retain=retain)
        if qos == 0:
            return None
        reason = self.pubconn.wait_ack(pid, EVENT_TIMEOUT)
        check(reason is not None, f"no acknowledgement for {topic} within {EVENT_TIMEOUT} s")
        return reason

    # -- 3.1.1 publishing

    def publish311(self, phase):
        seq, payload = self.ledger.payload("311")
        mid = self.pub311.publish("full/311", payload, qos=1)
        pub = self.pub311

        def ack_of(mid=mid):
            with pub.cond:
                return 0x00 if mid in pub.acked else None

        m = Message("311", seq, 1, phase, ack_of)
        m.mid = mid
        self.ledger.messages.append(m)
        return m

    def live_probe311(self, what):
        """A QoS 1 publish on live/311 from the 3.1.1 publisher is acknowledged: every
        earlier PUBLISH on that connection has had its acknowledgement (or never will)."""
        mid = self.pub311.publish("live/311", f"probe {what}".encode(), qos=1)
        check(self.pub311.wait_acked(mid), f"3.1.1 publisher: no PUBACK for a QoS 1 message to "
              f"an online clean-session subscriber ({what}) within {EVENT_TIMEOUT} s")

    # -- the steps

    def setup(self):
        why = self.ns.start()
        if why:
            skip(why)
        self.broker.start()
        port = self.broker.port
        self.subs = {}
        for name, version in (("A", 5), ("B", 4), ("C", 5), ("D", 4)):
            s = Paho(f"dfull-sub-{name}-v{version}", version, persistent=True)
            self.paho.append(s)
            check(s.connect(port, first=True) == 0, f"{s.client_id}: session present on a new "
                  "session")
            s.subscribe("full/#", 1)
            s.disconnect()
            self.subs[name] = s
        self.live = Paho("dfull-live", 5, persistent=False)
        self.paho.append(self.live)
        self.live.connect(port)
        self.live.subscribe("live/#", 1)
        self.sys = SysWatch()
        self.paho.append(self.sys)
        self.sys.connect(port)
        self.sys.subscribe("$SYS/broker/store/#", 0)
        self.sys.wait("accepting", lambda v: v == 1, 0, "= 1 at start")
        self.pub311 = Paho("dfull-pub311", 4, persistent=False)
        self.paho.append(self.pub311)
        self.pub311.connect(port)
        self.new_pubconn()
        log(f"setup: 4 persistent subscribers offline (A, C: 5.0; B, D: 3.1.1), live and $SYS "
            f"watchers online; free space {self.ns.free_bytes() // 1024} KiB")

    def before_full(self):
        for _ in range(20):
            m, reason = self.publish5("before")
            check(reason == 0x00, f"before the disk fills: {m} acknowledged with "
                  f"{code(reason)}, expected 0x00 "
                  "(0x10 would mean the persistent sessions did not match)")
        msgs = [self.publish311("before") for _ in range(10)]
        for m in msgs:
            check(self.pub311.wait_acked(m.mid), f"before the disk fills: no PUBACK for {m}")
        reason = self.publish5_other("ret/dfull", b"retained before", 1, retain=True)
        check(reason in (0x00, NO_MATCHING), f"retained before: {code(reason)}")
        log("before: 20 5.0 + 10 3.1.1 QoS 1 messages acknowledged 0x00, retained set")

    def fill(self):
        r = self.ns.run("dd", "if=/dev/zero", f"of={self.mnt}/filler", "bs=64k")
        err = r.stderr.decode(errors="replace")
        check(r.returncode != 0 and "No space left" in err,
              f"dd to fill the tmpfs: status {r.returncode}, {err.strip()!r}")
        free = self.ns.free_bytes()
        check(free == 0, f"the tmpfs still has {free} bytes free after dd")
        self.t_full = time.monotonic()
        log("disk full (dd: No space left on device; 0 bytes free)")

    def while_full(self):
        # Publish until the store fails a commit and the broker refuses.
        n = 0
        while True:
            check(time.monotonic() - self.t_full < FULL_DEADLINE,
                  f"no 0x97 within {FULL_DEADLINE} s of the disk filling ({n} messages "
                  f"published; {self.ledger.summary()})")
            self.broker.check_alive("publishing onto a full disk")
            m, reason = self.publish5("filling", wait=ACK_WAIT)
            n += 1
            if reason == QUOTA_EXCEEDED:
                break
            check(reason in (None, 0x00),
                  f"{m} while the disk fills: {code(reason)}, expected 0x00 or 0x97")
        t_refused = time.monotonic()
        log(f"first 0x97 after {t_refused - self.t_full:.2f} s and {n} messages "
            f"({self.ledger.summary()}; pending: {self.pending})")

        # Now every message that needs the store is refused.
        for _ in range(5):
            m, reason = self.publish5("full")
            check(reason == QUOTA_EXCEEDED, f"{m} while full: "
                  f"{code(reason)}, "
                  "expected 0x97 at once")
        m, reason = self.publish5("full", qos=2)
        check(reason == QUOTA_EXCEEDED, f"QoS 2 {m} while full: PUBREC "
              f"{code(reason)}, expected 0x97")
        reason = self.publish5_other("ret/dfull", b"retained while full", 1, retain=True)
        check(reason == QUOTA_EXCEEDED, f"retained QoS 1 while full: {code(reason)}, "
              "expected 0x97")
        log("while full: 5.0 QoS 1 x5, QoS 2 and retained QoS 1 refused with 0x97")

        # 3.1.1: no PUBACK at all; the live/ probe's PUBACK comes after (in order) theirs would.
        self.refused311 = [self.publish311("full") for _ in range(5)]
        self.live_probe311("after 3.1.1 messages while full")
        acked = [m for m in self.refused311 if m.ack_of() is not None]
        check(not acked, f"3.1.1 messages acknowledged while the disk is full: {acked}")
        log("while full: 5 3.1.1 QoS 1 messages on full/ got no PUBACK; live/ QoS 1 did")

        # Still serving what needs no store.
        reason = self.publish5_other("live/q1", b"live qos1 while full", 1)
        check(reason == 0x00, f"QoS 1 to an online clean-session subscriber while full: "
              f"{code(reason)}, expected 0x00")
        self.publish5_other("live/q0", b"live qos0 while full", 0)
        for topic in ("live/q1", "live/q0", "live/311"):
            self.live.wait_message(lambda msg, t=topic: msg[0] == t,
                                   f"{topic} at the online clean-session subscriber while full")
        old = Paho("dfull-ret-1", 5, persistent=False)
        self.paho.append(old)
        old.connect(self.broker.port)
        old.subscribe("ret/dfull", 1)
        old.wait_message(lambda msg: msg[0] == "ret/dfull", "the retained message while full")
        got = old.messages[0][1]
        old.disconnect()
        check(got == b"retained before", f"retained message while full: {got!r}, expected the "
              "one acknowledged before (the refused one must not replace it)")
        log("while full: QoS 0 and QoS 1 reached the online subscriber; new client connected "
            "and got the old retained message")

        # $SYS.
        acc = self.sys.wait("accepting", lambda v: v == 0, t_refused, "= 0")
        refused = self.sys.wait("refused", lambda v: v > 0, t_refused, "> 0")
        failed = self.sys.wait("failed-commits", lambda v: v > 0, t_refused, "> 0")
        log(f"$SYS while full: accepting {acc}, refused {refused}, failed-commits {failed}")
        self.broker.check_alive("while the disk is full")

    def free(self):
        r = self.ns.run("rm", "-f", f"{self.mnt}/filler")
        check(r.returncode == 0, f"rm filler: {r.stderr!r}")
        self.t_free = time.monotonic()
        log(f"space freed ({self.ns.free_bytes() // 1024} KiB free)")

        # The messages whose commit waited for the disk are acknowledged now. Normally 0x00;
        # 0x97 when the store stopped accepting between the sessions of one shard taking the
        # message and those of the other shard (then it is kept for some subscribers only).
        for m in list(self.pending):
            wait_for(lambda m=m: m.ack_of() is not None,
                     f"the acknowledgement of {m}, pending since the disk filled",
                     RESUME_DEADLINE)
            check(m.ack_of() in (0x00, QUOTA_EXCEEDED), f"{m} pending, then acknowledged "
                  f"{code(m.ack_of())}, expected 0x00 or 0x97")
            self.late.append((m, m.ack_of()))
        if self.pending:
            log("pending messages acknowledged after the space came back: "
                + ", ".join(f"{m} {code(a)}" for m, a in self.late))

        # A new publish succeeds within the bound.
        while True:
            check(time.monotonic() - self.t_free < RESUME_DEADLINE,
                  f"no publish acknowledged 0x00 within {RESUME_DEADLINE} s of the space coming "
                  f"back ({self.ledger.summary()})")
            m, reason = self.publish5("resuming", wait=ACK_WAIT)
            if reason == 0x00:
                break
            check(reason in (None, QUOTA_EXCEEDED), f"{m} after freeing: {code(reason)}")
            if reason == QUOTA_EXCEEDED:
                time.sleep(0.05)  # paces the probes (the store retries every 500 ms)
        t_resumed = time.monotonic()
        log(f"resumed: {m} acknowledged 0x00 {t_resumed - self.t_free:.2f} s after the space "
            "came back")
        for m in self.pending[len(self.late):]:  # a probe that went pending meanwhile
            wait_for(lambda m=m: m.ack_of() is not None, f"the acknowledgement of {m}")
            check(m.ack_of() in (0x00, QUOTA_EXCEEDED), f"{m}: {code(m.ack_of())} after resuming")
            self.late.append((m, m.ack_of()))
        for _ in range(10):
            m, reason = self.publish5("after")
            check(reason == 0x00, f"after resuming: {m}: "
                  f"{code(reason)}, expected 0x00")
        msgs = [self.publish311("after") for _ in range(5)]
        for m in msgs:
            check(self.pub311.wait_acked(m.mid), f"after resuming: no PUBACK for 3.1.1 {m}")
        acked = [m for m in self.refused311 if m.ack_of() is not None]
        check(not acked, f"3.1.1 messages refused while full were acknowledged later: {acked}")
        reason = self.publish5_other("ret/dfull", b"retained after", 1, retain=True)
        check(reason in (0x00, NO_MATCHING), f"retained after resuming: {code(reason)}")
        acc = self.sys.wait("accepting", lambda v: v == 1, t_resumed, "= 1 again")

        # Every 5.0 message has its acknowledgement now; the counters add up.
        unacked = [m for m in self.ledger.messages
                   if m.stream.startswith("v5") and m.ack_of() is None]
        check(not unacked, f"5.0 messages never acknowledged: {unacked}")
        problems = [f"{c.client_id}: {p}" for c in self.conns for p in c.problems]
        check(not problems, f"protocol surprises: {problems}")
        seen_refusals = len([m for m in self.ledger.messages if m.ack_of() == QUOTA_EXCEEDED]) \
            + 1 + len(self.refused311)  # + the retained one
        refused = self.sys.wait("refused", lambda v: v >= seen_refusals, t_resumed,
                                f">= the {seen_refusals} refusals seen")
        check(refused == seen_refusals, f"$SYS/broker/store/refused is {refused}, but "
              f"{seen_refusals} refusals were seen (0x97 or, 3.1.1, no PUBACK)")
        failed = self.sys.latest("failed-commits")
        log(f"after: 10 5.0 + 5 3.1.1 messages acknowledged 0x00; $SYS accepting {acc}, "
            f"refused {refused} (refusals seen: {seen_refusals}), failed-commits {failed}")
        log(f"ledger: {self.ledger.summary()}")
        self.broker.check_alive("after the space came back")

    def check_live(self):
        for name in ("A", "B"):
            s = self.subs[name]
            check(s.connect(self.broker.port) == 1, f"{s.client_id}: session present 0")
            check_delivered(s, self.ledger, "before the kill")
            s.disconnect()

    def restart(self):
        for c in self.conns:
            c.close()
        for p in (self.live, self.sys, self.pub311):
            p.disconnect()
        self.broker.kill9()
        self.broker.start()
        port = self.broker.port
        for name in ("C", "D", "A", "B"):
            s = self.subs[name]
            check(s.connect(port) == 1,
                  f"{s.client_id}: session present 0 after the kill -9 restart")
        for name in ("C", "D"):
            check_delivered(self.subs[name], self.ledger, "after the kill -9 restart")
        self.new_pubconn()
        m, reason = self.publish5("restarted")
        check(reason == 0x00, f"after the restart: {m}: "
              f"{code(reason)}, expected 0x00")
        for name in ("A", "B", "C", "D"):
            s = self.subs[name]
            s.wait_message(lambda msg: parse_payload(msg[1]) == m.key(),
                           f"{m}, published after the restart")
            check_delivered(s, self.ledger, "after the restart")
        ret = Paho("dfull-ret-2", 5, persistent=False)
        self.paho.append(ret)
        ret.connect(port)
        ret.subscribe("ret/dfull", 1)
        ret.wait_message(lambda msg: msg[0] == "ret/dfull", "the retained message after restart")
        check(ret.messages[0][1] == b"retained after",
              f"retained after the restart: {ret.messages[0][1]!r}, expected b'retained after'")
        sysw = SysWatch()
        self.paho.append(sysw)
        sysw.connect(port)
        sysw.subscribe("$SYS/broker/store/#", 0)
        sysw.wait("accepting", lambda v: v == 1, 0, "= 1 after the restart")
        log("after the kill -9 restart: C and D got every owed message in order; A, B, C, D "
            "sessions present and reached by a new publish; retained message and accepting "
            "right")
        for p in self.paho:
            p.disconnect()
        for c in self.conns:
            c.close()
        status = self.broker.stop()
        check(status == 0, f"the broker's exit status after SIGTERM: {status}")
        log("broker stopped by SIGTERM, status 0")

    def run(self):
        self.setup()
        self.before_full()
        self.fill()
        self.while_full()
        self.free()
        self.check_live()
        self.restart()
        # Whether a message is stored is decided once, where it is made: one refused after
        # waiting behind the disk reached no persistent session.
        for m, reason in self.late:
            if reason == QUOTA_EXCEEDED:
                got = [n for n, sub in sorted(self.subs.items())
                       if any(parse_payload(p) == m.key() for _, p, _, _ in sub.messages)]
                check(not got, f"{m} waited for the disk, then got 0x97, yet subscribers "
                      f"{got} received it (kept for some sessions only)")

    def cleanup(self):
        for p in self.paho:
            try:
                p.disconnect()
            except Exception:
                pass
        for c in self.conns:
            c.close()
        self.broker.stop()
        self.ns.stop()

    def report_log(self):
        lines = self.broker.log_lines()
        store = [l for l in lines if "store" in l or "===" in l or "refused" in l]
        print("--- broker log lines about the store ---\n" + "\n".join(store[-40:]), flush=True)
        print("--- last 30 lines of the broker log ---\n" + "\n".join(lines[-30:]), flush=True)


def prerequisites():
    if os.geteuid() != 0:
        skip("needs root (a tmpfs mounted in a private mount namespace)")
    tools = {}
    for t in ("unshare", "nsenter", "sh", "dd", "rm", "stat"):
        path = shutil.which(t)
        if path is None:
            skip(f"{t} not found")
        tools[t] = path
    exe = os.environ.get("RINGMQ_BROKER", "")
    if not exe or not os.access(exe, os.X_OK):
        print(f"FAIL: RINGMQ_BROKER={exe!r} is not an executable (build/ringmq)", flush=True)
        sys.exit(1)
    return os.path.abspath(exe), tools


def main():
    exe, tools = prerequisites()
    workdir = tempfile.mkdtemp(prefix="ringmq-disk-full-")
    test = DiskFullTest(exe, tools, workdir)

    def watchdog():
        print(f"FAIL store/disk-full: still running after {WATCHDOG} s", flush=True)
        test.report_log()
        test.broker.stop(timeout=2)
        test.ns.stop()
        os._exit(1)

    timer = threading.Timer(WATCHDOG, watchdog)
    timer.daemon = True
    timer.start()
    failed = False
    try:
        test.run()
    except Failure as e:
        failed = True
        print(f"FAIL store/disk-full: {e}", flush=True)
    except Exception:
        failed = True
        print(f"FAIL store/disk-full: unexpected error\n{traceback.format_exc()}", flush=True)
    finally:
        timer.cancel()
        test.cleanup()
    if failed:
        test.report_log()
        print(f"(broker log and store: {workdir}; the tmpfs is gone)", flush=True)
        sys.exit(1)
    print(f"PASS store/disk-full ({time.monotonic() - T0:.1f} s)", flush=True)
    shutil.rmtree(workdir, ignore_errors=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
