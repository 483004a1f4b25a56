#!/usr/bin/env node
// Bytes on the wire per chat message (issue 13, docs/benchmarks.md "The messenger"): one chat
// message from alice to bob, counted on the clients' own TCP sockets, for
//   mqtt-ws    MQTT 5 over WebSocket as the messenger does it (docs/messenger.md): MQTT.js
//              5.16.0's browser bundle (tests/browser/node_modules/mqtt/dist/mqtt.esm.js) in two
//              pages of Debian's Chromium (headless, playwright-core), served by ringmq's
//              websocket plugin (http_root) and talking to its ws:// listener; the messenger's
//              session (client id, Clean Start 0, Session Expiry 7 days, keep alive 30 s, will,
//              inbox and presence subscriptions, retained presence); PUBLISH QoS 1 on
//              msgr/u/bob/dm/alice + PUBACK on both legs; then bob's "delivered" receipt (QoS 1
//              on msgr/u/alice/rcpt/bob) as a second line. (In Node, MQTT.js over `ws` sends
//              a WebSocket frame per chunk of a packet; its browser stream joins them: one
//              frame per packet. Hence the browser.)
//   http-poll  the same exchange as JSON over HTTP/1.1 with keep-alive: POST /api/messages to
//              send, the receiver long-polls GET /api/poll (one connection each for sending and
//              for polling, as a browser must while a long-poll is pending); the request headers
//              are the ones Debian's Chromium sent for fetch() to this server, captured first
//              through playwright-core (tests/browser/node_modules), session cookie included;
//   socket.io  Socket.IO 4.8.4 (bench/messenger/node_modules) over its WebSocket transport
//              (transports: ["websocket"], no polling phase), emit with an acknowledgement on
//              both legs (client -> server, server -> client).
// Counting: Linux's tcp_info of each client socket (`ss -tin`: bytes_sent, bytes_received,
// segs_out, segs_in), read before and after the exchange (after a pause, so delayed ACKs are in):
// application-level TCP payload in both directions and TCP segments (packets, pure ACKs
// included) of both users' connections. Loopback: the segments are what this kernel sent on lo
// (MTU 65536, no segmentation of these small messages).
// Idle: every stack left alone for --idle seconds; bursts (traffic separated by >= 3 s of
// silence) are keep-alive cycles; per minute = bytes per cycle x cycles per minute at the
// configured interval (MQTT keep alive 30 s, long-poll timeout 30 s, Socket.IO pingInterval 25 s).
// The HTTP server keeps idle connections 120 s (keepAliveTimeout; nginx: 75 s): a longer
// --idle sees the send connections closed (reported on stderr).
//
// Servers on 127.0.0.1 ephemeral ports, stopped by PID. Usage:
//   (cd bench/messenger && npm ci)   # once
//   node bench/messenger/wire_bytes.mjs [--build build] [--runs 7] [--idle 100] [--json FILE]
//     [--chromium /usr/bin/chromium] [--text-length 60]
import {execFileSync, spawn} from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {createRequire} from 'node:module';
import {fileURLToPath} from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');
const browserRequire = createRequire(path.join(root, 'tests/browser/package.json'));
const localRequire = createRequire(path.join(here, 'package.json'));
const {chromium} = browserRequire('playwright-core');
const {Server: SocketIoServer} = localRequire('socket.io');
const {io: socketIoClient} = localRequire('socket.io-client');

const args = {build: path.join(root, 'build'), runs: 7, idle: 100, json: null,
              chromium: '/usr/bin/chromium', textLength: 60};
