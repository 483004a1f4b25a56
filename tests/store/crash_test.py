#!/usr/bin/python3
"""Crash test for the offline store: SIGKILL the broker at random moments, restart it on the
same data directory, and check that nothing it acknowledged was lost, delivered twice (QoS 2)
or reordered, and that sessions, subscriptions and retained messages came back.

The broker under test (CRASH_BROKER):
  ringmq (default)  $RINGMQ_BROKER (build/ringmq), run as
        ringmq --listen 127.0.0.1:0 --threads 2 --data-dir DIR --persistence sqlite
               [--sync $CRASH_SYNC] --max-queued-messages ... --log-level warning
      (the queue limits are raised so that nothing is dropped for a full queue: every loss
      counted here is a crash loss). Any loss, duplicate, reordering, lost session or lost
      retained message fails the test.
  mosquitto  /usr/sbin/mosquitto (or $MOSQUITTO) with `persistence true`,
      `persistence_location DIR/`, `max_queued_messages 0` (no queue limit) and, if
      CRASH_MOSQUITTO_AUTOSAVE is set, `autosave_interval N`. The same test as a measurement:
      it counts what Mosquitto loses across kill -9 and does not fail on it.

What happens (all of it in one seeded run; CRASH_SEED, default printed at the start):
  Setup: two persistent subscribers, one MQTT 5 (clean start 0, session expiry 1 day) and one
  3.1.1 (clean session 0), whose sessions live on the other shard than the publishers'
  (HomeShard, core/broker/shard_hash.h, reimplemented below and checked against its test
  values), subscribe `crash/#` at QoS 2 and go offline.
  Each kill point (CRASH_KILLS, default 12): a retained message crashret/state is
  replaced (QoS 1, acknowledged), then one phase runs and the broker gets SIGKILL at a random
  moment within it:
    offline    four publishers (QoS 1 and QoS 2, MQTT 5 and 3.1.1, crash/p1..p4, payload
               "pN:SEQ") publish as fast as they can (20 in flight each), subscribers offline;
    online     the same with the subscribers connected and receiving (in-flight state);
    drain      a backlog is published and acknowledged, publishers gone, then the subscribers
               connect and the kill hits after a random fraction of the backlog arrived;
    subscribe  publishers running, a new persistent subscriber subscribes and the kill comes
               0-20 ms after its SUBACK.
  After each restart: a fresh client must get the latest retained message; the subscribers
  reconnect with the same client id (session present must be 1, nothing is re-subscribed),
  the publishers publish a short probe burst (so new publishes must reach the sessions through
  the recovered subscriptions), and every subscriber must receive every message it is owed:
    owed = PUBACKed (QoS 1) / PUBRECed or PUBCOMPed (QoS 2) with a success code, published
           after the subscriber's SUBACK.
  Checked throughout, per subscriber and publisher:
    - every owed message delivered (QoS 1 at least once, QoS 2 exactly once);
    - QoS 2: never delivered twice, owed or not; the PUBLISH arrival is the delivery (the
      receiver keeps its QoS 2 state across reconnections, as a client with a persistent
      session must; paho keeps it in the client object, which is reused), a re-sent PUBLISH
      for a packet id still awaiting PUBREL is absorbed; paho's own on_message (at PUBREL)
      must fire exactly once per owed message too;
    - QoS 1 duplicates only as re-deliveries of a message first seen on an earlier
      connection; sequence numbers of new messages increase per publisher (MQTT 4.6);
    - nothing delivered that was never published; messages arrive at their publisher's QoS.
Every wait is a condition with a timeout; the only sleeps pick the kill moment. The broker is
started in its own process group and always stopped by PID (SIGKILL for the kills; SIGTERM
at the end). The data directory is a tempfile.TemporaryDirectory. Hard timeout: CRASH_TIMEOUT
(default 240 s). Exit status 0 if all held (or, for mosquitto, the measurement completed).

Standard library and Debian's python3-paho-mqtt (1.6) only; run with /usr/bin/python3.
"""

import collections
import os
import random
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import queue

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "interop"))
import interop  # noqa: E402  (popen with the parent-death signal, ports, the listening line)

import paho.mqtt.client as mqtt  # noqa: E402
from paho.mqtt.packettypes import PacketTypes  # noqa: E402
from paho.mqtt.properties import Properties  # noqa: E402

HOST = "127.0.0.1"
SHARDS = 2
WINDOW = 20  # QoS 1/2 messages in flight per publisher
SESSION_EXPIRY = 86400  # seconds, MQTT 5 persistent subscribers
PROBE = 20  # messages per publisher after each restart
PHASES = ("offline", "online", "drain", "subscribe")
DEFAULT_SEED = 20240611
TOPIC_PREFIX = "crash/"
RETAINED_TOPIC = "crashret/state"  # outside crash/#: the subscribers' stream stays clean


class TestError(Exception):
    """The test could not go on (a client or the broker did not do what every run needs)."""


# ---- which shard owns a client id: core/broker/shard_hash.h -----------------------------------

_M64 = (1 << 64) - 1


def _fnv1a(data, h=0xcbf29ce484222325):
    for c in data:
        h ^= c
        h = (h * 0x100000001b3) & _M64
    return h


def _mix(h):
    h ^= h >> 32
    h = (h * 0xd6e8feb86659fd93) & _M64
    h ^= h >> 32
    h = (h * 0xd6e8feb86659fd93) & _M64
    h ^= h >> 32
    return h


def home_shard(client_id, shards):
    """HomeShard(client_id, shards): FNV-1a 64, a finalizer, multiply-shift on the high half."""
    return ((_mix(_fnv1a(client_id.encode())) >> 32) * shards) >> 32


def _check_home_shard():
    # The fixed values of core/broker/shard_hash_test.cc (ShardHashTest.ValuesAreFixed).
    got = [home_shard(s, 16) for s in ("a", "client-1", "client-2", "sensor-1", "x", "")]
    if got != [5, 10, 5, 1, 11, 2]:
        raise SystemExit(f"home_shard() disagrees with core/broker/shard_hash.h: {got}")


def spread_id(prefix, shard, shards=SHARDS):
    """As SpreadId (tests/testing/spread_id.h): "<prefix>[-<k>]" whose home shard is `shard`."""
    cid = prefix
    k = 1
    while home_shard(cid, shards) != shard:
        cid = f"{prefix}-{k}"
        k += 1
    return cid


# ---- the record of everything published and delivered -----------------------------------------

