#!/usr/bin/python3
"""Concurrent chat users, ringmq against Mosquitto (issue 13, docs/benchmarks.md "The
messenger"): how many users of the messenger (docs/messenger.md) one broker holds, with their
traffic, over WebSocket.

A messenger user holds one MQTT 5 connection over WebSocket with a persistent session (Clean
Start 0, Session Expiry 7 days), keep alive 30 s, its inbox subscribed at QoS 1; it sends a
direct message (QoS 1) every --interval seconds (10) and two typing notices (QoS 0: typing
true, then false) per message. ringmq-bench has no scenario in which one connection both
publishes and subscribes, so the users are modelled with its `pairs` scenario in two tool
processes (each holds half the connections; the machine allows 20,000 open files per
process), each connection standing for one user:

  dm      --scenario pairs --pairs U/4 --qos 1 --rate 4/interval --payload 120
          U/2 connections: U/4 send direct messages (QoS 1, 120-byte payload: the size of the
          messenger's {"id","ts","text"} JSON with 60 characters of text), U/4 receive them
          on their subscription (QoS 1); U/4 x 4/interval = U/interval messages per second,
          what U users send;
  typing  --scenario pairs --pairs U/4 --qos 0 --rate 8/interval --payload 32
          the other U/2 connections: 2 U/interval typing notices per second (32 bytes:
          {"ts":MS,"typing":true}), QoS 0;
  both    --transport websocket --mqtt-version 5 --noclean --session-expiry 604800
          --keepalive 30 (a PINGREQ after 15 s without sending: the receivers of typing
          notices never send otherwise).

So the broker holds U WebSocket connections with persistent sessions, U/2 subscriptions,
and routes U/interval QoS 1 messages (PUBLISH, PUBACK both legs) and 2 U/interval QoS 0
messages a second: the messenger's load for U users, but with each connection either sending
or receiving (a real user does both; per message the broker does the same work). Presence,
receipts and rooms are left out.

The typing tool starts first; once its connections are up, the dm tool connects, warms up
and measures (--duration); the typing tool then gets SIGINT. Broker CPU and RSS are read by
the dm tool (--broker-pid) over its window, while both loads run; latency and loss are the
dm tool's (QoS 1, end to end: sender -> broker -> receiver), the typing p99 is reported too.

Brokers: ringmq with its defaults as scripts/run starts it (SQLite store in --data-dir,
persistent sessions written there) with a ws:// listener; Debian's Mosquitto with a
websockets listener (socket_domain ipv4: 127.0.0.1 only) and `persistence true` (its
in-memory state saved to mosquitto.db every autosave_interval, 30 min, and at exit: no disk
work during a run). Each run on a freshly started broker; rounds interleave the brokers
(ringmq U1, Mosquitto U1, ringmq U2, ...), cells are medians of --rounds runs.

  bench/messenger/chat_users.py --rounds 3 --users 2000,5000,10000,18000 --json FILE
  bench/messenger/chat_users.py --rounds 1 --users 2000 --duration 10   # a quick look
  bench/messenger/chat_users.py --from-json FILE                        # the table again
--brokers ringmq,mosquitto (default) or with ringmq-memory: ringmq with --persistence memory,
the store's share of the cost. Users must be multiples of 4; each tool holds users / 2
connections, the broker all of them (mind the open-files limit of each process).
"""

import argparse
import datetime
import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import compare  # noqa: E402

ROOT = compare.ROOT
MOSQUITTO_CONF = [
    "allow_anonymous true", "persistence true", "log_dest stderr", "log_type error",
    "log_type warning", "connection_messages false", "set_tcp_nodelay true",
    # Started as root, Mosquitto would switch to user mosquitto; stay root so it can write
    # its persistence file into the run's temporary folder.
    "user root",
]
COMMON = ["--transport", "websocket", "--ws_path", "/mqtt", "--mqtt-version", "5", "--noclean",
          "--session-expiry", "604800", "--keepalive", "30", "--threads", "1",
          "--connect-timeout", "300"]


