#!/usr/bin/python3
"""Interop: mosquitto_pub / mosquitto_sub (2.0.11) against the broker under test, in MQTT 3.1.1
(-V mqttv311) and 5.0 (-V mqttv5).

Scenarios per version: QoS 0/1/2 round trips, a retained message delivered to a later
subscriber, the will published when the client process is killed, a persistent session that
queues QoS 1 messages while the client is offline, and the + and # wildcards.
mosquitto_sub runs with -d (debug lines tell when its SUBACK arrived) and prints each message
as MSG|topic|qos|retain|payload; stdbuf makes its output line-buffered through the pipe.
"""

import os
import queue
import signal
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import interop  # noqa: E402
from interop import DEFAULT_TIMEOUT, ScenarioFailure, expect_equal  # noqa: E402

MOSQUITTO_PUB = os.environ.get("MOSQUITTO_PUB", "mosquitto_pub")
MOSQUITTO_SUB = os.environ.get("MOSQUITTO_SUB", "mosquitto_sub")
FORMAT = "MSG|%t|%q|%r|%p"


class Sub:
    """A mosquitto_sub process; its output parsed into SUBACK events and messages."""

    def __init__(self, port, version, topics, qos, extra=()):
        argv = ["stdbuf", "-oL", MOSQUITTO_SUB, "-h", "127.0.0.1", "-p", str(port), "-V", version,
                "-d", "-F", FORMAT, "-q", str(qos)]
        for t in topics:
            argv += ["-t", t]
        argv += list(extra)
        self.argv = argv
        self.proc = interop.popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.subacks = queue.Queue()
        self.messages = queue.Queue()
        self.output = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for raw in self.proc.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            self.output.append(line)
            if line.startswith("MSG|"):
                _, topic, qos, retain, payload = line.split("|", 4)
                self.messages.put((topic, int(qos), retain == "1", payload))
            elif "received SUBACK" in line:
                self.subacks.put(line)

    def describe(self):
        tail = "\n    ".join(self.output[-12:])
        return f"`{' '.join(self.argv[2:])}` output:\n    {tail}"

    def wait_subscribed(self):
        try:
            self.subacks.get(timeout=DEFAULT_TIMEOUT)
        except queue.Empty:
            raise ScenarioFailure(f"no SUBACK within {DEFAULT_TIMEOUT} s; {self.describe()}")

    def next_message(self, what):
        try:
            return self.messages.get(timeout=DEFAULT_TIMEOUT)
        except queue.Empty:
            raise ScenarioFailure(f"timed out after {DEFAULT_TIMEOUT} s waiting for {what}; "
                                  f"{self.describe()}")

    def expect_quiet(self, what):
        interop.queue_quiet(self.messages, what)

    def wait_exit(self, timeout=DEFAULT_TIMEOUT):
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise ScenarioFailure(f"mosquitto_sub did not exit within {timeout} s; "
                                  f"{self.describe()}")
        if rc != 0:
            raise ScenarioFailure(f"mosquitto_sub exited with {rc}; {self.describe()}")

    def kill(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=DEFAULT_TIMEOUT)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()