for (let i = 2; i < process.argv.length; i += 2) {
  const k = process.argv[i].replace(/^--/, '').replace(/-([a-z])/g, (_, c) => c.toUpperCase());
  if (!(k in args)) {
    console.error(`unknown option ${process.argv[i]}`);
    process.exit(2);
  }
  args[k] = typeof args[k] === 'number' ? Number(process.argv[i + 1]) : process.argv[i + 1];
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const SETTLE_MS = 600;  // after an exchange: delayed ACKs (40 ms and up) are in

function randomId(n) {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ';
  let s = '';
  for (const b of crypto.randomBytes(n)) s += alphabet[b % alphabet.length];
  return s;
}
function device() {
  let s = '';
  for (const b of crypto.randomBytes(12)) s += 'abcdefghijklmnopqrstuvwxyz0123456789'[b % 36];
  return s;
}
// 60 characters of ordinary chat text (--text-length cuts or repeats it).
const TEXT = 'Still on for lunch tomorrow? I can book a table for 1 pm. Ok? '.repeat(70).slice(
    0, args.textLength);
function message() {
  return {id: randomId(22), ts: Date.now(), text: TEXT};
}

// ---- counting: tcp_info of the client sockets that connect to `port` ----
// Returns Map "localport" -> {sent, received, segsOut, segsIn}.
function socketCounters(port) {
  const out = execFileSync('ss', ['-tinH', 'state', 'established', `( dport = :${port} )`],
                           {encoding: 'utf8'});
  const m = new Map();
  let key = null;
  for (const line of out.split('\n')) {
    const head = line.match(/^\d+\s+\d+\s+\S+:(\d+)\s+\S+:(\d+)/);
    if (head) {
      key = head[1];
      continue;
    }
    if (!key) continue;
    const num = (name) => {
      const x = line.match(new RegExp(`\\b${name}:(\\d+)`));
      return x ? Number(x[1]) : 0;
    };
    if (/bytes_|segs_/.test(line)) {
      m.set(key, {sent: num('bytes_sent'), received: num('bytes_received'),
                  segsOut: num('segs_out'), segsIn: num('segs_in')});
      key = null;
    }
  }
  return m;
}
// Sum of the counter deltas over the sockets of `ports` (client local ports) between snapshots.
function delta(before, after, localPorts, onGone = null) {
  const d = {up: 0, down: 0, packets: 0};
  for (const p of localPorts) {
    let a = after.get(String(p));
    if (!a && onGone) {
      onGone(p);
      a = before.get(String(p));
    }
    if (!a) throw new Error(`socket ${p} gone`);
    const b = before.get(String(p)) ?? {sent: 0, received: 0, segsOut: 0, segsIn: 0};
    d.up += a.sent - b.sent;
    d.down += a.received - b.received;
    d.packets += a.segsOut - b.segsOut + a.segsIn - b.segsIn;
  }
  d.bytes = d.up + d.down;
  return d;
}
function addDelta(x, y) {
  return {up: x.up + y.up, down: x.down + y.down, packets: x.packets + y.packets,
          bytes: x.bytes + y.bytes};
}

// Idle: sample the counters every 500 ms for `seconds`; bursts are runs of activity separated
// by >= 3 s of silence.
async function idleWatch(stacks, seconds) {
  const state = stacks.map((s) => ({s, last: s.counters(), bursts: 0, lastActive: new Map(),
                                    gone: [],
                                    total: {up: 0, down: 0, packets: 0, bytes: 0}}));
  const start = Date.now();
  while (Date.now() - start < seconds * 1000) {
    await sleep(500);
    const now = Date.now();
    for (const st of state) {
      const c = st.s.counters();
      const d = delta(st.last, c, st.s.localPorts(), (p) => {
        if (!st.gone.includes(p)) {
          st.gone.push(p);
          console.error(`idle: ${st.s.name}: connection from port ${p} closed after ` +
                        `${((now - start) / 1000).toFixed(1)} s`);
        }
      });
      for (const p of st.gone) c.set(String(p), st.last.get(String(p)));
      // bursts per connection: each user's keep-alive runs on its own clock
      for (const p of st.s.localPorts()) {
        const dp = delta(st.last, c, [p]);
        if (dp.bytes > 0 || dp.packets > 0) {
          const lastActive = st.lastActive.get(p);
          if (lastActive === undefined || now - lastActive >= 3000) st.bursts += 1;
          st.lastActive.set(p, now);
        }
      }
      st.last = c;
      st.total = addDelta(st.total, d);
    }
  }
  return state.map((st) => ({name: st.s.name, window_s: seconds, bursts: st.bursts,
                             total: st.total, closed: st.gone.length}));
}

// The exchange, `runs` times: send() delivers one message (resolves once the receiver has it),
// receipt(m) the receiver's "delivered" receipt back; counters read after each, settled.
async function exchange(port, ports, runs, send, receipt) {
  const msg = [];
  const rcpt = [];
  for (let i = 0; i < runs; ++i) {
    let before = socketCounters(port);
    const m = message();
    await send(m, i);
    await sleep(SETTLE_MS);
    let after = socketCounters(port);
    msg.push(delta(before, after, ports));
    before = after;
    await receipt({ids: [m.id], state: 'delivered', conv: 'dm:bob'}, i);
    await sleep(SETTLE_MS);
    after = socketCounters(port);
    rcpt.push(delta(before, after, ports));
  }
  return {msg, rcpt};
}

// Every client socket to the server's port is one of the two users' (nothing else connects).
function allClientPorts(port) {
  return [...socketCounters(port).keys()];
}

// ---- ringmq, its websocket plugin serving the page that runs MQTT.js's browser bundle ----
const PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>chat</title>
<link rel="icon" href="data:,"><script type="module">
import mqtt from './mqtt.esm.js';
window.mqtt = mqtt;
window.inbox = [];
window.up = true;
</script></head><body></body></html>`;
function startRingmq(dir) {
  const www = path.join(dir, 'www');
  fs.mkdirSync(www);
  fs.writeFileSync(path.join(www, 'index.html'), PAGE);
  fs.copyFileSync(path.join(root, 'tests/browser/node_modules/mqtt/dist/mqtt.esm.js'), path.join(www, 'mqtt.esm.js'));
  const conf = path.join(dir, 'ringmq.toml');
  fs.writeFileSync(conf, '[[plugin]]\nname = "websocket"\n[plugin.options]\n' +
                         `http_root = ${JSON.stringify(www)}\n`);
  const exe = path.join(args.build, 'ringmq');
  const proc = spawn(exe, ['--listen', '127.0.0.1:0', '--listen', 'ws://127.0.0.1:0',
                           '--config', conf, '--data-dir', path.join(dir, 'data'),
                           '--log_level', 'warning'],
                     {stdio: ['ignore', 'pipe', 'inherit']});
  return new Promise((resolve, reject) => {
    const ports = {};
    let buf = '';
    const timer = setTimeout(() => reject(new Error('ringmq did not start')), 15000);
    proc.on('exit', (code) => reject(new Error(`ringmq exited ${code}`)));
    proc.stdout.on('data', (chunk) => {
      buf += chunk;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        // "listening PROTOCOL HOST:PORT ...", one per listener, then "ready"
        const m = line.match(/^listening (\S+) \S*:(\d+)/);
        if (m) ports[m[1]] ??= Number(m[2]);
        if (line === 'ready') {
          clearTimeout(timer);
          resolve({proc, ports});
        }
      }
    });
  });
}
function stopPid(proc) {
  if (proc && proc.exitCode === null) process.kill(proc.pid, 'SIGTERM');
}

// ---- (a) MQTT 5 over WebSocket: MQTT.js's browser bundle in Chromium, the messenger's session --
async function mqttUser(browser, port, user) {
  const page = await (await browser.newContext()).newPage();
  await page.goto(`http://127.0.0.1:${port}/`);
  await page.waitForFunction(() => window.up === true);
  await page.evaluate(async ({user, dev}) => {
    const c = window.mqtt.connect(`ws://${location.host}/mqtt`, {
      protocolVersion: 5, clientId: `msgr-${user}-${dev}`, clean: false, keepalive: 30,
      reconnectPeriod: 0, properties: {sessionExpiryInterval: 604800},
      will: {topic: `msgr/p/${user}`, payload: JSON.stringify({state: 'offline', ts: Date.now()}),
             qos: 1, retain: true},
    });
    window.c = c;
    await new Promise((res, rej) => {
      c.once('connect', res);
      c.once('error', rej);
    });
    c.on('message', (topic, payload) => window.inbox.push({topic, text: payload.toString()}));
    await c.subscribeAsync({[`msgr/u/${user}/#`]: {qos: 1}, 'msgr/p/+': {qos: 1}});
    await c.publishAsync(`msgr/p/${user}`, JSON.stringify({state: 'online', ts: Date.now()}),
                         {qos: 1, retain: true});
  }, {user, dev: device()});
  return page;
}
async function publishFrom(page, topic, text) {
  await page.evaluate(({topic, text}) => window.c.publishAsync(topic, text, {qos: 1}),
                      {topic, text});  // resolves at the PUBACK
}
async function waitInbox(page, topicPart, n) {
  await page.waitForFunction(({topicPart, n}) =>
    window.inbox.filter((m) => m.topic.includes(topicPart)).length >= n, {topicPart, n},
                             {polling: 20});
}

