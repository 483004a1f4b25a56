#!/usr/bin/python3
"""MQTT over WebSocket against MQTT over TCP (issue 12): the same broker, the same scenario,
once through each listener, for ringmq and for Mosquitto, with ringmq-bench --transport.

Every run starts a fresh broker listening on two free 127.0.0.1 ports, one plain MQTT and one
MQTT over WebSocket, so that the TCP and the WebSocket runs of a broker use the same broker
configuration; the tool then connects to one of them:

  ringmq-tcp      build/ringmq --listen 127.0.0.1:PORT --listen ws://127.0.0.1:PORT2
                  ringmq-bench to PORT
  ringmq-ws       the same broker; ringmq-bench --transport websocket to PORT2 (path /mqtt)
  mosquitto-tcp   /usr/sbin/mosquitto: `listener PORT 127.0.0.1`, `listener PORT2 127.0.0.1` +
                  `protocol websockets`, allow_anonymous true, set_tcp_nodelay true,
                  persistence false; ringmq-bench to PORT
  mosquitto-ws    the same broker; ringmq-bench --transport websocket to PORT2
  mosquitto-tcp-only  reference (--no-reference leaves it out): Mosquitto with the TCP
                  listener alone. Mosquitto's main loop also services libwebsockets once a
                  websockets listener is configured, which has slowed its TCP clients in some
                  versions (mosquitto issue #1804): this shows whether it does here.

Scenarios (--scenarios): 100 pairs at QoS 0 and at QoS 1, as fast as the windows allow
(`--scenario pairs --pairs 100`, end-to-end window 16). Rounds interleave the
configurations run by run (A B C D E A B C D E ...); cells are medians of --rounds runs. A run
during which other processes used more than --noise cores is repeated (--retries).

The tool pays for WebSocket too (a frame header per flush, and masking: one more copy of every
byte it sends), so its CPU is reported next to the broker's. On a 2-core machine the tool and
the broker share the cores: read msgs per broker CPU-s as well as the throughput.

Writes a markdown section into docs/benchmarks.md between <!-- websocket:begin --> and
<!-- websocket:end --> (appended if missing). Standard library only; helpers from compare.py
and durable.py.

  bench/websocket_compare.py       # ~7 minutes on a quiet machine; noisy runs are repeated
  bench/websocket_compare.py --rounds 1 --duration 2 --no-write
"""

import argparse
import datetime
import json
import os
import shlex
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402
import durable  # noqa: E402

ROOT = compare.ROOT
BEGIN = "<!-- websocket:begin -->"
END = "<!-- websocket:end -->"
TITLE = "MQTT over WebSocket against TCP (issue 12)"
WS_PATH = "/mqtt"
TARGET = 0.80  # the target: WebSocket throughput at least 80% of TCP

SCENARIOS = {
    "pairs100": ("100 pairs, unlimited (end-to-end window 16), QoS 0",
                 ["--scenario", "pairs", "--pairs", "100"]),
    "pairs100q1": ("100 pairs, unlimited (window 16), QoS 1",
                   ["--scenario", "pairs", "--pairs", "100", "--qos", "1"]),
}


def per_message_us(key):
    def f(j):
        msgs = j.get("throughput", 0) * j.get("duration_s", 0)
        return j[key] * 1e6 / msgs if msgs and j.get(key) is not None else None
    return f


METRICS = [
    ("throughput, msg/s", "throughput", "higher"),
    ("msgs per broker CPU-s", "msgs_per_broker_cpu_s", "higher"),
    ("broker CPU, cores", durable.cores("broker_cpu_s"), "lower"),
    ("latency p50, us", "latency_p50_us", "lower"),
    ("latency p99, us", "latency_p99_us", "lower"),
    ("load tool CPU, cores", "tool_cpu_cores", "lower"),
    ("load tool CPU per message, us", per_message_us("tool_cpu_s"), "lower"),
    ("lost, %", compare.loss_pct, "lower"),
    ("connect time (200 CONNACKs), ms", "connect_time_ms", "lower"),
]
# name -> (broker, over WebSocket?, title)
CONFIG_TABLE = {
    "ringmq-tcp": ("ringmq", False, "ringmq, TCP"),
    "ringmq-ws": ("ringmq", True, "ringmq, WebSocket"),
    "mosquitto-tcp": ("mosquitto", False, "Mosquitto, TCP"),
    "mosquitto-ws": ("mosquitto", True, "Mosquitto, WebSocket"),
    # Reference: Mosquitto with its TCP listener alone (its main loop also services
    # libwebsockets when a websockets listener is configured; see the docstring).
    "mosquitto-tcp-only": ("mosquitto-tcp-only", False,
                           "Mosquitto, TCP, no WebSocket listener (reference)"),
}
RATIOS = [("ringmq-ws", "ringmq-tcp"), ("ringmq-ws", "mosquitto-ws"),
          ("mosquitto-ws", "mosquitto-tcp"), ("mosquitto-tcp", "mosquitto-tcp-only")]


