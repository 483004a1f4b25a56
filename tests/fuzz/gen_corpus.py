#!/usr/bin/env python3
"""Writes the fuzzers' seed corpora (corpus/decoder/*, corpus/broker/*). Run once; the output is
committed.

Decoder: each seed is one control byte (version = byte % 3: 0 -> 3.1, 1 -> 3.1.1, 2 -> 5.0) followed by
a stream of MQTT packets, built here by hand from the specification (independently of the
codec under test).
"""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "decoder")
BROKER_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "broker")


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def s(text):
    b = text.encode() if isinstance(text, str) else text
    return struct.pack(">H", len(b)) + b


def pkt(first, body):
    return bytes([first]) + varint(len(body)) + body


def props(*items):
    body = b"".join(items)
    return varint(len(body)) + body


def connect(level, client_id="c1", clean=True, will=None, user=None, pw=None, keep=60,
            cprops=b""):
    name = "MQIsdp" if level == 3 else "MQTT"
    flags = 0x02 if clean else 0
    payload = s(client_id)
    if will:
        topic, msg, qos, retain = will
        flags |= 0x04 | (qos << 3) | (0x20 if retain else 0)
        if level == 5:
            payload += props(b"\x18" + struct.pack(">I", 5))
        payload += s(topic) + s(msg)
    if user is not None:
        flags |= 0x80
        payload += s(user)
    if pw is not None:
        flags |= 0x40
        payload += s(pw)
    body = s(name) + bytes([level, flags]) + struct.pack(">H", keep)
    if level == 5:
        body += props(cprops) if isinstance(cprops, bytes) else cprops
    return pkt(0x10, body + payload)


def publish(level, topic, payload, qos=0, pid=1, retain=False, dup=False, pprops=b""):
    first = 0x30 | (0x08 if dup else 0) | (qos << 1) | (1 if retain else 0)
    body = s(topic)
    if qos:
        body += struct.pack(">H", pid)
    if level == 5:
        body += props(pprops)
    return pkt(first, body + payload)


def subscribe(level, pid, entries, sprops=b""):
    body = struct.pack(">H", pid)
    if level == 5:
        body += props(sprops)
    for f, opts in entries:
        body += s(f) + bytes([opts])
    return pkt(0x82, body)


def unsubscribe(level, pid, filters):
    body = struct.pack(">H", pid)
    if level == 5:
        body += props()
    for f in filters:
        body += s(f)
    return pkt(0xA2, body)


def ack(first, pid, level, reason=None, aprops=None):
    body = struct.pack(">H", pid)
    if level == 5 and reason is not None:
        body += bytes([reason])
        if aprops is not None:
            body += props(aprops)
    return pkt(first, body)


def user_prop(k, v):
    return b"\x26" + s(k) + s(v)


