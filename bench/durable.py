#!/usr/bin/python3
"""Durable QoS 1 into offline queues (issue 10): ringmq's SQLite store against its in-memory
mode and against Mosquitto with persistence, with ringmq-bench --scenario offline.

S persistent subscribers (clean session 0) subscribe to the publishers' topics and go
offline; P publishers then publish QoS 1 for --duration seconds; a message counts when its
PUBACK arrives, which ringmq sends only once its store committed every queued copy. Two modes:

  throughput  publishers as fast as --inflight (16 unacknowledged PUBLISHes each) allows;
  latency     a fixed offered load (--offered, 10,000 msgs/s in all, spread evenly over the
              publishers): PUBLISH -> PUBACK latency of a broker that keeps up.

Brokers, each run on a freshly started broker with a fresh data folder, on a free 127.0.0.1
port, interleaved A B C D A B C D ... over --rounds rounds:

  ringmq-normal  build/ringmq --sync normal (the default: a commit survives a broker crash)
  ringmq-full    build/ringmq --sync full (each commit waits for the disk: power loss too)
  ringmq-memory  build/ringmq --persistence memory (nothing kept: the ceiling)
  mosquitto      /usr/sbin/mosquitto, persistence true (an in-memory database written every
                 autosave_interval and at exit: its PUBACK never waits for the disk)

Queue limits are raised on every broker so that nothing is dropped. A broker is stopped with
SIGKILL after its run (what it would write at shutdown is not measured) and its folder removed.
Writes a markdown section into docs/benchmarks.md between <!-- durable:begin --> and
<!-- durable:end --> (appended if missing). Standard library only; helpers from compare.py.

  bench/durable.py                                  # ~10 minutes
  bench/durable.py --rounds 1 --duration 2 --no-write
  bench/durable.py --groups 1,10                    # also 1 queued copy per message
"""

import argparse
import datetime
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402  (free_port, wait_accepting, run_bench, median, machine facts)

ROOT = compare.ROOT
BEGIN = "<!-- durable:begin -->"
END = "<!-- durable:end -->"
TITLE = "Durable QoS 1 into offline queues (issue 10)"

# Per-session and total queue limits, far above what a run queues (a few million copies).
QUEUE_MESSAGES = 100_000_000
QUEUE_BYTES = 64 << 30
QUEUE_BYTES_TOTAL = 256 << 30
INFLIGHT = 100  # ringmq's --max-inflight default; Mosquitto's max_inflight_messages set to it


class Broker:
    def __init__(self, name, title, argv, conf=None):
        self.name = name
        self.title = title
        self.argv = argv  # (port, data dir, conf path) -> argv
        self.conf = conf  # (port, data dir) -> config text, or None

    def command_text(self):
        text = " ".join(shlex.quote(a) for a in self.argv("PORT", "DIR", "CONF"))
        text = text.replace(ROOT + os.sep, "")
        if self.conf:
            text += "  (CONF: " + self.conf("PORT", "DIR").strip().replace("\n", "; ") + ")"
        return text


def ringmq_broker(name, title, ringmq, extra):
    def argv(port, data, conf):
        return [ringmq, "--listen", f"127.0.0.1:{port}", "--data-dir", str(data),
                "--log_level", "warning", "--max-queued-messages", str(QUEUE_MESSAGES),
                "--max-queued-bytes", str(QUEUE_BYTES),
                "--max-queued-bytes-total", str(QUEUE_BYTES_TOTAL)] + extra
    return Broker(name, title, argv)


def mosquitto_broker(mosquitto):
    def conf(port, data):
        return "\n".join([
            f"listener {port} 127.0.0.1",
            "allow_anonymous true",
            "persistence true",
            f"persistence_location {data}/",
            # autosave_interval left at its default (1800 s, Debian's mosquitto.conf does not
            # set it): the database is written every 30 minutes and at exit, never in a run.
            f"max_queued_messages {QUEUE_MESSAGES}",
            "max_queued_bytes 0",
            f"max_inflight_messages {INFLIGHT}",
            "set_tcp_nodelay true",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            "connection_messages false",
        ]) + "\n"
    return Broker("mosquitto", "Mosquitto (persistence true)",
                  lambda port, data, c: [mosquitto, "-c", c], conf)


