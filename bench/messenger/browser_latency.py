#!/usr/bin/python3
"""Delivery latency between two browser clients of the messenger (issue 13), on loopback and
on the weak-network profile.

    bench/messenger/browser_latency.py [--rounds 3] [--messages 100] [--profiles loopback,weak]

Two headless Chromium pages (Debian's /usr/bin/chromium through playwright-core from
tests/browser/node_modules), alice and bob in two browser contexts, the real messenger UI
(examples/messenger/web served by build/ringmq's --http-root), exchange DMs one at a time:
alice sends the next once the last one's read receipt is back (bob has the DM open). Latency:
from just before alice's send() to bob's 'message' event, on the wall clock both pages share
(browser_latency.mjs, which uses tests/browser/messenger_pages.mjs's measureLatency, the
same code as the browser/messenger test's latency_loopback_ms).

Profiles:
  loopback  build/ringmq on 127.0.0.1 (ephemeral ports, tests/browser/messenger_test.py's
            Broker), the pages loaded from it;
  weak      the network of tests/messenger/weak_network_test.py (its Network, Broker and
            Proxy, imported): two network namespaces joined by a veth at 256 kbit/s each way
            (tc tbf), 3% random loss each way (nftables), delay_proxy.py adding 150 ms each
            way; ringmq in the server namespace (10.213.0.1:8080, ws:// and --http-root),
            Chromium inside the client namespace (`ip netns exec NS node
            browser_latency.mjs`), loading the page from the proxy at 127.0.0.1:PORT (a
            secure context), so MQTT over WebSocket goes through the proxy too. No link cut:
            comparable with the test's latency_weak_nocut_ms (but one message at a time here).
            Needs root, ip, tc, nft.

Each profile runs --rounds times (interleaved, a fresh broker, browser and network each run);
prints each run's `latency_PROFILE_ms p50=.. p99=.. n=..` and the medians over the runs.
Servers listen only on 127.0.0.1 or inside the namespaces made here; everything started is
stopped by PID and the namespaces are removed, also on failure or SIGTERM.
"""

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
for sub in ("tests/interop", "tests/browser", "tests/messenger"):
    sys.path.insert(0, os.path.join(ROOT, sub))
import interop  # noqa: E402
import messenger_test  # noqa: E402  (tests/browser: Broker on 127.0.0.1, missing_tools)
import weak_network_test as weak  # noqa: E402  (tests/messenger: Network, Broker, Proxy)

DRIVER = os.path.join(HERE, "browser_latency.mjs")
WEB = os.path.join(ROOT, "examples", "messenger", "web")
DRIVER_TIMEOUT_S = {"loopback": 180, "weak": 600}


def run_driver(argv, name, timeout_s):
    """Runs browser_latency.mjs (argv: its command line), echoing its output; returns
    {p50, p99, n, latencies} or raises RuntimeError."""
    p = interop.popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=HERE)
    result = {}
    try:
        out, _ = p.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        raise RuntimeError(f"the driver did not finish within {timeout_s} s")
    for line in out.decode(errors="replace").splitlines():
        if line.startswith("latencies_ms "):
            result["latencies"] = json.loads(line.split(" ", 1)[1])
            continue
        print(f"  {line}", flush=True)
        if line.startswith(name + " "):
            fields = dict(f.split("=") for f in line.split()[1:])
            result.update(p50=float(fields["p50"]), p99=float(fields["p99"]), n=int(fields["n"]))
    if p.returncode != 0 or "p50" not in result:
        raise RuntimeError(f"the driver exited with status {p.returncode}")
    return result


def driver_argv(origin, name, args):
    return [args.node, DRIVER, "--origin", origin, "--name", name, "--messages",
            str(args.messages), "--chromium", args.chromium]


def loopback(args, folder):
    broker = messenger_test.Broker(folder)  # --http-root examples/messenger/web, 127.0.0.1:0
    try:
        broker.start()
        name = "latency_loopback_ms"
        result = run_driver(driver_argv(f"http://127.0.0.1:{broker.ports['websocket']}", name,
                                        args), name, DRIVER_TIMEOUT_S["loopback"])
        error = broker.stop()
        if error:
            raise RuntimeError(error)
        return result
    finally:
        broker.kill()


