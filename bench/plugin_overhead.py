#!/usr/bin/python3
"""What the shipped plugins cost (issue 11): throughput with auth_file + ACL + message_log
against no plugins, and the connection rate with argon2id passwords against Mosquitto with a
password file, with ringmq-bench. Every run on a freshly started broker on a free 127.0.0.1
port, brokers interleaved run by run (A B C A B C ...).

Throughput (--scenarios pairs100,pairs100q1): every client sends user "bench" and its password.
  ringmq           no plugins (the credentials are ignored)
  ringmq-auth      auth_file: password file + an ACL granting bench/# to user bench
  ringmq-all       auth_file + ACL + message_log (one JSON line per published message)
  The password here is hashed with the cheapest argon2id libsodium allows (1 pass, 8 KiB):
  what is measured is the per-message cost, and 200 connections at ~0.2 s a check would
  spend the run connecting. verify_queue is raised to 1,000 so a burst of 100 CONNECTs
  waits instead of being refused.

Connection rate (--scenarios connect): --connections clients connect with user "bench", at
most 32 CONNECTs in progress (auth_file's default verify_queue), and the time until every
CONNACK came is measured.
  ringmq-argon2    auth_file with ringmq-passwd's default hash (argon2id, 2 passes, 64 MiB)
                   on its 2 verifier threads
  mosquitto-passwd Mosquitto with a mosquitto_passwd file (its default hash)
  ringmq-auth      auth_file with the cheapest argon2id (the plugin's path without the hash)
  ringmq-anon      ringmq without plugins (what a connection costs without a password)
While ringmq-argon2's connections are checked, 10 other pairs (a cheap password) publish 100
msgs/s each: their latency against the same run without the connection storm shows whether a
shard waited for a hash ("storm" rows).

Writes a markdown section into docs/benchmarks.md between <!-- plugins:begin --> and
<!-- plugins:end -->. Standard library only; helpers from compare.py and durable.py.

  bench/plugin_overhead.py                     # ~15 minutes
  bench/plugin_overhead.py --rounds 1 --duration 2 --connections 50 --no-write
"""

import argparse
import datetime
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402
import durable  # noqa: E402

ROOT = compare.ROOT
BEGIN = "<!-- plugins:begin -->"
END = "<!-- plugins:end -->"
USER = "bench"
PASSWORD = "bench-password"
FAST_USER = "fast"  # the storm's publishers: a cheap hash, so only the storm is slow

THROUGHPUT_SCENARIOS = {
    "pairs100": ("100 pairs, unlimited (window 16), QoS 0", ["--scenario", "pairs", "--pairs", "100"]),
    "pairs100q1": ("100 pairs, unlimited (window 16), QoS 1",
                   ["--scenario", "pairs", "--pairs", "100", "--qos", "1"]),
}
TRAFFIC = [
    ("throughput, msg/s", "throughput", "higher"),
    ("msgs per broker CPU-s", "msgs_per_broker_cpu_s", "higher"),
    ("latency p50, us", "latency_p50_us", "lower"),
    ("latency p99, us", "latency_p99_us", "lower"),
    ("message_log lines written / messages published", "_log_ratio", "higher"),
]
CONNECT = [
    ("connections per second", "_connects_per_s", "higher"),
    ("time until every CONNACK, ms", "connect_time_ms", "lower"),
    ("refused or failed connections", "connect_failures", "lower"),
]
STORM = [
    ("latency p50, us", "latency_p50_us", "lower"),
    ("latency p99, us", "latency_p99_us", "lower"),
    ("latency max, us", "latency_max_us", "lower"),
    ("messages lost", "lost", "lower"),
]


def passwd_file(tool, path, users):
    """users: (name, extra ringmq-passwd options)."""
    for name, opts in users:
        subprocess.run([tool, "--stdin"] + opts + [path, "add", name], input=PASSWORD + "\n",
                       text=True, check=True, stdout=subprocess.DEVNULL)
    os.chmod(path, 0o644)


def plugin_config(build, passwords, acl, verify_queue, log_file):
    plugins = os.path.join(build, "plugins")
    text = [
        "[[plugin]]", 'name = "auth_file"',
        f'path = "{plugins}/auth_file/auth_file.so"', "[plugin.options]",
        f'password_file = "{passwords}"', f'acl_file = "{acl}"', f"verify_queue = {verify_queue}",
    ]
    if log_file:
        text += ["[[plugin]]", 'name = "message_log"',
                 f'path = "{plugins}/message_log/message_log.so"', "[plugin.options]",
                 f'file = "{log_file}"', 'events = "published"']
    return "\n".join(text) + "\n"


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o644)
    return path


