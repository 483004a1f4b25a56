#!/usr/bin/python3
"""The messenger on a weak network: every message is shown exactly once, in order per sender.

The network, made here and removed at the end (even on failure):

  namespace rmq-wn-c-PID (the phones)                namespace rmq-wn-s-PID (the server)
  chat.mjs alice  --TCP--\
  chat.mjs bob    --TCP---> delay_proxy.py  ==veth==>  build/ringmq 10.213.0.1:1883 (mqtt)
  chat.mjs carol  --ws:/-/  (127.0.0.1)    10.213.0.2  10.213.0.1   and :8080 (ws://, /mqtt)

- `tc tbf` at 256 kbit/s on both ends of the veth (the bandwidth, each way);
- nftables on the client end dropping 3% of the packets at random, each way (the loss);
- delay_proxy.py adding 150 ms to each direction (the latency: the kernel here has no netem).

The clients are the console client (examples/messenger/console/chat.mjs, on chat-core) in its
--json mode: alice and bob over TCP, carol over WebSocket. They exchange DMs (alice <-> bob)
and room messages (room general, all three) at a steady pace, in four phases:
  1. steady: the weak network as it is;
  2. cut: 2 s in, all traffic on the link is dropped for 10 s while they keep writing;
  3. handover: the proxy resets every client connection (a phone changing network) while
     they keep writing; the clients reconnect with their back-off and resume their sessions;
  4. restart: carol's client ends, the others write to the room, carol's starts again on
     the same state dir (same device, same session) and shows what was written meanwhile.
Then every message must have been shown (a 'message' event) exactly once to each of its
receivers, in the order each sender sent them, and every sender's message must have left
its outbox (PUBACK) and come back delivered (a receipt). Prints the delivery
latency (the sender's ts to the receiver's event, one machine clock) as
`latency_weak_ms p50=.. p99=.. n=..`, for the whole run and per phase. tests/messenger/README.md
has the details and measured figures.

Needs root (network namespaces), ip, tc, nft, node, and MQTT.js in
examples/messenger/node_modules (scripts/setup.sh --tests). Without them the test is skipped
(exit 77) with a note, except under CI (CI set and not "false"/"0"), where they are there, so
their absence fails.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "interop"))
import interop  # noqa: E402  (popen: children die with the driver)

SKIP = 77
MESSENGER = os.path.join(ROOT, "examples", "messenger")
CHAT = os.path.join(MESSENGER, "console", "chat.mjs")
PROXY = os.path.join(HERE, "delay_proxy.py")
PYTHON = "/usr/bin/python3"

SERVER_ADDR = "10.213.0.1"
CLIENT_ADDR = "10.213.0.2"
MQTT_PORT = 1883
WS_PORT = 8080
RATE = "256kbit"
DROP_PERCENT = 3
DELAY_MS = 150  # one way, added by the proxy
CUT_S = 10.0

ROUND_S = 0.4   # every sender writes once per round (carol every other round)
STEADY_ROUNDS = 20
CUT_ROUNDS = 40
CUT_AT_ROUND = 5     # the cut starts just before this round of the cut phase
HANDOVER_ROUNDS = 10
HANDOVER_AT_ROUND = 3
AWAY_ROUNDS = 6
DELIVERY_TIMEOUT_S = 40.0  # after a phase's last message, for everything to arrive
RECEIPT_TIMEOUT_S = 10.0  # after the PUBACKs, for the delivered receipts
QUIET_S = 1.0  # watched at the end for late duplicates (3+ round trips on this link)


class Failure(Exception):
    pass


def in_ci():
    return os.environ.get("CI", "").lower() not in ("", "0", "false")


def run(argv, input_text=None, check=True):
    p = subprocess.run(argv, input=input_text, capture_output=True, text=True, timeout=30)
    if check and p.returncode != 0:
        raise Failure(f"{' '.join(argv)}: exit {p.returncode}: {p.stderr.strip()}")
    return p


def missing_tools(broker):
    notes = []
    if os.geteuid() != 0:
        notes.append("not root (network namespaces need CAP_NET_ADMIN)")
    for tool in ("ip", "tc", "nft"):
        if not shutil.which(tool):
            notes.append(f"no `{tool}` (iproute2 / nftables)")
    if not shutil.which("node"):
        notes.append("no `node` on PATH")
    if not os.path.isfile(os.path.join(MESSENGER, "node_modules", "mqtt", "package.json")):
        notes.append(f"MQTT.js is not installed in {MESSENGER}/node_modules")
    if not broker or not os.access(broker, os.X_OK):
        notes.append(f"RINGMQ_BROKER={broker!r} is not an executable (is the broker built?)")
    return notes


def percentile(sorted_values, p):
    """Nearest rank."""
    if not sorted_values:
        return float("nan")
    rank = max(1, -(-len(sorted_values) * p // 100))
    return sorted_values[int(rank) - 1]


# ---- the network ---------------------------------------------------------------------------------

class Network:
    def __init__(self):
        pid = os.getpid()
        self.server_ns = f"rmq-wn-s-{pid}"
        self.client_ns = f"rmq-wn-c-{pid}"
        self.server_if = f"wns{pid}"[:15]
        self.client_if = f"wnc{pid}"[:15]
        self.made = []

    def exec_argv(self, ns, argv):
        return ["ip", "netns", "exec", ns] + list(argv)

    @staticmethod
    def remove_stale():
        """Namespaces of earlier runs whose process is gone (killed before its clean-up)."""
        p = run(["ip", "netns", "list"], check=False)
        for line in p.stdout.splitlines():
            name = line.split(" ")[0]
            prefix, _, pid = name.rpartition("-")
            if prefix in ("rmq-wn-s", "rmq-wn-c") and pid.isdigit() and \
                    not os.path.exists(f"/proc/{pid}"):
                run(["ip", "netns", "delete", name], check=False)

    def create_namespaces(self):
        """Returns None, or why namespaces cannot be made here."""
        self.remove_stale()
        for ns in (self.server_ns, self.client_ns):
            p = run(["ip", "netns", "add", ns], check=False)
            if p.returncode != 0:
                return f"`ip netns add` failed: {p.stderr.strip()}"
            self.made.append(ns)
        return None

    def build(self):
        s, c = self.server_ns, self.client_ns
        # Both ends made directly inside their namespaces: nothing appears in the caller's.
        run(["ip", "link", "add", self.server_if, "netns", s, "type", "veth",
             "peer", "name", self.client_if, "netns", c])
        for ns, ifname, addr in ((s, self.server_if, SERVER_ADDR), (c, self.client_if, CLIENT_ADDR)):
            run(["ip", "-n", ns, "link", "set", "lo", "up"])
            run(["ip", "-n", ns, "addr", "add", f"{addr}/30", "dev", ifname])
            run(["ip", "-n", ns, "link", "set", ifname, "up"])
            # The bandwidth, each way: a token bucket on each end's egress. burst 8 kB lets a
            # few full-size packets through at once, as a radio's buffer does; latency 300 ms
            # bounds the queue (beyond it tbf drops, as an overfull link does).
            run(self.exec_argv(ns, ["tc", "qdisc", "add", "dev", ifname, "root", "tbf",
                                    "rate", RATE, "burst", "8kb", "latency", "300ms"]))
        # The loss, each way, at the client's interface.
        run(self.exec_argv(c, ["nft", "-f", "-"]), input_text=f"""
