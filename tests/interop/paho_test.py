#!/usr/bin/python3
"""Interop: Eclipse Paho Python (python3-paho-mqtt 1.6.1) against the broker under test, in
MQTT 3.1.1 and 5.0.

Scenarios per version: QoS 0/1/2 round trips, a retained message delivered to a later
subscriber, the will published when the client's socket is closed without DISCONNECT, a
persistent session (clean_session=False / Clean Start 0 + Session Expiry) that queues QoS 1
messages while the client is offline and delivers them on reconnect without a new SUBSCRIBE,
and the + and # wildcards. Each client runs paho's network thread; events reach the
scenario through queues read with timeouts.
"""

import os
import queue
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import interop  # noqa: E402
from interop import check, expect_equal, queue_get  # noqa: E402

import paho.mqtt.client as mqtt  # noqa: E402
from paho.mqtt.packettypes import PacketTypes  # noqa: E402
from paho.mqtt.properties import Properties  # noqa: E402


def _code(rc):
    """paho gives ints in 3.1.1 and ReasonCodes objects in 5.0."""
    return getattr(rc, "value", rc)


class Client:
    def __init__(self, port, version, client_id="", clean=True, session_expiry=None, will=None):
        self.v5 = version == "v5"
        self.name = client_id or "paho"
        kwargs = {"client_id": client_id, "reconnect_on_failure": False,
                  "protocol": mqtt.MQTTv5 if self.v5 else mqtt.MQTTv311}
        if not self.v5:
            kwargs["clean_session"] = clean
        transport, port = interop.pick_transport(port)
        if transport == "websocket":
            kwargs["transport"] = "websockets"
        self.c = mqtt.Client(**kwargs)
        if transport == "websocket":
            self.c.ws_set_options(path=interop.WS_PATH)
        self.connacks = queue.Queue()
        self.subacks = queue.Queue()
        self.messages = queue.Queue()
        self.disconnects = queue.Queue()
        self.c.on_connect = lambda _c, _u, flags, rc, *_: self.connacks.put((flags, _code(rc)))
        self.c.on_subscribe = lambda _c, _u, mid, granted, *_: self.subacks.put(
            (mid, [_code(g) for g in granted]))
        self.c.on_message = lambda _c, _u, m: self.messages.put(
            (m.topic, m.payload.decode(errors="replace"), m.qos, bool(m.retain)))
        self.c.on_disconnect = lambda _c, _u, rc, *_: self.disconnects.put(_code(rc))
        if will is not None:
            self.c.will_set(**will)
        connect_kwargs = {}
        if self.v5:
            connect_kwargs["clean_start"] = clean
            if session_expiry is not None:
                props = Properties(PacketTypes.CONNECT)
                props.SessionExpiryInterval = session_expiry
                connect_kwargs["properties"] = props
        self.c.connect("127.0.0.1", port, keepalive=60, **connect_kwargs)
        self.c.loop_start()
        flags, rc = queue_get(self.connacks, f"the CONNACK of {self.name}")
        expect_equal(f"CONNACK code of {self.name}", 0, rc)
        self.session_present = bool(flags.get("session present"))

    def subscribe(self, topic, qos):
        rc, mid = self.c.subscribe(topic, qos)
        check(rc == mqtt.MQTT_ERR_SUCCESS, f"subscribe({topic}) failed locally: {rc}")
        got_mid, granted = queue_get(self.subacks, f"the SUBACK for {topic}")
        expect_equal(f"SUBACK packet id for {topic}", mid, got_mid)
        expect_equal(f"granted QoS for {topic}", [qos], granted)

    def publish(self, topic, payload, qos, retain=False):
        info = self.c.publish(topic, payload, qos=qos, retain=retain)
        info.wait_for_publish(timeout=interop.DEFAULT_TIMEOUT)
        check(info.is_published(),
              f"PUBLISH to {topic} (QoS {qos}) not acknowledged within {interop.DEFAULT_TIMEOUT} s")

    def next_message(self, what):
        return queue_get(self.messages, what)

    def expect_quiet(self, what):
        interop.queue_quiet(self.messages, what)

    def disconnect(self):
        self.c.disconnect()
        queue_get(self.disconnects, f"the end of {self.name}'s connection after DISCONNECT")
        self.c.loop_stop()

    def drop(self):
        """Ends the TCP connection without DISCONNECT, as a crashed client's kernel would.

        shutdown() sends the FIN and wakes paho's network thread, which sees the connection
        lost and ends (reconnect_on_failure is off); nothing more is sent.
        """
        sock = self.c.socket()
        # Over WebSocket paho hands out its wrapper; the TCP socket is inside.
        sock = getattr(sock, "_socket", sock)
        if sock is not None:
            sock.shutdown(socket.SHUT_RDWR)
        queue_get(self.disconnects, f"paho noticing the end of {self.name}'s connection")
        self.c.loop_stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        # DISCONNECT (if still connected) also wakes and ends the network thread at once.
        if self.c.is_connected():
            self.c.disconnect()
        self.c.loop_stop()