class Running:
    def __init__(self, broker, data, log):
        self.port = compare.free_port()
        self.data = data
        os.makedirs(data, exist_ok=True)
        # Mosquitto started as root runs as user mosquitto: it must be able to save there.
        os.chmod(os.path.dirname(data), 0o755)
        os.chmod(data, 0o777)
        conf = None
        if broker.conf:
            conf = os.path.join(data, "mosquitto.conf")
            with open(conf, "w") as f:
                f.write(broker.conf(self.port, data))
        argv = broker.argv(str(self.port), data, conf)
        self.proc = subprocess.Popen(argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        if not compare.wait_accepting(self.port, self.proc):
            self.kill()
            raise RuntimeError(f"{broker.name} did not start: " + " ".join(argv))

    def data_bytes(self):
        total = 0
        for dirpath, _, files in os.walk(self.data):
            for f in files:
                if f.endswith(".conf"):
                    continue
                try:
                    total += os.path.getsize(os.path.join(dirpath, f))
                except OSError:
                    pass
        return total

    def kill(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        shutil.rmtree(self.data, ignore_errors=True)


def cores(key):
    return lambda j: j.get(key, 0) / j["duration_s"] if j.get("duration_s") else None


def copies_per_s(j):
    return j.get("throughput", 0) * j.get("copies_per_message", 0)


def mib(key, scale):
    return lambda j: j[key] * scale / 2**20 if j.get(key) is not None else None


THROUGHPUT = [
    ("acknowledged PUBLISHes/s", "throughput", "higher"),
    ("queued copies/s", copies_per_s, "higher"),
    ("PUBACK latency p50, us", "latency_p50_us", "lower"),
    ("PUBACK latency p99, us", "latency_p99_us", "lower"),
    ("acknowledged per broker CPU-s", "msgs_per_broker_cpu_s", "higher"),
    ("broker CPU, cores", cores("broker_cpu_s"), "lower"),
    ("refused (failure PUBACK) in the window", "ack_failures", "lower"),
    ("broker RSS at the end, MiB", mib("broker_rss_kb", 1024), "lower"),
    ("data folder at the end, MiB", mib("_data_bytes", 1), "lower"),
]
LATENCY = [
    ("acknowledged PUBLISHes/s", "throughput", "higher"),
    ("PUBACK latency p50, us", "latency_p50_us", "lower"),
    ("PUBACK latency p99, us", "latency_p99_us", "lower"),
    ("PUBACK latency p99.9, us", "latency_p999_us", "lower"),
    ("PUBACK latency max, us", "latency_max_us", "lower"),
    ("broker CPU, cores", cores("broker_cpu_s"), "lower"),
    ("refused (failure PUBACK) in the window", "ack_failures", "lower"),
]

RATIOS = [("ringmq-normal", "ringmq-memory"), ("ringmq-full", "ringmq-memory"),
          ("ringmq-normal", "mosquitto"), ("ringmq-full", "mosquitto")]


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=float, default=5)
    ap.add_argument("--warmup", type=float, default=1)
    ap.add_argument("--publishers", type=int, default=100)
    ap.add_argument("--subscribers", type=int, default=10)
    ap.add_argument("--groups", default="1",
                    help="comma-separated --offline-groups values: a message is queued for "
                         "subscribers/groups sessions (1: every subscriber)")
    ap.add_argument("--offered", type=float, default=10000, help="latency mode: msgs/s in all")
    ap.add_argument("--qos", type=int, default=1)
    ap.add_argument("--mqtt-version", default="3.1.1")
    ap.add_argument("--modes", default="throughput,latency")
    ap.add_argument("--brokers", default="ringmq-normal,ringmq-full,ringmq-memory,mosquitto")
    ap.add_argument("--mosquitto", default="/usr/sbin/mosquitto")
    ap.add_argument("--bench-args", default="--threads 1")
    ap.add_argument("--output", default=os.path.join(ROOT, "docs", "benchmarks.md"))
    ap.add_argument("--json", default=None)
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--noise", type=float, default=0.15,
                    help="a run during which other processes used more cores than this is "
                         "repeated")
    ap.add_argument("--retries", type=int, default=2)
    args = ap.parse_args()

    bench = os.path.join(args.build, "ringmq-bench")
    ringmq = os.path.join(args.build, "ringmq")
    for exe in (bench, ringmq):
        if not os.access(exe, os.X_OK):
            sys.exit(f"{exe} not built (ninja -C {args.build})")
    all_brokers = {
        "ringmq-normal": ringmq_broker("ringmq-normal", "ringmq --sync normal", ringmq,
                                       ["--sync", "normal"]),
        "ringmq-full": ringmq_broker("ringmq-full", "ringmq --sync full", ringmq,
                                     ["--sync", "full"]),
        "ringmq-memory": ringmq_broker("ringmq-memory", "ringmq --persistence memory", ringmq,
                                       ["--persistence", "memory"]),
        "mosquitto": mosquitto_broker(args.mosquitto),
    }
    brokers = [all_brokers[n] for n in args.brokers.split(",")]
    if "mosquitto" in args.brokers and not os.access(args.mosquitto, os.X_OK):
        sys.exit(f"{args.mosquitto} not installed (or --brokers without mosquitto)")
    groups = [int(g) for g in args.groups.split(",")]
    modes = args.modes.split(",")
    common = (["--scenario", "offline", "--qos", str(args.qos), "--mqtt-version",
               args.mqtt_version, "--publishers", str(args.publishers), "--subscribers",
               str(args.subscribers), "--duration", str(args.duration), "--warmup",
               str(args.warmup), "--progress=false"] + shlex.split(args.bench_args))

    def mode_args(mode, g):
        rate = "0" if mode == "throughput" else f"{args.offered / args.publishers:g}"
        return ["--offline-groups", str(g), "--rate", rate]

    load = os.getloadavg()[0]
    started = time.monotonic()
    stats = {"retried": 0, "noisy_kept": 0}
    results = {}  # (groups, mode, broker) -> [json]
    with tempfile.TemporaryDirectory(prefix="ringmq-durable-") as tmp:
        log = open(os.path.join(tmp, "brokers.log"), "w")
        runs = 0

        def once(b, sargs):
            nonlocal runs
            runs += 1
            try:
                r = Running(b, os.path.join(tmp, str(runs)), log)
            except RuntimeError as e:
                return {"errors": 1, "_exit": -1, "error_samples": [str(e)]}
            try:
                j = compare.run_bench(bench, sargs, r.port, r.proc.pid, common,
                                      args.warmup + args.duration + 120)
                j["_data_bytes"] = r.data_bytes()
                return j
            finally:
                r.kill()

        for g in groups:
            for mode in modes:
                for rnd in range(args.rounds):
                    for b in brokers:  # A B C D, A B C D, ...
                        label = f"g{g} {mode:10s} round {rnd + 1} {b.name:14s}"
                        j = measured(args, stats, started, label,
                                     lambda: once(b, mode_args(mode, g)))
                        results.setdefault((g, mode, b.name), []).append(j)
        log.close()

    if args.json:
        with open(args.json, "w") as f:
            json.dump({"/".join(map(str, k)): v for k, v in results.items()}, f, indent=1)
    md = render(args, brokers, groups, modes, results, bench, common, mode_args, load,
                time.monotonic() - started, stats)
    if args.no_write:
        print(md)
        return
    compare.write_section(args.output, md, BEGIN, END)
    print(f"wrote {os.path.relpath(args.output, os.getcwd())}", file=sys.stderr)


