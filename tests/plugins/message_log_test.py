#!/usr/bin/python3
"""message_log in the real broker: build/ringmq --config FILE with
  [[plugin]] name = "message_log", path = build/plugins/message_log/message_log.so
driven by mosquitto_pub and a paho subscriber. UNVERIFIED until the plugin host and the
config loader land (skips with 77 while build/ringmq has no --config).

  lines      published (mosquitto_pub, 5.0, with a user name) and delivered (to the paho
             subscriber) lines, field by field; a binary payload in base64 (payload = auto);
             a topic outside `topics` not logged
  dropped    the retained $SYS/broker/plugins/message_log/dropped reads 0
  reload     the file moved away + SIGHUP: new lines go to a new file at the same path
  shutdown   SIGTERM: the broker exits 0, the plugin logs how many lines it wrote
"""
import json
import os
import queue
import signal
import subprocess
import sys
import time

import example_broker
import interop

import paho.mqtt.client as mqtt

MODULE = os.environ.get("MESSAGE_LOG_MODULE", "")


def read_lines(path):
    try:
        with open(path, "rb") as f:
            return [json.loads(line) for line in f.read().splitlines() if line.strip()]
    except FileNotFoundError:
        return []


def lines_for(path, want):
    """The lines of `path`, once there are at least `want` of them."""
    lines = read_lines(path)
    return lines if len(lines) >= want else None


def pub(port, topic, payload, *extra):
    subprocess.run(["mosquitto_pub", "-p", str(port), "-h", "127.0.0.1", "-t", topic,
                    "-q", "1"] + list(extra) + (["-s"] if payload is None else ["-m", payload]),
                   input=b"\x00\xff\xfe" if payload is None else None, check=True, timeout=10)


class Subscriber:
    def __init__(self, port, client_id, topic):
        self.messages = queue.Queue()
        self.client = mqtt.Client(client_id=client_id, protocol=mqtt.MQTTv5)
        subscribed = queue.Queue()
        self.client.on_message = lambda c, u, m: self.messages.put((m.topic, m.payload, m.retain))
        self.client.on_subscribe = lambda *a: subscribed.put(True)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.client.subscribe(topic, qos=1)
        interop.queue_get(subscribed, f"SUBACK for {topic}")

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


def scenario_lines(broker, log):
    sub = Subscriber(broker.port, "ml-sub", "ml/#")
    pub(broker.port, "ml/a", "hello", "-V", "mqttv5", "-i", "ml-pub", "-u", "alice")
    pub(broker.port, "ml/bin", None, "-i", "ml-pub2")
    pub(broker.port, "other/x", "not logged", "-i", "ml-pub3")
    for i in range(2):
        interop.queue_get(sub.messages, f"message {i + 1} of 2 at the subscriber")
    sub.close()
    lines = interop.wait_for(lambda: lines_for(log, 4), "4 lines in the log")
    by_key = {(j["event"], j["topic"]): j for j in lines}
    interop.expect_equal("events and topics", {("published", "ml/a"), ("delivered", "ml/a"),
                                               ("published", "ml/bin"), ("delivered", "ml/bin")},
                         set(by_key))
    p = by_key[("published", "ml/a")]
    for key, want in [("client_id", "ml-pub"), ("username", "alice"), ("qos", 1),
                      ("retain", False), ("size", 5), ("payload", "hello"), ("encoding", "utf8"),
                      ("truncated", False)]:
        interop.expect_equal(f"published ml/a: {key}", want, p.get(key))
    interop.check(p["time"].endswith("Z") and len(p["time"]) == 24, f"time {p['time']!r}")
    d = by_key[("delivered", "ml/a")]
    interop.expect_equal("delivered ml/a: client_id", "ml-sub", d["client_id"])
    interop.expect_equal("delivered ml/a: username", None, d["username"])
    b = by_key[("published", "ml/bin")]
    interop.expect_equal("binary payload", ("AP/+", "base64"), (b["payload"], b["encoding"]))


def scenario_dropped(broker, log):
    interop.check("host->publish refused" not in broker.read_log(),
                  "the host refused message_log's publish of its $SYS topic")
    sub = Subscriber(broker.port, "ml-sys", "$SYS/broker/plugins/message_log/dropped")
    topic, payload, retain = interop.queue_get(sub.messages, "the dropped count")
    sub.close()
    interop.expect_equal("dropped count", b"0", payload)
    # The first subscriber may have caught the live publish (retain 0); one that comes after
    # it must get the retained copy.
    late = Subscriber(broker.port, "ml-sys-late", "$SYS/broker/plugins/message_log/dropped")
    topic, payload, retain = interop.queue_get(late.messages, "the retained dropped count")
    late.close()
    interop.check(retain, "the dropped count is retained")


def scenario_reload(broker, log):
    before = len(read_lines(log))
    os.rename(log, log + ".1")
    broker.proc.send_signal(signal.SIGHUP)
    # Publish until a line reaches the new file: lines published before the plugin switched
    # may still go to the old one, none may be lost.
    i = 0

    def new_file_has_a_line():
        nonlocal i
        pub(broker.port, f"ml/after/{i}", "x", "-i", "ml-pub4")
        i += 1
        return read_lines(log)

    new_lines = interop.wait_for(new_file_has_a_line, "a line in the reopened file", timeout=15)
    old_lines = read_lines(log + ".1")
    interop.check(len(old_lines) >= before, "the old file kept its lines")
    topics = [j["topic"] for j in old_lines[before:] + new_lines if j["event"] == "published"]
    interop.expect_equal("lines published around the reload, in order",
                         [f"ml/after/{k}" for k in range(len(topics))], topics)


def main():
    if not MODULE:
        print("MESSAGE_LOG_MODULE is not set")
        return 1
    broker = example_broker.PluginBroker("")
    log = os.path.join(broker.dir, "messages.log")
    config = example_broker.plugin_table("message_log", MODULE, {
        "file": log, "events": "published,delivered", "payload": "auto", "flush_ms": 20,
        "topics": "ml/#"})
    with open(broker.config, "w") as f:
        f.write(config)
    broker.start_or_skip()
    failures = 0
    for name, fn in [("lines", scenario_lines), ("dropped", scenario_dropped),
                     ("reload", scenario_reload)]:
        try:
            fn(broker, log)
            print(f"PASS message_log {name}", flush=True)
        except Exception as e:  # a failure or a bug in the scenario: both fail the test
            failures += 1
            print(f"FAIL message_log {name}: {e!r}", flush=True)
    error = broker.stop()
    if error:
        failures += 1
        print(f"FAIL message_log shutdown: {error}", flush=True)
    elif "lines written" not in broker.read_log():
        failures += 1
        print("FAIL message_log shutdown: no 'lines written' line from global_fini", flush=True)
    else:
        print("PASS message_log shutdown", flush=True)
    if failures:
        print(broker.log_tail(), flush=True)
    broker.cleanup()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