def expect_message(client, what, topic, payload, qos, retain):
    got = client.next_message(what)
    expect_equal(what + " (topic, payload, qos, retain)", (topic, payload, qos, retain), got)


def scenarios_for(version):
    prefix = f"interop/paho/{version}"

    def round_trip(qos):
        def run(port):
            topic = f"{prefix}/qos{qos}"
            with Client(port, version) as sub, Client(port, version) as pub:
                sub.subscribe(topic, qos)
                pub.publish(topic, f"hello qos{qos}", qos)
                expect_message(sub, f"the QoS {qos} message", topic, f"hello qos{qos}", qos, False)
                sub.expect_quiet("a second copy")
                pub.disconnect()
                sub.disconnect()
        return run

    def retained(port):
        topic = f"{prefix}/retained"
        with Client(port, version) as pub:
            pub.publish(topic, "kept", 1, retain=True)
            with Client(port, version) as sub:
                sub.subscribe(topic, 1)
                expect_message(sub, "the retained message", topic, "kept", 1, True)
            pub.publish(topic, b"", 1, retain=True)  # an empty retained message clears it
            with Client(port, version) as sub:
                sub.subscribe(topic, 1)
                sub.expect_quiet("the cleared retained message")

    def will(port):
        will_topic = f"{prefix}/will"
        with Client(port, version) as watcher:
            watcher.subscribe(will_topic, 1)
            victim = Client(port, version, client_id=f"paho-{version}-victim",
                            will={"topic": will_topic, "payload": "victim died", "qos": 1})
            victim.drop()
            expect_message(watcher, "the will message", will_topic, "victim died", 1, False)

    def persistent_session(port):
        topic = f"{prefix}/session"
        cid = f"paho-{version}-persistent"
        expiry = 60 if version == "v5" else None
        with Client(port, version, client_id=cid, clean=False, session_expiry=expiry) as c:
            c.subscribe(topic, 1)
            c.disconnect()
        with Client(port, version) as pub:
            for i in range(3):
                pub.publish(topic, f"queued {i}", 1)
        # Reconnect without subscribing again: the session holds the subscription.
        with Client(port, version, client_id=cid, clean=False, session_expiry=expiry) as c:
            check(c.session_present, "CONNACK Session Present: expected 1, received 0")
            for i in range(3):
                expect_message(c, f"queued message {i}", topic, f"queued {i}", 1, False)
            c.expect_quiet("messages beyond the 3 queued")
            c.disconnect()

    def wildcards(port):
        case = interop.WildcardCase(f"{prefix}/wild")
        with Client(port, version) as s_plus, Client(port, version) as s_hash, \
                Client(port, version) as pub:
            s_plus.subscribe(case.plus, 1)
            s_hash.subscribe(case.hash, 1)
            for i, t in enumerate(case.published):
                pub.publish(t, f"reading {i}", 1)
            case.expect_delivered(s_plus, case.plus)
            case.expect_delivered(s_hash, case.hash)

    return [
        (f"{version} qos0 round trip", round_trip(0)),
        (f"{version} qos1 round trip", round_trip(1)),
        (f"{version} qos2 round trip", round_trip(2)),
        (f"{version} retained message to a later subscriber", retained),
        (f"{version} will on dropped connection", will),
        (f"{version} persistent session queues qos1 while offline", persistent_session),
        (f"{version} wildcards + and #", wildcards),
    ]


if __name__ == "__main__":
    interop.main("paho", scenarios_for("v3.1.1") + scenarios_for("v5"))
