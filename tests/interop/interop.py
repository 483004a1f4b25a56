"""Shared pieces of the interop drivers: the broker under test and a scenario runner.

The broker is chosen as in tests/testing/broker_process.h:
  RINGMQ_TEST_BROKER=ringmq (default)  the binary $RINGMQ_BROKER (build/ringmq), run as
      `ringmq --listen 127.0.0.1:0 --threads 2 --log-level warning --data-dir TMP/data`
      (its default SQLite store, in the driver's temporary folder); the port is read from
      its first stdout line starting with "listening" ("listening mqtt 127.0.0.1:PORT ...").
  RINGMQ_TEST_BROKER=mosquitto  /usr/sbin/mosquitto (or $MOSQUITTO) with a temporary config
      `listener PORT 127.0.0.1` + `allow_anonymous true`, on a port found by binding port 0,
      ready once it accepts a TCP connection.
The broker is started and stopped by PID; its log goes to a file whose tail is printed when a
scenario fails. Every wait is a condition with a timeout.

Standard library only; run with /usr/bin/python3 (the Debian interpreter that sees
python3-paho-mqtt).
"""

import ctypes
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

DEFAULT_TIMEOUT = 5.0  # seconds, for any single expected event
QUIET = 0.3  # seconds watched for "nothing (more) arrives"


class ScenarioFailure(Exception):
    """A scenario's expectation was not met; the message says what was expected vs seen."""


def check(cond, message):
    if not cond:
        raise ScenarioFailure(message)


def expect_equal(what, expected, actual):
    if expected != actual:
        raise ScenarioFailure(f"{what}: expected {expected!r}, received {actual!r}")


def wait_for(predicate, what, timeout=DEFAULT_TIMEOUT, interval=0.005):
    """Polls `predicate` until true; fails naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise ScenarioFailure(f"timed out after {timeout:.1f} s waiting for {what}")
        time.sleep(interval)


def queue_get(q, what, timeout=DEFAULT_TIMEOUT):
    try:
        return q.get(timeout=timeout)
    except queue.Empty:
        raise ScenarioFailure(f"timed out after {timeout:.1f} s waiting for {what}") from None


def queue_quiet(q, what, duration=QUIET):
    """Fails if anything arrives on `q` within `duration` seconds."""
    try:
        item = q.get(timeout=duration)
    except queue.Empty:
        return
    raise ScenarioFailure(f"expected nothing more ({what}) for {duration:.1f} s, received {item!r}")


# ---- processes ---------------------------------------------------------------------------------

_SETPRIV = shutil.which("setpriv")  # util-linux: sets the parent-death signal, then execs
_libc = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


class WildcardCase:
    """The wildcard scenario every client family runs: two filters under `base`, the topics
    published (in this order), and for each filter exactly the topics it must receive."""

    def __init__(self, base):
        self.plus = f"{base}/+/temp"
        self.hash = f"{base}/kitchen/#"
        self.published = [f"{base}/kitchen/temp", f"{base}/hall/temp", f"{base}/kitchen/hum",
                          f"{base}/kitchen/oven/temp", f"{base}/kitchen", f"{base}/hall/x/temp"]
        self.want = {
            self.plus: [f"{base}/kitchen/temp", f"{base}/hall/temp"],
            # '#' also matches the parent level itself (§4.7.1.2).
            self.hash: [f"{base}/kitchen/temp", f"{base}/kitchen/hum",
                        f"{base}/kitchen/oven/temp", f"{base}/kitchen"],
        }

    def expect_delivered(self, sub, filt):
        """`sub` (anything with next_message(what) -> (topic, ...) and expect_quiet(what))
        receives exactly the topics `filt` must match, and nothing more."""
        want = self.want[filt]
        got = sorted(sub.next_message(f"message {i + 1} of {len(want)} for {filt}")[0]
                     for i in range(len(want)))
        expect_equal(f"topics delivered to {filt}", sorted(want), got)
        sub.expect_quiet(f"topics not matching {filt}")


def _die_with_parent():
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def popen(argv, **kwargs):
    """subprocess.Popen for children that get SIGKILL when the driver dies, so a crashed
    driver leaves no broker or client behind holding ports and pipes. setpriv execs the
    program in the same process, so the PID is the program's."""
    if _SETPRIV:
        return subprocess.Popen([_SETPRIV, "--pdeathsig", "KILL", "--"] + list(argv), **kwargs)
    return subprocess.Popen(argv, preexec_fn=_die_with_parent, **kwargs)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log_tail(path, kind, lines=40):
    """The last `lines` lines of the broker log at `path`, headed, for a failure message."""
    try:
        with open(path, "rb") as f:
            text = f.read().decode(errors="replace").splitlines()
    except OSError:
        return ""
    tail = text[-lines:]
    return f"--- last {len(tail)} lines of the {kind} log ---\n" + "\n".join(tail)


