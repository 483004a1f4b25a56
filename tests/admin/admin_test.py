#!/usr/bin/python3
"""The admin HTTP listener of build/ringmq (--admin-listen) and its JSON logs, from outside.

The broker runs as in tests/interop/interop.py (ephemeral 127.0.0.1 ports, a temporary
--data-dir, two shards, stopped by PID) with --admin-listen 127.0.0.1:0 (its port read from
the "admin http://HOST:PORT" line) and --log-format json. Scenarios:
  exposition  GET /metrics parses strictly as the text format 0.0.4 (a parser of its own below:
              HELP and TYPE before a family's samples, names and labels well formed, counters
              ending in _total, no series twice, histogram buckets cumulative up to +Inf)
  flow        messages at QoS 0, 1 and 2 through the broker (Paho, MQTT 3.1.1) move
              ringmq_messages_received_total / _sent_total for each QoS, the bytes counters and
              the client and connection gauges
  health      /healthz and /readyz answer 200; an unknown path 404; POST 405
  queue       QoS 1 messages for a persistent session whose client is away move
              ringmq_queued_messages and ringmq_queued_bytes, back to 0 once delivered
  same_as_sys with no traffic, a fresh $SYS/broker/messages/received (--sys-interval 1)
              equals the sum of ringmq_messages_received_total (one snapshot feeds both)
  stalled     a client that connects to the admin port and sends nothing (and one that sends
              half a request) do not hold up a scrape
  refusal     a CONNECT with an unknown protocol level is refused with one log line that is a
              JSON object (json.loads) with event connect_refused and reason 0x84; every line
              of the log parses as JSON; ringmq_connects_refused_total counts it
Environment (meson sets it): RINGMQ_BROKER.
"""

import json
import math
import os
import re
import socket
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "interop"))
import interop  # noqa: E402
from interop import ScenarioFailure, check, expect_equal  # noqa: E402
from paho_test import Client  # noqa: E402

TIMEOUT = 5.0


# ---- HTTP ----------------------------------------------------------------------------------------

