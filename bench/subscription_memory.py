#!/usr/bin/python3
"""Memory per subscription, and whether it is given back: one client subscribes N filters, the
broker's RSS is read, the client disconnects (clean session: every subscription goes), RSS is
read again. A first small round (500 filters) warms the broker up (receive buffers, a first
client); its end is the base the big round is measured against. "Given back" is the share of
the growth that left RSS once the client was gone.

Each broker runs on a free 127.0.0.1 port, started by this script; brokers alternate over
--reps repetitions and the medians are printed as a markdown table.

  bench/subscription_memory.py                          # ringmq and Debian's Mosquitto
  bench/subscription_memory.py --filters 20000 --reps 1
  bench/subscription_memory.py --broker 'old=/tmp/old/build/ringmq --listen 127.0.0.1:{port}'

Needs python3-paho-mqtt (Debian). Filters look like sensor/b{i%100}/f{i%7}/{i}: 100 x 7
shared prefixes, a distinct last level each, like a fleet's per-device topics.
"""

import argparse
import os
import re
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import paho.mqtt.client as mqtt

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHUNK = 500  # filters per SUBSCRIBE


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1)) * 1024


def wait_for_port(port, proc, limit_s=10):
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"broker exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("broker did not listen in time")


def wait_until(cond, limit_s, what):
    deadline = time.monotonic() + limit_s
    while not cond():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)


def settle(pid, quiet_s):
    """Waits until RSS has not moved for quiet_s (freed memory is returned lazily)."""
    last, since = rss_bytes(pid), time.monotonic()
    deadline = since + 30
    while time.monotonic() - since < quiet_s and time.monotonic() < deadline:
        time.sleep(0.25)
        now = rss_bytes(pid)
        if now != last:
            last, since = now, time.monotonic()
    return last


def subscribe_round(port, pid, n):
    """Subscribes n filters, returns (rss subscribed, rss after the client left)."""
    c = mqtt.Client(client_id="subscription-memory", protocol=mqtt.MQTTv311, clean_session=True)
    state = {"connected": False, "acks": 0, "gone": False}
    c.on_connect = lambda cl, u, f, rc: state.__setitem__("connected", rc == 0)
    c.on_subscribe = lambda cl, u, mid, q: state.__setitem__("acks", state["acks"] + 1)
    c.on_disconnect = lambda cl, u, rc: state.__setitem__("gone", True)
    c.connect("127.0.0.1", port)
    c.loop_start()
    try:
        wait_until(lambda: state["connected"], 10, "CONNACK")
        for start in range(0, n, CHUNK):
            topics = [(f"sensor/b{i % 100}/f{i % 7}/{i}", 0) for i in range(start, min(n, start + CHUNK))]
            c.subscribe(topics)
        wait_until(lambda: state["acks"] == (n + CHUNK - 1) // CHUNK, 300, "every SUBACK")
        full = settle(pid, 7.0)  # past a shard's idle release: what the filters hold
        c.disconnect()
        wait_until(lambda: state["gone"], 10, "the disconnect")
    finally:
        c.loop_stop()
    return full, settle(pid, 7.0)  # ringmq returns memory when a shard idles (every 5 s)


def mosquitto_command(port, conf_dir):
    conf = os.path.join(conf_dir, f"mosquitto-{port}.conf")
    with open(conf, "w") as f:
        f.write(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                "log_dest stderr\nlog_type error\n")
    return ["/usr/sbin/mosquitto", "-c", conf]


def measure(name, command, n, conf_dir):
    port = free_port()
    argv = mosquitto_command(port, conf_dir) if command is None else \
        shlex.split(command.format(port=port))
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, proc)
        subscribe_round(port, proc.pid, CHUNK)  # warm-up: buffers, a first client
        base = settle(proc.pid, 7.0)
        full, after = subscribe_round(port, proc.pid, n)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return {"name": name, "base": base, "full": full, "after": after}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--filters", type=int, default=100_000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--broker", action="append", default=[],
                    help="NAME='COMMAND with {port}' (more brokers to compare)")
    args = ap.parse_args()
    n = args.filters
    ringmq = os.path.join(ROOT, "build", "ringmq")
    brokers = [("ringmq", f"{ringmq} --listen 127.0.0.1:{{port}} --log-level warning "
                          f"--max-subscriptions-per-session {n} --persistence memory")]
    if os.path.exists("/usr/sbin/mosquitto"):
        brokers.append(("mosquitto", None))
    for b in args.broker:
        name, _, cmd = b.partition("=")
        brokers.append((name, cmd))
    results = {name: [] for name, _ in brokers}
    with tempfile.TemporaryDirectory() as conf_dir:
        for rep in range(args.reps):
            for name, cmd in brokers:
                r = measure(name, cmd, n, conf_dir)
                results[name].append(r)
                print(f"# rep {rep + 1} {name}: base {r['base']} subscribed {r['full']} "
                      f"after {r['after']}", file=sys.stderr, flush=True)
    print(f"| broker | RSS base | with {n:,} filters | bytes per filter | after the client left | given back |")
    print("|---|---|---|---|---|---|")
    for name, runs in results.items():
        def med(f):
            return statistics.median(f(r) for r in runs)
        per = med(lambda r: (r["full"] - r["base"]) / n)
        back = med(lambda r: (r["full"] - r["after"]) / max(1, r["full"] - r["base"]) * 100)
        print(f"| {name} | {med(lambda r: r['base']) / 2**20:.1f} MiB | "
              f"{med(lambda r: r['full']) / 2**20:.1f} MiB | {per:.0f} | "
              f"{med(lambda r: r['after']) / 2**20:.1f} MiB | {back:.0f}% |")


if __name__ == "__main__":
    main()