def weak_network(args, folder):
    net = weak.Network()
    broker = proxy = None
    try:
        why = net.create_namespaces()
        if why:
            raise RuntimeError(why)
        net.build()
        broker = weak.Broker(net, args.broker, folder, ["--http-root", WEB])
        proxy = weak.Proxy(net, folder)
        print(f"  weak network: namespaces {net.client_ns} (Chromium, proxy 127.0.0.1:"
              f"{proxy.ws_port}) / {net.server_ns} (ringmq pid {broker.proc.pid})", flush=True)
        name = "latency_weak_ms"
        result = run_driver(net.exec_argv(net.client_ns, driver_argv(
            f"http://127.0.0.1:{proxy.ws_port}", name, args)), name, DRIVER_TIMEOUT_S["weak"])
        print(f"  link: {net.counters()}", flush=True)
        proxy.stop()
        proxy = None
        error = broker.stop()
        broker = None
        if error:
            raise RuntimeError(error)
        return result
    except weak.Failure as e:
        raise RuntimeError(str(e))
    finally:
        if proxy:
            proxy.stop()
        if broker:
            weak.stop_process(broker.proc)
        net.destroy()


PROFILES = {"loopback": loopback, "weak": weak_network}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=1, help="runs of each profile (medians)")
    ap.add_argument("--messages", type=int, default=100, help="DMs measured per run")
    ap.add_argument("--profiles", default="loopback,weak")
    ap.add_argument("--broker", default=os.path.join(ROOT, "build", "ringmq"))
    ap.add_argument("--chromium", default=os.environ.get("CHROMIUM", "/usr/bin/chromium"))
    ap.add_argument("--node", default=shutil.which("node") or "node")
    ap.add_argument("--json", help="write every run's figures and latencies here")
    args = ap.parse_args()
    args.broker = os.path.abspath(args.broker)
    profiles = [p for p in args.profiles.split(",") if p]
    for p in profiles:
        if p not in PROFILES:
            ap.error(f"unknown profile {p!r} (loopback, weak)")

    notes = messenger_test.missing_tools()
    if "weak" in profiles:
        notes += [n for n in weak.missing_tools(args.broker) if n not in notes]
    if not os.access(args.broker, os.X_OK):
        notes.append(f"{args.broker} is not an executable (is the broker built?)")
    if notes:
        print("cannot run: " + "; ".join(notes), file=sys.stderr)
        return 2
    os.environ["RINGMQ_BROKER"] = args.broker  # messenger_test.Broker reads it

    def on_term(signum, frame):  # unwind: the finally clauses stop processes, remove namespaces
        raise SystemExit(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_term)
    started = time.monotonic()
    runs = {p: [] for p in profiles}
    failed = 0
    for r in range(args.rounds):
        for p in profiles:
            print(f"round {r + 1}/{args.rounds}, {p}:", flush=True)
            folder = tempfile.mkdtemp(prefix=f"ringmq-browser-latency-{p}-")
            t0 = time.monotonic()
            try:
                result = PROFILES[p](args, folder)
                result["seconds"] = round(time.monotonic() - t0, 1)
                runs[p].append(result)
                print(f"  {p}: p50={result['p50']:.2f} p99={result['p99']:.2f} "
                      f"n={result['n']} ({result['seconds']} s)", flush=True)
            except RuntimeError as e:
                failed += 1
                print(f"  FAIL {p}: {e}", flush=True)
                log = os.path.join(folder, "broker.log")
                if os.path.isfile(log) and os.path.getsize(log):
                    print(interop.log_tail(log, "ringmq"), flush=True)
            finally:
                shutil.rmtree(folder, ignore_errors=True)

    print(f"\n{args.messages} DMs per run, one at a time (the next after the previous one's "
          f"read receipt); {args.rounds} round(s); {time.monotonic() - started:.0f} s", flush=True)
    for p in profiles:
        rs = runs[p]
        if not rs:
            print(f"latency_{p}_ms: no successful run", flush=True)
            continue
        p50s = [x["p50"] for x in rs]
        p99s = [x["p99"] for x in rs]
        print(f"latency_{p}_ms median of {len(rs)} runs: p50={statistics.median(p50s):.2f} "
              f"p99={statistics.median(p99s):.2f} n={rs[0]['n']} per run "
              f"(p50 {min(p50s):.2f}-{max(p50s):.2f}, p99 {min(p99s):.2f}-{max(p99s):.2f})",
              flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"messages": args.messages, "rounds": args.rounds, "runs": runs}, f)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