def main():
    os.makedirs(OUT, exist_ok=True)
    seeds = {}
    for ctl, level in ((0, 3), (1, 4), (2, 5)):
        v = f"v{level}"
        sess = connect(level)
        sess += subscribe(level, 1, [("a/b/c", 1), ("sport/+/score", 2), ("x/#", 0)])
        sess += publish(level, "a/b/c", b"x" * 64)
        sess += publish(level, "sport/tennis/score", b"15-0", qos=1, pid=2)
        sess += publish(level, "x/y", b"", qos=2, pid=3, retain=True)
        sess += ack(0x40, 7, level) + ack(0x50, 8, level) + ack(0x62, 8, level) + ack(0x70, 8, level)
        sess += unsubscribe(level, 4, ["a/b/c", "x/#"])
        sess += pkt(0xC0, b"") + pkt(0xE0, b"")
        seeds[f"{v}_session"] = bytes([ctl]) + sess
        seeds[f"{v}_connect_will_auth"] = bytes([ctl]) + connect(
            level, "client-42", clean=False, will=("last/will", b"bye", 1, True),
            user="alice", pw=b"secret")
        seeds[f"{v}_publish_qos1_dup"] = bytes([ctl]) + connect(level) + publish(
            level, "t/1", b"hello", qos=1, pid=9, dup=True)
        seeds[f"{v}_split_large"] = bytes([ctl]) + connect(level) + publish(
            level, "big/topic", bytes(range(256)) * 8)
        seeds[f"{v}_shared_sub"] = bytes([ctl]) + connect(level) + subscribe(
            level, 5, [("$share/g1/sensors/#", 1), ("$SYS/#", 0), ("+/+", 0), ("#", 0)])
        seeds[f"{v}_utf8_topics"] = bytes([ctl]) + connect(level) + publish(
            level, "caf\u00e9/\ufeff/\U0001F600", b"utf8") + subscribe(level, 6, [("caf\u00e9/#", 0)])
        seeds[f"{v}_connack_suback"] = bytes([ctl]) + pkt(0x20, b"\x00\x00" + (b"\x00" if level == 5 else b"")) + pkt(
            0x90, struct.pack(">H", 1) + (b"\x00" if level == 5 else b"") + b"\x00\x01\x02\x80") + pkt(0xD0, b"")

    # MQTT 5 only: properties of every kind.
    v5 = 2
    cprops = (b"\x11" + struct.pack(">I", 3600) + b"\x21" + struct.pack(">H", 20) +
              b"\x27" + struct.pack(">I", 65536) + b"\x22" + struct.pack(">H", 10) +
              b"\x19\x01" + b"\x17\x00" + user_prop("region", "eu") + b"\x15" + s("SCRAM-SHA-1") +
              b"\x16" + s(b"\x01\x02"))
    seeds["v5_connect_props"] = bytes([v5]) + connect(5, "p", cprops=cprops)
    pprops = (b"\x01\x01" + b"\x02" + struct.pack(">I", 30) + b"\x03" + s("text/plain") +
              b"\x08" + s("reply/to") + b"\x09" + s(b"\x00corr") + b"\x23" + struct.pack(">H", 3) +
              user_prop("a", "1") + user_prop("b", "2") + b"\x0b\x05" + b"\x0b\x80\x01")
    seeds["v5_publish_props"] = bytes([v5]) + connect(5) + publish(5, "a/b", b"{}", qos=1, pid=1, pprops=pprops)
    seeds["v5_topic_alias"] = bytes([v5]) + connect(5) + publish(
        5, "alias/topic", b"1", pprops=b"\x23\x00\x01") + publish(5, "", b"2", pprops=b"\x23\x00\x01")
    seeds["v5_sub_options"] = bytes([v5]) + connect(5) + subscribe(
        5, 2, [("a/+", 0x2E), ("b/#", 0x1D)], sprops=b"\x0b\x2a" + user_prop("k", "v"))
    connack_props = (b"\x24\x01\x25\x00\x28\x00\x29\x00\x2a\x00\x13\x00\x1e" + b"\x12" + s("auto-1") +
                     b"\x1a" + s("resp") + b"\x1c" + s("other:1883") + b"\x1f" + s("welcome"))
    seeds["v5_connack_props"] = bytes([v5]) + pkt(0x20, b"\x01\x00" + props(connack_props))
    seeds["v5_acks_reasons"] = bytes([v5]) + connect(5) + ack(0x40, 1, 5, 0x10) + ack(
        0x50, 2, 5, 0x87, b"\x1f" + s("denied")) + ack(0x62, 3, 5, 0x92) + ack(0x70, 4, 5, 0x00, b"")
    seeds["v5_disconnect_auth"] = bytes([v5]) + connect(5) + pkt(0xF0, b"\x18" + props(
        b"\x15" + s("SCRAM") + b"\x16" + s(b"data"))) + pkt(0xE0, b"\x04" + props(
            b"\x11" + struct.pack(">I", 0) + b"\x1f" + s("bye")))
    seeds["v5_unsuback"] = bytes([v5]) + pkt(0xB0, struct.pack(">H", 3) + props() + b"\x00\x11\x87")
    # Malformed seeds: let the fuzzer start next to the error paths.
    seeds["bad_varint"] = bytes([1]) + b"\x30\xff\xff\xff\xff\x01"
    seeds["bad_flags"] = bytes([1]) + connect(4) + pkt(0x80, struct.pack(">H", 1) + s("a") + b"\x00")
    seeds["bad_utf8_surrogate"] = bytes([2]) + connect(5) + publish(5, b"a\xed\xa0\x80", b"")

    for name, data in seeds.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    print(f"wrote {len(seeds)} seeds to {OUT}")
    broker_main()