def start_broker(kind, args, tmp, n):
    data = os.path.join(tmp, f"{kind}-{n}")
    os.makedirs(data)
    log = open(os.path.join(data, "broker.log"), "w")
    for _ in range(5):
        ws = compare.free_port()
        tcp = compare.free_port()
        if ws == tcp:
            continue
        if kind.startswith("ringmq"):
            argv = [os.path.join(args.build, "ringmq"), "--listen", f"127.0.0.1:{tcp}",
                    "--listen", f"ws://127.0.0.1:{ws}", "--data-dir", data,
                    "--log_level", "warning"]
            if kind == "ringmq-memory":  # reference: no store (sessions and queues in memory)
                argv += ["--persistence", "memory"]
        else:
            conf = os.path.join(data, "mosquitto.conf")
            with open(conf, "w") as f:
                f.write("\n".join([f"listener {tcp} 127.0.0.1", f"listener {ws} 127.0.0.1",
                                   "protocol websockets", "socket_domain ipv4",
                                   f"persistence_location {data}/"] + MOSQUITTO_CONF) + "\n")
            argv = [args.mosquitto, "-c", conf]
        proc = subprocess.Popen(argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        if compare.wait_accepting(ws, proc) and compare.wait_accepting(tcp, proc):
            return proc, ws, argv
        stop(proc)
    raise RuntimeError(f"{kind} did not start (see {data}/broker.log)")


def stop(proc, sig=signal.SIGTERM):
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Tool:
    """One ringmq-bench process; its stderr is read for the 'connected' line."""

    def __init__(self, argv):
        self.argv = argv
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL, text=True)
        self.connected = threading.Event()
        self.err = []
        self.out = ""
        threading.Thread(target=self._stderr, daemon=True).start()

    def _stderr(self):
        for line in self.proc.stderr:
            self.err.append(line)
            if line.startswith("connected "):
                self.connected.set()
        self.connected.set()

    def result(self, timeout):
        out, _ = self.proc.communicate(timeout=timeout)
        try:
            return json.loads(out)
        except json.JSONDecodeError:
            return {"errors": 1, "error_samples": ["no JSON: " + "".join(self.err[-5:])]}


def once(kind, users, args, tmp, n, bench):
    proc, ws, argv = start_broker(kind, args, tmp, n)
    quarter = users // 4
    prefix = f"cu{os.getpid()}r{n}"
    dm_rate = 4 / args.interval
    typing_rate = 8 / args.interval
    typing_argv = [bench, "--scenario", "pairs", "--pairs", str(quarter), "--qos", "0",
                   "--rate", f"{typing_rate:g}", "--payload", "32", "--port", str(ws),
                   "--topic-prefix", "msgr/typing", "--client-prefix", prefix + "t",
                   "--duration", "3600", "--warmup", "0", "--progress=true"] + COMMON
    dm_argv = [bench, "--scenario", "pairs", "--pairs", str(quarter), "--qos", "1",
               "--rate", f"{dm_rate:g}", "--payload", "120", "--port", str(ws),
               "--topic-prefix", "msgr/dm", "--client-prefix", prefix + "d",
               "--duration", str(args.duration), "--warmup", str(args.warmup),
               "--broker-pid", str(proc.pid), "--progress=true"] + COMMON
    load = os.getloadavg()[0]
    busy0, irq0 = compare.cpu_times()
    t0 = time.monotonic()
    typing = dm = None
    try:
        typing = Tool(typing_argv)
        typing.connected.wait(600)
        dm = Tool(dm_argv)
        j = dm.result(900)
        typing.proc.send_signal(signal.SIGINT)
        tj = typing.result(120)
    finally:
        for t in (typing, dm):
            if t and t.proc.poll() is None:
                t.proc.kill()
                t.proc.wait()
        stop(proc)
    elapsed = time.monotonic() - t0
    busy1, irq1 = compare.cpu_times()
    j["_typing"] = {k: tj.get(k) for k in ("latency_p50_us", "latency_p99_us", "sent", "received",
                                          "expected", "lost", "connections", "connect_time_ms",
                                          "errors", "error_samples", "pings", "pongs")}
    j["_users"] = users
    j["_load"] = load
    j["_progress"] = dm.err  # the dm tool's once-a-second lines (p99 of each second)
    j["_machine_busy_cores"] = (busy1 - busy0 + irq1 - irq0) / elapsed
    j["_argv"] = {"broker": argv, "typing": typing_argv, "dm": dm_argv}
    return j