class PubLog:
    def __init__(self, name, qos, version, client_id):
        self.name = name
        self.topic = TOPIC_PREFIX + name
        self.qos = qos
        self.version = version
        self.client_id = client_id
        self.next_seq = 1
        self.sent = {}       # seq -> (stage, monotonic time of publish())
        self.acked = {}      # seq -> stage: PUBACK / PUBCOMP with a success code
        self.owned = {}      # seq -> stage: QoS 2 PUBREC with a success code, PUBCOMP not seen
        self.rejected = {}   # seq -> reason code >= 0x80
        self.no_match = 0    # 5.0 reason 0x10: no matching subscribers


class SubLog:
    def __init__(self, name, client_id, version, since):
        self.name = name
        self.client_id = client_id
        self.version = version
        self.since = since      # monotonic time of its SUBACK: owed what was published after
        self.active = since is not None
        self.epoch = 0          # connection number
        self.epoch_arrivals = 0
        self.first = {}         # (pub, seq) -> epoch of the first arrival
        self.first_mid = {}     # (pub, seq) -> its packet id then
        self.completed = collections.Counter()  # (pub, seq) -> paho on_message at PUBREL (QoS 2)
        self.max_seq = {}       # pub -> highest sequence number delivered
        self.outstanding = set()  # owed, not delivered (yet)
        self.lost = {}          # (pub, seq) -> kill point where it was found missing
        self.arrivals = 0
        self.dups_q1 = 0        # QoS 1 re-deliveries on a later connection (allowed)
        self.q2_resends = 0     # QoS 2 PUBLISH re-sent for an id awaiting PUBREL (absorbed)
        self.sessions_lost = 0


class Ledger:
    """All shared state, behind one condition (an RLock) that every event notifies."""

    def __init__(self):
        self.cond = threading.Condition()
        self.pubs = {}
        self.subs = []
        self.stages = ["setup"]
        self.stage = 0
        self.kill_index = 0
        self.violations = []  # (stage label, kind, text)
        self.kinds = collections.Counter()
        self.progress = 0

    def new_stage(self, label, kill_index):
        with self.cond:
            self.stages.append(label)
            self.stage = len(self.stages) - 1
            self.kill_index = kill_index

    def violation(self, kind, text):
        with self.cond:
            label = self.stages[self.stage]
            self.violations.append((label, kind, text))
            self.kinds[kind] += 1
            if self.kinds[kind] <= 8:  # the first few of each kind; all are counted
                print(f"VIOLATION [{label}] {kind}: {text}", flush=True)
            elif self.kinds[kind] == 9:
                print(f"VIOLATION [{label}] {kind}: ... (more of these in the summary)",
                      flush=True)

    def wait_for(self, predicate, timeout, what):
        with self.cond:
            if not self.cond.wait_for(predicate, timeout):
                raise TestError(f"timed out after {timeout:.1f} s waiting for {what}")

    @staticmethod
    def _complete(sub, key, qos):
        return key in sub.first and (qos != 2 or sub.completed[key] >= 1)

    def require(self, log, seq):
        """`seq` of `log` is now owed to every active subscriber that subscribed before it was
        published. Caller holds the lock."""
        t = log.sent[seq][1]
        key = (log.name, seq)
        for sub in self.subs:
            if sub.active and t > sub.since and not self._complete(sub, key, log.qos):
                sub.outstanding.add(key)

    def activate(self, sub, since):
        """`sub` got its SUBACK at `since`: owed what is published after it."""
        with self.cond:
            sub.since = since
            sub.active = True
            for log in self.pubs.values():
                for seq, (_, t) in reversed(log.sent.items()):
                    if t <= since:
                        break
                    if (seq in log.acked or seq in log.owned) \
                            and not self._complete(sub, (log.name, seq), log.qos):
                        sub.outstanding.add((log.name, seq))
            self.cond.notify_all()

    def _parse(self, sub, msg):
        try:
            topic = msg.topic
            name, seq = msg.payload.decode().split(":")
            seq = int(seq)
        except Exception:
            self.violation("unexpected message",
                           f"{sub.name}: unexpected message {msg.topic!r} {msg.payload!r}")
            return None
        log = self.pubs.get(name)
        if log is None or topic != log.topic:
            self.violation("unexpected message",
                           f"{sub.name}: unexpected message {topic!r} {msg.payload!r}")
            return None
        return log, seq

    def _settle(self, sub, log, key):
        if self._complete(sub, key, log.qos):
            sub.outstanding.discard(key)
            if key in sub.lost:
                self.violation("arrived after being reported lost",
                               f"{sub.name}: {key[0]}:{key[1]}, reported lost at kill point "
                               f"{sub.lost[key]}, arrived later")
                del sub.lost[key]

    def _status(self, payload):
        """How the publisher saw a payload: acknowledged, PUBREC only, or not acknowledged."""
        try:
            name, seq = payload.decode().split(":")
            log, seq = self.pubs[name], int(seq)
        except Exception:
            return "?"
        if seq in log.acked:
            return "PUBACK" if log.qos == 1 else "PUBCOMP"
        return "PUBREC only" if seq in log.owned else "not acknowledged"

    def arrival(self, sub, msg, resend_of=None):
        """A PUBLISH reached `sub`: on_message for QoS 0/1, the PUBLISH itself for QoS 2
        (`resend_of`: the message paho still held for that packet id, awaiting PUBREL)."""
        with self.cond:
            self.progress += 1
            sub.arrivals += 1
            if resend_of is not None:
                if resend_of.payload == msg.payload and resend_of.topic == msg.topic:
                    sub.q2_resends += 1
                    self.cond.notify_all()
                    return
                # A receiver that follows MQTT 4.3.3 would take this PUBLISH for a duplicate
                # of the one it holds and not deliver it (paho replaces the held one instead).
                # When the held one was completed since under another packet id, the id was
                # orphaned by that re-send (see "QoS 2 re-sent with a new packet id").
                held = self._parse(sub, resend_of)
                orphaned = held is not None and sub.completed[(held[0].name, held[1])] > 0
                self.violation(
                    "packet id re-used before PUBREL" + (
                        " (held since a re-send with a new id)" if orphaned else ""),
                    f"{sub.name}: packet id {msg.mid} re-used for {msg.payload.decode()} "
                    f"({self._status(msg.payload)}, DUP {msg.dup}) while "
                    f"{resend_of.payload.decode()} ({self._status(resend_of.payload)}) still "
                    f"awaits its PUBREL")
            parsed = self._parse(sub, msg)
            if parsed is None:
                return
            log, seq = parsed
            key = (log.name, seq)
            if msg.qos != log.qos:
                self.violation("wrong QoS", f"{sub.name}: {log.name}:{seq} arrived at QoS "
                               f"{msg.qos}, published at QoS {log.qos}")
            first = sub.first.get(key)
            if first is None:
                sub.first[key] = sub.epoch
                sub.first_mid[key] = msg.mid
                sub.epoch_arrivals += 1
                if seq not in log.sent:
                    self.violation("never published",
                                   f"{sub.name}: {log.name}:{seq} was never published")
                top = sub.max_seq.get(log.name, 0)
                if seq < top:
                    self.violation("out of order", f"{sub.name}: {log.name}:{seq} "
                                   f"({self._status(msg.payload)}, packet id {msg.mid}, DUP "
                                   f"{msg.dup}) arrived after {log.name}:{top}")
                else:
                    sub.max_seq[log.name] = seq
            elif log.qos == 1 and first < sub.epoch:
                sub.dups_q1 += 1
            else:
                how = "on the same connection" if first == sub.epoch else "again"
                if log.qos == 2 and first < sub.epoch:
                    if sub.completed[key]:
                        how = "re-sent as a PUBLISH after its PUBREL had come"
                        kind = "QoS 2 re-sent after PUBREL"
                    elif sub.first_mid.get(key) != msg.mid:
                        how = "re-sent with another packet id [MQTT-4.4.0-1]"
                        kind = "QoS 2 re-sent with a new packet id"
                    else:
                        kind = "QoS 2 duplicate"
                else:
                    kind = f"QoS {log.qos} duplicate"
                self.violation(kind, f"{sub.name}: {log.name}:{seq} ({self._status(msg.payload)})"
                               f" delivered twice, {how}: first as packet id "
                               f"{sub.first_mid.get(key)} on connection {first}, now as "
                               f"{msg.mid} (DUP {msg.dup}) on connection {sub.epoch}")
            self._settle(sub, log, key)
            self.cond.notify_all()

    def q2_completed(self, sub, msg):
        """paho's on_message for a QoS 2 message: it fires at PUBREL."""
        with self.cond:
            self.progress += 1
            parsed = self._parse(sub, msg)
            if parsed is None:
                return
            log, seq = parsed
            key = (log.name, seq)
            sub.completed[key] += 1
            if sub.completed[key] > 1:
                self.violation("QoS 2 on_message twice",
                               f"{sub.name}: paho's on_message fired {sub.completed[key]} "
                               f"times for {log.name}:{seq} (QoS 2)")
            if key not in sub.first:
                self.violation("PUBREL without PUBLISH",
                               f"{sub.name}: PUBREL completed {log.name}:{seq}, whose "
                               "PUBLISH never arrived")
            self._settle(sub, log, key)
            self.cond.notify_all()

    def wait_drained(self, subs, stall, cap):
        """Until nothing is outstanding for `subs`; False after `stall` seconds without any
        arrival or `cap` seconds in all."""
        deadline = time.monotonic() + cap
        with self.cond:
            last = self.progress
            last_t = time.monotonic()
            while True:
                if all(not s.outstanding for s in subs):
                    return True
                now = time.monotonic()
                if self.progress != last:
                    last, last_t = self.progress, now
                if now - last_t > stall or now > deadline:
                    return False
                self.cond.wait(0.1)


