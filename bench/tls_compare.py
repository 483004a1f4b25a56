#!/usr/bin/python3
"""MQTT over TLS against plain MQTT (issue 14): ringmq and Mosquitto, each with a plain and a
TLS listener, measured in the same run with ringmq-bench --transport tls.

Every run starts a fresh broker listening on two free 127.0.0.1 ports, plain MQTT and MQTT
over TLS (the same certificate for both brokers: EC P-256, from bench/tls_certs.sh, made once
per invocation in a temporary folder); the tool connects to one of them:

  ringmq-tcp      build/ringmq --threads 2 --listen 127.0.0.1:PORT
                  --listen mqtts://127.0.0.1:PORT2 --tls-cert server.pem --tls-key server.key;
                  ringmq-bench to PORT
  ringmq-tls      the same broker; ringmq-bench --transport tls --tls-ca ca.pem to PORT2
                  (the certificate is verified: chain and IP address)
  mosquitto-tcp   /usr/sbin/mosquitto: `listener PORT 127.0.0.1`, `listener PORT2 127.0.0.1`
                  with cafile/certfile/keyfile, allow_anonymous true, set_tcp_nodelay true,
                  persistence false; ringmq-bench to PORT
  mosquitto-tls   the same broker; ringmq-bench --transport tls --tls-ca ca.pem to PORT2

Scenarios (--scenarios):
  pairs100     100 pairs, QoS 0, as fast as the windows allow (end-to-end window 16)
  pairs100q1   the same at QoS 1
  handshake    --scenario handshake --connections 100: 100 clients, each in a loop: TCP
               connect, TLS handshake (full: no session resumption), CONNECT, CONNACK,
               DISCONNECT, close; handshakes/s are CONNACKs per second in the window. Over
               plain TCP the same loop without TLS (the baseline of what a new connection
               costs).
Both sides agree on TLS 1.3 (OpenSSL's defaults, X25519 key exchange, AES-256-GCM): neither
broker is told otherwise.

Per core: ringmq runs 2 shards (--threads 2), Mosquitto is single-threaded; the machine's
cores are shared with the tool (one thread, --threads 1). The broker's CPU time comes from
/proc/PID/stat over the window (ringmq-bench --broker-pid): "per broker CPU-second" figures
are per core of the broker whatever the scheduler gave each process. Rounds interleave the
configurations run by run (A B C D A B C D ...); cells are medians of --rounds runs. A run
during which other processes used more than --noise cores is repeated (--retries).

Writes a markdown section into docs/benchmarks.md between <!-- tls:begin --> and
<!-- tls:end --> (appended if missing). Standard library only; helpers from compare.py,
durable.py and websocket_compare.py (which runs the same two-port setup for WebSocket).

  bench/tls_compare.py                  # ~10 minutes with 3 rounds on a quiet machine
  bench/tls_compare.py --rounds 1 --duration 2 --no-write
"""

import argparse
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402
import durable  # noqa: E402
import websocket_compare as shared  # noqa: E402

ROOT = compare.ROOT
BEGIN = "<!-- tls:begin -->"
END = "<!-- tls:end -->"
TITLE = "TLS: MQTT over TLS against plain MQTT (issue 14)"
CERTS = os.path.join(ROOT, "bench", "tls_certs.sh")

SCENARIOS = {
    "pairs100": ("100 pairs, unlimited (end-to-end window 16), QoS 0",
                 ["--scenario", "pairs", "--pairs", "100"]),
    "pairs100q1": ("100 pairs, unlimited (window 16), QoS 1",
                   ["--scenario", "pairs", "--pairs", "100", "--qos", "1"]),
    "handshake": ("New connections: 100 clients connecting, CONNECT/CONNACK, DISCONNECT, "
                  "in a loop", ["--scenario", "handshake", "--connections", "100"]),
}
MESSAGE_METRICS = [m for m in shared.METRICS if m[1] != "connect_time_ms"
                   and m[0] != "load tool CPU per message, us"]
HANDSHAKE_METRICS = [
    ("connections/s (CONNACKs)", "handshake_rate", "higher"),
    ("connections per broker CPU-s", "handshakes_per_broker_cpu_s", "higher"),
    ("broker CPU, cores", durable.cores("broker_cpu_s"), "lower"),
    ("connect -> CONNACK p50, us", "latency_p50_us", "lower"),
    ("connect -> CONNACK p99, us", "latency_p99_us", "lower"),
    ("load tool CPU, cores", "tool_cpu_cores", "lower"),
]
# name -> (broker, over TLS (the second port)?, title)
CONFIG_TABLE = {
    "ringmq-tcp": ("ringmq", False, "ringmq, TCP"),
    "ringmq-tls": ("ringmq", True, "ringmq, TLS"),
    "mosquitto-tcp": ("mosquitto", False, "Mosquitto, TCP"),
    "mosquitto-tls": ("mosquitto", True, "Mosquitto, TLS"),
}
RATIOS = [("ringmq-tls", "ringmq-tcp"), ("mosquitto-tls", "mosquitto-tcp"),
          ("ringmq-tls", "mosquitto-tls"), ("ringmq-tcp", "mosquitto-tcp")]