def brokers(args, tmp):
    ringmq = os.path.join(args.build, "ringmq")
    tool = os.path.join(args.build, "plugins", "auth_file", "ringmq-passwd")
    cheap = ["--opslimit", "1", "--memlimit", "8K"]
    fast_pw = os.path.join(tmp, "passwords-fast")
    passwd_file(tool, fast_pw, [(USER, cheap), (FAST_USER, cheap)])
    slow_pw = os.path.join(tmp, "passwords-argon2")
    passwd_file(tool, slow_pw, [(USER, []), (FAST_USER, cheap)])
    acl = write(os.path.join(tmp, "acl"), "pattern readwrite bench/#\n")
    log_file = os.path.join(tmp, "messages.log")
    confs = {
        "auth": write(os.path.join(tmp, "auth.toml"),
                      plugin_config(args.build, fast_pw, acl, 1000, None)),
        "all": write(os.path.join(tmp, "all.toml"),
                     plugin_config(args.build, fast_pw, acl, 1000, log_file)),
        "argon2": write(os.path.join(tmp, "argon2.toml"),
                        plugin_config(args.build, slow_pw, acl, 32, None)),
    }

    def ringmq_with(name, title, conf):
        extra = ["--config", confs[conf]] if conf else []
        b = durable.Broker(name, title, lambda port, data, c: [
            ringmq, "--listen", f"127.0.0.1:{port}", "--data-dir", str(data),
            "--log_level", "warning"] + extra)
        b.log_file = log_file if conf == "all" else None
        return b

    mosq_pw = os.path.join(tmp, "mosquitto-passwords")
    subprocess.run(["mosquitto_passwd", "-c", "-b", mosq_pw, USER, PASSWORD], check=True)
    os.chmod(mosq_pw, 0o644)
    mosquitto = durable.Broker("mosquitto-passwd", "Mosquitto, password_file", lambda port, data, c: [
        args.mosquitto, "-c", c], lambda port, data: "\n".join(
            [f"listener {port} 127.0.0.1"] + compare.MOSQUITTO_BASE_CONF[1:]
            + ["allow_anonymous false", f"password_file {mosq_pw}", "set_tcp_nodelay true"]) + "\n")
    mosquitto.log_file = None
    return {
        "ringmq": ringmq_with("ringmq", "ringmq, no plugins", None),
        "ringmq-auth": ringmq_with("ringmq-auth", "ringmq, auth_file + ACL", "auth"),
        "ringmq-all": ringmq_with("ringmq-all", "ringmq, auth_file + ACL + message_log", "all"),
        "ringmq-argon2": ringmq_with("ringmq-argon2", "ringmq, auth_file (argon2id 2 passes, 64 MiB)",
                                     "argon2"),
        "ringmq-anon": ringmq_with("ringmq-anon", "ringmq, no plugins (anonymous)", None),
        "mosquitto-passwd": mosquitto,
    }


def count_lines(path):
    try:
        with open(path, "rb") as f:
            return sum(1 for _ in f)
    except OSError:
        return 0


