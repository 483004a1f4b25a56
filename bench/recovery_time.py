#!/usr/bin/python3
"""Recovery time (issue 10): how long ringmq takes to come back with N queued messages.

For each N in --sizes: a fresh ringmq (SQLite store, --sync normal) is filled by ringmq-bench
--scenario offline with N QoS 1 messages for --sessions offline persistent sessions (one
publisher per session, each message queued for one session: N message bodies and N queue
rows), every one acknowledged, i.e. committed; then the broker is killed with SIGKILL and
started again on the same --data-dir, --restarts times (each restart killed with SIGKILL as
well, so every start recovers from a crash). Per restart:

  exec -> "listening"   from starting the process to the "listening" line on its stdout
                        (printed once the store was read and the shard threads started);
  store read            the broker's own "store ...: N records recovered in X ms" (stderr,
                        --log_level info): dropping what expired plus reading every record;
  exec -> shards ready  to the last "shard=K recovered ..." log line: the shards rebuild
                        their sessions and queues after "listening" and only then serve;
  exec -> CONNACK       a client connecting as soon as the port accepts gets its CONNACK.

Medians of the restarts, and the store's files after the fill. Writes a markdown section into
docs/benchmarks.md between <!-- recovery:begin --> and <!-- recovery:end -->. Standard
library only.

  bench/recovery_time.py                          # 100,000 and 1,000,000 messages
  bench/recovery_time.py --sizes 0,100000 --no-write
"""

import argparse
import datetime
import json
import os
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402  (free_port, machine facts)

ROOT = compare.ROOT
BEGIN = "<!-- recovery:begin -->"
END = "<!-- recovery:end -->"
TITLE = "Recovery time (issue 10)"
TARGETS_MS = {100_000: 1000, 1_000_000: 5000}

STORE_LINE = re.compile(r"store (\S+): (\d+) records recovered in (\d+) ms")
SHARD_LINE = re.compile(r"^(\S+Z) .*shard=(\d+) recovered")
# MQTT 3.1.1 CONNECT, clean session, keep alive 60, client id "recovery-probe".
CONNECT = bytes([0x10, 26, 0, 4]) + b"MQTT" + bytes([4, 2, 0, 60, 0, 14]) + b"recovery-probe"


def broker_argv(ringmq, port, data, n, extra):
    return [ringmq, "--listen", f"127.0.0.1:{port}", "--data-dir", data, "--log_level", "info",
            "--max-queued-messages", str(max(n, 1000)), "--max-queued-bytes", str(1 << 34),
            "--max-queued-bytes-total", str(1 << 38)] + extra


def log_time(stamp):
    """Epoch seconds of a log timestamp like 2026-12-04T07:23:39.894Z."""
    dt = datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ")
    return dt.replace(tzinfo=datetime.timezone.utc).timestamp()


def read_line(proc, until, pattern):
    """Lines of proc's stdout until one contains `pattern`: (monotonic time, line) or None."""
    while time.monotonic() < until:
        line = proc.stdout.readline()
        if not line:
            return None
        if pattern in line:
            return time.monotonic(), line.strip()
    return None


def connack(port, until):
    """Connects as soon as the port accepts and waits for the CONNACK: its monotonic time."""
    while time.monotonic() < until:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
                s.sendall(CONNECT)
                got = b""
                while len(got) < 4:
                    chunk = s.recv(4 - len(got))
                    if not chunk:
                        break
                    got += chunk
                if len(got) == 4 and got[0] == 0x20:
                    return time.monotonic()
        except OSError:
            time.sleep(0.002)
    return None


def file_sizes(data):
    sizes = {}
    for name in ("ringmq.db", "ringmq.db-wal", "ringmq.db-shm"):
        p = os.path.join(data, name)
        sizes[name] = os.path.getsize(p) if os.path.exists(p) else 0
    return sizes


def kill(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


def fill(args, bench, ringmq, data, n, log):
    """A fresh broker on `data` takes n queued messages; killed with SIGKILL afterwards."""
    port = compare.free_port()
    argv = broker_argv(ringmq, port, data, n, shlex.split(args.ringmq_args))
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=log, text=True)
    try:
        if read_line(proc, time.monotonic() + 30, "listening") is None:
            raise RuntimeError("the broker did not start: " + " ".join(argv))
        if n == 0:
            return {"acked_total": 0, "fill_s": 0}
        sargs = fill_args(args, n) + ["--port", str(port), "--broker-pid", str(proc.pid)]
        t0 = time.monotonic()
        p = subprocess.run([bench] + sargs, stdout=subprocess.PIPE, text=True, timeout=1800)
        j = json.loads(p.stdout)
        j["fill_s"] = time.monotonic() - t0
        j["_exit"] = p.returncode
        if j.get("acked_total") != n or j.get("ack_failures_total") or j.get("unacked"):
            raise RuntimeError(f"fill of {n}: acked {j.get('acked_total')}, refused "
                               f"{j.get('ack_failures_total')}, unacked {j.get('unacked')}")
        return j
    finally:
        kill(proc)