async function measureMqtt(port, runs) {
  const browser = await chromium.launch({executablePath: args.chromium, headless: true,
                                         args: ['--no-sandbox']});
  const alice = await mqttUser(browser, port, 'alice');
  const bob = await mqttUser(browser, port, 'bob');
  await sleep(SETTLE_MS);
  // Chromium opens a dedicated connection for each WebSocket; the page loads used others
  // (kept alive), which received the ~400 KB bundle: count the two WebSocket connections only.
  const all = socketCounters(port);
  const ws = [...all.entries()].filter(([, c]) => c.received < 20000).map(([k]) => k);
  if (ws.length !== 2) {
    throw new Error(`expected 2 WebSocket connections, saw ${ws.length}: ` +
                    JSON.stringify([...all.entries()]));
  }
  const setup = delta(new Map(), socketCounters(port), ws);
  const {msg, rcpt} = await exchange(port, ws, runs, async (m, i) => {
    await publishFrom(alice, 'msgr/u/bob/dm/alice', JSON.stringify(m));
    await waitInbox(bob, '/dm/alice', i + 1);  // bob's PUBACK leaves as the message is handled
  }, async (r, i) => {
    await publishFrom(bob, 'msgr/u/alice/rcpt/bob', JSON.stringify(r));
    await waitInbox(alice, '/rcpt/bob', i + 1);
  });
  const stack = {name: 'mqtt-ws', counters: () => socketCounters(port), localPorts: () => ws,
                 close: () => browser.close()};
  return {setup, msg, rcpt, stack};
}