class TwoPortBroker(durable.Broker):
    """A broker with a plain MQTT listener (the port durable.Running picks) and a WebSocket
    listener on ws_port, which is picked before each start."""

    def __init__(self, name, title, argv, conf=None):
        super().__init__(name, title, argv, conf)
        self.ws_port = "PORT2"

    def command_text(self):
        saved, self.ws_port = self.ws_port, "PORT2"
        try:
            return super().command_text()
        finally:
            self.ws_port = saved


def brokers(args):
    ringmq = os.path.join(args.build, "ringmq")
    r = TwoPortBroker("ringmq", "ringmq", None)
    r.argv = lambda port, data, conf: [
        ringmq, "--listen", f"127.0.0.1:{port}", "--listen", f"ws://127.0.0.1:{r.ws_port}",
        "--data-dir", str(data), "--log_level", "warning"]
    m = TwoPortBroker("mosquitto", "Mosquitto", None)
    m.argv = lambda port, data, conf: [args.mosquitto, "-c", conf]
    m.conf = lambda port, data: "\n".join(
        [f"listener {port} 127.0.0.1", f"listener {m.ws_port} 127.0.0.1", "protocol websockets",
         # Without it Mosquitto 2.0.11's websockets listener binds every address (*:PORT).
         "socket_domain ipv4"]
        + compare.MOSQUITTO_BASE_CONF + ["set_tcp_nodelay true"]) + "\n"
    alone = durable.Broker("mosquitto-tcp-only", "Mosquitto, TCP listener only",
                           lambda port, data, conf: [args.mosquitto, "-c", conf],
                           lambda port, data: "\n".join(
                               [f"listener {port} 127.0.0.1"] + compare.MOSQUITTO_BASE_CONF
                               + ["set_tcp_nodelay true"]) + "\n")
    return {"ringmq": r, "mosquitto": m, "mosquitto-tcp-only": alone}


def start(b, data, log):
    """durable.Running with the WebSocket port chosen first and waited for too."""
    if not isinstance(b, TwoPortBroker):
        return durable.Running(b, data, log)
    for attempt in range(3):
        b.ws_port = compare.free_port()
        try:
            r = durable.Running(b, data, log)
        except RuntimeError:
            if attempt == 2:
                raise
            continue  # e.g. both free ports were the same one
        if r.port != b.ws_port and compare.wait_accepting(b.ws_port, r.proc):
            return r
        r.kill()
    raise RuntimeError(f"{b.name}: the WebSocket listener did not start")


def main():
    ap = argument_parser(__doc__, rounds=5, scenarios="pairs100,pairs100q1", retries=2)
    ap.add_argument("--no-reference", action="store_true",
                    help="leave out mosquitto-tcp-only (Mosquitto without a WebSocket listener)")
    args = ap.parse_args()
    bench = os.path.join(args.build, "ringmq-bench")
    all_b = brokers(args)
    if args.from_json:
        meta, results = load_runs(args.from_json)
        args.rounds = meta["rounds"]
        md = render(args, all_b, meta["scenarios"], results, meta["bench"], meta["common"],
                    meta["ws_args"], meta)
        finish(args, md, BEGIN, END)
        return
    for exe in (bench, os.path.join(args.build, "ringmq"),
                os.path.join(args.build, "plugins", "websocket", "websocket.so")):
        if not os.path.exists(exe):
            sys.exit(f"{exe} not built (ninja -C {args.build} ringmq ringmq-bench "
                     "plugins/websocket/websocket.so)")
    wanted = scenarios_wanted(args, SCENARIOS)
    common = common_args(args)
    ws_args = ["--transport", "websocket", "--ws_path", WS_PATH]
    meta = run_meta(args, "bench/websocket_compare.py", wanted, common)
    meta.update({"bench": bench, "ws_args": ws_args})
    configs = [n for n in CONFIG_TABLE if n != "mosquitto-tcp-only" or not args.no_reference]
    meta["configs"] = configs
    with tempfile.TemporaryDirectory(prefix="ringmq-websocket-") as tmp:
        os.chmod(tmp, 0o755)  # Mosquitto started as root reads its config as user mosquitto
        results = measure(args, meta, tmp, all_b, {n: CONFIG_TABLE[n][:2] for n in configs},
                          {sid: common + SCENARIOS[sid][1] for sid in wanted}, ws_args)
    finish(args, render(args, all_b, wanted, results, bench, common, ws_args, meta), BEGIN, END)


