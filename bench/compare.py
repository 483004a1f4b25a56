#!/usr/bin/python3
"""Broker comparison: ringmq against Mosquitto (and any other broker) with ringmq-bench.

Runs the same scenarios against every broker, each run on a freshly started broker on a free
127.0.0.1 port, alternating brokers A B C A B C ... over --reps repetitions, and writes a
markdown table of medians and ratios (ringmq / other) into docs/benchmarks.md between the
markers <!-- compare:begin --> and <!-- compare:end --> (the rest of the file is untouched;
the section is appended if the markers are missing).

Brokers:
  ringmq            build/ringmq --listen 127.0.0.1:PORT (skipped with a note if not built)
  mosquitto-nodelay /usr/sbin/mosquitto with `set_tcp_nodelay true` (the fair comparison:
                    ringmq always sets TCP_NODELAY)
  mosquitto-stock   the same without it (Nagle's algorithm on, Mosquitto's default)
  --broker NAME='CMD with {port}'   any other broker, started with that command
The engine-only ceiling (the echo server, no MQTT) is measured once per repetition too.

Broker CPU time comes from /proc/PID/stat of the broker this script started (ringmq-bench
--broker-pid), so "msgs per broker CPU-s" is fair even when the tool and the broker share the
machine's cores. Standard library only.

  bench/compare.py                       # everything, 3 repetitions (~15 minutes)
  bench/compare.py --reps 1 --duration 2 --scenarios pairs100,idle10k --no-write
"""

import argparse
import atexit
import datetime
import itertools
import json
import os
import platform
import re
import resource
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BEGIN = "<!-- compare:begin -->"
END = "<!-- compare:end -->"

MOSQUITTO_BASE_CONF = [
    "allow_anonymous true",
    "persistence false",
    # Logging off the hot path for every broker: 10,000 "New connection" lines are not
    # what this measures.
    "log_dest stderr",
    "log_type error",
    "log_type warning",
    "connection_messages false",
]

# Scenarios: (id, title, ringmq-bench arguments, metrics shown).
# Metrics: (label, key in the tool's JSON or a function of it, "higher"/"lower" is better).
def rss_growth_per_conn(j):
    if not j.get("connections"):
        return None
    return (j.get("broker_rss_kb", 0) - j.get("broker_rss_start_kb", 0)) * 1024.0 / j["connections"]


def rss_per_conn(j):
    if not j.get("connections"):
        return None
    return j.get("broker_rss_kb", 0) * 1024.0 / j["connections"]


def rss_mib(j):
    return j.get("broker_rss_kb", 0) / 1024.0


def loss_pct(j):
    expected = j.get("expected", 0)
    return 100.0 * j.get("lost", 0) / expected if expected else 0.0


TRAFFIC = [
    ("throughput, msg/s", "throughput", "higher"),
    ("msgs per broker CPU-s", "msgs_per_broker_cpu_s", "higher"),
    ("broker CPU, cores", lambda j: j.get("broker_cpu_s", 0) / j["duration_s"] if j.get("duration_s") else None, "lower"),
    ("latency p50, us", "latency_p50_us", "lower"),
    ("latency p99, us", "latency_p99_us", "lower"),
    ("lost, %", loss_pct, "lower"),
    ("load tool CPU, cores", "tool_cpu_cores", "lower"),
    ("interrupts + softirq (charged to no process), cores", "_irq_cores", "lower"),
]