def port_from_listening_line(line):
    """The port of the first HOST:PORT word, as PortFromListeningLine() in subprocess.h."""
    for word in line.split(" "):
        host, sep, port = word.rpartition(":")
        if sep and host and port.isdigit() and len(port) <= 5 and int(port) <= 65535:
            return int(port)
    return None


def _accepts(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


# How the clients of a scenario reach the broker (RINGMQ_TEST_TRANSPORT): "tcp" (default),
# "websocket" (every client over ws://HOST:PORT/mqtt) or "mixed" (clients alternate: the
# first over WebSocket, the next over TCP, ...: so a WebSocket client and a TCP client talk to
# each other in every scenario). Not "tcp": the broker also listens for WebSocket.
TRANSPORT = os.environ.get("RINGMQ_TEST_TRANSPORT", "tcp") or "tcp"
WS_PATH = "/mqtt"
_ws_port = None
_clients_made = 0


def pick_transport(tcp_port):
    """("tcp", port) or ("websocket", port) for the next client, as TRANSPORT says."""
    global _clients_made
    _clients_made += 1
    if TRANSPORT == "websocket" or (TRANSPORT == "mixed" and _clients_made % 2 == 1):
        return "websocket", _ws_port
    return "tcp", tcp_port


class Broker:
    """The broker under test in its own process, on an ephemeral 127.0.0.1 port."""

    def __init__(self, extra_args=(), log_level="warning"):
        self.extra_args = list(extra_args)  # ringmq only: e.g. ["--config", FILE]
        self.log_level = log_level
        self.kind = os.environ.get("RINGMQ_TEST_BROKER", "ringmq") or "ringmq"
        if self.kind not in ("ringmq", "mosquitto"):
            raise SystemExit(f"RINGMQ_TEST_BROKER={self.kind}: expected ringmq or mosquitto")
        self.port = None  # the first listener's
        self.admin_port = None  # ringmq with --admin-listen: its "admin http://HOST:PORT" line
        self.ports = {}   # ringmq: the first listener of each protocol ("mqtt", "websocket")
        self.listening = []  # ringmq: (protocol, port) per listener, in the order of --listen
        self.proc = None
        self.dir = tempfile.mkdtemp(prefix=f"ringmq-interop-{self.kind}-")
        self.log_path = os.path.join(self.dir, "broker.log")
        self.log = open(self.log_path, "wb")

    def start(self, timeout=20.0):
        if self.kind == "ringmq":
            self._start_ringmq(timeout)
        else:
            self._start_mosquitto(timeout)
        print(f"broker: {self.kind} pid {self.proc.pid} on 127.0.0.1:{self.port}", flush=True)
        return self

    def _start_ringmq(self, timeout):
        exe = os.environ.get("RINGMQ_BROKER", "")
        if not exe:
            raise SystemExit("RINGMQ_TEST_BROKER=ringmq but RINGMQ_BROKER (build/ringmq) is not set")
        if not os.access(exe, os.X_OK):
            raise SystemExit(f"RINGMQ_BROKER={exe} is not an executable (is the broker built? "
                             "or run with RINGMQ_TEST_BROKER=mosquitto)")
        argv = [exe, "--listen", "127.0.0.1:0", "--threads", "2", "--log-level", self.log_level,
                "--data-dir", os.path.join(self.dir, "data")] + self.extra_args
        if TRANSPORT != "tcp":
            argv += ["--listen", "ws://127.0.0.1:0"]
        self.proc = popen(argv, stdout=subprocess.PIPE, stderr=self.log)
        lines = queue.Queue()

        def read_stdout():
            for raw in self.proc.stdout:
                lines.put(raw.decode(errors="replace").rstrip("\n"))
            lines.put(None)

        threading.Thread(target=read_stdout, daemon=True).start()
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                line = None
            if line is None:
                self.stop(check_status=False)
                raise SystemExit(f"ringmq did not print a 'listening' line within {timeout} s\n"
                                 + self.log_tail())
            if line.startswith("listening"):
                # "listening PROTOCOL HOST:PORT ...": one line per listener, then "ready".
                port = port_from_listening_line(line)
                if not port:
                    raise SystemExit(f"no port in ringmq's line: {line}")
                self.ports.setdefault(line.split(" ")[1], port)
                self.listening.append((line.split(" ")[1], port))
                self.port = self.port or port
            elif line.startswith("admin http://"):
                self.admin_port = port_from_listening_line(line)
            elif line == "ready" and self.port:
                return

    def _start_mosquitto(self, timeout):
        exe = os.environ.get("MOSQUITTO", "/usr/sbin/mosquitto")
        conf = os.path.join(self.dir, "mosquitto.conf")
        deadline = time.monotonic() + timeout
        for _ in range(5):  # the port may be taken between free_port() and mosquitto's bind
            port = free_port()
            with open(conf, "w") as f:
                if TRANSPORT != "tcp":
                    self.ports["websocket"] = free_port()
                    # socket_domain ipv4: without it Mosquitto 2.0.11's websockets listener
                    # binds every address (*:PORT), whatever the listener line says.
                    f.write(f"listener {self.ports['websocket']} 127.0.0.1\n"
                            "protocol websockets\nsocket_domain ipv4\n")
                f.write(f"listener {port} 127.0.0.1\n"
                        "allow_anonymous true\n"
                        "persistence false\n"
                        "set_tcp_nodelay true\n"
                        "log_dest stderr\n"
                        "log_timestamp_format %H:%M:%S\n")
                if os.geteuid() == 0:
                    # Stay root: a change of user would cancel PR_SET_PDEATHSIG.
                    f.write("user root\n")
            self.proc = popen([exe, "-c", conf], stdout=subprocess.DEVNULL, stderr=self.log)
            while self.proc.poll() is None and time.monotonic() < deadline:
                if _accepts(port):
                    if self.proc.poll() is None:
                        self.port = port
                        return
                    break
                time.sleep(0.005)
            if self.proc.poll() is None:
                self.stop(check_status=False)
                raise SystemExit(f"mosquitto did not accept connections within {timeout} s\n"
                                 + self.log_tail())
        raise SystemExit("mosquitto did not start\n" + self.log_tail())

    def stop(self, timeout=10.0, check_status=True):
        """SIGTERM by PID, then SIGKILL after `timeout`; returns an error string or None."""
        error = None
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
                error = f"{self.kind} did not exit within {timeout} s of SIGTERM; killed"
        elif self.proc is not None and check_status:
            error = f"{self.kind} had already ended with status {self.proc.returncode}"
        if error is None and check_status and self.proc is not None and self.proc.returncode != 0:
            error = f"{self.kind} exited with status {self.proc.returncode} after SIGTERM"
        self.log.close()
        return error

    def log_tail(self, lines=40):
        return log_tail(self.log_path, self.kind, lines)

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)  # the config, the log, ringmq's store