def pub(port, version, topic, payload, qos, extra=()):
    """One mosquitto_pub; `payload` None sends an empty message, a list sends each item as a
    message over the same connection (-l, one line each), in order."""
    argv = [MOSQUITTO_PUB, "-h", "127.0.0.1", "-p", str(port), "-V", version, "-t", topic,
            "-q", str(qos)]
    stdin = None
    if payload is None:
        argv += ["-n"]
    elif isinstance(payload, list):
        argv += ["-l"]
        stdin = "".join(line + "\n" for line in payload).encode()
    else:
        argv += ["-m", payload]
    argv += list(extra)
    p = interop.popen(argv, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        out, _ = p.communicate(input=stdin, timeout=DEFAULT_TIMEOUT)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        raise ScenarioFailure(f"`{' '.join(argv)}` did not finish within {DEFAULT_TIMEOUT} s")
    if p.returncode != 0:
        raise ScenarioFailure(f"`{' '.join(argv)}` exited with {p.returncode}: "
                              f"{out.decode(errors='replace').strip()}")


def expect_message(sub, what, topic, payload, qos, retain):
    got = sub.next_message(what)
    expect_equal(what + " (topic, qos, retain, payload)", (topic, qos, retain, payload), got)


def scenarios_for(version):
    prefix = f"interop/mosquitto-clients/{version}"

    def round_trip(qos):
        def run(port):
            topic = f"{prefix}/qos{qos}"
            with Sub(port, version, [topic], qos) as s:
                s.wait_subscribed()
                pub(port, version, topic, f"hello qos{qos}", qos)
                expect_message(s, f"the QoS {qos} message", topic, f"hello qos{qos}", qos, False)
                s.expect_quiet("a second copy")
        return run

    def retained(port):
        topic = f"{prefix}/retained"
        pub(port, version, topic, "kept", 1, ["-r"])
        with Sub(port, version, [topic], 1) as s:
            s.wait_subscribed()
            expect_message(s, "the retained message", topic, "kept", 1, True)
        pub(port, version, topic, None, 1, ["-r"])  # an empty retained message clears it
        with Sub(port, version, [topic], 1) as s:
            s.wait_subscribed()
            s.expect_quiet("the cleared retained message")

    def will(port):
        will_topic = f"{prefix}/will"
        with Sub(port, version, [will_topic], 1) as watcher:
            watcher.wait_subscribed()
            victim = Sub(port, version, [f"{prefix}/will-victim-sub"], 0,
                         ["-i", f"{version}-victim", "--will-topic", will_topic,
                          "--will-payload", "victim died", "--will-qos", "1"])
            with victim:
                victim.wait_subscribed()  # connected, will registered
                victim.kill()  # SIGKILL: the socket closes without DISCONNECT
            expect_message(watcher, "the will message", will_topic, "victim died", 1, False)

    def persistent_session(port):
        topic = f"{prefix}/session"
        session = ["-c", "-i", f"{version}-persistent"]
        if version == "mqttv5":
            session += ["-x", "60"]
        # Subscribe, then exit at once (-E): the session and its subscription stay.
        with Sub(port, version, [topic], 1, session + ["-E"]) as s:
            s.wait_exit()
        # One publisher connection, so the order is defined [MQTT-4.6.0-6 (3.1.1)].
        pub(port, version, topic, [f"queued {i}" for i in range(3)], 1)
        with Sub(port, version, [topic], 1, session) as s:
            for i in range(3):
                expect_message(s, f"queued message {i}", topic, f"queued {i}", 1, False)
            s.expect_quiet("messages beyond the 3 queued")

    def wildcards(port):
        case = interop.WildcardCase(f"{prefix}/wild")
        with Sub(port, version, [case.plus], 1) as s_plus, \
                Sub(port, version, [case.hash], 1) as s_hash:
            s_plus.wait_subscribed()
            s_hash.wait_subscribed()
            for i, t in enumerate(case.published):
                pub(port, version, t, f"reading {i}", 1)
            case.expect_delivered(s_plus, case.plus)
            case.expect_delivered(s_hash, case.hash)

    return [
        (f"{version} qos0 round trip", round_trip(0)),
        (f"{version} qos1 round trip", round_trip(1)),
        (f"{version} qos2 round trip", round_trip(2)),
        (f"{version} retained message to a later subscriber", retained),
        (f"{version} will on killed client", will),
        (f"{version} persistent session queues qos1 while offline", persistent_session),
        (f"{version} wildcards + and #", wildcards),
    ]


if __name__ == "__main__":
    interop.main("mosquitto-clients", scenarios_for("mqttv311") + scenarios_for("mqttv5"))