SCENARIOS = [
    # 10,000 connections: connecting is kernel work on the tool's side too (its thread spent
    # ~550 ms of CPU on 10,000 handshakes taking ~550 ms), so the tool runs on two threads.
    ("conn10k", "10,000 connections: 5,000 pairs at 2 msg/s each (load tool on 2 threads), QoS 0",
     ["--scenario", "pairs", "--pairs", "5000", "--rate", "2", "--threads", "2"],
     [("throughput, msg/s", "throughput", "higher"),
      ("lost, %", loss_pct, "lower"),
      ("latency p50, us", "latency_p50_us", "lower"),
      ("latency p99, us", "latency_p99_us", "lower"),
      ("broker RSS, MiB", rss_mib, "lower"),
      ("broker CPU, cores", lambda j: j.get("broker_cpu_s", 0) / j["duration_s"] if j.get("duration_s") else None, "lower"),
      ("connect time (10,000 CONNACKs), ms", "connect_time_ms", "lower"),
      ("load tool CPU, cores", "tool_cpu_cores", "lower"),
      ("interrupts + softirq (charged to no process), cores", "_irq_cores", "lower")]),
    ("pairs100", "100 pairs, unlimited (end-to-end window 16 per pair), QoS 0",
     ["--scenario", "pairs", "--pairs", "100"], TRAFFIC),
    ("fanout1k", "fan-out 1 -> 1,000 subscribers, unlimited (window 16 messages), QoS 0",
     ["--scenario", "fanout", "--publishers", "1", "--subscribers", "1000"], TRAFFIC),
    # Fan-in: the tool's one thread sends one small TCP segment per publisher per window
    # refill and saturates before either broker does, so this scenario runs the tool on two
    # threads. Window 8: 8,000 messages (~700 KB) in flight towards one subscriber stay under
    # ringmq's default output limit (beyond it QoS 0 is dropped for a slow consumer).
    ("fanin1k", "fan-in 1,000 publishers -> 1 subscriber on bench/#, unlimited (window 8 each, load tool on 2 threads), QoS 0",
     ["--scenario", "fanin", "--publishers", "1000", "--subscribers", "1", "--inflight", "8",
      "--threads", "2"], TRAFFIC),
    ("pairs100q1", "100 pairs, unlimited (window 16), QoS 1",
     ["--scenario", "pairs", "--pairs", "100", "--qos", "1"], TRAFFIC),
    ("pairs100q2", "100 pairs, unlimited (window 16), QoS 2",
     ["--scenario", "pairs", "--pairs", "100", "--qos", "2"], TRAFFIC),
    ("idle10k", "10,000 idle connections (load tool on 2 threads)",
     ["--scenario", "connect", "--connections", "10000", "--threads", "2"],
     [("RSS growth per connection, bytes", rss_growth_per_conn, "lower"),
      ("RSS / connections, bytes", rss_per_conn, "lower"),
      ("broker RSS, MiB", rss_mib, "lower"),
      ("connect time, ms", "connect_time_ms", "lower")]),
]


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_accepting(port, proc, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.02)
    return False


class Broker:
    """How to start one broker on a given port."""

    def __init__(self, name, title, argv_for_port, config_text=None, kind="mqtt"):
        self.name = name
        self.title = title
        self.argv_for_port = argv_for_port  # port, config path -> argv
        self.config_text = config_text      # port -> config file text (mosquitto), or None
        self.kind = kind

    def command_text(self):
        argv = self.argv_for_port("PORT", "CONF")
        # Paths inside the checkout are shown relative to it.
        argv = [os.path.relpath(a, ROOT) if os.path.isabs(a) and a.startswith(ROOT + os.sep) else a
                for a in argv]
        text = " ".join(shlex.quote(a) for a in argv)
        if self.config_text:
            conf = self.config_text("PORT").strip().replace("\n", "; ")
            text += f"  (CONF: {conf})"
        return text