# ---- the runner ----------------------------------------------------------------------------------

def run(family, scenarios, broker=None):
    """Starts the broker (`broker`, a Broker not started yet, or a default one), runs every
    (name, fn(port)) scenario, stops the broker.

    Prints one PASS/FAIL line per scenario (a failure names the scenario and what was
    expected vs received) and returns the process exit code: 0 if all passed.
    """
    global _ws_port
    broker = (broker or Broker()).start()
    _ws_port = broker.ports.get("websocket")
    failures = []
    started = time.monotonic()
    try:
        for name, fn in scenarios:
            t0 = time.monotonic()
            try:
                fn(broker.port)
            except ScenarioFailure as e:
                failures.append(name)
                print(f"FAIL {family} {name}: {e}", flush=True)
            except Exception:  # a bug in the scenario or the client library: still a failure
                failures.append(name)
                print(f"FAIL {family} {name}: unexpected error\n{traceback.format_exc()}",
                      flush=True)
            else:
                print(f"PASS {family} {name} ({time.monotonic() - t0:.2f} s)", flush=True)
            if broker.proc.poll() is not None:
                failures.append("broker")
                print(f"FAIL {family}: the broker died (status {broker.proc.returncode}) "
                      f"during {name}", flush=True)
                break
    finally:
        stop_error = broker.stop()
    if stop_error:
        failures.append("broker stop")
        print(f"FAIL {family}: {stop_error}", flush=True)
    if failures:
        print(broker.log_tail(), flush=True)
    broker.cleanup()
    names = [name for name, _ in scenarios]
    passed = len([n for n in names if n not in failures])
    print(f"{family}: {passed}/{len(names)} scenarios passed against {broker.kind} "
          f"in {time.monotonic() - started:.1f} s", flush=True)
    return 1 if failures else 0


def main(family, scenarios):
    sys.exit(run(family, scenarios))