// ---- (b) JSON over HTTP/1.1, long polling ----
// Captures the request headers Chromium sends for the app's fetch() calls to this origin.
async function captureChromiumHeaders() {
  const seen = [];
  const server = http.createServer((req, res) => {
    const raw = `${req.method} ${req.url} HTTP/${req.httpVersion}\r\n` +
        req.rawHeaders.reduce((acc, v, i, a) => (i % 2 ? acc : acc + `${v}: ${a[i + 1]}\r\n`), '') +
        '\r\n';
    if (req.url === '/') {
      // the app's page; signing in sets the session cookie every later request carries
      res.writeHead(200, {'Content-Type': 'text/html; charset=utf-8',
                          'Set-Cookie': `sid=${crypto.randomBytes(32).toString('base64url')}; ` +
                                        'Path=/; HttpOnly; SameSite=Lax'});
      res.end('<!doctype html><title>chat</title><p>chat</p>');
      return;
    }
    req.resume();
    req.on('end', () => {
      seen.push({method: req.method, url: req.url, raw});
      res.writeHead(204);
      res.end();
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const port = server.address().port;
  const browser = await chromium.launch({executablePath: args.chromium, headless: true,
                                         args: ['--no-sandbox']});
  let version = '';
  try {
    version = browser.version();
    const page = await (await browser.newContext()).newPage();
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.evaluate(async () => {
      await fetch('/api/messages', {method: 'POST', headers: {'Content-Type': 'application/json'},
                                    body: JSON.stringify({to: 'bob', id: 'x', ts: 1, text: 'x'})});
      await fetch('/api/poll?after=0');
    });
  } finally {
    await browser.close();
    server.close();
  }
  const post = seen.find((s) => s.method === 'POST');
  const get = seen.find((s) => s.method === 'GET' && s.url.startsWith('/api/poll'));
  if (!post || !get) throw new Error('Chromium requests not captured');
  return {post: post.raw, get: get.raw, version, origin: `127.0.0.1:${port}`};
}

// The chat server: POST /api/messages {to,id,ts,text} and POST /api/receipts {to,ids,state,conv}
// -> 204; GET /api/poll?after=SEQ -> 200 [events after SEQ] as soon as there is one, or 204
// after POLL_TIMEOUT_MS. Node's http defaults for the response headers (Date, Connection,
// Keep-Alive, Content-Length) plus Content-Type and Cache-Control: no-store on the poll.
const POLL_TIMEOUT_MS = 30000;
// Session cookies (sid -> user), 43 characters each like the one the capture page set.
const SIDS = {alice: crypto.randomBytes(32).toString('base64url'),
              bob: crypto.randomBytes(32).toString('base64url')};
const SESSIONS = new Map(Object.entries(SIDS).map(([u, sid]) => [sid, u]));
function startHttpChat() {
  const queues = new Map();  // user -> {seq, events: [], waiting: [res, after] | null}
  const q = (u) => {
    if (!queues.has(u)) queues.set(u, {seq: 0, events: [], waiting: null});
    return queues.get(u);
  };
  const userOf = (req) => SESSIONS.get(/sid=([\w-]+)/.exec(req.headers.cookie ?? '')?.[1]);
  const flush = (u) => {
    const box = q(u);
    if (!box.waiting) return;
    const [res, after, timer] = box.waiting;
    const evs = box.events.filter((e) => e.seq > after);
    if (!evs.length) return;
    clearTimeout(timer);
    box.waiting = null;
    const body = JSON.stringify(evs);
    res.writeHead(200, {'Content-Type': 'application/json', 'Cache-Control': 'no-store',
                        'Content-Length': Buffer.byteLength(body)});
    res.end(body);
  };
  const server = http.createServer((req, res) => {
    const user = userOf(req);
    if (req.method === 'POST') {
      let body = '';
      req.on('data', (d) => body += d);
      req.on('end', () => {
        const j = JSON.parse(body);
        const box = q(j.to);
        const ev = req.url === '/api/messages' ?
            {seq: ++box.seq, type: 'dm', from: user, id: j.id, ts: j.ts, text: j.text} :
            {seq: ++box.seq, type: 'rcpt', from: user, ids: j.ids, state: j.state, conv: j.conv};
        box.events.push(ev);
        res.writeHead(204);
        res.end();
        flush(j.to);
      });
      return;
    }
    const after = Number(new URL(req.url, 'http://x').searchParams.get('after') ?? 0);
    const box = q(user);
    box.events = box.events.filter((e) => e.seq > after);  // acknowledged by `after`
    const timer = setTimeout(() => {
      box.waiting = null;
      res.writeHead(204, {'Cache-Control': 'no-store'});
      res.end();
    }, POLL_TIMEOUT_MS);
    box.waiting = [res, after, timer];
    flush(user);
  });
  server.keepAliveTimeout = 120000;  // keep the idle send connection (nginx: 75 s)
  server.requestTimeout = 0;
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r(server)));
}

// A keep-alive HTTP/1.1 connection sending raw requests (Chromium's header block, adapted).
class RawHttp {
  constructor(port) {
    this.sock = net.connect(port, '127.0.0.1');
    this.sock.setNoDelay(true);
    this.buf = Buffer.alloc(0);
    this.pending = [];
    this.sock.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.parse();
    });
  }
  ready() {
    return new Promise((r) => this.sock.once('connect', r));
  }
  parse() {
    for (;;) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = this.buf.subarray(0, end).toString();
      const len = Number(/content-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
      if (this.buf.length < end + 4 + len) return;
      const body = this.buf.subarray(end + 4, end + 4 + len).toString();
      this.buf = this.buf.subarray(end + 4 + len);
      this.pending.shift()({status: Number(head.split(' ')[1]), body});
    }
  }
  request(text) {
    return new Promise((r) => {
      this.pending.push(r);
      this.sock.write(text);
    });
  }
}
function requestText(template, {method, url, body, cookie}) {
  // Chromium's captured block with this request's line, Content-Length and user cookie.
  const lines = template.split('\r\n').filter((l) => l !== '');
  lines[0] = `${method} ${url} HTTP/1.1`;
  const outLines = [];
  for (const l of lines) {
    const name = l.split(':')[0].toLowerCase();
    if (name === 'content-length') {
      outLines.push(`${l.split(':')[0]}: ${Buffer.byteLength(body)}`);
    } else if (name === 'cookie') {
      outLines.push(`${l.split(':')[0]}: sid=${cookie}`);
    } else {
      outLines.push(l);
    }
  }
  return outLines.join('\r\n') + '\r\n\r\n' + (body ?? '');
}