def brokers(args, certs):
    """Both brokers with a plain listener (durable.Running's port) and a TLS one on the
    TwoPortBroker's second port (shared.start picks it and waits for it)."""
    cert, key, ca = (os.path.join(certs, f) for f in ("server.pem", "server.key", "ca.pem"))
    ringmq = os.path.join(args.build, "ringmq")
    r = shared.TwoPortBroker("ringmq", "ringmq", None)
    r.argv = lambda port, data, conf: [
        ringmq, "--threads", "2", "--listen", f"127.0.0.1:{port}",
        "--listen", f"mqtts://127.0.0.1:{r.ws_port}", "--tls-cert", cert, "--tls-key", key,
        "--data-dir", str(data), "--log_level", "warning"]
    m = shared.TwoPortBroker("mosquitto", "Mosquitto", None)
    m.argv = lambda port, data, conf: [args.mosquitto, "-c", conf]
    m.conf = lambda port, data: "\n".join(
        [f"listener {port} 127.0.0.1", f"listener {m.ws_port} 127.0.0.1", f"cafile {ca}",
         f"certfile {cert}", f"keyfile {key}"]
        + compare.MOSQUITTO_BASE_CONF + ["set_tcp_nodelay true"]) + "\n"
    return {"ringmq": r, "mosquitto": m}


def main():
    ap = shared.argument_parser(__doc__, rounds=3, scenarios=",".join(SCENARIOS), retries=2)
    args = ap.parse_args()
    if args.from_json:
        meta, results = shared.load_runs(args.from_json)
        shared.finish(args, render(args, results, meta), BEGIN, END)
        return
    bench = os.path.join(args.build, "ringmq-bench")
    for exe in (bench, os.path.join(args.build, "ringmq")):
        if not os.path.exists(exe):
            sys.exit(f"{exe} not built (ninja -C {args.build} ringmq ringmq-bench)")
    wanted = shared.scenarios_wanted(args, SCENARIOS)
    common = shared.common_args(args)
    meta = shared.run_meta(args, "bench/tls_compare.py", wanted, common)
    meta["bench"] = bench
    with open("/proc/sys/net/ipv4/tcp_available_ulp") as f:
        meta["tls_ulp"] = f.read().strip()

    def progress(sid, j):
        if sid == "handshake":
            print(f"    handshakes/s {j.get('handshake_rate', 0):8.0f}  per broker CPU-s "
                  f"{j.get('handshakes_per_broker_cpu_s', 0):8.0f}", file=sys.stderr)

    with tempfile.TemporaryDirectory(prefix="ringmq-tls-") as tmp:
        os.chmod(tmp, 0o755)  # Mosquitto started as root reads its files as user mosquitto
        certs = os.path.join(tmp, "certs")
        subprocess.run(["sh", CERTS, certs], check=True, stdout=subprocess.DEVNULL)
        tls_args = ["--transport", "tls", "--tls-ca", os.path.join(certs, "ca.pem")]
        results = shared.measure(args, meta, tmp, brokers(args, certs),
                                 {n: c[:2] for n, c in CONFIG_TABLE.items()},
                                 {sid: common + SCENARIOS[sid][1] for sid in wanted}, tls_args,
                                 after_run=progress)
    shared.finish(args, render(args, results, meta), BEGIN, END)


def spread(results, sid, name, metric):
    """max - min over the median of one cell's runs: ratios closer to 1 than this are noise."""
    vals = [v for v in (compare.value(metric, j) for j in results.get((sid, name), [])) if v]
    return (max(vals) - min(vals)) / compare.median(vals) if len(vals) > 1 else None


def render(args, results, meta):
    out = [f"## {TITLE}", ""]
    out.append(shared.provenance(meta, results, "each run on a freshly started broker listening "
                                 "on both ports; the load tool on one thread."))
    out.append("")
    for sid in meta["scenarios"]:
        out.append(f"**{SCENARIOS[sid][0]}**")
        out.append("")
        metrics = HANDSHAKE_METRICS if sid == "handshake" else MESSAGE_METRICS
        shared.table(out, results, sid, list(CONFIG_TABLE), CONFIG_TABLE, RATIOS, metrics)
        s = [spread(results, sid, n, metrics[1]) for n in CONFIG_TABLE]
        s = [v for v in s if v is not None]
        if s:
            out.append(f"Spread of `{metrics[1][0]}` within a cell: up to {100 * max(s):.0f}% of "
                       f"its median (max - min).")
            out.append("")
    compare.failures(out, results)
    out.append(f"`/proc/sys/net/ipv4/tcp_available_ulp`: `{meta['tls_ulp']}`.")
    out.append("")
    for note in args.note:
        out.append(note)
        out.append("")
    out.append("Commands (PORT and PORT2 free loopback ports, DIR a fresh folder, CERTS the "
               "folder bench/tls_certs.sh filled, CONF the file this script writes):")
    out.append("")
    out.append("```sh")
    out.append("bench/tls_certs.sh CERTS")
    shown = brokers(argparse.Namespace(build=os.path.join(ROOT, "build"),
                                       mosquitto="/usr/sbin/mosquitto"), "CERTS")
    for name in ("ringmq", "mosquitto"):
        out.append(f"# {name}: {shown[name].command_text()}")
    for sid in meta["scenarios"]:
        sargs = meta["common"] + SCENARIOS[sid][1]
        out.append(f"build/ringmq-bench {' '.join(sargs)} --port PORT --broker-pid PID  "
                   f"# {sid}, *-tcp")
        out.append(f"build/ringmq-bench {' '.join(sargs)} --transport tls --tls-ca CERTS/ca.pem "
                   f"--port PORT2 --broker-pid PID  # {sid}, *-tls")
    out.append("```")
    return "\n".join(out)


if __name__ == "__main__":
    main()