class Running:
    def __init__(self, broker, tmpdir, log):
        self.broker = broker
        self.port = free_port()
        conf = None
        if broker.config_text:
            conf = os.path.join(tmpdir, f"{broker.name}.conf")
            with open(conf, "w") as f:
                f.write(broker.config_text(self.port))
        argv = broker.argv_for_port(str(self.port), conf)
        self.proc = subprocess.Popen(argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        if not wait_accepting(self.port, self.proc):
            self.stop()
            raise RuntimeError(f"{broker.name} did not start accepting on port {self.port}: "
                               + " ".join(argv))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


def mosquitto_conf(nodelay):
    def text(port):
        lines = [f"listener {port} 127.0.0.1"] + MOSQUITTO_BASE_CONF
        if nodelay:
            lines.append("set_tcp_nodelay true")
        return "\n".join(lines) + "\n"
    return text


CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_times():
    """(user + system of all processes, irq + softirq) since boot, from /proc/stat, in seconds.
    With IRQ time accounting (this kernel has it) interrupt and softirq time is not part of
    any process's utime/stime, and loopback TCP does much of its work in softirq."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    return (fields[0] + fields[1] + fields[2]) / CLK_TCK, (fields[5] + fields[6]) / CLK_TCK


def process_cpu_seconds(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def run_bench(bench, args, port, pid, common, timeout):
    """Runs ringmq-bench once; adds _exit, _wall_s, _other_cores: the CPU that processes
    other than the broker and the tool used meanwhile (another build, a test suite: how noisy
    the run was on a shared machine), and _irq_cores: interrupt + softirq time, which no
    process is charged for."""
    # The scenario's own arguments after the common ones: the last occurrence of a flag wins.
    argv = [bench] + common + args + ["--port", str(port), "--broker-pid", str(pid)]
    t0 = time.monotonic()
    busy0, irq0 = cpu_times()
    broker0 = process_cpu_seconds(pid) or 0.0
    kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    self0 = resource.getrusage(resource.RUSAGE_SELF)
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
    # The child is reaped by communicate(); its CPU time is in RUSAGE_CHILDREN.
    broker1 = process_cpu_seconds(pid) or broker0
    busy1, irq1 = cpu_times()
    kids1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    self1 = resource.getrusage(resource.RUSAGE_SELF)
    wall = time.monotonic() - t0
    tool_s = (kids1.ru_utime + kids1.ru_stime) - (kids0.ru_utime + kids0.ru_stime)
    own_s = (self1.ru_utime + self1.ru_stime) - (self0.ru_utime + self0.ru_stime)
    try:
        j = json.loads(out)
    except ValueError:
        j = {"errors": 1, "error_samples": [f"no JSON (exit {p.returncode}): {err[-500:]}"]}
    j["_exit"] = p.returncode
    j["_wall_s"] = wall
    other = (busy1 - busy0) - (broker1 - broker0) - tool_s - own_s
    j["_other_cores"] = max(0.0, other / wall) if wall > 0 else 0.0
    j["_irq_cores"] = (irq1 - irq0) / wall if wall > 0 else 0.0
    return j


def value(metric, j):
    key = metric[1]
    v = key(j) if callable(key) else j.get(key)
    return None if v is None else float(v)


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(v, label):
    if v is None:
        return "-"
    if "%" in label:
        return f"{v:.2f}"
    if "cores" in label:
        return f"{v:.2f}"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "-"
    return f"{a / b:.2f}x"


def machine_description():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{os.cpu_count()} vCPUs ({cpu}, {platform.machine()}), {mem_gib:.0f} GiB, "
            f"Linux {platform.release()}")


def tool_version(argv):
    try:
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=10)
        return p.stdout.strip().splitlines()[0] if p.stdout.strip() else "?"
    except (OSError, subprocess.TimeoutExpired):
        return "?"


def git_describe():
    try:
        rev = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout.strip()
        return rev + ("+local changes" if dirty else "")
    except OSError:
        return "?"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"), help="meson build directory")
    ap.add_argument("--reps", type=int, default=3, help="repetitions per broker and scenario")
    ap.add_argument("--duration", type=float, default=5, help="measured seconds per run")
    ap.add_argument("--warmup", type=float, default=1, help="warm-up seconds per run")
    ap.add_argument("--scenarios", default="all",
                    help="comma-separated ids: " + ",".join(s[0] for s in SCENARIOS) + ",echo")
    ap.add_argument("--broker", action="append", default=[], metavar="NAME='CMD {port}'",
                    help="another broker; {port} is replaced by the port to listen on")
    ap.add_argument("--no-mosquitto", action="store_true")
    ap.add_argument("--no-ringmq", action="store_true")
    ap.add_argument("--mosquitto", default="/usr/sbin/mosquitto")
    ap.add_argument("--ringmq-args", default="--log_level warning",
                    help="extra arguments for build/ringmq")
    ap.add_argument("--bench-args", default="--threads 1",
                    help="extra arguments for every ringmq-bench run")
    ap.add_argument("--echo-threads", type=int, default=1, help="shards of the echo server")
    ap.add_argument("--output", default=os.path.join(ROOT, "docs", "benchmarks.md"))
    ap.add_argument("--json", default=None, help="also write every run's JSON here")
    ap.add_argument("--no-write", action="store_true", help="print the table, do not edit docs")
    ap.add_argument("--note", action="append", default=[], help="a line of text for the report")
    ap.add_argument("--noise", type=float, default=0.15,
                    help="a run during which other processes used more CPU than this (cores) "
                         "is repeated")
    ap.add_argument("--retries", type=int, default=3, help="repetitions of a noisy run at most")
    args = ap.parse_args()

    # Brokers and tool inherit this: 10,000 connections need 10,000 descriptors each.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    bench = os.path.join(args.build, "ringmq-bench")
    if not os.access(bench, os.X_OK):
        sys.exit(f"{bench} not built (ninja -C {args.build})")
    ringmq = os.path.join(args.build, "ringmq")
    echo_server = os.path.join(args.build, "examples", "minimal_engine", "echo_server")

    notes = list(args.note)
    brokers = []
    if args.no_ringmq:
        notes.append("ringmq was left out of this run (--no-ringmq).")
    else:
        if os.access(ringmq, os.X_OK):
            extra = shlex.split(args.ringmq_args)
            # Its default store, in a fresh folder for every start (no state between runs).
            data_root = tempfile.mkdtemp(prefix="ringmq-compare-data-")
            atexit.register(shutil.rmtree, data_root, True)
            starts = itertools.count()
            brokers.append(Broker("ringmq", "ringmq",
                                  lambda port, conf: [ringmq, "--listen", f"127.0.0.1:{port}",
                                                      "--data-dir",
                                                      os.path.join(data_root, str(next(starts)))]
                                  + extra))
        else:
            notes.append(f"ringmq was not measured: {os.path.relpath(ringmq, ROOT)} is not built.")
    if not args.no_mosquitto:
        if os.access(args.mosquitto, os.X_OK):
            mosq = args.mosquitto
            brokers.append(Broker("mosquitto-nodelay", "Mosquitto (TCP_NODELAY)",
                                  lambda port, conf: [mosq, "-c", conf], mosquitto_conf(True)))
            brokers.append(Broker("mosquitto-stock", "Mosquitto (stock, Nagle)",
                                  lambda port, conf: [mosq, "-c", conf], mosquitto_conf(False)))
        else:
            notes.append(f"Mosquitto was not measured: {args.mosquitto} is not installed.")
    for spec in args.broker:
        name, _, cmd = spec.partition("=")
        if not cmd:
            sys.exit(f"--broker {spec!r}: expected NAME='CMD with {{port}}'")
        brokers.append(Broker(name, name, lambda port, conf, cmd=cmd:
                              shlex.split(cmd.replace("{port}", str(port)))))
    if not brokers:
        sys.exit("no broker to measure")

    wanted = None if args.scenarios == "all" else set(args.scenarios.split(","))
    scenarios = [s for s in SCENARIOS if wanted is None or s[0] in wanted]
    do_echo = (wanted is None or "echo" in wanted) and os.access(echo_server, os.X_OK)
    common = ["--duration", str(args.duration), "--warmup", str(args.warmup),
              "--progress=false"] + shlex.split(args.bench_args)

    load = os.getloadavg()[0]
    if load > 0.5:
        print(f"warning: load average {load:.2f} before starting: other work will add noise",
              file=sys.stderr)

    results = {}  # (scenario, broker) -> [json]
    echo_runs = []
    stats = {"retried": 0, "noisy_kept": 0}
    started = time.monotonic()

    def measured(label, once):
        """Runs once() until a run is not disturbed by other processes (or out of retries)."""
        for attempt in range(args.retries + 1):
            j = once()
            noisy = j.get("_other_cores", 0) > args.noise
            print(f"[{time.monotonic() - started:6.0f}s] {label}  "
                  f"thr {j.get('throughput', 0):10.0f}/s  p99 {j.get('latency_p99_us', 0):9.0f}us  "
                  f"lost {j.get('lost', 0)}  rss {j.get('broker_rss_kb', 0)} KiB  "
                  f"broker {j.get('broker_cpu_s', 0):.2f} cpu-s  tool {j.get('tool_cpu_cores', 0):.2f} cores  "
                  f"other {j.get('_other_cores', 0):.2f} cores  exit {j.get('_exit')}"
                  + ("  NOISY" if noisy else ""), file=sys.stderr)
            if not noisy:
                return j
            if attempt < args.retries:
                stats["retried"] += 1
                time.sleep(10)  # let the other work pass
        stats["noisy_kept"] += 1
        j["_noisy"] = True
        return j

    with tempfile.TemporaryDirectory(prefix="ringmq-compare-") as tmpdir:
        log = open(os.path.join(tmpdir, "brokers.log"), "w")

        def broker_run(b, sargs, timeout):
            try:
                r = Running(b, tmpdir, log)
            except RuntimeError as e:
                print(f"error: {e}", file=sys.stderr)
                return {"errors": 1, "_exit": -1, "error_samples": [str(e)]}
            try:
                return run_bench(bench, sargs, r.port, r.proc.pid, common, timeout)
            finally:
                r.stop()

        def echo_run():
            p = subprocess.Popen([echo_server, "--listen", "127.0.0.1:0", "--threads",
                                  str(args.echo_threads)], stdout=subprocess.PIPE, stderr=log,
                                 text=True)
            m = re.search(r"127\.0\.0\.1:(\d+)", p.stdout.readline() or "")
            try:
                if not m:
                    return {"errors": 1, "_exit": -1, "error_samples": ["echo server did not start"]}
                return run_bench(bench, ["--scenario", "echo", "--connections", "100"],
                                 int(m.group(1)), p.pid, common, args.warmup + args.duration + 60)
            finally:
                p.send_signal(signal.SIGTERM)
                p.wait(timeout=20)

        for sid, title, sargs, _ in scenarios:
            timeout = args.warmup + args.duration + 120
            for rep in range(args.reps):
                for b in brokers:  # A B C, A B C, ...
                    j = measured(f"{sid:11s} rep {rep + 1} {b.name:18s}",
                                 lambda: broker_run(b, sargs, timeout))
                    results.setdefault((sid, b.name), []).append(j)
        if do_echo:
            for rep in range(args.reps):
                echo_runs.append(measured(f"{'echo':11s} rep {rep + 1} {'echo_server':18s}", echo_run))
        log.close()

    if args.json:
        with open(args.json, "w") as f:
            json.dump({"runs": {f"{k[0]}/{k[1]}": v for k, v in results.items()},
                       "echo": echo_runs}, f, indent=1)

    md = render(args, brokers, scenarios, results, echo_runs, notes, bench, echo_server, common,
                load, time.monotonic() - started, stats)
    if args.no_write:
        print(md)
        return
    write_section(args.output, md)
    print(f"wrote {os.path.relpath(args.output, os.getcwd())}", file=sys.stderr)


def render(args, brokers, scenarios, results, echo_runs, notes, bench, echo_server, common, load,
           elapsed, stats):
    names = [b.name for b in brokers]
    titles = {b.name: b.title for b in brokers}
    # Ratios are ringmq / each other broker; without ringmq, the first broker / the others.
    ref = "ringmq" if "ringmq" in names else (names[0] if len(names) > 1 else None)
    others = [n for n in names if n != ref]
    out = []
    out.append("## Broker comparison (bench/compare.py)")
    out.append("")
    kept = [j for runs in results.values() for j in runs] + list(echo_runs)
    worst = max((j.get("_other_cores", 0) for j in kept), default=0)
    invocation = " ".join(shlex.quote(a) for a in ["bench/compare.py"] + sys.argv[1:])
    out.append(f"Generated {datetime.date.today().isoformat()} by `{invocation}` "
               f"in {elapsed / 60:.0f} minutes. Machine: {machine_description()}. "
               f"ringmq {git_describe()}; {tool_version([args.mosquitto, '-h'])}. "
               f"Noise: load average {load:.2f} at the start; other processes used at most "
               f"{worst:.2f} cores during any kept run ({stats['retried']} runs were repeated "
               f"because they used more than {args.noise:g}; {stats['noisy_kept']} kept anyway "
               "after the retries).")
    out.append("")
    out.append(f"Medians of {args.reps} runs per cell; brokers alternate run by run (A B C A B C), "
               "each run on a freshly started broker on a free loopback port. QoS 0 and 64-byte "
               "payloads unless stated. \"msgs per broker CPU-s\" divides the messages received in "
               "the window by the broker's user+system CPU time over the window "
               "(/proc/PID/stat): the fair measure when the load tool shares the two cores. "
               "\"Unlimited\" publishers send as fast as an end-to-end window allows (messages "
               "sent and not yet received per publisher and subscriber), so latency there is "
               "queueing by construction (Little's law); the rate-limited scenario shows the "
               "latency of an unloaded broker. This kernel accounts interrupt and softirq time "
               "apart from processes, and loopback TCP does much of its work there, so "
               "\"broker CPU\" (utime + stime) understates the cores a broker keeps busy, for "
               "every broker alike; the softirq row shows how much time no process was charged "
               "for (machine-wide, tool and broker together).")
    out.append("")
    for n in notes:
        out.append(f"Note: {n}")
        out.append("")
    header = ["scenario", "metric"] + [b.title for b in brokers]
    if ref:
        header += [f"{titles[ref]} / {titles[n]}" for n in others]
    out.append("| " + " | ".join(header) + " |")
    out.append("|" + "---|" * len(header))
    for sid, title, _, metrics in scenarios:
        first = True
        for m in metrics:
            label, _, better = m
            meds = {n: median([value(m, j) for j in results.get((sid, n), [])]) for n in names}
            row = [f"**{title}**" if first else "", f"{label} ({better} is better)"]
            row += [fmt(meds[n], label) for n in names]
            if ref:
                row += [ratio(meds[ref], meds[n]) for n in others]
            out.append("| " + " | ".join(row) + " |")
            first = False
    out.append("")
    failures = []
    for (sid, n), runs in sorted(results.items()):
        for j in runs:
            if j.get("_exit", 0) != 0 or j.get("errors", 0):
                failures.append(f"{sid}/{n}: exit {j.get('_exit')}, errors {j.get('errors')}, "
                                f"lost {j.get('lost')}, {'; '.join(j.get('error_samples', [])[:2])}")
    if failures:
        out.append("Runs that reported errors or loss (exit status 1):")
        out.append("")
        for f in failures:
            out.append(f"- {f}")
        out.append("")
    if echo_runs:
        thr = median([j.get("throughput") for j in echo_runs])
        per_cpu = median([j.get("msgs_per_broker_cpu_s") for j in echo_runs])
        tool = median([j.get("tool_cpu_cores") for j in echo_runs])
        out.append(f"Engine ceiling (no MQTT): the echo server (`examples/minimal_engine`, "
                   f"{args.echo_threads} shard) echoing 100 connections of PUBLISH-sized frames "
                   f"(76 bytes, window 16 each): **{fmt(thr, '')} msgs/s, {fmt(per_cpu, '')} msgs "
                   f"per server CPU-s** (load tool {tool:.2f} cores). A broker forwarding a "
                   "message does at least the same work (one receive, one send), so its msgs "
                   "per broker CPU-s in the 100-pairs rows can be read against this ceiling.")
        out.append("")
    out.append("Commands (PORT is a free loopback port, PID the broker's):")
    out.append("")
    out.append("```sh")
    for b in brokers:
        out.append(f"# {b.name}: {b.command_text()}")
    for sid, _, sargs, _ in scenarios:
        out.append(f"{os.path.relpath(bench, ROOT)} " + " ".join(common) + " " + " ".join(sargs)
                   + " --port PORT --broker-pid PID")
    if echo_runs:
        out.append(f"{os.path.relpath(echo_server, ROOT)} --listen 127.0.0.1:0 --threads "
                   f"{args.echo_threads}")
        out.append(f"{os.path.relpath(bench, ROOT)} " + " ".join(common)
                   + " --scenario echo --connections 100 --port PORT --broker-pid PID")
    out.append("```")
    return "\n".join(out)


def failures(out, results):
    """Appends to `out` (markdown lines) the runs, {(scenario, name): [JSON]}, that failed."""
    lines = [f"{sid}/{n}: exit {j.get('_exit')}, errors {j.get('errors')}, "
             f"{'; '.join(j.get('error_samples', [])[:2])}"
             for (sid, n), runs in sorted(results.items()) for j in runs
             if j.get("_exit", 0) != 0 or j.get("errors", 0)]
    if lines:
        out.append("Runs that reported errors:")
        out.append("")
        out.extend(f"- {f}" for f in lines)
        out.append("")


def write_section(path, md, begin=BEGIN, end=END):
    """Replaces the text between the markers `begin` and `end` in `path` (appends if missing).
    Also used by the other benchmark scripts, with their own markers."""
    text = open(path).read() if os.path.exists(path) else ""
    block = f"{begin}\n{md}\n{end}"
    if begin in text and end in text and text.index(begin) < text.index(end):
        before = text[:text.index(begin)]
        after = text[text.index(end) + len(end):]
        text = before + block + after
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    with open(path, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