# ---- paho clients --------------------------------------------------------------------------------

class HookedClient(mqtt.Client):
    """paho 1.6 Client that reports acknowledgements with their 5.0 reason codes (paho's
    on_publish does not say whether a PUBACK carried 0x10 or an error), PUBREC (on_publish
    comes only with PUBCOMP) and the arrival of QoS 2 PUBLISH packets (on_message comes only
    with PUBREL)."""

    ack_hook = None      # fn(kind "PUBACK" | "PUBREC" | "PUBCOMP", mid, reason)
    arrival_hook = None  # fn(message, message already held for that packet id or None)

    def _note_ack(self, kind):
        packet = self._in_packet["packet"]
        if self.ack_hook is not None and len(packet) >= 2:
            mid = struct.unpack("!H", packet[:2])[0]
            reason = packet[2] if self._protocol == mqtt.MQTTv5 and len(packet) > 2 else 0
            self.ack_hook(kind, mid, reason)

    def _handle_pubackcomp(self, cmd):
        self._note_ack(cmd)
        return super()._handle_pubackcomp(cmd)

    def _handle_pubrec(self):
        self._note_ack("PUBREC")
        return super()._handle_pubrec()

    def _handle_publish(self):
        header = self._in_packet["command"]
        if self.arrival_hook is None or (header & 0x06) >> 1 != 2:
            return super()._handle_publish()
        packet = self._in_packet["packet"]
        slen = struct.unpack("!H", packet[:2])[0]
        mid = struct.unpack("!H", packet[2 + slen:4 + slen])[0]
        with self._in_message_mutex:
            before = self._in_messages.get(mid)
        rc = super()._handle_publish()
        with self._in_message_mutex:
            after = self._in_messages.get(mid)
        if after is not None and after is not before:
            self.arrival_hook(after, before)
        return rc


def _code(rc):
    return int(getattr(rc, "value", rc))