def wait_for_lines(path, want, timeout=2.0):
    """message_log writes within flush_ms (100 ms): give it that long to catch up."""
    deadline = time.monotonic() + timeout
    n = count_lines(path)
    while n < want and time.monotonic() < deadline:
        time.sleep(0.1)
        n = count_lines(path)
    return n


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--duration", type=float, default=5)
    ap.add_argument("--warmup", type=float, default=1)
    ap.add_argument("--connections", type=int, default=200)
    ap.add_argument("--scenarios", default="pairs100,pairs100q1,connect,storm")
    ap.add_argument("--mosquitto", default="/usr/sbin/mosquitto")
    ap.add_argument("--output", default=os.path.join(ROOT, "docs", "benchmarks.md"))
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--noise", type=float, default=0.15)
    ap.add_argument("--retries", type=int, default=2)
    args = ap.parse_args()
    bench = os.path.join(args.build, "ringmq-bench")
    wanted = args.scenarios.split(",")
    cred = ["--username", USER, "--password", PASSWORD]
    common = ["--duration", str(args.duration), "--warmup", str(args.warmup), "--progress=false",
              "--threads", "1"]
    connect_args = ["--scenario", "connect", "--connections", str(args.connections),
                    "--connect_concurrency", "32", "--duration", "0.5", "--warmup", "0",
                    "--progress=false", "--threads", "1"]
    storm_args = ["--scenario", "pairs", "--pairs", "10", "--rate", "100", "--progress=false",
                  "--threads", "1", "--warmup", "1",
                  "--duration", str(max(args.duration, args.connections / 8.0)),
                  "--username", FAST_USER, "--password", PASSWORD]
    load = os.getloadavg()[0]
    started = time.monotonic()
    stats = {"retried": 0, "noisy_kept": 0}
    results = {}
    with tempfile.TemporaryDirectory(prefix="ringmq-plugins-") as tmp:
        os.chmod(tmp, 0o755)  # Mosquitto started as root reads its files as user mosquitto
        all_b = brokers(args, tmp)
        log = open(os.path.join(tmp, "brokers.log"), "w")
        runs = 0

        def once(b, sargs, storm=False):
            nonlocal runs
            runs += 1
            if b.log_file and os.path.exists(b.log_file):
                os.remove(b.log_file)
            try:
                r = durable.Running(b, os.path.join(tmp, str(runs)), log)
            except RuntimeError as e:
                return {"errors": 1, "_exit": -1, "error_samples": [str(e)]}
            try:
                if storm:
                    return storm_run(bench, r, sargs, connect_args + cred)
                j = compare.run_bench(bench, sargs, r.port, r.proc.pid, [], 600)
                if b.log_file:
                    published = j.get("sent_total", 0)
                    j["_log_ratio"] = (wait_for_lines(b.log_file, published) / published
                                       if published else None)
                if j.get("connect_time_ms"):
                    j["_connects_per_s"] = j.get("connections", 0) / (j["connect_time_ms"] / 1e3)
                return j
            finally:
                r.kill()

        plan = []
        for sid in wanted:
            if sid in THROUGHPUT_SCENARIOS:
                sargs = common + THROUGHPUT_SCENARIOS[sid][1] + cred
                plan.append((sid, ["ringmq", "ringmq-auth", "ringmq-all"], sargs, False))
            elif sid == "connect":
                plan.append((sid, ["ringmq-argon2", "mosquitto-passwd", "ringmq-auth",
                                   "ringmq-anon"],
                             connect_args + cred, False))
            elif sid == "storm":
                plan.append(("quiet", ["ringmq-argon2"], storm_args, False))
                plan.append(("storm", ["ringmq-argon2"], storm_args, True))
        for rnd in range(args.rounds):
            for sid, names, sargs, storm in plan:
                for name in names:
                    j = durable.measured(args, stats, started, f"{sid:10s} {rnd + 1} {name:16s}",
                                         lambda: once(all_b[name], sargs, storm))
                    results.setdefault((sid, name), []).append(j)
        log.close()
    md = render(args, all_b, plan, results, bench, load, time.monotonic() - started, stats)
    if args.no_write:
        print(md)
        return
    compare.write_section(args.output, md, BEGIN, END)
    print(f"wrote {os.path.relpath(args.output, os.getcwd())}", file=sys.stderr)