def fill_args(args, n):
    s = args.sessions
    return ["--scenario", "offline", "--qos", "1", "--subscribers", str(s), "--publishers",
            str(s), "--offline-groups", str(s), "--messages", str(n // s), "--warmup", "0",
            "--duration", "1800", "--progress=false"]


def restart(args, ringmq, data, n, errpath):
    """One start on an existing store: the timings of its way up; killed afterwards."""
    port = compare.free_port()
    argv = broker_argv(ringmq, port, data, n, shlex.split(args.ringmq_args))
    with open(errpath, "w") as err:
        wall0 = time.time()
        t0 = time.monotonic()
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err, text=True)
        try:
            until = t0 + 300
            listening = read_line(proc, until, "listening")
            if listening is None:
                raise RuntimeError("the broker did not start: " + " ".join(argv))
            ready = connack(port, until)
        finally:
            kill(proc)
    r = {"listening_ms": (listening[0] - t0) * 1e3,
         "connack_ms": (ready - t0) * 1e3 if ready else None}
    shards = []
    with open(errpath) as f:
        for line in f:
            m = STORE_LINE.search(line)
            if m:
                r["records"] = int(m.group(2))
                r["store_read_ms"] = int(m.group(3))
            m = SHARD_LINE.search(line)
            if m:
                shards.append(log_time(m.group(1)))
    if shards:
        r["shards_ready_ms"] = (max(shards) - wall0) * 1e3
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--sizes", default="100000,1000000", help="queued messages, comma-separated")
    ap.add_argument("--sessions", type=int, default=100)
    ap.add_argument("--restarts", type=int, default=3)
    ap.add_argument("--ringmq-args", default="--sync normal",
                    help="extra arguments for build/ringmq")
    ap.add_argument("--output", default=os.path.join(ROOT, "docs", "benchmarks.md"))
    ap.add_argument("--json", default=None)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()

    bench = os.path.join(args.build, "ringmq-bench")
    ringmq = os.path.join(args.build, "ringmq")
    for exe in (bench, ringmq):
        if not os.access(exe, os.X_OK):
            sys.exit(f"{exe} not built (ninja -C {args.build})")
    sizes = [int(s) for s in args.sizes.split(",")]
    for n in sizes:
        if n % args.sessions:
            sys.exit(f"--sizes: {n} is not a multiple of --sessions {args.sessions}")
    load = os.getloadavg()[0]
    started = time.monotonic()
    rows = []
    with tempfile.TemporaryDirectory(prefix="ringmq-recovery-") as tmp:
        log = open(os.path.join(tmp, "fill.log"), "w")
        for n in sizes:
            data = os.path.join(tmp, f"data{n}")
            f = fill(args, bench, ringmq, data, n, log)
            sizes_after = file_sizes(data)
            print(f"[{time.monotonic() - started:5.0f}s] {n:>9,} filled in {f['fill_s']:.1f} s "
                  f"({f.get('throughput', 0):,.0f}/s), files {sizes_after}", file=sys.stderr)
            runs = []
            for i in range(args.restarts):
                r = restart(args, ringmq, data, n, os.path.join(tmp, f"restart{n}-{i}.log"))
                runs.append(r)
                print(f"[{time.monotonic() - started:5.0f}s] {n:>9,} restart {i + 1}: {r}",
                      file=sys.stderr)
            rows.append({"n": n, "fill": {k: f.get(k) for k in ("fill_s", "throughput")},
                         "files": sizes_after, "restarts": runs})
            shutil.rmtree(data, ignore_errors=True)
        log.close()
    if args.json:
        with open(args.json, "w") as fj:
            json.dump(rows, fj, indent=1)
    md = render(args, rows, bench, ringmq, load, time.monotonic() - started)
    if args.no_write:
        print(md)
        return
    compare.write_section(args.output, md, BEGIN, END)
    print(f"wrote {os.path.relpath(args.output, os.getcwd())}", file=sys.stderr)


def med(runs, key):
    values = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(values) if values else None


def ms(v):
    return "-" if v is None else f"{v:,.0f}"


def each(runs, key):
    return " / ".join(ms(r.get(key)) for r in runs)


def mib(b):
    return f"{b / 2**20:,.1f} MiB"