# --- broker_fuzz: programs of client operations (the format is in broker_fuzz.cc) -----------
# Topics:  0 t, 1 t/a, 2 t/b, 3 t/a/b, 4 u/v, 5 $SYS/x, 6 s, 7 a/b/c/d
# Filters: 0 t, 1 t/+, 2 t/#, 3 #, 4 +/a/#, 5 $share/g/t/#, 6 $share/g/t, 7 u/v, 8 $share/h/#,
#          9 $SYS/#, 10 +, 11 t/a/b, 12 $share/g/+/a, 13 bad/#/x, 14 $share/g, 15 a/+/c/+
# Client ids: 0..3 c-0..c-3 (even: shard 0, odd: shard 1), 4 empty, 5 too long, 6 c-0, 7 c-1.
V31, V311, V5 = 0, 1, 2


def header(mailbox=0, one_per_source=False, sys=False, takeover_will=False, defer=0,
           small_buffers=False, inflight=0, queued=0, small_queue_bytes=False,
           max_sessions=False, subs=0, alias=0, no_outbound_alias=False, keepalive=0,
           qos2_v3=0, max_retained=False, filters=0, packet=0, shutdown=False):
    """Selectors index the tables in MakeOptions (0 is the default)."""
    h0 = mailbox | one_per_source << 2 | sys << 3 | takeover_will << 4 | defer << 5 | small_buffers << 7
    h1 = inflight | queued << 2 | small_queue_bytes << 4 | max_sessions << 5 | subs << 6
    h2 = alias | no_outbound_alias << 2 | keepalive << 3 | qos2_v3 << 5 | max_retained << 7
    h3 = filters | packet << 2
    h4 = int(shutdown)
    return bytes([h0, h1, h2, h3, h4])


def b_connect(k, ver=V5, clean=True, new_socket=True, cid=0, shard=0, expiry=0, keepalive=0,
              receive_max=0, alias_max=0, max_packet=0, will=None):
    """will: (topic, qos, retain, delay, expiry) with delay 0 none, 1 2 s, 2 10 s."""
    f1 = ver | clean << 2 | new_socket << 7
    f2 = cid | shard << 3 | expiry << 4
    f3 = keepalive | receive_max << 2 | alias_max << 4 | max_packet << 6
    out = bytes([0, k])
    if will is None:
        return out + bytes([f1, f2, f3])
    topic, qos, retain, delay, wexp = will
    f1 |= 8 | qos << 4 | retain << 6
    f4 = topic | (8 if delay else 0) | wexp << 4 | (32 if delay == 2 else 0)
    return out + bytes([f1, f2, f3, f4])


def b_publish(k, topic=0, qos=0, retain=False, dup=False, pid=0, size=2, props=None):
    """size: 0 empty, 1 1, 2 8, 3 40, 4 200, 5 700, 6 2000 bytes. props (MQTT 5): a byte."""
    f1 = qos | retain << 2 | dup << 3 | topic << 4 | (props is not None) << 7
    f2 = pid | size << 2
    return bytes([1, k, f1, f2]) + (bytes([props]) if props is not None else b"")