def http(port, method, path, timeout=TIMEOUT):
    """(status code, headers dict, body text) of one request; the server closes after it."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, sep, body = data.partition(b"\r\n\r\n")
    check(sep, f"{method} {path}: no end of the response head in {data[:200]!r}")
    lines = head.decode().split("\r\n")
    status = lines[0].split(" ")
    check(len(status) >= 2 and status[0] == "HTTP/1.1", f"status line {lines[0]!r}")
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    expect_equal(f"{path} Content-Length", str(len(body)), headers.get("content-length"))
    expect_equal(f"{path} Connection", "close", headers.get("connection"))
    return int(status[1]), headers, body.decode()


# ---- the text exposition format 0.0.4 ------------------------------------------------------------

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL_NAME = r"[a-zA-Z_][a-zA-Z0-9_]*"
LABEL_VALUE = r'"(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(rf"^({NAME})(?:\{{((?:{LABEL_NAME}={LABEL_VALUE})(?:,{LABEL_NAME}={LABEL_VALUE})*)?\}})? (\S+)$")
LABEL = re.compile(rf"({LABEL_NAME})=({LABEL_VALUE})")
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")


def parse_value(text):
    if text in ("+Inf", "-Inf", "NaN"):
        return float(text.replace("Inf", "inf").replace("NaN", "nan"))
    check(re.fullmatch(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?", text), f"value {text!r}")
    return float(text)


def parse_exposition(text):
    """{family: {"type", "help", "samples": {(name, labels tuple): value}}}; fails on anything
    the format does not allow."""
    check(text.endswith("\n"), "the exposition ends with a newline")
    families = {}
    current = None
    for n, line in enumerate(text.split("\n")[:-1], 1):
        where = f"line {n} {line!r}"
        if line.startswith("# HELP "):
            name, _, help_text = line[7:].partition(" ")
            check(re.fullmatch(NAME, name) and help_text, f"{where}: HELP NAME TEXT")
            check(name not in families, f"{where}: family {name} described twice")
            families[name] = {"help": help_text, "type": None, "samples": {}}
            current = name
        elif line.startswith("# TYPE "):
            name, _, kind = line[7:].partition(" ")
            check(name == current and families[name]["type"] is None,
                  f"{where}: TYPE right after the family's HELP")
            check(kind in TYPES, f"{where}: type {kind}")
            families[name]["type"] = kind
        elif line.startswith("#") or not line:
            check(False, f"{where}: no comments or blank lines expected")
        else:
            m = SAMPLE.match(line)
            check(m, f"{where}: not NAME{{LABELS}} VALUE")
            name, labels_text, value = m.group(1), m.group(2) or "", m.group(3)
            fam = families.get(current)
            check(fam is not None and fam["type"] is not None, f"{where}: sample before TYPE")
            suffixes = ("_bucket", "_sum", "_count") if fam["type"] == "histogram" else ("",)
            check(any(name == current + s for s in suffixes), f"{where}: not of family {current}")
            labels = tuple(LABEL.findall(labels_text))
            check(len({k for k, _ in labels}) == len(labels), f"{where}: a label twice")
            key = (name, labels)
            check(key not in fam["samples"], f"{where}: the same series twice")
            fam["samples"][key] = parse_value(value)
    for name, fam in families.items():
        if fam["type"] == "counter":
            check(name.endswith("_total"), f"counter {name} ends in _total")
        if fam["type"] == "histogram":
            check_histogram(name, fam["samples"])
    return families


def check_histogram(name, samples):
    buckets = sorted(((parse_value(json.loads(dict(labels)["le"])), v)
                      for (n, labels), v in samples.items() if n == name + "_bucket"))
    check(buckets and math.isinf(buckets[-1][0]), f"{name} has a +Inf bucket")
    counts = [v for _, v in buckets]
    check(counts == sorted(counts), f"{name} buckets are cumulative: {counts}")
    expect_equal(f"{name}_count", counts[-1], samples.get((name + "_count", ())))
    check((name + "_sum", ()) in samples, f"{name}_sum present")


def value(families, name, **labels):
    fam = families.get(name)
    check(fam is not None, f"metric {name} present")
    want = tuple(sorted((k, json.dumps(str(v))) for k, v in labels.items()))
    for (n, got), v in fam["samples"].items():
        if n == name and tuple(sorted(got)) == want:
            return v
    raise ScenarioFailure(f"no sample {name}{labels}")


def scrape(port):
    status, headers, body = http(port, "GET", "/metrics")
    expect_equal("/metrics status", 200, status)
    expect_equal("/metrics Content-Type", "text/plain; version=0.0.4; charset=utf-8",
                 headers.get("content-type"))
    return parse_exposition(body)


# ---- scenarios -----------------------------------------------------------------------------------

def exposition(broker):
    families = scrape(broker.admin_port)
    for name in ("ringmq_clients", "ringmq_connections", "ringmq_messages_received_total",
                 "ringmq_messages_sent_total", "ringmq_bytes_received_total",
                 "ringmq_drops_total", "ringmq_queued_bytes", "ringmq_store_commit_seconds",
                 "ringmq_shard_loop_busy_seconds_total", "ringmq_plugin_calls_total"):
        check(name in families, f"family {name} present")
    expect_equal("ringmq_shards", 2, value(families, "ringmq_shards"))
    for shard in (0, 1):
        check(value(families, "ringmq_shard_loop_busy_seconds_total", shard=shard) >= 0,
              "busy seconds")


def flow(broker):
    before = scrape(broker.admin_port)
    sub = Client(broker.port, "v3.1.1", client_id="admin-sub")
    pub = Client(broker.port, "v3.1.1", client_id="admin-pub")
    try:
        sub.subscribe("admin/#", 2)
        during = scrape(broker.admin_port)
        check(value(during, "ringmq_clients") >= 2, "two clients connected")
        check(value(during, "ringmq_connections") >= 2, "two connections open")
        for qos in (0, 1, 2):
            for i in range(3):
                pub.publish(f"admin/q{qos}", f"m{i}", qos)
                sub.next_message(f"message {i} at QoS {qos}")
        after = scrape(broker.admin_port)
    finally:
        pub.disconnect()
        sub.disconnect()
    for qos in (0, 1, 2):
        for name in ("ringmq_messages_received_total", "ringmq_messages_sent_total"):
            grew = value(after, name, qos=qos) - value(before, name, qos=qos)
            check(grew >= 3, f"{name}{{qos={qos}}} grew by 3 (got {grew})")
    for name in ("ringmq_bytes_received_total", "ringmq_bytes_sent_total"):
        check(value(after, name) > value(before, name), f"{name} grew")
    total_in = sum(value(after, "ringmq_shard_messages_received_total", shard=s) for s in (0, 1))
    expect_equal("per-shard received adds up", sum(
        value(after, "ringmq_messages_received_total", qos=q) for q in (0, 1, 2)), total_in)


def health(broker):
    status, _, body = http(broker.admin_port, "GET", "/healthz")
    expect_equal(f"/healthz ({body.strip()})", 200, status)
    status, _, body = http(broker.admin_port, "GET", "/readyz")
    expect_equal(f"/readyz ({body.strip()})", 200, status)
    expect_equal("unknown path", 404, http(broker.admin_port, "GET", "/nope")[0])
    status, headers, _ = http(broker.admin_port, "POST", "/metrics")
    expect_equal("POST /metrics", 405, status)
    expect_equal("Allow", "GET", headers.get("allow"))


def stalled(broker):
    silent = socket.create_connection(("127.0.0.1", broker.admin_port), timeout=TIMEOUT)
    half = socket.create_connection(("127.0.0.1", broker.admin_port), timeout=TIMEOUT)
    try:
        half.sendall(b"GET /metr")
        t0 = time.monotonic()
        scrape(broker.admin_port)
        took = time.monotonic() - t0
        check(took < 2.0, f"a scrape beside stalled clients took {took:.2f} s")
    finally:
        silent.close()
        half.close()


def queue(broker):
    """QoS 1 messages for a persistent session whose client is away are counted in
    ringmq_queued_messages and ringmq_queued_bytes until it comes back for them."""
    away = Client(broker.port, "v3.1.1", client_id="admin-away", clean=False)
    away.subscribe("admin/queue", 1)
    away.disconnect()
    pub = Client(broker.port, "v3.1.1", client_id="admin-queue-pub")
    try:
        for i in range(3):
            pub.publish("admin/queue", f"q{i}", 1)
    finally:
        pub.disconnect()
    queued = scrape(broker.admin_port)
    check(value(queued, "ringmq_queued_messages") >= 3,
          f"3 messages queued (got {value(queued, 'ringmq_queued_messages')})")
    check(value(queued, "ringmq_queued_bytes") > 0, "queued bytes")
    back = Client(broker.port, "v3.1.1", client_id="admin-away", clean=False)
    try:
        for i in range(3):
            back.next_message(f"queued message {i}")
    finally:
        back.disconnect()
    Client(broker.port, "v3.1.1", client_id="admin-away", clean=True).disconnect()
    expect_equal("queued messages once delivered", 0,
                 value(scrape(broker.admin_port), "ringmq_queued_messages"))


def same_as_sys(broker):
    """/metrics and $SYS come from one snapshot: with no traffic, a fresh
    $SYS/broker/messages/received equals the sum of ringmq_messages_received_total."""
    sub = Client(broker.port, "v3.1.1", client_id="admin-sys")
    try:
        sub.subscribe("$SYS/broker/messages/received", 0)
        before = scrape(broker.admin_port)
        sub.next_message("the retained $SYS/broker/messages/received")
        _, published, _, _ = sub.next_message("a fresh $SYS/broker/messages/received")
        after = scrape(broker.admin_port)
    finally:
        sub.disconnect()
    total = [sum(value(m, "ringmq_messages_received_total", qos=q) for q in (0, 1, 2))
             for m in (before, after)]
    expect_equal("messages received, before and after (no traffic)", total[0], total[1])
    expect_equal("$SYS/broker/messages/received", int(total[0]), int(published))
    expect_equal("$SYS/broker/shards", 2, value(after, "ringmq_shards"))


def read_log(broker):
    broker.log.flush()
    with open(broker.log_path, "rb") as f:
        return f.read().decode(errors="replace").splitlines()


def refusal(broker):
    before = value(scrape(broker.admin_port), "ringmq_connects_refused_total")
    # CONNECT, protocol name MQTT, level 9 (unknown), clean session, keep alive 60, client id "x".
    connect = bytes([0x10, 13, 0, 4]) + b"MQTT" + bytes([9, 0x02, 0, 60, 0, 1]) + b"x"
    with socket.create_connection(("127.0.0.1", broker.port), timeout=TIMEOUT) as s:
        s.sendall(connect)
        answer = s.recv(16)
    expect_equal("CONNACK refusing level 9 (3.1.1 return code 1)", bytes([0x20, 2, 0, 1]),
                 answer)
    deadline = time.monotonic() + TIMEOUT
    while True:
        refusals = [line for line in read_log(broker) if "connect_refused" in line]
        if refusals or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    expect_equal(f"connect_refused lines ({refusals})", 1, len(refusals))
    record = json.loads(refusals[0])
    expect_equal("event", "connect_refused", record.get("event"))
    expect_equal("reason", "0x84", record.get("reason"))
    expect_equal("level", "info", record.get("level"))
    check(record.get("address", "").startswith("127.0.0.1:"), f"address in {record}")
    check(record.get("reason_name") and record.get("why"), f"reason_name and why in {record}")
    for line in read_log(broker):
        try:
            json.loads(line)
        except ValueError:
            raise ScenarioFailure(f"a log line is not JSON: {line!r}")
    after = value(scrape(broker.admin_port), "ringmq_connects_refused_total")
    expect_equal("ringmq_connects_refused_total grew", before + 1, after)


def main():
    broker = interop.Broker(["--admin-listen", "127.0.0.1:0", "--log-format", "json",
                             "--sys-interval", "1"], log_level="info")

    def with_admin(fn):
        def scenario(_port):
            check(broker.admin_port, "the broker printed its admin line")
            fn(broker)
        return scenario

    scenarios = [(fn.__name__, with_admin(fn))
                 for fn in (exposition, flow, queue, same_as_sys, health, stalled, refusal)]
    return interop.run("admin", scenarios, broker)


if __name__ == "__main__":
    sys.exit(main())