class Endpoint:
    """One MQTT client; its network loop is paho's thread, without automatic reconnection."""

    def __init__(self, ledger, name, client_id, version, persistent):
        self.ledger = ledger
        self.name = name
        self.client_id = client_id
        self.version = version
        self.persistent = persistent
        self.connected = False
        self.connack = None
        self.client = None

    def make_client(self):
        if self.version == 5:
            c = HookedClient(client_id=self.client_id, protocol=mqtt.MQTTv5,
                             reconnect_on_failure=False)
        else:
            c = HookedClient(client_id=self.client_id, clean_session=not self.persistent,
                             protocol=mqtt.MQTTv311, reconnect_on_failure=False)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        self.client = c
        return c

    def connect(self, port, timeout=15.0):
        """Connects (clean start = not persistent); returns session present."""
        with self.ledger.cond:
            self.connack = None
        try:
            if self.version == 5:
                props = Properties(PacketTypes.CONNECT)
                props.SessionExpiryInterval = SESSION_EXPIRY if self.persistent else 0
                self.client.connect(HOST, port, 60, clean_start=not self.persistent,
                                    properties=props)
            else:
                self.client.connect(HOST, port, 60)
        except OSError as e:
            raise TestError(f"{self.name}: connect to port {port}: {e}") from None
        self.client.loop_start()
        self.ledger.wait_for(lambda: self.connack is not None, timeout, f"CONNACK for {self.name}")
        rc, present = self.connack
        if rc != 0:
            raise TestError(f"{self.name}: CONNACK {rc}")
        return present

    def _on_connect(self, client, userdata, flags, rc, properties=None):
        with self.ledger.cond:
            self.connack = (_code(rc), bool(flags.get("session present")))
            self.connected = _code(rc) == 0
            self.ledger.cond.notify_all()
        if self.connected:
            self.after_connect()

    def after_connect(self):
        pass

    def _on_disconnect(self, client, userdata, *args):
        with self.ledger.cond:
            self.connected = False
            self.ledger.cond.notify_all()

    def disconnect(self, timeout=15.0):
        """A clean DISCONNECT, then the loop thread ends."""
        if self.client is None:
            return
        if self.connected:
            self.client.disconnect()
            self.ledger.wait_for(lambda: not self.connected, timeout, f"{self.name} disconnected")
        self.client.loop_stop()

    def abandon(self, timeout=15.0):
        """After the broker was killed: wait until paho saw the connection end, stop the loop."""
        if self.client is None:
            return
        self.ledger.wait_for(lambda: not self.connected, timeout,
                             f"{self.name} to see the broker gone")
        self.client.loop_stop()


class Publisher(Endpoint):
    """Clean session; publishes "name:seq" on crash/<name>, WINDOW in flight, each
    acknowledgement publishing the next one (paho's thread does all of it)."""

    def __init__(self, ledger, log):
        super().__init__(ledger, log.name, log.client_id, log.version, persistent=False)
        self.log = log
        self.pending = {}  # mid -> seq
        self.running = False
        self.budget = None
        self.acks = 0  # acknowledgements (PUBACK, PUBREC) on the current connection

    def start(self, port, budget=None):
        c = self.make_client()  # fresh client: a new clean session each time
        c.max_inflight_messages_set(WINDOW)
        c.max_queued_messages_set(0)
        c.ack_hook = self._on_ack
        c.on_publish = self._on_publish
        with self.ledger.cond:
            self.pending = {}
            self.running = True
            self.budget = budget
            self.acks = 0
        self.connect(port)

    def after_connect(self):
        self._fill()

    def _fill(self):  # on paho's thread only
        log = self.log
        while True:
            with self.ledger.cond:
                if not self.running or len(self.pending) >= WINDOW or not self.connected:
                    return
                if self.budget is not None:
                    if self.budget <= 0:
                        return
                    self.budget -= 1
                seq = log.next_seq
                log.next_seq += 1
                log.sent[seq] = (self.ledger.stage, time.monotonic())
            info = self.client.publish(log.topic, f"{log.name}:{seq}".encode(), log.qos)
            with self.ledger.cond:
                self.pending[info.mid] = seq

    def _on_publish(self, client, userdata, mid):
        self._fill()

    def _on_ack(self, kind, mid, reason):
        ledger, log = self.ledger, self.log
        with ledger.cond:
            seq = self.pending.get(mid)
            if seq is None:
                return
            if reason == 0x10:
                log.no_match += 1
            if kind != "PUBCOMP":
                self.acks += 1
            if kind == "PUBREC":
                if reason >= 0x80:
                    log.rejected[seq] = reason
                    del self.pending[mid]
                else:
                    log.owned.setdefault(seq, ledger.stage)
                    ledger.require(log, seq)
            else:
                del self.pending[mid]
                if kind == "PUBACK" and reason >= 0x80:
                    log.rejected[seq] = reason
                else:
                    # A PUBCOMP, even one saying 0x92, follows a successful PUBREC.
                    log.acked[seq] = log.owned.pop(seq, ledger.stage)
                    ledger.require(log, seq)
            ledger.cond.notify_all()

    def drained_budget(self):
        return self.budget is not None and self.budget <= 0 and not self.pending


class Subscriber(Endpoint):
    """A persistent session subscribed to crash/# at QoS 2. The paho client object is kept
    across connections: it holds the QoS 2 messages awaiting PUBREL, which a client with a
    persistent session must keep (paho keeps them when clean start is 0)."""

    def __init__(self, ledger, log):
        super().__init__(ledger, log.name, log.client_id, log.version, persistent=True)
        self.log = log
        self.suback = None
        c = self.make_client()
        c.arrival_hook = lambda msg, before: ledger.arrival(log, msg, before)
        c.on_message = self._on_message
        c.on_subscribe = self._on_subscribe
        self.activate_on_suback = False

    def connect(self, port, timeout=15.0):
        with self.ledger.cond:
            self.log.epoch += 1
            self.log.epoch_arrivals = 0
        return super().connect(port, timeout)

    def after_connect(self):
        if not self.connack[1]:
            # Session present 0: the client discards its session state [MQTT-3.2.2-5], here
            # the QoS 2 messages awaiting PUBREL (on paho's thread, before the next packet).
            with self.client._in_message_mutex:
                self.client._in_messages.clear()

    def _on_message(self, client, userdata, msg):
        if msg.qos == 2:
            self.ledger.q2_completed(self.log, msg)
        else:
            self.ledger.arrival(self.log, msg)

    def _on_subscribe(self, client, userdata, mid, granted, properties=None):
        t = time.monotonic()
        if self.activate_on_suback:
            self.ledger.activate(self.log, t)
        with self.ledger.cond:
            self.suback = ([_code(g) for g in granted], t)
            self.ledger.cond.notify_all()

    def subscribe(self, timeout=15.0):
        with self.ledger.cond:
            self.suback = None
        self.client.subscribe(TOPIC_PREFIX + "#", qos=2)
        self.ledger.wait_for(lambda: self.suback is not None, timeout, f"SUBACK for {self.name}")
        if self.suback[0] != [2]:
            raise TestError(f"{self.name}: SUBACK granted {self.suback[0]}, expected [2]")
        return self.suback[1]