def render(args, rows, bench, ringmq, load, elapsed):
    out = [f"## {TITLE}", ""]
    invocation = " ".join(shlex.quote(a) for a in ["bench/recovery_time.py"] + sys.argv[1:])
    out.append(f"Generated {datetime.date.today().isoformat()} by `{invocation}` in "
               f"{elapsed / 60:.0f} minutes. Machine: {compare.machine_description()}. ringmq "
               f"{compare.git_describe()}. Load average {load:.2f} at the start.")
    out.append("")
    out.append(
        f"A fresh ringmq (`{args.ringmq_args}`) takes N QoS 1 messages for {args.sessions} "
        "offline persistent sessions (ringmq-bench --scenario offline, one publisher per "
        "session, each message queued for one session: N bodies and N queue rows), each one "
        "acknowledged, so committed; then SIGKILL, and the broker is started again on the same "
        f"data folder {args.restarts} times, each start also ended with SIGKILL (every start "
        "recovers from a crash, with the WAL as the crash left it). \"exec -> listening\": from "
        "starting the process to its \"listening\" line on stdout; \"store read\": the "
        "broker's own log line `store ...: N records recovered in X ms` (stderr, "
        "`--log_level info`); \"exec -> shards ready\": to the last shard's `shard=K recovered "
        "...` log line (the shards rebuild sessions and queues after \"listening\" is printed, "
        "and take no connection before); \"exec -> CONNACK\": a client that connects as soon as "
        "the port accepts gets its CONNACK. Medians, then each restart in order.")
    out.append("")
    header = ["queued messages", "files after the fill (db / wal / shm)", "records recovered",
              "store read, ms", "exec -> listening, ms", "exec -> shards ready, ms",
              "exec -> CONNACK, ms", "target", "met"]
    out.append("| " + " | ".join(header) + " |")
    out.append("|" + "---|" * len(header))
    verdicts = []
    for row in rows:
        n, runs, files = row["n"], row["restarts"], row["files"]
        target = TARGETS_MS.get(n)
        listening = med(runs, "listening_ms")
        connack_ms = med(runs, "connack_ms")
        met = "-"
        if target is not None and listening is not None:
            met = "yes" if listening < target else "no"
            worst = max(v for v in (listening, connack_ms) if v is not None)
            verdicts.append(f"- {n:,} messages: < {target / 1000:g} s to \"listening\": "
                            f"**{'met' if listening < target else 'not met'}**, "
                            f"{listening:,.0f} ms (median; first restart "
                            f"{runs[0]['listening_ms']:,.0f} ms); to the first CONNACK "
                            f"{ms(connack_ms)} ms" + (", also under the target" if worst < target
                                                      else ", over the target") + ".")
        records = runs[0].get("records") if runs else None
        out.append("| " + " | ".join([
            f"{n:,}",
            " / ".join(mib(files[k]) for k in ("ringmq.db", "ringmq.db-wal", "ringmq.db-shm")),
            "-" if records is None else f"{records:,}",
            f"{ms(med(runs, 'store_read_ms'))} ({each(runs, 'store_read_ms')})",
            f"{ms(listening)} ({each(runs, 'listening_ms')})",
            f"{ms(med(runs, 'shards_ready_ms'))} ({each(runs, 'shards_ready_ms')})",
            f"{ms(connack_ms)} ({each(runs, 'connack_ms')})",
            "-" if target is None else f"< {target / 1000:g} s",
            met]) + " |")
    out.append("")
    fills = [f"{r['n']:,} in {r['fill']['fill_s']:.1f} s ({r['fill']['throughput'] or 0:,.0f} "
             "acknowledged msgs/s)" for r in rows if r["n"]]
    if fills:
        out.append("Filling took " + "; ".join(fills) + ".")
        out.append("")
    if verdicts:
        out.append("Targets:")
        out.append("")
        out.extend(verdicts)
        out.append("")
    out.append("Commands (PORT a free loopback port, DIR the data folder, N the size, S the "
               "sessions):")
    out.append("")
    out.append("```sh")
    argv = broker_argv(ringmq, "PORT", "DIR", 0, shlex.split(args.ringmq_args))
    argv[argv.index("--max-queued-messages") + 1] = "max(N,1000)"
    out.append(" ".join(argv).replace(ROOT + os.sep, "")
               + "    # fill, then 3 x (start, CONNECT, kill -9)")
    fa = fill_args(args, args.sessions)
    fa[fa.index("--messages") + 1] = "N/S"
    out.append(os.path.relpath(bench, ROOT) + " " + " ".join(fa) + " --port PORT --broker-pid PID")
    out.append("```")
    return "\n".join(out)


if __name__ == "__main__":
    main()