def measured(args, stats, started, label, once):
    """Runs once() until other processes stayed under --noise cores (or out of retries)."""
    for attempt in range(args.retries + 1):
        j = once()
        noisy = j.get("_other_cores", 0) > args.noise
        print(f"[{time.monotonic() - started:5.0f}s] {label} acked/s {j.get('throughput', 0):9.0f}"
              f"  p50 {j.get('latency_p50_us', 0):8.0f}us  p99 {j.get('latency_p99_us', 0):8.0f}us"
              f"  refused {j.get('ack_failures', 0)}  broker {j.get('broker_cpu_s', 0):.2f} cpu-s"
              f"  other {j.get('_other_cores', 0):.2f} cores  exit {j.get('_exit')}"
              + ("  NOISY" if noisy else ""), file=sys.stderr)
        if not noisy:
            return j
        if attempt < args.retries:
            stats["retried"] += 1
            time.sleep(10)
    stats["noisy_kept"] += 1
    j["_noisy"] = True
    return j


def medians(results, key, metric):
    return compare.median([compare.value(metric, j) for j in results.get(key, [])])


def table(out, brokers, results, g, mode, metrics):
    names = [b.name for b in brokers]
    ratios = [(a, b) for a, b in RATIOS if a in names and b in names]
    header = ["metric"] + [b.title for b in brokers] + [f"{a} / {b}" for a, b in ratios]
    out.append("| " + " | ".join(header) + " |")
    out.append("|" + "---|" * len(header))
    for m in metrics:
        label, _, better = m
        meds = {n: medians(results, (g, mode, n), m) for n in names}
        row = [f"{label} ({better} is better)"] + [compare.fmt(meds[n], label) for n in names]
        row += [compare.ratio(meds[a], meds[b]) for a, b in ratios]
        out.append("| " + " | ".join(row) + " |")
    out.append("")