async function measureHttp(headers, runs) {
  const server = await startHttpChat();
  const port = server.address().port;
  const mk = async () => {
    const c = new RawHttp(port);
    await c.ready();
    return c;
  };
  const users = {};
  for (const u of ['alice', 'bob']) {
    users[u] = {send: await mk(), poll: await mk(), after: 0, got: [], waiter: null};
  }
  const poll = (u) => {
    const st = users[u];
    const text = requestText(headers.get, {method: 'GET', url: `/api/poll?after=${st.after}`,
                                           cookie: SIDS[u]});
    st.poll.request(text).then(({status, body}) => {
      if (status === 200) {
        const evs = JSON.parse(body);
        st.after = evs[evs.length - 1].seq;
        for (const e of evs) (st.waiter ? st.waiter(e) : st.got.push(e));
        st.waiter = null;
      }
      if (!st.closed) poll(u);  // the next long-poll at once, as a client does
    });
  };
  const next = (u) => new Promise((r) => {
    const st = users[u];
    if (st.got.length) r(st.got.shift());
    else st.waiter = r;
  });
  const post = (u, url, obj) => users[u].send.request(
      requestText(headers.post, {method: 'POST', url, body: JSON.stringify(obj),
                                                 cookie: SIDS[u]}));
  poll('alice');
  poll('bob');
  await sleep(SETTLE_MS);
  const ports = allClientPorts(port);
  const {msg, rcpt} = await exchange(port, ports, runs, async (m) => {
    const got = next('bob');
    await post('alice', '/api/messages', {to: 'bob', ...m});
    await got;
  }, async (r) => {
    const back = next('alice');
    await post('bob', '/api/receipts', {to: 'alice', ...r});
    await back;
  });
  const stack = {
    name: 'http-poll', counters: () => socketCounters(port), localPorts: () => ports,
    close: () => {
      for (const st of Object.values(users)) {
        st.closed = true;
        st.send.sock.destroy();
        st.poll.sock.destroy();
      }
      server.closeAllConnections();
      server.close();
    },
  };
  return {msg, rcpt, stack, setup: null};
}

