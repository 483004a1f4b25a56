#!/usr/bin/env python3
"""Writes the decoder fuzzer's seed corpus (corpus/decoder/*). Run once; the output is committed.

Each seed is one control byte (version = byte % 3: 0 -> 3.1, 1 -> 3.1.1, 2 -> 5.0) followed by
a stream of MQTT packets, built here by hand from the specification (independently of the
codec under test).
"""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "decoder")


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


if __name__ == "__main__":
    main()