def targets(out, results, g, modes):
    def med(mode, name, key):
        return medians(results, (g, mode, name), ("", key, ""))
    lines = []
    if "throughput" in modes:
        normal = med("throughput", "ringmq-normal", "throughput")
        memory = med("throughput", "ringmq-memory", "throughput")
        if normal is not None:
            lines.append(f"- durable (`--sync normal`) >= 100,000 acknowledged msgs/s: "
                         f"**{'met' if normal >= 100000 else 'not met'}**, {normal:,.0f}.")
        if normal is not None and memory:
            lines.append(f"- durable >= half of `--persistence memory`: "
                         f"**{'met' if normal >= memory / 2 else 'not met'}**, "
                         f"{normal / memory:.2f}x ({normal:,.0f} against {memory:,.0f}).")
    if "latency" in modes:
        for name in ("ringmq-normal", "ringmq-full"):
            p99 = med("latency", name, "latency_p99_us")
            if p99 is not None:
                lines.append(f"- {name}: p99 PUBLISH -> PUBACK < 10 ms at the offered load: "
                             f"**{'met' if p99 < 10000 else 'not met'}**, {p99 / 1000:.2f} ms.")
    if lines:
        out.append("Targets (medians above):")
        out.append("")
        out.extend(lines)
        out.append("")