def b_subscribe(k, entries, pid=0, sub_id=0, rh=0):
    """entries: (filter, qos, no_local, retain_as_published)."""
    f = (len(entries) - 1) | pid << 2 | sub_id << 4 | rh << 6
    body = bytes(f_ | q << 4 | nl << 6 | rap << 7 for f_, q, nl, rap in entries)
    return bytes([2, k, f]) + body


def b_unsubscribe(k, a, b=None, pid=0):
    return bytes([3, k, a | (16 if b is not None else 0) | pid << 5, b or 0])


def b_answer(k, index=0, all_=False, failure=False):
    return bytes([4, k, index | failure << 6 | all_ << 7])


def b_ack(k, kind, pid, failure=False):
    """kind: 0 PUBACK, 1 PUBREC, 2 PUBREL, 3 PUBCOMP; pid 1..8."""
    return bytes([5, k, kind | (pid - 1) << 2 | failure << 5])


def b_raw(k, data):
    assert len(data) < 64
    return bytes([6, k, len(data)]) + data


def b_disconnect(k, reason=0, expiry=0):
    return bytes([7, k, reason | expiry << 2])


def b_close(k):
    return bytes([8, k])


def b_step(s):
    return bytes([9, s])


def b_steps(n=1):
    return bytes([10, n - 1])


def b_advance(sel):
    """sel: 0 1 ms, 1 50 ms, 2 500 ms, 3 1 s, 4 1.5 s, 5 3 s, 6 6 s, 7 11 s."""
    return bytes([11, sel])


def b_ping(k):
    return bytes([12, k])


def b_mute(k):
    return bytes([13, k])


def b_burst(k, n, topic=0, qos1=False):
    return bytes([14, k, (n - 2) | qos1 << 4 | topic << 5])