def median(xs):
    xs = sorted(x for x in xs if x is not None)
    if not xs:
        return None
    m = len(xs) // 2
    return xs[m] if len(xs) % 2 else (xs[m - 1] + xs[m]) / 2


def cpu_pct(j):
    return 100 * j["broker_cpu_s"] / j["duration_s"] if j.get("duration_s") else None


def loss_pct(j):
    return 100 * j["lost"] / j["expected"] if j.get("expected") else None


def typing_p99_ms(j):
    v = j.get("_typing", {}).get("latency_p99_us")
    return v / 1000 if v is not None else None


METRICS = [
    ("broker CPU, % of one core", cpu_pct, "{:.1f}"),
    ("broker RSS, MiB", lambda j: j.get("broker_rss_kb", 0) / 1024, "{:.0f}"),
    ("broker RSS per user, KiB", lambda j: j.get("broker_rss_kb", 0) / j["_users"], "{:.1f}"),
    ("direct message latency p50, ms", lambda j: j["latency_p50_us"] / 1000, "{:.2f}"),
    ("direct message latency p99, ms", lambda j: j["latency_p99_us"] / 1000, "{:.2f}"),
    ("typing (QoS 0) latency p99, ms", typing_p99_ms, "{:.2f}"),
    ("direct messages lost, %", loss_pct, "{:.3f}"),
    ("messages per second (QoS 1 + QoS 0)",
     lambda j: j["_users"] / j["_interval"] * 3, "{:,.0f}"),
    ("connect time, dm tool (U/2 connections), s", lambda j: j["connect_time_ms"] / 1000,
     "{:.1f}"),
    ("machine busy during the run (every process), cores",
     lambda j: j.get("_machine_busy_cores"), "{:.2f}"),
]


RATIO_METRICS = {"broker CPU, % of one core", "broker RSS, MiB", "broker RSS per user, KiB",
                 "direct message latency p50, ms", "direct message latency p99, ms",
                 "typing (QoS 0) latency p99, ms"}
# shown as "median (min-max)": what the shared machine does to them
RANGE_METRICS = {"broker CPU, % of one core", "direct message latency p50, ms",
                 "direct message latency p99, ms"}
TITLES = {"ringmq": "ringmq", "ringmq-memory": "ringmq, no store", "mosquitto": "Mosquitto"}


def cell(results, b, u, f):
    vals = []
    for j in results.get((b, u), []):
        try:
            vals.append(f(j))
        except (KeyError, TypeError, ZeroDivisionError):
            pass
    return median(vals)