def render(args, brokers, groups, modes, results, bench, common, mode_args, load, elapsed, stats):
    out = [f"## {TITLE}", ""]
    kept = [j for runs in results.values() for j in runs]
    worst = max((j.get("_other_cores", 0) for j in kept), default=0)
    invocation = " ".join(shlex.quote(a) for a in ["bench/durable.py"] + sys.argv[1:])
    out.append(
        f"Generated {datetime.date.today().isoformat()} by `{invocation}` in "
        f"{elapsed / 60:.0f} minutes. Machine: {compare.machine_description()}. ringmq "
        f"{compare.git_describe()}; {compare.tool_version([args.mosquitto, '-h'])}. Noise: load "
        f"average {load:.2f} at the start; other processes used at most {worst:.2f} cores during "
        f"any kept run ({stats['retried']} runs repeated for using more than {args.noise:g}; "
        f"{stats['noisy_kept']} kept anyway after {args.retries} retries).")
    out.append("")
    out.append(
        f"{args.subscribers} persistent subscribers (MQTT {args.mqtt_version}, clean session 0) "
        f"subscribe at QoS {args.qos} and disconnect; then {args.publishers} publishers publish "
        f"QoS {args.qos}, 64-byte payloads, for {args.duration:g} s (after {args.warmup:g} s of "
        "warm-up). A message counts when its PUBACK comes (ringmq: once the store committed "
        "every queued copy); latency is PUBLISH -> PUBACK as the publisher sees it. "
        "\"Throughput\": each publisher keeps up to 16 PUBLISHes unacknowledged (1,600 in "
        "all), so its latency is queueing (Little's law); \"latency\": "
        f"{args.offered:,.0f} msgs/s offered in all ({args.offered / args.publishers:g} per "
        "publisher, phases spread). Medians of "
        f"{args.rounds} runs per cell, brokers interleaved run by run (A B C D A B C D), each "
        "run on a freshly started broker with a fresh data folder. Mosquitto: "
        "`persistence true` with `autosave_interval` at its default (1800 s; Debian's "
        "mosquitto.conf leaves it so): it keeps queues in memory and writes its database "
        "every 30 minutes and at exit, so its PUBACK never waits for the disk, like "
        "`--persistence memory`; it is the reference for what a broker with Mosquitto-style "
        "persistence costs, not for durability. Queue limits raised on every broker so that "
        "nothing is dropped; Mosquitto's `max_inflight_messages` set to ringmq's "
        f"`--max-inflight` ({INFLIGHT}). \"Broker CPU\" is utime + stime over the window "
        "(/proc/PID/stat); the load tool shares the two cores.")
    out.append("")
    for g in groups:
        copies = args.subscribers // g
        copies = f"{copies} queued {'copy' if copies == 1 else 'copies'} per message"
        what = ("every subscriber takes every publisher's messages" if g == 1 else
                f"`--offline-groups {g}`: subscribers and publishers in {g} groups")
        for mode in modes:
            if mode == "throughput":
                head = f"Throughput, as fast as the windows allow ({copies}: {what})"
            else:
                head = f"Latency at {args.offered:,.0f} msgs/s offered ({copies}: {what})"
            out.append(f"**{head}**")
            out.append("")
            table(out, brokers, results, g, mode, THROUGHPUT if mode == "throughput" else LATENCY)
        targets(out, results, g, modes)
    failures = []
    for (g, mode, n), runs in sorted(results.items()):
        for j in runs:
            if j.get("_exit", 0) != 0 or j.get("errors", 0) or j.get("unacked", 0):
                failures.append(f"g{g}/{mode}/{n}: exit {j.get('_exit')}, errors "
                                f"{j.get('errors')}, unacknowledged {j.get('unacked')}, "
                                f"{'; '.join(j.get('error_samples', [])[:2])}")
    if failures:
        out.append("Runs that reported errors:")
        out.append("")
        out.extend(f"- {f}" for f in failures)
        out.append("")
    out.append("Commands (PORT a free loopback port, DIR a fresh folder, PID the broker's):")
    out.append("")
    out.append("```sh")
    for b in brokers:
        out.append(f"# {b.name}: {b.command_text()}")
    rel = os.path.relpath(bench, ROOT)
    for g in groups:
        for mode in modes:
            out.append(f"{rel} " + " ".join(common + mode_args(mode, g))
                       + " --port PORT --broker-pid PID")
    out.append("```")
    return "\n".join(out)


if __name__ == "__main__":
    main()