# --- shared with tls_compare.py: a broker on two ports, the tool to one of them -------------

def argument_parser(doc, rounds, scenarios, retries):
    ap = argparse.ArgumentParser(description=doc,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--rounds", type=int, default=rounds)
    ap.add_argument("--duration", type=float, default=5)
    ap.add_argument("--warmup", type=float, default=1)
    ap.add_argument("--scenarios", default=scenarios)
    ap.add_argument("--mosquitto", default="/usr/sbin/mosquitto")
    ap.add_argument("--output", default=os.path.join(ROOT, "docs", "benchmarks.md"))
    ap.add_argument("--json", default=None, help="also write every run's JSON here")
    ap.add_argument("--from-json", default=None,
                    help="render a --json file of an earlier run (with --note) instead of "
                         "measuring")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--note", action="append", default=[],
                    help="a paragraph for the section (e.g. where the time goes)")
    ap.add_argument("--noise", type=float, default=0.15)
    ap.add_argument("--retries", type=int, default=retries)
    return ap


def load_runs(path):
    """(meta, results) of a --json file."""
    with open(path) as f:
        saved = json.load(f)
    return saved["meta"], {tuple(k.split("/", 1)): runs for k, runs in saved["runs"].items()}


def scenarios_wanted(args, scenarios):
    wanted = args.scenarios.split(",")
    for sid in wanted:
        if sid not in scenarios:
            sys.exit(f"--scenarios: {sid}? ({', '.join(scenarios)})")
    return wanted


def common_args(args):
    return ["--duration", str(args.duration), "--warmup", str(args.warmup), "--progress=false",
            "--threads", "1"]


def run_meta(args, script, wanted, common):
    return {"invocation": " ".join(shlex.quote(a) for a in [script] + sys.argv[1:]),
            "date": datetime.date.today().isoformat(), "load": os.getloadavg()[0],
            "machine": compare.machine_description(), "ringmq": compare.git_describe(),
            "mosquitto": compare.tool_version([args.mosquitto, "-h"]), "rounds": args.rounds,
            "scenarios": wanted, "common": common}


def measure(args, meta, tmp, all_b, configs, scenario_args, port2_args, after_run=None):
    """Every configuration (name -> (broker, on the second port?)) of every scenario
    (id -> the tool's arguments), --rounds times, interleaved run by run; each run on a fresh
    broker (start() in tmp), with port2_args added for the second port. Fills meta's
    elapsed_s and stats, writes --json, returns {(scenario, name): [JSON of each run]}."""
    started = time.monotonic()
    stats = {"retried": 0, "noisy_kept": 0}
    results = {}
    log = open(os.path.join(tmp, "brokers.log"), "w")
    runs = 0

    def once(name, sargs):
        nonlocal runs
        runs += 1
        broker, second = configs[name]
        try:
            r = start(all_b[broker], os.path.join(tmp, str(runs)), log)
        except RuntimeError as e:
            return {"errors": 1, "_exit": -1, "error_samples": [str(e)]}
        try:
            port = all_b[broker].ws_port if second else r.port
            return compare.run_bench(meta["bench"], sargs + (port2_args if second else []), port,
                                     r.proc.pid, [], 600)
        finally:
            r.kill()

    for rnd in range(args.rounds):
        for sid, sargs in scenario_args.items():
            for name in configs:
                j = durable.measured(args, stats, started, f"{sid:10s} {rnd + 1} {name:14s}",
                                     lambda: once(name, sargs))
                if after_run:
                    after_run(sid, j)
                results.setdefault((sid, name), []).append(j)
    log.close()
    meta["elapsed_s"] = time.monotonic() - started
    meta["stats"] = stats
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"meta": meta,
                       "runs": {f"{sid}/{n}": runs for (sid, n), runs in results.items()}},
                      f, indent=1)
    return results


def finish(args, md, begin, end):
    if args.no_write:
        print(md)
        return
    compare.write_section(args.output, md, begin, end)
    print(f"wrote {os.path.relpath(args.output, os.getcwd())}", file=sys.stderr)


def provenance(meta, results, what):
    """The paragraph that says how, when and on what the figures were made."""
    kept = [j for runs in results.values() for j in runs]
    worst = max((j.get("_other_cores", 0) for j in kept), default=0)
    stats = meta["stats"]
    return (f"Generated {meta['date']} by `{meta['invocation']}` in "
            f"{meta['elapsed_s'] / 60:.0f} minutes. Machine: {meta['machine']}. ringmq "
            f"{meta['ringmq']}; {meta['mosquitto']}. Noise: load "
            f"average {meta['load']:.2f} at the start; other processes used at most {worst:.2f} "
            f"cores during any kept run ({stats['retried']} runs repeated; {stats['noisy_kept']} "
            f"kept anyway). Medians of {meta['rounds']} runs per cell, the configurations "
            f"interleaved run by run; {what}")