// ---- (c) Socket.IO, WebSocket transport, emit with acknowledgement ----
async function measureSocketIo(runs) {
  const httpServer = http.createServer();
  const ioServer = new SocketIoServer(httpServer, {serveClient: false});
  const sockets = new Map();
  ioServer.on('connection', (s) => {
    const user = s.handshake.auth.user;
    sockets.set(user, s);
    // the server acknowledges once it has the message, then delivers it with an
    // acknowledgement requested from the receiver (both legs acknowledged, like QoS 1)
    s.on('dm', (m, ack) => {
      ack();
      sockets.get(m.to)?.timeout(10000).emit('dm', {from: user, id: m.id, ts: m.ts,
                                                      text: m.text}, () => {});
    });
    s.on('rcpt', (r, ack) => {
      ack();
      sockets.get(r.to)?.timeout(10000).emit('rcpt', {from: user, ids: r.ids, state: r.state,
                                                        conv: r.conv}, () => {});
    });
  });
  await new Promise((r) => httpServer.listen(0, '127.0.0.1', r));
  const port = httpServer.address().port;
  const users = {};
  for (const u of ['alice', 'bob']) {
    const c = socketIoClient(`http://127.0.0.1:${port}`, {transports: ['websocket'],
                                                          auth: {user: u}, reconnection: false});
    await new Promise((r, j) => {
      c.once('connect', r);
      c.once('connect_error', j);
    });
    users[u] = {c, waiters: []};
    for (const ev of ['dm', 'rcpt']) {
      c.on(ev, (payload, ack) => {
        ack?.();
        users[u].waiters.shift()?.(payload);
      });
    }
  }
  const next = (u) => new Promise((r) => users[u].waiters.push(r));
  await sleep(SETTLE_MS);
  const ports = allClientPorts(port);
  const setup = delta(new Map(), socketCounters(port), ports);
  const {msg, rcpt} = await exchange(port, ports, runs, async (m) => {
    const got = next('bob');
    await users.alice.c.emitWithAck('dm', {to: 'bob', ...m});
    await got;
  }, async (r) => {
    const back = next('alice');
    await users.bob.c.emitWithAck('rcpt', {to: 'alice', ...r});
    await back;
  });
  const stack = {name: 'socket.io', counters: () => socketCounters(port), localPorts: () => ports,
                 close: () => {
                   for (const {c} of Object.values(users)) c.close();
                   ioServer.close();
                 }};
  return {setup, msg, rcpt, stack};
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}
function med(ds) {
  return {up: median(ds.map((d) => d.up)), down: median(ds.map((d) => d.down)),
          bytes: median(ds.map((d) => d.bytes)), packets: median(ds.map((d) => d.packets))};
}