class OneShot:
    """A short-lived clean client for the retained message and for ending sessions."""

    def __init__(self, client_id, version=4):
        self.cond = threading.Condition()
        self.events = []
        if version == 5:
            self.c = mqtt.Client(client_id=client_id, protocol=mqtt.MQTTv5,
                                 reconnect_on_failure=False)
        else:
            self.c = mqtt.Client(client_id=client_id, clean_session=True,
                                 protocol=mqtt.MQTTv311, reconnect_on_failure=False)
        self.version = version
        self.c.on_connect = lambda c, u, f, rc, p=None: self._ev(("connack", _code(rc)))
        self.c.on_disconnect = lambda c, u, *a: self._ev(("disconnected",))
        self.c.on_subscribe = lambda c, u, mid, g, p=None: self._ev(("suback",))
        self.c.on_publish = lambda c, u, mid: self._ev(("puback", mid))
        self.c.on_message = lambda c, u, m: self._ev(("message", m.topic, bytes(m.payload),
                                                      m.retain))

    def _ev(self, e):
        with self.cond:
            self.events.append(e)
            self.cond.notify_all()

    def wait(self, pred, timeout, what):
        with self.cond:
            if not self.cond.wait_for(lambda: any(pred(e) for e in self.events), timeout):
                return None
            return next(e for e in self.events if pred(e))

    def connect(self, port):
        try:
            if self.version == 5:
                props = Properties(PacketTypes.CONNECT)
                props.SessionExpiryInterval = 0
                self.c.connect(HOST, port, 60, clean_start=True, properties=props)
            else:
                self.c.connect(HOST, port, 60)
        except OSError as e:
            raise TestError(f"connect to port {port}: {e}") from None
        self.c.loop_start()
        e = self.wait(lambda e: e[0] == "connack", 15, "CONNACK")
        if e is None or e[1] != 0:
            raise TestError(f"one-shot client: CONNACK {e}")

    def close(self):
        self.c.disconnect()
        self.wait(lambda e: e[0] == "disconnected", 15, "disconnect")
        self.c.loop_stop()


def publish_retained(port, payload):
    c = OneShot("crash-retainer")
    c.connect(port)
    info = c.c.publish(RETAINED_TOPIC, payload, qos=1, retain=True)
    if c.wait(lambda e: e == ("puback", info.mid), 15, "PUBACK") is None:
        raise TestError("no PUBACK for the retained message")
    c.close()


def read_retained(port, k, timeout):
    """What a fresh client gets for RETAINED_TOPIC within `timeout` s of its SUBACK."""
    c = OneShot(f"crash-retcheck-{k}")
    c.connect(port)
    c.c.subscribe(RETAINED_TOPIC, qos=1)
    if c.wait(lambda e: e[0] == "suback", 15, "SUBACK") is None:
        raise TestError("no SUBACK for the retained check")
    e = c.wait(lambda e: e[0] == "message", timeout, "retained message")
    c.close()
    return None if e is None else (e[2], e[3])


def end_session(port, client_id, version):
    """Connects with clean start (5.0: session expiry 0) and disconnects: the session is gone."""
    c = OneShot(client_id, version)
    c.connect(port)
    c.close()


# ---- the broker process --------------------------------------------------------------------------

class BrokerProcess:
    def __init__(self, kind, data_dir, root):
        self.kind = kind
        self.data_dir = data_dir
        self.root = root
        self.log_path = os.path.join(root, "broker.log")
        self.proc = None
        self.port = None
        self.starts = 0
        self.listening_line = None

    def argv(self):
        if self.kind == "ringmq":
            exe = os.environ.get("RINGMQ_BROKER", "")
            if not exe or not os.access(exe, os.X_OK):
                raise SystemExit(f"RINGMQ_BROKER={exe!r} is not an executable (build/ringmq)")
            argv = [exe, "--listen", f"{HOST}:0", "--threads", str(SHARDS),
                    "--data-dir", self.data_dir,
                    "--persistence", os.environ.get("CRASH_PERSISTENCE", "sqlite")]
            if os.environ.get("CRASH_SYNC"):
                argv += ["--sync", os.environ["CRASH_SYNC"]]
            # Nothing dropped for a full queue: every loss counted is a crash loss.
            argv += ["--max-queued-messages", "100000000", "--max-queued-bytes", str(1 << 34),
                     "--log-level", "warning"]
            return argv
        return [os.environ.get("MOSQUITTO", "/usr/sbin/mosquitto"),
                "-c", os.path.join(self.root, "mosquitto.conf")]

    def start(self, timeout=60.0):
        self.starts += 1
        t0 = time.monotonic()
        log = open(self.log_path, "ab")
        log.write(f"==== start {self.starts} ====\n".encode())
        log.flush()
        try:
            if self.kind == "ringmq":
                self._start_ringmq(log, timeout)
            else:
                self._start_mosquitto(log, timeout)
        finally:
            log.close()
        return time.monotonic() - t0

    def _popen(self, argv, log, stdout):
        # Its own process group: stopped as a group, by PID.
        return interop.popen(argv, stdout=stdout, stderr=log, stdin=subprocess.DEVNULL,
                             start_new_session=True)

    def _start_ringmq(self, log, timeout):
        argv = self.argv()
        if self.starts == 1:
            print("broker: " + " ".join(argv), flush=True)
        self.proc = self._popen(argv, log, subprocess.PIPE)
        lines = queue.Queue()

        def read_stdout(proc):
            for raw in proc.stdout:  # read to the end, so the pipe never fills
                lines.put(raw.decode(errors="replace").rstrip("\n"))
            lines.put(None)

        threading.Thread(target=read_stdout, args=(self.proc,), daemon=True).start()
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                line = None
            if line is None:
                self.kill()
                raise TestError(f"ringmq (start {self.starts}) printed no 'listening' line "
                                f"within {timeout} s\n{self.log_tail()}")
            if line.startswith("listening"):
                self.port = interop.port_from_listening_line(line)
                self.listening_line = line
                if not self.port:
                    raise TestError(f"no port in ringmq's line: {line}")
                return

    def _start_mosquitto(self, log, timeout):
        conf = os.path.join(self.root, "mosquitto.conf")
        deadline = time.monotonic() + timeout
        for _ in range(5):  # the port may be taken between free_port() and mosquitto's bind
            port = interop.free_port()
            with open(conf, "w") as f:
                f.write(f"listener {port} {HOST}\n"
                        "allow_anonymous true\n"
                        "persistence true\n"
                        f"persistence_location {self.data_dir}/\n"
                        "max_queued_messages 0\n"
                        "set_tcp_nodelay true\n"
                        "log_dest stderr\n"
                        "log_type error\nlog_type warning\n")
                if os.environ.get("CRASH_MOSQUITTO_AUTOSAVE"):
                    f.write(f"autosave_interval {int(os.environ['CRASH_MOSQUITTO_AUTOSAVE'])}\n")
                if os.geteuid() == 0:
                    f.write("user root\n")  # a change of user would cancel PR_SET_PDEATHSIG
            if self.starts == 1:
                with open(conf) as f:
                    print("broker: mosquitto with\n  " + f.read().strip().replace("\n", "\n  "),
                          flush=True)
            self.proc = self._popen(self.argv(), log, subprocess.DEVNULL)
            while self.proc.poll() is None and time.monotonic() < deadline:
                if interop._accepts(port):
                    if self.proc.poll() is None:
                        self.port = port
                        return
                    break
                time.sleep(0.005)
            if self.proc.poll() is None:
                self.kill()
                raise TestError(f"mosquitto did not accept connections within {timeout} s")
        raise TestError("mosquitto did not start\n" + self.log_tail())

    def kill(self):
        """SIGKILL to the broker's process group; returns its earlier exit status if it had
        already ended by itself, else None."""
        if self.proc is None:
            return None
        early = self.proc.poll()
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            raise TestError(f"broker pid {self.proc.pid} still there 15 s after SIGKILL") from None
        return early

    def stop(self, timeout=15.0):
        """SIGTERM to the group, SIGKILL after `timeout`; returns an error string or None."""
        if self.proc is None:
            return None
        if self.proc.poll() is not None:
            return f"the broker had already ended with status {self.proc.returncode}"
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return f"the broker did not exit within {timeout} s of SIGTERM; killed"
        if self.proc.returncode != 0:
            return f"the broker exited with status {self.proc.returncode} after SIGTERM"
        return None

    def log_tail(self, lines=40):
        return interop.log_tail(self.log_path, self.kind, lines)