table inet weak {{
  chain in {{ type filter hook input priority 0; iifname "{self.client_if}" numgen random mod 100 < {DROP_PERCENT} drop; }}
  chain out {{ type filter hook output priority 0; oifname "{self.client_if}" numgen random mod 100 < {DROP_PERCENT} drop; }}
}}
""")

    # The link cut. A phone that loses its signal loses packets: the radio does not keep ten
    # seconds of traffic to deliver later, and the phone's TCP does not learn that anything
    # happened. So every packet on the client's interface is dropped (not held, as a proxy
    # pausing its forwarding would): both TCP ends retransmit with their exponential
    # back-off, the connections survive (10 s is far below TCP's give-up time and the 45 s the
    # broker allows a 30 s keep alive), and traffic resumes at the first retransmission after
    # the signal is back, seconds later, as on a real phone. Messages written meanwhile wait
    # in the outbox (state pending) until their PUBACK.
    def cut(self):
        run(self.exec_argv(self.client_ns, ["nft", "-f", "-"]), input_text=f"""
table inet cut {{
  chain in {{ type filter hook input priority -10; iifname "{self.client_if}" drop; }}
  chain out {{ type filter hook output priority -10; oifname "{self.client_if}" drop; }}
}}
""")

    def restore(self):
        run(self.exec_argv(self.client_ns, ["nft", "delete", "table", "inet", "cut"]))

    def counters(self):
        """Packets seen by the link (the server end's tc statistics), for the log."""
        p = run(self.exec_argv(self.server_ns, ["tc", "-s", "qdisc", "show", "dev",
                                                self.server_if]), check=False)
        return " ".join(p.stdout.split())

    def destroy(self):
        for ns in reversed(self.made):
            run(["ip", "netns", "delete", ns], check=False)
        self.made = []


# ---- processes -----------------------------------------------------------------------------------

def stop_process(proc, timeout=5.0):
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


def end_input_then_stop(proc, timeout):
    """Closes the child's stdin (its signal to finish), waits, then SIGTERM / SIGKILL."""
    if proc.poll() is None:
        try:
            proc.stdin.close()
            proc.wait(timeout=timeout)
        except (OSError, subprocess.TimeoutExpired):
            pass
    stop_process(proc)


class Lines:
    """A child's stdout lines, read by a thread, waited on with a condition."""

    def __init__(self, stream, parse=lambda s: s):
        self.items = []
        self.ended = False
        self.cond = threading.Condition()
        self.parse = parse
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream):
        for raw in stream:
            item = self.parse(raw.decode(errors="replace").rstrip("\n"))
            with self.cond:
                self.items.append(item)
                self.cond.notify_all()
        with self.cond:
            self.ended = True
            self.cond.notify_all()

    def wait(self, predicate, what, timeout):
        """Waits until predicate(items) is true; returns its value."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                value = predicate(self.items)
                if value:
                    return value
                left = deadline - time.monotonic()
                if left <= 0 or self.ended:
                    why = "the process ended" if self.ended else f"{timeout:.0f} s passed"
                    raise Failure(f"waiting for {what}: {why}")
                self.cond.wait(left)

    def snapshot(self):
        with self.cond:
            return list(self.items)


class Broker:
    """build/ringmq in the server namespace; extra_args are added to its command line
    (bench/messenger/browser_latency.py adds --http-root)."""

    def __init__(self, net, exe, folder, extra_args=()):
        self.log_path = os.path.join(folder, "broker.log")
        self.log = open(self.log_path, "wb")
        argv = net.exec_argv(net.server_ns, [
            exe, "--listen", f"{SERVER_ADDR}:{MQTT_PORT}", "--listen",
            f"ws://{SERVER_ADDR}:{WS_PORT}", "--threads", "2", "--log-level", "warning",
            "--data-dir", os.path.join(folder, "data")] + list(extra_args))
        # `ip netns exec` execs the program: the PID is the broker's.
        self.proc = interop.popen(argv, stdout=subprocess.PIPE, stderr=self.log)
        self.lines = Lines(self.proc.stdout)
        self.lines.wait(lambda items: "ready" in items, "the broker's 'ready' line", 20)

    def stop(self):
        """SIGTERM by PID; returns an error string or None."""
        if self.proc.poll() is not None:
            return f"the broker had ended with status {self.proc.returncode}"
        stop_process(self.proc, timeout=10)
        self.log.close()
        if self.proc.returncode != 0:
            return f"the broker exited with status {self.proc.returncode} after SIGTERM"
        return None


class Proxy:
    def __init__(self, net, folder):
        self.log = open(os.path.join(folder, "proxy.log"), "wb")
        argv = net.exec_argv(net.client_ns, [
            PYTHON, PROXY, "--delay-ms", str(DELAY_MS), f"0={SERVER_ADDR}:{MQTT_PORT}",
            f"0={SERVER_ADDR}:{WS_PORT}"])
        self.proc = interop.popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=self.log)
        self.lines = Lines(self.proc.stdout)
        items = self.lines.wait(lambda items: "ready" in items and items, "the proxy", 10)
        ports = [interop.port_from_listening_line(l) for l in items if l.startswith("listening")]
        self.mqtt_port, self.ws_port = ports

    def command(self, word):
        n = len(self.lines.snapshot())
        self.proc.stdin.write(f"{word}\n".encode())
        self.proc.stdin.flush()
        return self.lines.wait(lambda items: len(items) > n and items[n], f"proxy {word}", 5)

    def stop(self):
        end_input_then_stop(self.proc, 5)
        self.log.close()


class Chat:
    """One console client in --json mode; end_run() then start() runs it again on the same
    state dir."""

    def __init__(self, net, folder, user, url):
        self.user = user
        self.log_path = os.path.join(folder, f"{user}.log")
        self.argv = net.exec_argv(net.client_ns, [
            shutil.which("node"), CHAT, "--json", "--user", user, "--url", url,
            "--room", "general", "--state-dir", os.path.join(folder, f"state-{user}")])
        self.past = []  # the events of the runs before this one
        self.runs = 0
        self.start()

    def start(self):
        self.log = open(self.log_path, "ab")
        self.proc = interop.popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=self.log, cwd=MESSENGER)
        self.events = Lines(self.proc.stdout, parse=self._parse)
        self.runs += 1

    def _parse(self, line):
        try:
            return json.loads(line)
        except ValueError:
            return {"event": "not-json", "line": line}

    def command(self, line):
        self.proc.stdin.write(f"{line}\n".encode())
        self.proc.stdin.flush()

    def send(self, conv, text):
        self.command(f"/send {conv} {text}")

    def wait(self, predicate, what, timeout):
        """Waits until predicate(the events of every run so far) is true."""
        return self.events.wait(lambda items: predicate(self.past + items),
                                f"{self.user}: {what}", timeout)

    def snapshot(self):
        return self.past + self.events.snapshot()

    def received(self):
        """Messages from the others, in the order they were shown: (at, message)."""
        return [(e["at"], e["message"]) for e in self.snapshot()
                if e.get("event") == "message" and e["message"]["from"] != self.user]

    def own_states(self, items=None):
        """text -> {'state': the latest, 'sent_at': when it became 'sent' (PUBACK) or None},
        for each own message (from `items`, the events so far by default)."""
        own = {}
        for e in self.snapshot() if items is None else items:
            if e.get("event") in ("message", "update") and e["message"]["from"] == self.user:
                m = e["message"]
                o = own.setdefault(m["text"], {"sent_at": None})
                o["state"] = m["state"]
                if m["state"] == "sent" and o["sent_at"] is None:
                    o["sent_at"] = e["at"]
        return own

    def stop(self):
        end_input_then_stop(self.proc, 10)  # chat.mjs disconnects and exits at end of input
        self.log.close()
        return self.proc.returncode

    def end_run(self):
        """Ends this run (start() begins the next, on the same state dir)."""
        rc = self.stop()
        if rc != 0:
            raise Failure(f"{self.user}'s chat.mjs exited with status {rc} at the end of input")
        self.past += self.events.snapshot()


# ---- the conversation ----------------------------------------------------------------------------

class Conversation:
    ROOM = "room:general"

    def __init__(self, chats):
        self.chats = {c.user: c for c in chats}
        self.sent = []  # (phase, sender, conv, text, wall ms when the line was written)
        self.away = set()  # users whose client is not running: they write nothing

    def receivers(self, sender, conv):
        if conv.startswith("dm:"):
            return [conv[3:]]
        return [u for u in self.chats if u != sender]

    def write_round(self, phase, k):
        lines = [("alice", "dm:bob" if k % 2 == 0 else self.ROOM),
                 ("bob", "dm:alice" if k % 2 == 1 else self.ROOM)]
        if k % 2 == 0:
            lines.append(("carol", self.ROOM))
        for sender, conv in lines:
            if sender in self.away:
                continue
            text = f"{phase}/{sender}/{k}"
            self.sent.append((phase, sender, conv, text, time.time() * 1000))
            self.chats[sender].send(conv, text)

    def play(self, phase, rounds, actions=None):
        """Writes `rounds` rounds at a steady pace; actions: {round: fn()} run just before."""
        t0 = time.monotonic()
        for k in range(rounds):
            delay = t0 + k * ROUND_S - time.monotonic()
            if delay > 0:
                time.sleep(delay)  # the pace of the writers, not a wait for an outcome
            if actions and k in actions:
                actions[k]()
            self.write_round(phase, k)

    def wait_delivered(self, timeout):
        """Until every message written so far was shown to each of its receivers."""
        deadline = time.monotonic() + timeout
        for user, chat in self.chats.items():
            want = {text for _, sender, conv, text, _ in self.sent
                    if user in self.receivers(sender, conv)}
            chat.wait(lambda items: want <= {e["message"]["text"] for e in items
                                             if e.get("event") == "message"},
                      f"all {len(want)} messages for {user}",
                      max(0.1, deadline - time.monotonic()))

    def wait_outboxes_done(self, states, what, timeout):
        """Until every sender's messages are in one of `states`; returns [] or, when the
        timeout passed, the messages still behind as "TEXT=STATE"."""
        deadline = time.monotonic() + timeout
        late = []
        for user, chat in self.chats.items():
            mine = {text for _, sender, _, text, _ in self.sent if sender == user}

            def behind(items=None, chat=chat, mine=mine):
                own = chat.own_states(items)
                return sorted(f"{t}={own[t]['state'] if t in own else 'unknown'}" for t in mine
                              if t not in own or own[t]["state"] not in states)

            try:
                chat.wait(lambda items: not behind(items), f"its {len(mine)} messages {what}",
                          max(0.1, deadline - time.monotonic()))
            except Failure:
                late += behind()
        return late

    def check_exactly_once_in_order(self):
        """Returns (problems, latencies by phase)."""
        problems = []
        latencies = {}
        by_text = {text: (phase, sender, conv) for phase, sender, conv, text, _ in self.sent}
        order = {text: i for i, (_, _, _, text, _) in enumerate(self.sent)}
        for user, chat in self.chats.items():
            shown = chat.received()
            counts = {}
            last_index = {}
            for at, m in shown:
                text = m["text"]
                counts[text] = counts.get(text, 0) + 1
                if text not in by_text:
                    problems.append(f"{user} was shown a message nobody wrote: {m}")
                    continue
                phase, sender, conv = by_text[text]
                if m["from"] != sender or m["conv"] != (f"dm:{sender}" if conv.startswith("dm:")
                                                        else conv):
                    problems.append(f"{user} was shown {text!r} as {m['from']} in {m['conv']}")
                if counts[text] > 1:
                    problems.append(f"{user} was shown {text!r} {counts[text]} times")
                    continue
                i = order[text]
                if last_index.get(sender, -1) > i:
                    problems.append(f"{user} was shown {text!r} after a later message of "
                                    f"{sender} ({self.sent[last_index[sender]][3]!r})")
                last_index[sender] = max(last_index.get(sender, -1), i)
                latencies.setdefault(phase, []).append(at - m["ts"])
            for phase, sender, conv, text, _ in self.sent:
                if user in self.receivers(sender, conv) and text not in counts:
                    problems.append(f"{user} was never shown {text!r}")
        return problems, latencies


def latency_line(name, values):
    v = sorted(values)
    return (f"{name} p50={percentile(v, 50):.0f} p99={percentile(v, 99):.0f} "
            f"max={v[-1] if v else float('nan'):.0f} n={len(v)}")


def scenario(net, folder, broker_exe):
    t_setup = time.monotonic()
    broker = Broker(net, broker_exe, folder)
    proxy = chats = None
    try:
        proxy = Proxy(net, folder)
        chats = [Chat(net, folder, "alice", f"mqtt://127.0.0.1:{proxy.mqtt_port}"),
                 Chat(net, folder, "bob", f"mqtt://127.0.0.1:{proxy.mqtt_port}"),
                 Chat(net, folder, "carol", f"ws://127.0.0.1:{proxy.ws_port}/mqtt")]
        users = [c.user for c in chats]
        t_clients = time.monotonic()
        for c in chats:
            c.wait(lambda items: any(e.get("event") == "state" and e["state"] == "online"
                                     for e in items), "online", 30)
        t_online = time.monotonic()
        for c in chats:
            others = set(users) - {c.user}
            c.wait(lambda items: others <= {e["user"] for e in items
                                            if e.get("event") == "presence"
                                            and e["state"] == "online"},
                   f"presence of {sorted(others)} online", 30)
        conv = Conversation(chats)
        t_start = time.monotonic()
        print(f"set-up in {t_start - t_setup:.1f} s: broker and proxy "
              f"{t_clients - t_setup:.1f} s, {len(chats)} clients online "
              f"{t_online - t_clients:.1f} s, each seeing the others online "
              f"{t_start - t_online:.1f} s", flush=True)

        # 1. Steady: the weak network alone.
        conv.play("steady", STEADY_ROUNDS)
        conv.wait_delivered(DELIVERY_TIMEOUT_S)
        print(f"steady: {len(conv.sent)} messages shown to all their receivers "
              f"({time.monotonic() - t_start:.1f} s in)", flush=True)

        # 2. The 10-second cut while everybody keeps writing.
        cut = {}

        def cut_on():
            net.cut()
            cut["from"] = time.time() * 1000
            timer_end = time.monotonic() + CUT_S
            cut["end_monotonic"] = timer_end

        def cut_off_when_due():
            # The cut lasts CUT_S whatever the writers are doing: a thread ends it on time.
            while "end_monotonic" not in cut:
                time.sleep(0.01)
            time.sleep(max(0.0, cut["end_monotonic"] - time.monotonic()))
            net.restore()
            cut["to"] = time.time() * 1000

        ender = threading.Thread(target=cut_off_when_due, daemon=True)
        ender.start()
        conv.play("cut", CUT_ROUNDS, {CUT_AT_ROUND: cut_on})
        ender.join(timeout=CUT_S + 5)
        if "to" not in cut:
            raise Failure("the cut was not lifted")
        conv.wait_delivered(DELIVERY_TIMEOUT_S)
        during = [(s, t) for p, s, _, t, w in conv.sent if p == "cut" and cut["from"] <= w < cut["to"]]
        # They waited in the outbox: no PUBACK could come before the link was back.
        early = []
        for c in chats:
            early += [t for t, o in c.own_states().items()
                      if (c.user, t) in during and o["sent_at"] is not None
                      and o["sent_at"] < cut["to"]]
        if early:
            raise Failure(f"messages written during the cut were acknowledged before it ended "
                          f"(was the link cut?): {early[:5]}")
        print(f"cut: {len(during)} messages written during the {CUT_S:.0f} s cut waited in the "
              f"outboxes; all shown ({time.monotonic() - t_start:.1f} s in)", flush=True)

        # 3. Handover: every client connection reset mid-conversation.
        resets = {}

        def reset():
            for c in chats:
                c.online_count_at_reset = sum(1 for e in c.snapshot()
                                              if e.get("event") == "state"
                                              and e["state"] == "online")
            resets["answer"] = proxy.command("reset")

        conv.play("handover", HANDOVER_ROUNDS, {HANDOVER_AT_ROUND: reset})
        conv.wait_delivered(DELIVERY_TIMEOUT_S)
        connections = {}
        for c in chats:
            def reconnected(items, before=c.online_count_at_reset):
                states = [e["state"] for e in items if e.get("event") == "state"]
                return states[-1] == "online" and states.count("online") > before

            c.wait(reconnected, "reconnected after the reset", DELIVERY_TIMEOUT_S)
            connections[c.user] = sum(1 for e in c.snapshot()
                                      if e.get("event") == "state" and e["state"] == "online")
        print(f"handover: proxy answered {resets.get('answer')!r}; connections per client "
              f"{connections}; all shown "
              f"({time.monotonic() - t_start:.1f} s in)", flush=True)

        # 4. Restart: carol's client ends (end of input: disconnect, the session stays) while
        # the others write to the room; run again on the same state dir, it is the same device,
        # resumes the session and shows what was written meanwhile, and nothing twice.
        carol = conv.chats["carol"]
        device = [e["device"] for e in carol.snapshot() if e.get("event") == "started"][0]
        carol.end_run()
        conv.away.add("carol")
        conv.play("away", AWAY_ROUNDS)
        conv.away.clear()
        carol.start()
        again = carol.wait(lambda items: [e for e in items if e.get("event") == "started"][1:],
                           "started again", 30)[0]
        if again["device"] != device:
            raise Failure(f"carol's device changed across a restart: {device} -> "
                          f"{again['device']} (the state dir's store was not kept)")
        conv.wait_delivered(DELIVERY_TIMEOUT_S)
        room_texts = {t for _, _, c, t, _ in conv.sent if c == Conversation.ROOM}
        carol.command(f"/history {Conversation.ROOM}")
        history = carol.wait(lambda items: [e for e in items if e.get("event") == "history"],
                             "the room's history", 10)[0]["messages"]
        kept = sorted(m["text"] for m in history)
        if kept != sorted(room_texts):
            raise Failure(f"carol's history of the room after the restart has {len(kept)} "
                          f"messages, {len(set(kept))} distinct, expected {len(room_texts)}: "
                          f"missing {sorted(room_texts - set(kept))[:5]}")
        print(f"restart: carol back as device {device} ({carol.runs} runs), shown what was "
              f"written while away, history of {len(kept)} room messages kept "
              f"({time.monotonic() - t_start:.1f} s in)", flush=True)

        # Every outbox is empty: each message got its PUBACK.
        late = conv.wait_outboxes_done(("sent", "delivered", "read"), "acknowledged (PUBACK)",
                                       DELIVERY_TIMEOUT_S)
        if late:
            raise Failure(f"messages never left their sender's outbox: {' '.join(late[:10])}")
        # And came back delivered: a receipt from a receiver, including those in flight when
        # the handover reset the connections (chat-core sends them again).
        late = conv.wait_outboxes_done(("delivered", "read"), "delivered (receipts back)",
                                       RECEIPT_TIMEOUT_S)
        if late:
            raise Failure(f"{len(late)} messages never marked delivered: {' '.join(late[:10])}")
        print(f"receipts: all {len(conv.sent)} messages acknowledged and marked delivered",
              flush=True)
        for c in chats:
            others = set(users) - {c.user}

            def all_online(items):
                latest = {}
                for e in items:
                    if e.get("event") == "presence":
                        latest[e["user"]] = e["state"]
                return all(latest.get(u) == "online" for u in others)

            c.wait(all_online, f"{sorted(others)} online at the end", DELIVERY_TIMEOUT_S)

        # Late duplicates (a QoS 1 redelivery after the checks above) are not shown either:
        # give them one more round trip through the slow link before counting.
        time.sleep(QUIET_S)
        problems, latencies = conv.check_exactly_once_in_order()
        n_sent = len(conv.sent)
        n_shown = sum(len(v) for v in latencies.values())
        print(f"{n_sent} messages written, {n_shown} shown to their receivers "
              f"({time.monotonic() - t_start:.1f} s)", flush=True)
        print(f"profile: {RATE} each way (tc tbf), {DROP_PERCENT}% random drop each way "
              f"(nftables), +{DELAY_MS} ms each way (proxy); link: {net.counters()}", flush=True)
        # The restart phase's figures include carol's time away: not a network latency.
        every = [x for phase, v in latencies.items() if phase != "away" for x in v]
        print(latency_line("latency_weak_ms", every), flush=True)
        print(latency_line("latency_weak_nocut_ms", latencies.get("steady", [])), flush=True)
        print(latency_line("latency_weak_cut_ms", latencies.get("cut", [])), flush=True)
        print(latency_line("latency_weak_handover_ms", latencies.get("handover", [])), flush=True)
        print(latency_line("latency_weak_away_ms", latencies.get("away", [])), flush=True)
        if problems:
            raise Failure(f"{len(problems)} problems:\n  " + "\n  ".join(problems[:30]))
    finally:
        for c in chats or []:
            c.stop()
        if proxy:
            proxy.stop()
        error = broker.stop()
        if error:
            raise Failure(error)


def main():
    broker_exe = os.environ.get("RINGMQ_BROKER") or os.path.join(ROOT, "build", "ringmq")
    missing = missing_tools(broker_exe)
    net = Network()

    def skip_or_fail(note):
        if in_ci():
            print(f"FAIL messenger/weak_network: {note}; under CI scripts/setup.sh --tests "
                  "installs them and the runner is root", flush=True)
            return 1
        print(f"SKIP messenger/weak_network: {note}", flush=True)
        return SKIP

    if missing:
        return skip_or_fail("; ".join(missing))

    # meson's timeout sends SIGTERM: unwind so the namespaces and processes go too.
    def on_term(signum, frame):
        raise SystemExit(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_term)
    started = time.monotonic()
    folder = tempfile.mkdtemp(prefix="ringmq-weak-network-")
    rc = 1
    try:
        why = net.create_namespaces()
        if why:
            return skip_or_fail(why)
        try:
            net.build()
        except Failure as e:  # e.g. a kernel without tbf or nftables
            return skip_or_fail(f"the test network could not be built: {e}")
        scenario(net, folder, broker_exe)
        rc = 0
    except Failure as e:
        print(f"FAIL messenger/weak_network: {e}", flush=True)
        for name in ("broker.log", "proxy.log", "alice.log", "bob.log", "carol.log"):
            path = os.path.join(folder, name)
            if os.path.isfile(path) and os.path.getsize(path) > 0:
                print(interop.log_tail(path, name, 20), flush=True)
    finally:
        net.destroy()
        if os.environ.get("RINGMQ_TEST_KEEP"):
            print(f"kept {folder} (RINGMQ_TEST_KEEP)", flush=True)
        else:
            shutil.rmtree(folder, ignore_errors=True)
    print(f"messenger/weak_network: {'passed' if rc == 0 else 'FAILED'} in "
          f"{time.monotonic() - started:.1f} s", flush=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