async function main() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ringmq-wire-'));
  const sample = JSON.stringify({id: randomId(22), ts: Date.now(), text: TEXT});
  const headers = await captureChromiumHeaders();
  const ringmq = await startRingmq(tmp);
  const results = {};
  try {
    results.mqtt = await measureMqtt(ringmq.ports.websocket, args.runs);
    results.http = await measureHttp(headers, args.runs);
    results.sio = await measureSocketIo(args.runs);
    const stacks = [results.mqtt.stack, results.http.stack, results.sio.stack];
    console.error(`idle: ${args.idle} s ...`);
    const idle = args.idle > 0 ? await idleWatch(stacks, args.idle) : [];
    for (const s of stacks) s.close();
    report(headers, sample, results, idle);
  } finally {
    stopPid(ringmq.proc);
    fs.rmSync(tmp, {recursive: true, force: true});
  }
  setTimeout(() => process.exit(0), 300).unref();
}

function report(headers, sample, r, idle) {
  const rows = [
    ['MQTT 5 over WebSocket (messenger), message', med(r.mqtt.msg)],
    ['MQTT 5 over WebSocket, message + delivered receipt',
     med(r.mqtt.msg.map((d, i) => addDelta(d, r.mqtt.rcpt[i])))],
    ['JSON over HTTP/1.1, long polling, message', med(r.http.msg)],
    ['JSON over HTTP/1.1, long polling, message + receipt',
     med(r.http.msg.map((d, i) => addDelta(d, r.http.rcpt[i])))],
    ['Socket.IO 4.8.4 (WebSocket), emit with ack, message', med(r.sio.msg)],
    ['Socket.IO 4.8.4 (WebSocket), message + receipt',
     med(r.sio.msg.map((d, i) => addDelta(d, r.sio.rcpt[i])))],
  ];
  // each line against MQTT's line of the same kind (message, message + receipt)
  console.log(`chat message payload (${Buffer.byteLength(sample)} bytes of JSON): ${sample}`);
  console.log(`medians of ${args.runs} messages; bytes = TCP payload, both users, both ` +
              'directions; packets = TCP segments incl. pure ACKs (loopback)');
  console.log('| exchange | bytes up (clients -> server) | bytes down | bytes total | ' +
              'vs MQTT, same line | TCP packets | bytes + 52 per packet (IPv4+TCP headers with timestamps) |');
  console.log('|---|---|---|---|---|---|---|');
  for (const [i, [name, d]] of rows.entries()) {
    const base = rows[i % 2][1].bytes;
    console.log(`| ${name} | ${d.up} | ${d.down} | ${d.bytes} | ${(d.bytes / base).toFixed(2)}x | ` +
                `${d.packets} | ${d.bytes + 52 * d.packets} |`);
  }
  const intervals = {'mqtt-ws': 30, 'http-poll': POLL_TIMEOUT_MS / 1000, 'socket.io': 25};
  if (idle.length) {
    console.log('');
    console.log(`idle, per user, window ${idle[0].window_s} s (cycles seen: bursts on the ` +
                'connections, both users):');
    console.log('| stack | keep-alive cycle, s | cycles seen | bytes per cycle | packets per ' +
                'cycle | bytes per minute | packets per minute | bytes + 52/packet per minute |');
    console.log('|---|---|---|---|---|---|---|---|');
    for (const st of idle) {
      // one connection per user carries the keep-alive (the poll one for HTTP): a burst on
      // a connection is one user's cycle
      const cyc = Math.max(st.bursts, 1);
      const perUserB = st.total.bytes / cyc;
      const perUserP = st.total.packets / cyc;
      const perMin = 60 / intervals[st.name];
      console.log(`| ${st.name} | ${intervals[st.name]} | ${st.bursts} | ${perUserB.toFixed(0)} | ` +
                  `${perUserP.toFixed(1)} | ${(perUserB * perMin).toFixed(0)} | ` +
                  `${(perUserP * perMin).toFixed(1)} | ` +
                  `${((perUserB + 52 * perUserP) * perMin).toFixed(0)} |`);
    }
  }
  console.log('');
  if (r.mqtt.setup) {
    console.log(`session set-up, both users (TCP payload / packets): MQTT over WebSocket ` +
                `(handshake, CONNECT with will, SUBSCRIBE 2 filters, retained presence) ` +
                `${r.mqtt.setup.bytes} / ${r.mqtt.setup.packets}; Socket.IO (handshake, ` +
                `engine.io open, namespace connect) ${r.sio.setup.bytes} / ${r.sio.setup.packets}`);
  }
  console.log(`Chromium ${headers.version}; the request headers it sent (origin ` +
              `${headers.origin}; the page set a 43-character session cookie):`);
  console.log(headers.post.replace(/\r\n/g, '\n').trimEnd());
  console.log('');
  console.log(headers.get.replace(/\r\n/g, '\n').trimEnd());
  if (args.json) {
    fs.writeFileSync(args.json, JSON.stringify({headers, rows, idle, mqttSetup: r.mqtt.setup,
                                                sioSetup: r.sio.setup, raw: {
                                                  mqtt: [r.mqtt.msg, r.mqtt.rcpt],
                                                  http: [r.http.msg, r.http.rcpt],
                                                  sio: [r.sio.msg, r.sio.rcpt]}}, null, 1));
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