# ---- the test --------------------------------------------------------------------------------

def ranges(seqs):
    """[1,2,3,7,9,10] -> '1-3,7,9-10'"""
    out = []
    seqs = sorted(seqs)
    i = 0
    while i < len(seqs):
        j = i
        while j + 1 < len(seqs) and seqs[j + 1] == seqs[j] + 1:
            j += 1
        out.append(str(seqs[i]) if i == j else f"{seqs[i]}-{seqs[j]}")
        i = j + 1
    return ",".join(out)


class CrashTest:
    def __init__(self, kind, seed, kills, root):
        self.kind = kind
        self.strict = kind == "ringmq"
        self.rng = random.Random(seed)
        self.kills = kills
        self.ledger = Ledger()
        data = os.path.join(root, "data")
        os.mkdir(data)
        self.broker = BrokerProcess(kind, data, root)
        self.points = []  # one dict per kill point
        self.retained_lost = 0
        self.retained_checks = 0
        self.late_count = 0
        self.errors = []  # failures that are not per-message (broker died, rejections, ...)
        L = self.ledger
        for name, qos, version in (("p1", 1, 5), ("p2", 2, 5), ("p3", 1, 4), ("p4", 2, 4)):
            cid = spread_id(f"crash-{name}", 0)
            L.pubs[name] = PubLog(name, qos, version, cid)
        self.pubs = [Publisher(L, log) for log in L.pubs.values()]
        self.subs = []
        for name, version in (("s5", 5), ("s3", 4)):
            log = SubLog(name, spread_id(f"crash-{name}", 1), version, since=-1.0)
            L.subs.append(log)
            self.subs.append(Subscriber(L, log))

    # -- helpers

    def note(self, kind, text):
        """A failure in ringmq mode, a measurement with mosquitto."""
        if self.strict:
            self.ledger.violation(kind, text)
        else:
            print(f"mosquitto: {text}", flush=True)

    def port(self):
        return self.broker.port

    def start_publishers(self, budget=None):
        for p in self.pubs:
            p.start(self.port(), budget)

    def acked_total(self):
        with self.ledger.cond:
            return {log.name: len(log.acked) + len(log.owned) for log in self.ledger.pubs.values()}

    def connect_sub(self, sub):
        present = sub.connect(self.port())
        if not present:
            sub.log.sessions_lost += 1
            self.note("session lost", f"{sub.name} ({sub.client_id}): session present 0 after "
                      "the restart (session lost); re-subscribing")
            sub.subscribe()
        return present

    def kill(self, point):
        early = self.broker.kill()
        if early is not None:
            self.errors.append(f"kill point {point['k']}: the broker had ended by itself "
                               f"(status {early}) before the SIGKILL")
            print(f"FAIL: the broker ended by itself with status {early}\n"
                  f"{self.broker.log_tail()}", flush=True)
        point["killed_at"] = time.monotonic()

    # -- the phases; each ends with the broker killed

    def phase_offline(self, point):
        self.start_publishers()
        self.ledger.wait_for(lambda: all(p.acks > 0 for p in self.pubs), 15,
                             "a first acknowledgement for every publisher")
        delay = self.rng.uniform(0.05, 0.7)
        point["detail"] = f"delay {delay:.2f}s"
        time.sleep(delay)
        self.kill(point)

    def phase_online(self, point):
        for s in self.subs:
            self.connect_sub(s)
        self.start_publishers()
        self.ledger.wait_for(lambda: all(s.log.epoch_arrivals > 0 for s in self.subs), 15,
                             "a first message for every subscriber")
        delay = self.rng.uniform(0.05, 0.7)
        point["detail"] = f"delay {delay:.2f}s"
        time.sleep(delay)
        self.kill(point)

    def phase_drain(self, point):
        budget = self.rng.randint(300, 1500)
        self.start_publishers(budget)
        self.ledger.wait_for(lambda: all(p.drained_budget() for p in self.pubs), 60,
                             f"{budget} acknowledged messages from every publisher")
        for p in self.pubs:
            p.disconnect()
        target_sub = self.rng.choice(self.subs)
        with self.ledger.cond:
            backlog = len(target_sub.log.outstanding)
        frac = self.rng.uniform(0.02, 0.95)
        want = max(1, int(backlog * frac))
        point["detail"] = (f"backlog {backlog}, kill after {want} arrived at {target_sub.name}")
        for s in self.subs:
            self.connect_sub(s)
        with self.ledger.cond:
            # Not a failure if it all arrives first: then the kill hits an idle broker.
            self.ledger.cond.wait_for(
                lambda: target_sub.log.epoch_arrivals >= want or not target_sub.log.outstanding,
                30)
        self.kill(point)

    def phase_subscribe(self, point):
        online = self.rng.random() < 0.5
        if online:
            for s in self.subs:
                self.connect_sub(s)
        self.start_publishers()
        self.ledger.wait_for(lambda: all(p.acks > 0 for p in self.pubs), 15,
                             "a first acknowledgement for every publisher")
        self.late_count += 1
        n = self.late_count
        version = 5 if n % 2 else 4
        shard = n % SHARDS
        log = SubLog(f"late{n}", spread_id(f"crash-late{n}", shard), version, since=None)
        with self.ledger.cond:
            self.ledger.subs.append(log)
        late = Subscriber(self.ledger, log)
        late.activate_on_suback = True
        present = late.connect(self.port())
        if present:
            self.note("session present on a new session",
                      f"{late.name}: a new session reported session present 1")
        delay = self.rng.uniform(0.0, 0.02)
        late.subscribe()
        time.sleep(delay)
        self.kill(point)
        point["detail"] = (f"subscribers {'online' if online else 'offline'}, {late.name} "
                           f"(MQTT {'5' if version == 5 else '3.1.1'}, shard {shard}) killed "
                           f"{delay * 1000:.0f} ms after its SUBACK")
        self.late = late

    # -- after each kill

    def abandon_all(self, point):
        for e in self.pubs + self.subs + ([self.late] if self.late else []):
            e.abandon()
        with self.ledger.cond:
            point["unacked"] = sum(len(p.pending) for p in self.pubs)
            point["pubrec_only"] = sum(
                1 for p in self.pubs for seq in p.pending.values() if seq in p.log.owned)
            for p in self.pubs:
                p.pending = {}

    def after_restart(self, point, expected_retained):
        L = self.ledger
        # The retained message, to a fresh client.
        self.retained_checks += 1
        got = read_retained(self.port(), point["k"], 5.0 if self.strict else 2.0)
        if got == (expected_retained, 1):
            point["retained"] = "ok"
        else:
            self.retained_lost += 1
            point["retained"] = "LOST" if got is None else f"WRONG {got!r}"
            self.note("retained message lost", f"retained {RETAINED_TOPIC}: expected "
                      f"{expected_retained!r} with RETAIN 1, received {got!r}")
        # The sessions, without re-subscribing.
        subs = list(self.subs) + ([self.late] if self.late else [])
        point["sessions"] = {}
        for s in subs:
            point["sessions"][s.name] = int(self.connect_sub(s))
        # New publishes must reach them through the recovered subscriptions.
        self.start_publishers(PROBE)
        L.wait_for(lambda: all(p.drained_budget() for p in self.pubs), 30,
                   "the probe messages' acknowledgements")
        for p in self.pubs:
            p.disconnect()
        stall = 8.0 if self.strict else 2.0
        complete = L.wait_drained([s.log for s in subs], stall, 60.0)
        point["drained_s"] = time.monotonic() - point["restarted_at"]
        lost = {}
        with L.cond:
            for s in subs:
                missing = sorted(s.log.outstanding)
                for key in missing:
                    s.log.lost[key] = point["k"]
                s.log.outstanding.clear()
                if missing:
                    lost[s.name] = missing
        point["lost"] = {name: len(keys) for name, keys in lost.items()}
        for name, keys in lost.items():
            by = collections.defaultdict(list)
            with L.cond:
                for pub, seq in keys:
                    log = L.pubs[pub]
                    stage = log.acked.get(seq, log.owned.get(seq))
                    kind = "PUBREC only" if seq in log.owned else (
                        "PUBACK" if log.qos == 1 else "PUBCOMP")
                    by[(pub, L.stages[stage] if stage is not None else "?", kind)].append(seq)
            details = "; ".join(f"{pub} {ranges(seqs)} ({len(seqs)}, {kind} in {stage})"
                                for (pub, stage, kind), seqs in sorted(by.items()))
            self.note("acknowledged message lost",
                      f"{name}: {len(keys)} acknowledged messages not delivered after kill "
                      f"point {point['k']} ({point['phase']}): {details}")
        if not complete and not lost:
            self.errors.append(f"kill point {point['k']}: the drain did not complete")
        # The late subscriber leaves; the others go offline.
        if self.late:
            with L.cond:
                self.late.log.active = False
                self.late.log.outstanding.clear()
            self.late.disconnect()
            end_session(self.port(), self.late.client_id, self.late.version)
            self.late = None
        for s in self.subs:
            s.disconnect()

    # -- the run

    def run(self):
        L = self.ledger
        _check_home_shard()
        self.late = None
        self.broker.start()
        if self.broker.listening_line:
            print(f"broker: {self.broker.listening_line}", flush=True)
            if self.strict and f"shards {SHARDS}" not in self.broker.listening_line:
                raise TestError(f"expected 'shards {SHARDS}' in the listening line")
        print("clients: " + ", ".join(
            f"{p.name} {p.client_id} (QoS {p.log.qos}, MQTT {'5' if p.version == 5 else '3.1.1'}"
            f", shard {home_shard(p.client_id, SHARDS)})" for p in self.pubs) + "; "
            + ", ".join(f"{s.name} {s.client_id} (MQTT {'5' if s.version == 5 else '3.1.1'}, "
                        f"shard {home_shard(s.client_id, SHARDS)})" for s in self.subs),
            flush=True)
        for s in self.subs:
            if s.connect(self.port()):
                raise TestError(f"{s.name}: session present on a fresh store")
            s.subscribe()
        for s in self.subs:
            s.disconnect()
        schedule = []
        while len(schedule) < self.kills:
            round_ = list(PHASES)
            self.rng.shuffle(round_)
            schedule += round_
        schedule = schedule[:self.kills]
        retained = b"ret-0"
        publish_retained(self.port(), retained)
        for k, phase in enumerate(schedule, 1):
            L.new_stage(f"k{k}/{phase}", k)
            point = {"k": k, "phase": phase, "pid": self.broker.proc.pid}
            self.points.append(point)
            retained = f"ret-{k}".encode()
            publish_retained(self.port(), retained)
            before = self.acked_total()
            getattr(self, "phase_" + phase)(point)
            self.abandon_all(point)
            after = self.acked_total()
            point["acked"] = sum(after.values()) - sum(before.values())
            L.new_stage(f"k{k}/after-restart", k)
            point["restart_s"] = self.broker.start()
            point["restarted_at"] = time.monotonic()
            self.after_restart(point, retained)
            print(self.point_line(point), flush=True)
        return self.finish()

    def point_line(self, p):
        sessions = " ".join(f"{n}={v}" for n, v in p.get("sessions", {}).items())
        lost = sum(p.get("lost", {}).values())
        return (f"kill {p['k']:2d} {p['phase']:9s} {p.get('detail', '')}: acked {p['acked']}, "
                f"in flight at kill {p['unacked']} ({p['pubrec_only']} PUBREC only), "
                f"restart {p['restart_s']:.2f} s, session present {sessions}, "
                f"retained {p['retained']}, lost {lost}, drained in {p['drained_s']:.2f} s")

    def summary(self):
        L = self.ledger
        with L.cond:
            print("---- summary ----", flush=True)
            print(f"broker {self.kind}, kills {len(self.points)}", flush=True)
            for log in L.pubs.values():
                print(f"  {log.name} (QoS {log.qos}, MQTT {'5' if log.version == 5 else '3.1.1'})"
                      f": published {len(log.sent)}, acknowledged {len(log.acked)}"
                      f" + {len(log.owned)} PUBREC only, rejected {len(log.rejected)}"
                      f", 0x10 no subscribers {log.no_match}", flush=True)
            for s in L.subs:
                delivered = len(s.first)
                unacked_delivered = sum(
                    1 for (pub, seq) in s.first
                    if seq not in L.pubs[pub].acked and seq not in L.pubs[pub].owned)
                print(f"  {s.name} ({s.client_id}): delivered {delivered} distinct "
                      f"({unacked_delivered} of them never acknowledged to the publisher), "
                      f"arrivals {s.arrivals}, QoS 1 re-deliveries {s.dups_q1}, QoS 2 re-sent "
                      f"PUBLISH absorbed {s.q2_resends}, lost {len(s.lost)}, "
                      f"sessions lost {s.sessions_lost}", flush=True)
            total_acked = sum(len(log.acked) + len(log.owned) for log in L.pubs.values())
            total_lost = sum(len(s.lost) for s in L.subs)
            distinct_lost = len(set().union(*(s.lost.keys() for s in L.subs)))
            print(f"acknowledged {total_acked}; lost (acknowledged, not delivered) {total_lost} "
                  f"over all subscribers, {distinct_lost} distinct messages; retained lost "
                  f"{self.retained_lost} of {self.retained_checks}; sessions lost "
                  f"{sum(s.sessions_lost for s in L.subs)}; violations {len(L.violations)}",
                  flush=True)
            dup_bad = sum(n for k, n in L.kinds.items()
                          if "duplicate" in k or "re-sent" in k or "twice" in k)
            print(f"duplicates: QoS 1 re-deliveries after a reconnection (allowed) "
                  f"{sum(s.dups_q1 for s in L.subs)}, QoS 2 re-sent PUBLISH absorbed by the "
                  f"receiver state (allowed) {sum(s.q2_resends for s in L.subs)}, duplicate "
                  f"deliveries (violations) {dup_bad}", flush=True)
            if L.violations:
                kinds = collections.Counter(kind for _, kind, _ in L.violations)
                print("violations by kind: "
                      + ", ".join(f"{k} {n}" for k, n in kinds.most_common()), flush=True)
            print("per kill point:", flush=True)
            for p in self.points:
                if "drained_s" in p:
                    print("  " + self.point_line(p), flush=True)
                else:
                    print(f"  kill {p['k']:2d} {p['phase']} (incomplete)", flush=True)

    def finish(self):
        L = self.ledger
        rejected = sum(len(log.rejected) for log in L.pubs.values())
        no_match = sum(log.no_match for log in L.pubs.values())
        if self.strict and rejected:
            self.errors.append(f"{rejected} publishes refused by the broker (reason >= 0x80)")
        if self.strict and no_match:
            self.errors.append(f"{no_match} PUBACK/PUBREC with 0x10 (no matching subscribers)")
        return self.errors