def med(results, sid, name, metric):
    return compare.median([compare.value(metric, j) for j in results.get((sid, name), [])])


def table(out, results, sid, configs, config_table=CONFIG_TABLE, ratios=RATIOS, metrics=METRICS):
    ratios = [(a, b) for a, b in ratios if a in configs and b in configs]
    header = ["metric"] + [config_table[n][2] for n in configs] + [f"{a} / {b}" for a, b in ratios]
    out.append("| " + " | ".join(header) + " |")
    out.append("|" + "---|" * len(header))
    for m in metrics:
        label, _, better = m
        meds = {n: med(results, sid, n, m) for n in configs}
        if all(v is None for v in meds.values()):
            continue
        row = [f"{label} ({better} is better)"] + [compare.fmt(meds[n], label) for n in configs]
        row += [compare.ratio(meds[a], meds[b]) for a, b in ratios]
        out.append("| " + " | ".join(row) + " |")
    out.append("")


def verdicts(out, results, wanted):
    throughput = METRICS[0]
    per_cpu = METRICS[1]
    for sid in wanted:
        ws = med(results, sid, "ringmq-ws", throughput)
        tcp = med(results, sid, "ringmq-tcp", throughput)
        mws = med(results, sid, "mosquitto-ws", throughput)
        ws_cpu = med(results, sid, "ringmq-ws", per_cpu)
        tcp_cpu = med(results, sid, "ringmq-tcp", per_cpu)
        if not ws or not tcp:
            continue
        met = "met" if ws / tcp >= TARGET else "NOT met"
        line = (f"- {SCENARIOS[sid][0]}: ringmq over WebSocket reaches {ws / tcp:.2f}x of its TCP "
                f"throughput (target >= {TARGET:.2f}x: {met})")
        if ws_cpu and tcp_cpu:
            line += f", {ws_cpu / tcp_cpu:.2f}x of its messages per broker CPU-second"
        if mws:
            line += f"; {ws / mws:.2f}x of Mosquitto over WebSocket"
        out.append(line + ".")
    # How far one configuration's own runs spread: ratios closer to 1 than this are noise.
    spreads = []
    for sid in wanted:
        for name in ("ringmq-tcp", "ringmq-ws"):
            for m in (throughput, per_cpu):
                vals = [compare.value(m, j) for j in results.get((sid, name), [])]
                vals = [v for v in vals if v]
                if len(vals) > 1:
                    spreads.append((max(vals) - min(vals)) / compare.median(vals))
    if spreads:
        out.append(f"- Spread: the runs of one ringmq configuration differ by up to "
                   f"{100 * max(spreads):.0f}% of their median (throughput or messages per broker "
                   f"CPU-second; max - min over median).")
    out.append("")


def render(args, all_b, wanted, results, bench, common, ws_args, meta):
    out = [f"## {TITLE}", ""]
    out.append(provenance(meta, results, "each run on a freshly started broker (listening on "
                          "both ports but for the reference), the load tool on one thread."))
    out.append("")
    verdicts(out, results, wanted)
    for sid in wanted:
        out.append(f"**{SCENARIOS[sid][0]}**")
        out.append("")
        table(out, results, sid, meta["configs"])
    compare.failures(out, results)
    for note in args.note:
        out.append(note)
        out.append("")
    out.append("Commands (PORT and PORT2 free loopback ports, DIR a fresh folder, CONF the file "
               "this script writes):")
    out.append("")
    out.append("```sh")
    # Shown as in a checkout's build/ even when --build pointed elsewhere.
    shown = brokers(argparse.Namespace(build=os.path.join(ROOT, "build"), mosquitto=args.mosquitto))
    for name in sorted({CONFIG_TABLE[n][0] for n in meta["configs"]}):
        out.append(f"# {name}: {shown[name].command_text()}")
    rel = "build/ringmq-bench"
    for sid in wanted:
        sargs = common + SCENARIOS[sid][1]
        out.append(f"{rel} {' '.join(sargs)} --port PORT --broker-pid PID  # {sid}, *-tcp")
        out.append(f"{rel} {' '.join(sargs + ws_args)} --port PORT2 --broker-pid PID  "
                   f"# {sid}, *-ws")
    out.append("```")
    return "\n".join(out)


if __name__ == "__main__":
    main()