def storm_run(bench, r, pair_args, connect_args):
    """The pairs run, and the connection storm started once the pairs are publishing."""
    pairs = subprocess.Popen([bench] + pair_args + ["--port", str(r.port)],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    time.sleep(1.5)  # its 20 cheap connections take milliseconds; the window starts at 1 s
    storm = compare.run_bench(bench, connect_args, r.port, r.proc.pid, [], 600)
    out, _ = pairs.communicate(timeout=600)
    j = json.loads(out)
    j["_exit"] = pairs.returncode
    j["_other_cores"] = storm.get("_other_cores", 0)
    j["_storm"] = storm
    if storm.get("connect_failures") or storm.get("_exit"):
        j["errors"] = j.get("errors", 0) + 1
        j.setdefault("error_samples", []).append("storm: " + "; ".join(
            storm.get("error_samples", [])[:2]))
    return j


def table(out, names, all_b, results, sid, metrics, first_over_others):
    header = ["metric"] + [all_b[n].title for n in names]
    if first_over_others:
        header += [f"{names[0]} / {n}" for n in names[1:]]
    else:
        header += [f"{n} / {names[0]}" for n in names[1:]]
    out.append("| " + " | ".join(header) + " |")
    out.append("|" + "---|" * len(header))
    for m in metrics:
        label, key, better = m
        meds = [compare.median([compare.value(m, j) for j in results.get((sid, n), [])])
                for n in names]
        if all(v is None for v in meds):
            continue
        row = [f"{label} ({better} is better)"] + [compare.fmt(v, label) for v in meds]
        if first_over_others:
            row += [compare.ratio(meds[0], v) for v in meds[1:]]
        else:
            row += [compare.ratio(v, meds[0]) for v in meds[1:]]
        out.append("| " + " | ".join(row) + " |")
    out.append("")


def render(args, all_b, plan, results, bench, load, elapsed, stats):
    out = ["## Plugin overhead and authenticated connection rate (issue 11)", ""]
    kept = [j for runs in results.values() for j in runs]
    worst = max((j.get("_other_cores", 0) for j in kept), default=0)
    invocation = " ".join(shlex.quote(a) for a in ["bench/plugin_overhead.py"] + sys.argv[1:])
    out.append(
        f"Generated {datetime.date.today().isoformat()} by `{invocation}` in "
        f"{elapsed / 60:.0f} minutes. Machine: {compare.machine_description()}. ringmq "
        f"{compare.git_describe()}; {compare.tool_version([args.mosquitto, '-h'])}. Noise: load "
        f"average {load:.2f} at the start; other processes used at most {worst:.2f} cores during "
        f"any kept run ({stats['retried']} runs repeated; {stats['noisy_kept']} kept anyway). "
        f"Medians of {args.rounds} runs per cell, brokers interleaved run by run.")
    out.append("")
    titles = {"pairs100": THROUGHPUT_SCENARIOS["pairs100"][0],
              "pairs100q1": THROUGHPUT_SCENARIOS["pairs100q1"][0],
              "connect": f"{args.connections} authenticated connections, at most 32 CONNECTs in "
                         "progress",
              "quiet": "10 pairs at 100 msgs/s each, no other connections (ringmq-argon2)",
              "storm": f"the same while {args.connections} argon2id connections are checked"}
    for sid, names, _, _ in plan:
        if sid == "storm":
            continue
        if sid == "quiet":
            out.append("**10 pairs at 100 msgs/s each (cheap passwords) without / during a "
                       f"storm of {args.connections} argon2id CONNECTs (ringmq-argon2)**")
            out.append("")
            storm_table(out, results)
            continue
        out.append(f"**{titles[sid]}**")
        out.append("")
        if sid == "connect":
            table(out, names, all_b, results, sid, CONNECT, True)
        else:
            table(out, names, all_b, results, sid, TRAFFIC, False)
    compare.failures(out, results)
    out.append("Commands (PORT a free loopback port, DIR a fresh folder, CONF the files this "
               "script writes: see its docstring):")
    out.append("")
    out.append("```sh")
    for name in sorted({n for _, names, _, _ in plan for n in names}):
        out.append(f"# {name}: {all_b[name].command_text()}")
    rel = os.path.relpath(bench, ROOT)
    for sid, _, sargs, _ in plan:
        out.append(f"{rel} {' '.join(sargs)} --port PORT  # {sid}")
    out.append("```")
    return "\n".join(out)


def storm_table(out, results):
    names = [("quiet", "without the storm"), ("storm", "during the storm")]
    out.append("| metric | " + " | ".join(t for _, t in names) + " | during / without |")
    out.append("|---|---|---|---|")
    for m in STORM:
        label, _, better = m
        meds = [compare.median([compare.value(m, j) for j in results.get((sid, "ringmq-argon2"), [])])
                for sid, _ in names]
        out.append(f"| {label} ({better} is better) | " + " | ".join(
            compare.fmt(v, label) for v in meds) + f" | {compare.ratio(meds[1], meds[0])} |")
    storms = [j["_storm"] for j in results.get(("storm", "ringmq-argon2"), []) if "_storm" in j]
    rates = [s["connections"] / (s["connect_time_ms"] / 1e3) for s in storms
             if s.get("connect_time_ms")]
    if rates:
        out.append("")
        out.append(f"The storm's own rate: {compare.median(rates):.1f} argon2id connections/s "
                   "(median).")
    out.append("")


if __name__ == "__main__":
    main()