def broker_main():
    os.makedirs(BROKER_OUT, exist_ok=True)
    seeds = {}
    # Publish and subscribe across shards at every QoS, with every acknowledgement.
    seeds["pubsub_qos"] = header() + b"".join([
        b_connect(0, cid=0, shard=0), b_connect(1, cid=1, shard=1), b_steps(3),
        b_subscribe(1, [(2, 2, 0, 0)]), b_steps(3),
        b_publish(0, topic=1, qos=0), b_publish(0, topic=1, qos=1, pid=0),
        b_publish(0, topic=1, qos=2, pid=1), b_steps(3),
        b_answer(1, all_=True), b_answer(0, all_=True), b_steps(3),
        b_answer(1, all_=True), b_answer(0, all_=True), b_steps(3),
        b_disconnect(0), b_disconnect(1), b_steps(2)])
    # Takeovers: on the same shard, from the other shard (a hand-off), with clean start.
    seeds["takeover"] = header() + b"".join([
        b_connect(0, cid=0, shard=0, clean=False, expiry=4, will=(1, 1, True, 0, 0)),
        b_connect(1, cid=1, shard=1), b_steps(2), b_subscribe(1, [(3, 1, 0, 0)]), b_steps(2),
        b_connect(2, cid=0, shard=1, clean=False, expiry=4), b_steps(3),
        b_publish(2, topic=2, qos=1, pid=1), b_connect(3, cid=6, shard=0, clean=True),
        b_steps(4), b_answer(1, all_=True), b_steps(2)])
    # A hand-off while the accepting shard's mailboxes are backlogged (tests/sim/handoff_test).
    seeds["handoff_backlog"] = header(mailbox=1) + b"".join([
        b_connect(0, cid=1, shard=1), b_steps(3), b_subscribe(0, [(0, 0, 0, 0)]), b_steps(3),
        b_connect(1, cid=0, shard=0), b_steps(3), b_burst(1, 17, topic=0), b_step(0),
        b_connect(2, cid=3, shard=0), b_step(0), b_steps(4), b_steps(4)])
    # 3.1.1 and 3.1 sessions that survive their connections, with QoS 2 half done.
    seeds["v3_persistent"] = header(qos2_v3=1) + b"".join([
        b_connect(0, ver=V311, cid=2, clean=False), b_connect(1, ver=V31, cid=3, shard=1),
        b_steps(3), b_subscribe(0, [(2, 2, 0, 0)]), b_steps(3),
        b_publish(1, topic=3, qos=2, pid=0), b_publish(1, topic=3, qos=2, pid=1), b_steps(3),
        b_close(0), b_steps(2), b_publish(1, topic=3, qos=1, pid=2), b_steps(2),
        b_connect(0, ver=V311, cid=2, clean=False), b_steps(3), b_answer(0, all_=True),
        b_steps(2), b_answer(0, all_=True), b_steps(2)])
    # Shared subscriptions whose members come and go.
    seeds["shared_groups"] = header() + b"".join([
        b_connect(0, cid=0, expiry=3), b_connect(1, cid=1, shard=1, expiry=3),
        b_connect(2, cid=2), b_connect(3, cid=3, shard=1), b_steps(3),
        b_subscribe(0, [(5, 1, 0, 0)]), b_subscribe(1, [(5, 1, 0, 0), (12, 2, 0, 0)]),
        b_subscribe(2, [(8, 0, 0, 0)]), b_steps(4),
        b_burst(3, 8, topic=1, qos1=True), b_steps(2), b_close(1), b_steps(3),
        b_publish(3, topic=1, qos=2, pid=2), b_steps(3), b_answer(0, all_=True),
        b_unsubscribe(0, 5), b_steps(4)])
    # Retained messages: set, replaced, deleted, fetched by wildcard subscriptions.
    seeds["retained"] = header(sys=True) + b"".join([
        b_connect(0, cid=0), b_steps(2),
        b_publish(0, topic=1, retain=True, qos=1, pid=0), b_publish(0, topic=3, retain=True),
        b_publish(0, topic=4, retain=True, qos=2, pid=1), b_publish(0, topic=1, retain=True, size=0),
        b_steps(3), b_connect(1, cid=1, shard=1), b_steps(2),
        b_subscribe(1, [(2, 1, 0, 1), (3, 0, 0, 0), (9, 0, 0, 0)], rh=1), b_advance(3),
        b_steps(4), b_subscribe(1, [(2, 1, 0, 1)], rh=1), b_steps(4)])
    # Time: keep alive, will delay, session expiry, message expiry.
    seeds["timers"] = header() + b"".join([
        b_connect(0, cid=0, keepalive=1, expiry=3, clean=False, will=(2, 1, False, 1, 1)),
        b_connect(1, cid=1, shard=1, expiry=4), b_steps(2),
        b_subscribe(1, [(2, 1, 0, 0)]), b_steps(2), b_close(1), b_steps(2),
        b_publish(0, topic=2, qos=1, pid=0, props=0x10), b_advance(4), b_steps(2),
        b_advance(3), b_steps(2), b_connect(1, cid=1, shard=1, clean=False, expiry=4),
        b_steps(3), b_advance(6), b_steps(3)])
    # A subscriber that stops reading: congestion, QoS 0 dropped, QoS 1 queued.
    seeds["slow_consumer"] = header(small_buffers=True, inflight=2, queued=3) + b"".join([
        b_connect(0, cid=0), b_connect(1, cid=1, shard=1), b_steps(2),
        b_subscribe(1, [(3, 1, 0, 0)]), b_steps(2), b_mute(1),
        b_publish(0, topic=0, size=6), b_publish(0, topic=0, size=6, qos=1, pid=0),
        b_publish(0, topic=0, size=6), b_publish(0, topic=1, size=6, qos=1, pid=1),
        b_publish(0, topic=2, size=6, qos=1, pid=2), b_steps(4), b_ping(1), b_steps(2), b_mute(1),
        b_steps(3), b_answer(1, all_=True), b_steps(3)])
    # Every decision deferred (the asynchronous path of CONNACK/SUBACK/PUBACK), packets
    # pipelined behind them.
    seeds["deferred"] = header(defer=2) + b"".join([
        b_connect(0, cid=0), b_subscribe(0, [(2, 1, 0, 0)]), b_publish(0, topic=1, qos=1, pid=0),
        b_publish(0, topic=1, qos=2, pid=1), b_unsubscribe(0, 2), b_step(0), b_step(1),
        b_advance(1), b_steps(2), b_advance(1), b_steps(2), b_close(0), b_advance(1), b_steps(3)])
    # Topic aliases both ways, with a small Receive Maximum and Maximum Packet Size.
    seeds["aliases"] = header(alias=3) + b"".join([
        b_connect(0, cid=0, alias_max=2, receive_max=1, max_packet=2), b_connect(1, cid=2),
        b_steps(2), b_subscribe(0, [(3, 1, 0, 0)]), b_steps(3),
        b_publish(1, topic=1, qos=1, pid=0, props=0x01), b_publish(1, topic=1, props=0x05),
        b_publish(1, topic=3, qos=1, pid=1, props=0x02), b_publish(1, topic=2, size=5),
        b_steps(3), b_answer(0), b_steps(2), b_answer(0, all_=True), b_steps(2)])
    # Malformed input after a good CONNECT, and before one.
    seeds["malformed"] = header() + b"".join([
        b_connect(0, cid=0), b_steps(2), b_raw(0, b"\x30\xff\xff\xff\xff\x01"), b_steps(2),
        b_raw(1, b"\x82\x05\x00\x01\x00\x01#"), b_steps(2),
        b_raw(2, b"\x10\x0c\x00\x04MQTT\x05\x02\x00\x00\x00\x00"), b_steps(2),
        b_raw(2, b"\xf0\x00"), b_steps(2)])
    # Limits: sessions, subscriptions per session, filters per SUBSCRIBE, retained messages.
    seeds["limits"] = header(max_sessions=True, subs=1, filters=2, max_retained=True) + b"".join([
        b_connect(0, cid=0), b_connect(1, cid=1, shard=1), b_connect(2, cid=2),
        b_connect(3, cid=3, shard=1), b_connect(4, cid=4), b_steps(3),
        b_subscribe(0, [(1, 0, 0, 0), (2, 0, 0, 0), (3, 0, 0, 0)]), b_steps(2),
        b_publish(1, topic=0, retain=True), b_publish(1, topic=1, retain=True),
        b_publish(1, topic=2, retain=True), b_steps(3)])
    # DISCONNECT with reasons and Session Expiry Interval, then the session resumed.
    seeds["disconnect"] = header() + b"".join([
        b_connect(0, cid=0, clean=False, expiry=2, will=(4, 0, True, 0, 0)),
        b_connect(1, cid=1, shard=1, expiry=0), b_steps(2),
        b_subscribe(0, [(7, 2, 1, 0)]), b_steps(2), b_disconnect(0, reason=1, expiry=2),
        b_disconnect(1, expiry=2), b_steps(3), b_publish(2, topic=4, qos=2, pid=0),
        b_connect(0, cid=0, clean=False), b_steps(3)])
    # The broker stopped while everything is in use: connections with wills and deferred
    # answers, persistent sessions, messages in full mailboxes.
    seeds["shutdown_busy"] = header(mailbox=1, defer=3, shutdown=True) + b"".join([
        b_connect(0, cid=0, expiry=4, will=(0, 1, True, 1, 0)), b_connect(1, cid=1, shard=1),
        b_steps(2), b_advance(3), b_steps(2), b_subscribe(1, [(3, 2, 0, 0)]), b_advance(3),
        b_steps(3), b_burst(0, 17, topic=1, qos1=True), b_connect(2, cid=3, shard=0),
        b_step(0)])
    for name, data in seeds.items():
        with open(os.path.join(BROKER_OUT, name), "wb") as f:
            f.write(data)
    print(f"wrote {len(seeds)} seeds to {BROKER_OUT}")


if __name__ == "__main__":
    main()