def render(meta, results, users_list, args):
    """One row per (users, broker), a ratio row ringmq / Mosquitto per user count."""
    out = []
    out.append(f"Generated {meta['date']} by `{meta['invocation']}` in "
               f"{meta['elapsed_s'] / 60:.0f} minutes. Machine: {meta['machine']}. ringmq "
               f"{meta['ringmq']}; {meta['mosquitto']}. Load average {meta['load']:.2f} at "
               f"the start. Medians of {args.rounds} runs per cell, brokers interleaved run by "
               f"run, each run on a fresh broker; a user sends a direct message every "
               f"{meta['interval']:g} s.")
    out.append("")
    brokers = meta["brokers"]
    out.append("| users | broker | " + " | ".join(label for label, _, _ in METRICS) + " |")
    out.append("|---|---|" + "---|" * len(METRICS))
    for u in users_list:
        for b in brokers:
            cells = []
            for label, f, fmt in METRICS:
                m = cell(results, b, u, f)
                text = fmt.format(m) if m is not None else "-"
                if label in RANGE_METRICS and len(results.get((b, u), [])) > 1:
                    vals = [f(j) for j in results[(b, u)]]
                    text += f" ({fmt.format(min(vals))}-{fmt.format(max(vals))})"
                cells.append(text)
            out.append(f"| {u:,} | {TITLES[b]} | " + " | ".join(cells) + " |")
        if "ringmq" in brokers and "mosquitto" in brokers:
            cells = []
            for label, f, _ in METRICS:
                x, y = cell(results, "ringmq", u, f), cell(results, "mosquitto", u, f)
                ok = x is not None and y and label in RATIO_METRICS
                cells.append((f"{x / y:.2f}x" if x / y >= 0.1 else f"{x / y:.3f}x") if ok else "")
            out.append(f"| {u:,} | ringmq / Mosquitto | " + " | ".join(cells) + " |")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--mosquitto", default="/usr/sbin/mosquitto")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--users", default="2000,5000,10000,18000")
    ap.add_argument("--interval", type=float, default=10,
                    help="seconds between two direct messages of a user")
    ap.add_argument("--duration", type=float, default=30)
    ap.add_argument("--warmup", type=float, default=5)
    ap.add_argument("--brokers", default="ringmq,mosquitto")
    ap.add_argument("--json", default=None, help="write every run's JSON here")
    ap.add_argument("--from-json", default=None, help="render a --json file instead")
    args = ap.parse_args()
    if args.from_json:
        with open(args.from_json) as f:
            saved = json.load(f)
        meta = saved["meta"]
        results = {}
        for k, runs in saved["runs"].items():
            b, u = k.rsplit("/", 1)
            results[(b, int(u))] = runs
        args.rounds = meta["rounds"]
        print(render(meta, results, meta["users"], args))
        return
    bench = os.path.join(args.build, "ringmq-bench")
    users_list = [int(u) for u in args.users.split(",")]
    for u in users_list:
        if u % 4:
            sys.exit(f"--users: {u} is not a multiple of 4")
    meta = {"invocation": " ".join(shlex.quote(a) for a in ["bench/messenger/chat_users.py"]
                                   + sys.argv[1:]),
            "date": datetime.date.today().isoformat(), "load": os.getloadavg()[0],
            "machine": compare.machine_description(), "ringmq": compare.git_describe(),
            "mosquitto": compare.tool_version([args.mosquitto, "-h"]), "rounds": args.rounds,
            "users": users_list, "interval": args.interval,
            "brokers": args.brokers.split(",")}
    results = {}
    started = time.monotonic()
    n = 0
    with tempfile.TemporaryDirectory(prefix="ringmq-chat-users-") as tmp:
        for rnd in range(args.rounds):
            for u in users_list:
                for b in meta["brokers"]:
                    n += 1
                    j = once(b, u, args, tmp, n, bench)
                    j["_interval"] = args.interval
                    results.setdefault((b, u), []).append(j)
                    print(f"round {rnd + 1} {b:9s} users {u:6d}: cpu {cpu_pct(j) or 0:5.1f}% "
                          f"rss {j.get('broker_rss_kb', 0) / 1024:6.0f} MiB "
                          f"p50 {j.get('latency_p50_us', 0) / 1000:7.2f} ms "
                          f"p99 {j.get('latency_p99_us', 0) / 1000:7.2f} ms "
                          f"lost {j.get('lost')}/{j.get('expected')} "
                          f"typing p99 {typing_p99_ms(j) or 0:.2f} ms "
                          f"errors {j.get('errors')} {j.get('error_samples', [])[:2]} "
                          f"typing errors {j['_typing'].get('error_samples')} "
                          f"load {j['_load']:.2f}", file=sys.stderr, flush=True)
                    if args.json:
                        with open(args.json, "w") as f:
                            json.dump({"meta": meta, "runs": {f"{b}/{u}": r for (b, u), r
                                                              in results.items()}}, f, indent=1)
    meta["elapsed_s"] = time.monotonic() - started
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "runs": {f"{b}/{u}": r for (b, u), r in results.items()}},
                      f, indent=1)
    print(render(meta, results, users_list, args))


if __name__ == "__main__":
    main()
