#!/usr/bin/python3
"""A TCP proxy that adds a fixed latency to each direction, for the weak-network test.

    delay_proxy.py --delay-ms 150 LISTEN_PORT=UPSTREAM_HOST:UPSTREAM_PORT [...]

Listens on 127.0.0.1:LISTEN_PORT (0: any free port) for each mapping and forwards every
connection to its upstream. Each chunk read on one side is written to the other `delay-ms`
after it was read, in order: a long link, not a slow one (the bandwidth limit is tc's job on
the veth behind the proxy). Prints one line per mapping, `listening 127.0.0.1:PORT ->
HOST:PORT`, then `ready`.

Commands on stdin, one per line, each answered with one line on stdout:
  reset   the client side of every connection is reset (RST), as when a phone changes
          network: its sockets fail at once. The upstream side is left open but silent, as
          the broker's view of a vanished phone: whatever it sends is discarded, and it is
          closed when the broker closes it (a session takeover) or when the proxy exits.
          Answer: `reset N` (N connections).
  stats   answer `stats connections=N bytes_up=N bytes_down=N`.
  quit    closes everything and exits (so does the end of stdin).

Standard library only (asyncio); run with /usr/bin/python3.
"""

import argparse
import asyncio
import collections
import socket
import struct
import sys
import time

CHUNK_BYTES = 64 * 1024
# Bytes read but not yet written, per direction: reading pauses above this (a bound on the
# queue; chat traffic never comes near it).
MAX_QUEUED_BYTES = 1 << 20


class Pipe:
    """One direction of one connection: read, hold for the delay, write, in order."""

    def __init__(self, reader, writer, delay_s, counter, name):
        self.reader = reader
        self.writer = writer
        self.delay_s = delay_s
        self.counter = counter  # a one-element list: bytes forwarded this way, all connections
        self.name = name
        self.queue = collections.deque()  # (due monotonic time, bytes); None: end of stream
        self.queued_bytes = 0
        self.changed = asyncio.Event()
        self.discard = False  # the reader's side is kept open but its data goes nowhere

    async def read_loop(self):
        try:
            while True:
                while self.queued_bytes > MAX_QUEUED_BYTES:
                    self.changed.clear()
                    await self.changed.wait()
                data = await self.reader.read(CHUNK_BYTES)
                if self.discard and data:
                    continue
                self.queue.append((time.monotonic() + self.delay_s, data or None))
                self.queued_bytes += len(data)
                self.changed.set()
                if not data:
                    return
        except (ConnectionError, OSError):
            self.queue.append((time.monotonic() + self.delay_s, None))
            self.changed.set()

    async def write_loop(self):
        try:
            while True:
                while not self.queue:
                    self.changed.clear()
                    await self.changed.wait()
                due, data = self.queue[0]
                wait_s = due - time.monotonic()
                if wait_s > 0:
                    await asyncio.sleep(wait_s)
                self.queue.popleft()
                if data is None:
                    if not self.discard and self.writer.can_write_eof():
                        self.writer.write_eof()
                    return
                self.queued_bytes -= len(data)
                self.changed.set()
                if self.discard:
                    continue
                self.writer.write(data)
                self.counter[0] += len(data)
                await self.writer.drain()
        except (ConnectionError, OSError, RuntimeError):  # RuntimeError: transport closed
            return


def reset_socket(writer):
    """Closes with SO_LINGER 0: the peer gets an RST, not a FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    writer.transport.abort()


class Proxy:
    def __init__(self, delay_s):
        self.delay_s = delay_s
        self.connections = set()  # (client writer, upstream writer, up pipe, down pipe)
        self.bytes_up = [0]
        self.bytes_down = [0]
        self.accepted = 0

    async def handle(self, upstream, c_reader, c_writer):
        self.accepted += 1
        c_writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            u_reader, u_writer = await asyncio.wait_for(asyncio.open_connection(*upstream), 10)
        except (OSError, asyncio.TimeoutError):
            reset_socket(c_writer)
            return
        u_writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        up = Pipe(c_reader, u_writer, self.delay_s, self.bytes_up, "up")
        down = Pipe(u_reader, c_writer, self.delay_s, self.bytes_down, "down")
        entry = (c_writer, u_writer, up, down)
        self.connections.add(entry)
        tasks = [asyncio.create_task(t) for t in
                 (up.read_loop(), up.write_loop(), down.read_loop(), down.write_loop())]
        try:
            # Until the broker's side is done with the connection (it sent FIN and everything
            # before it was forwarded, or the connection failed).
            await asyncio.wait([tasks[2], tasks[3]], return_when=asyncio.ALL_COMPLETED)
            await asyncio.wait([tasks[0], tasks[1]], timeout=self.delay_s + 1)
        finally:
            for t in tasks:
                t.cancel()
            self.connections.discard(entry)
            for w in (c_writer, u_writer):
                w.transport.abort()

    def reset(self):
        n = 0
        for c_writer, u_writer, up, down in list(self.connections):
            if up.discard:
                continue  # already reset, waiting for the broker to close its side
            n += 1
            up.discard = True
            down.discard = True
            reset_socket(c_writer)
        return n


async def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--delay-ms", type=float, default=150.0, help="one-way latency added")
    parser.add_argument("mappings", nargs="+", metavar="LISTEN_PORT=HOST:PORT")
    args = parser.parse_args()
    proxy = Proxy(args.delay_ms / 1000.0)
    servers = []
    for mapping in args.mappings:
        listen, _, target = mapping.partition("=")
        host, _, port = target.rpartition(":")
        upstream = (host, int(port))
        server = await asyncio.start_server(
            lambda r, w, u=upstream: proxy.handle(u, r, w), "127.0.0.1", int(listen))
        servers.append(server)
        bound = server.sockets[0].getsockname()[1]
        print(f"listening 127.0.0.1:{bound} -> {host}:{port}", flush=True)
    print("ready", flush=True)

    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    while True:
        line = (await stdin.readline()).decode().strip()
        if line == "reset":
            print(f"reset {proxy.reset()}", flush=True)
        elif line == "stats":
            print(f"stats connections={len(proxy.connections)} accepted={proxy.accepted} "
                  f"bytes_up={proxy.bytes_up[0]} bytes_down={proxy.bytes_down[0]}", flush=True)
        elif line in ("quit", ""):
            break
        else:
            print(f"error unknown command {line!r}", flush=True)
    for server in servers:
        server.close()
    for c_writer, u_writer, _, _ in list(proxy.connections):
        c_writer.transport.abort()
        u_writer.transport.abort()


if __name__ == "__main__":
    asyncio.run(main())