def main():
    kind = os.environ.get("CRASH_BROKER", "ringmq") or "ringmq"
    if kind not in ("ringmq", "mosquitto"):
        raise SystemExit(f"CRASH_BROKER={kind}: expected ringmq or mosquitto")
    seed = int(os.environ.get("CRASH_SEED", DEFAULT_SEED))
    kills = int(os.environ.get("CRASH_KILLS", 12))
    hard_timeout = float(os.environ.get("CRASH_TIMEOUT", 240))
    print(f"crash test: broker {kind}, CRASH_SEED={seed}, kills {kills}, "
          f"hard timeout {hard_timeout:.0f} s", flush=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"ringmq-crash-{kind}-") as root:
        test = CrashTest(kind, seed, kills, root)

        def on_hard_timeout():
            print(f"FAIL: hard timeout of {hard_timeout:.0f} s", flush=True)
            try:
                test.broker.kill()
            except Exception:
                pass
            print(test.broker.log_tail(), flush=True)
            os._exit(2)

        watchdog = threading.Timer(hard_timeout, on_hard_timeout)
        watchdog.daemon = True
        watchdog.start()
        failure = None
        try:
            errors = test.run()
        except TestError as e:
            failure = str(e)
            errors = []
        except Exception:
            failure = "unexpected error\n" + traceback.format_exc()
            errors = []
        finally:
            stop_error = test.broker.stop()
        watchdog.cancel()
        if stop_error and test.strict and failure is None:
            errors.append(stop_error)
        test.summary()
        elapsed = time.monotonic() - started
        violations = len(test.ledger.violations)
        failed = failure is not None or (test.strict and (violations or errors))
        if failure:
            print(f"FAIL: {failure}", flush=True)
        for e in errors:
            print(f"FAIL: {e}", flush=True)
        if failed:
            print(test.broker.log_tail(), flush=True)
        lost = sum(len(s.lost) for s in test.ledger.subs)
        distinct = len(set().union(*(s.lost.keys() for s in test.ledger.subs)))
        acked = sum(len(log.acked) + len(log.owned) for log in test.ledger.pubs.values())
        if kind == "mosquitto":
            print(f"MEASURED mosquitto: of {acked} acknowledged messages {distinct} lost "
                  f"({lost} over all subscribers), "
                  f"{sum(s.sessions_lost for s in test.ledger.subs)} sessions lost, "
                  f"{test.retained_lost} retained losses, {violations} other violations, over "
                  f"{len(test.points)} kill -9 (CRASH_SEED={seed})", flush=True)
        print(f"{'FAIL' if failed else 'PASS'} store/crash against {kind} in {elapsed:.1f} s "
              f"(CRASH_SEED={seed})", flush=True)
        return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
