// examples/messenger/web/js/chat-core.js alone, in Node, against a scripted MQTT client: no
// broker, no browser. Each case drives the client's events by hand (CONNACK, PUBLISH, PUBACK,
// close) and checks what the core does against docs/messenger.md. Run: node chat_core_test.mjs
import assert from 'node:assert/strict';
import {mkdir, mkdtemp, rm, rmdir} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {test} from 'node:test';

import {ChatClient, MemoryStore, ROOM_RE, USER_RE, backoffDelay, compareMessages, parseConv}
  from '../../examples/messenger/web/js/chat-core.js';
import {IdbStore} from '../../examples/messenger/web/js/idb-store.js';
import {FileStore} from '../../examples/messenger/console/file-store.mjs';

// One connection attempt as MQTT.js would present it: the test plays the broker.
class FakeMqtt {
  constructor(url, options) {
    this.url = url;
    this.options = options;
    this.connected = false;
    this.handlers = {};
    this.published = [];   // {topic, payload (parsed), opts, cb}
    this.subscribed = [];
    this.ended = null;
  }

  on(event, fn) {
    (this.handlers[event] ??= []).push(fn);
    return this;
  }

  emit(event, ...args) {
    for (const fn of this.handlers[event] ?? []) fn(...args);
  }

  // The test's side. properties: the CONNACK's (e.g. {receiveMaximum: 10}).
  connack(properties) {
    this.connected = true;
    this.emit('connect', properties ? {properties} : {});
  }

  refuse(code) {
    const error = new Error('Connection refused');
    error.code = code;
    this.emit('error', error);
    this.drop();
  }

  drop() {
    this.connected = false;
    this.emit('close');
  }

  // As MQTT.js does for QoS 1: 'message', then handleMessage, whose callback sends the PUBACK
  // (recorded in acked).
  deliver(topic, payload, packet = {}) {
    const p = {retain: false, ...packet};
    this.emit('message', topic, new TextEncoder().encode(JSON.stringify(payload)), p);
    this.handleMessage?.(p, (error) => (this.acked ??= []).push({topic, error: error ?? null}));
  }

  // PUBACKs for the QoS 1 PUBLISHes so far that filter picks (at most `most` of them).
  puback(filter = () => true, most = Infinity) {
    for (const p of this.published) {
      if (most > 0 && p.cb && filter(p)) {
        const cb = p.cb;
        p.cb = null;
        most--;
        this.unacked--;
        cb(null);
      }
    }
  }

  // MQTT.js's API, as much of it as the core uses.
  publish(topic, payload, opts, cb) {
    this.published.push({topic, payload: JSON.parse(payload), opts, cb: cb ?? null});
    if (opts.qos === 1) {
      this.unacked = (this.unacked ?? 0) + 1;
      this.maxUnacked = Math.max(this.maxUnacked ?? 0, this.unacked);
    }
  }

  publishAsync(topic, payload, opts) {
    return new Promise((resolve) => this.publish(topic, payload, opts, () => resolve()));
  }

  subscribeAsync(subs) {
    this.subscribed.push(subs);
    return Promise.resolve(Object.entries(subs).map(([topic, o]) => ({topic, qos: o.qos})));
  }

  unsubscribeAsync(topic) {
    this.subscribed.push({unsubscribe: topic});
    return Promise.resolve();
  }

  end(force, opts, cb) {
    this.ended = {force, opts};
    this.connected = false;
    (typeof opts === 'function' ? opts : cb)?.();
  }
}

// A ChatClient on fakes; `clients` holds one FakeMqtt per connection attempt.
function setup({user = 'alice', store = new MemoryStore(), now, random, rooms} = {}) {
  const clients = [];
  const events = [];
  const chat = new ChatClient({
    connect: (url, options) => {
      const c = new FakeMqtt(url, options);
      clients.push(c);
      return c;
    },
    url: 'ws://test/mqtt', user, device: 'dev123dev123', store, now, random,
    ...(rooms ? {rooms} : {}),
  });
  for (const type of ['state', 'message', 'update', 'presence', 'typing', 'error', 'rooms']) {
    chat.addEventListener(type, (e) => events.push({type, ...e.detail}));
  }
  return {chat, clients, events, store, last: () => clients.at(-1)};
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));
const dmFrom = (c, from, id, text, ts = 1000) =>
  c.deliver(`msgr/u/alice/dm/${from}`, {id, ts, text});
const ID = (n) => `id-${String(n).padStart(20, '0')}`;

test('names and conversations', () => {
  assert.ok(USER_RE.test('a_b9') && !USER_RE.test('A') && !USER_RE.test('a/b') &&
            !USER_RE.test('x'.repeat(33)));
  // No '-' in user names: it ends the user name in client ids (msgr-USER-DEVICE), which the
  // auth_file option client_id_prefix = "msgr-%u-" relies on; rooms may have one.
  assert.ok(!USER_RE.test('alice-2') && ROOM_RE.test('team-a') && !ROOM_RE.test('a/b'));
  assert.deepEqual(parseConv('dm:bob'), {kind: 'dm', name: 'bob'});
  assert.equal(parseConv('dm:alice-2'), null);
  assert.deepEqual(parseConv('room:team-a'), {kind: 'room', name: 'team-a'});
  assert.equal(parseConv('dm:+'), null);
  assert.equal(parseConv('chan:x'), null);
  const order = [{ts: 2, from: 'a', id: 'x'}, {ts: 1, from: 'b', id: 'y'},
                 {ts: 1, from: 'a', id: 'z'}, {ts: 1, from: 'a', id: 'b'}].sort(compareMessages);
  assert.deepEqual(order.map((m) => m.id), ['b', 'z', 'y', 'x']);
});

test('CONNECT: the session, the will and the client id of the contract', async () => {
  const {chat, last} = setup();
  await chat.start();
  const o = last().options;
  assert.equal(o.clientId, 'msgr-alice-dev123dev123');
  assert.equal(o.protocolVersion, 5);
  assert.equal(o.clean, false);
  assert.equal(o.keepalive, 30);
  assert.equal(o.reconnectPeriod, 0);
  assert.equal(o.properties.sessionExpiryInterval, 604800);
  assert.equal(o.username, 'alice');
  assert.equal(o.will.topic, 'msgr/p/alice');
  assert.equal(o.will.qos, 1);
  assert.equal(o.will.retain, true);
  assert.equal(JSON.parse(o.will.payload).state, 'offline');
  last().connack();
  assert.deepEqual(Object.keys(last().subscribed[0]).sort(),
                   ['msgr/p/+', 'msgr/r/general/#', 'msgr/u/alice/#']);
  const online = last().published.find((p) => p.topic === 'msgr/p/alice');
  assert.equal(online.payload.state, 'online');
  assert.deepEqual([online.opts.qos, online.opts.retain], [1, true]);
  assert.equal(chat.state, 'online');
  await chat.stop();
});

test('a device id is made once and kept in the store', async () => {
  const store = new MemoryStore();
  const chat = new ChatClient({connect: (u, o) => new FakeMqtt(u, o), url: 'x', user: 'bob',
                               store});
  await chat.start();
  assert.match(chat.device, /^[a-z0-9]{12}$/);
  assert.equal(await store.getMeta('device'), chat.device);
  await chat.stop();
});

test('duplicates: two copies in the same tick are shown once (with and without addMessage)',
     async () => {
       for (const store of [new MemoryStore(), Object.assign(new MemoryStore(),
                                                            {addMessage: undefined})]) {
         const {chat, last, events} = setup({store});
         await chat.start();
         last().connack();
         dmFrom(last(), 'bob', ID(1), 'hi');
         dmFrom(last(), 'bob', ID(1), 'hi');
         await settle();
         dmFrom(last(), 'bob', ID(1), 'hi');  // later, e.g. a resend after a reconnect
         await settle();
         assert.equal(events.filter((e) => e.type === 'message').length, 1);
         assert.deepEqual((await chat.history('dm:bob')).map((m) => [m.id, m.from, m.state]),
                          [[ID(1), 'bob', 'received']]);
         await chat.stop();
       }
     });

test('delivered receipts are batched per sender; markRead sends read', async () => {
  const {chat, last, events} = setup();
  await chat.start();
  last().connack();
  dmFrom(last(), 'bob', ID(1), 'one', 1000);
  dmFrom(last(), 'bob', ID(2), 'two', 1001);
  last().deliver('msgr/r/general/m/carol', {id: ID(3), ts: 1002, text: 'room'});
  await new Promise((resolve) => setTimeout(resolve, 60));
  const receipts = () => last().published.filter((p) => p.topic.includes('/rcpt/'));
  const delivered = receipts().map((p) => [p.topic, p.payload.state, p.payload.conv,
                                           p.payload.ids]);
  assert.deepEqual(delivered.sort(), [
    ['msgr/u/bob/rcpt/alice', 'delivered', 'dm:alice', [ID(1), ID(2)]],
    ['msgr/u/carol/rcpt/alice', 'delivered', 'room:general', [ID(3)]],
  ]);
  assert.equal((await chat.conversations()).find((c) => c.conv === 'dm:bob').unread, 2);
  await chat.markRead('dm:bob');
  const read = receipts().filter((p) => p.payload.state === 'read');
  assert.deepEqual(read.map((p) => [p.topic, p.payload.ids]),
                   [['msgr/u/bob/rcpt/alice', [ID(1), ID(2)]]]);
  assert.equal((await chat.conversations()).find((c) => c.conv === 'dm:bob').unread, 0);
  assert.equal(events.filter((e) => e.type === 'update' && e.message.state === 'read').length,
               2);
  await chat.stop();
});

test('outbox: written offline, pending, resent with the same id until its PUBACK', async () => {
  const {chat, clients, last, events} = setup({random: () => 0.5});
  await chat.start();
  const m = await chat.send('dm:bob', 'written offline');
  assert.equal(m.state, 'pending');
  assert.equal(clients.length, 1);
  assert.equal(last().published.length, 0);
  assert.equal(events.filter((e) => e.type === 'message').length, 1);
  last().connack();
  await settle();
  const first = last().published.find((p) => p.topic === 'msgr/u/bob/dm/alice');
  assert.deepEqual([first.payload.id, first.payload.text, first.opts.qos],
                   [m.id, 'written offline', 1]);
  last().drop();  // before the PUBACK
  assert.equal(chat.state, 'offline');
  chat.retryNow();
  assert.equal(clients.length, 2);
  last().connack();
  await settle();
  const again = last().published.filter((p) => p.topic === 'msgr/u/bob/dm/alice');
  assert.deepEqual(again.map((p) => p.payload.id), [m.id]);
  clients[0].puback();  // the old connection's late answer changes nothing
  await settle();
  assert.equal((await chat.store.getMessage(m.id)).state, 'pending');
  last().puback();
  await settle();
  assert.equal((await chat.store.getMessage(m.id)).state, 'sent');
  assert.deepEqual(await chat.store.listPending(), []);
  await chat.stop();
});

test('messages sent in the same millisecond keep the order they were written in', async () => {
  const {chat, last} = setup({now: () => 5000});
  await chat.start();
  const texts = Array.from({length: 20}, (_, i) => `m${i}`);
  for (const t of texts) await chat.send('dm:bob', t);
  assert.deepEqual((await chat.history('dm:bob')).map((m) => m.text), texts);
  last().connack();
  await settle();
  assert.deepEqual(last().published.filter((p) => p.topic === 'msgr/u/bob/dm/alice')
                       .map((p) => p.payload.text), texts);
  await chat.stop();
});

test('a receipt without its PUBACK when the connection is lost goes again on the next one',
     async () => {
  const {chat, clients, last} = setup({random: () => 0.5});
  await chat.start();
  last().connack();
  dmFrom(last(), 'bob', ID(1), 'one');
  await new Promise((resolve) => setTimeout(resolve, 60));
  const receipts = (c) => c.published.filter((p) => p.topic === 'msgr/u/bob/rcpt/alice')
                             .map((p) => [p.payload.state, p.payload.ids]);
  assert.deepEqual(receipts(last()), [['delivered', [ID(1)]]]);
  last().drop();  // before its PUBACK
  chat.retryNow();
  last().connack();
  await settle();
  assert.deepEqual(receipts(last()), [['delivered', [ID(1)]]]);
  last().puback();  // acknowledged: not sent a third time
  last().drop();
  chat.retryNow();
  last().connack();
  await settle();
  assert.deepEqual(receipts(last()), []);
  assert.equal(clients.length, 3);
  await chat.stop();
});

test('receipts move own messages forward only, and only from the right peer', async () => {
  const {chat, last} = setup();
  await chat.start();
  last().connack();
  const m = await chat.send('dm:bob', 'hello');
  last().puback();
  await settle();
  const receipt = (from, state, conv) => last().deliver(`msgr/u/alice/rcpt/${from}`,
                                                        {ids: [m.id], state, conv});
  const state = async () => (await chat.store.getMessage(m.id)).state;
  receipt('carol', 'read', 'dm:carol');  // carol is not in this conversation
  receipt('carol', 'read', 'dm:bob');    // nor can she speak for bob
  await settle();
  assert.equal(await state(), 'sent');
  receipt('bob', 'read', 'dm:bob');
  await settle();
  assert.equal(await state(), 'read');
  receipt('bob', 'delivered', 'dm:bob');  // late: never back
  await settle();
  assert.equal(await state(), 'read');
  await chat.stop();
});

test('presence, typing (stale ignored), own room messages from another device', async () => {
  let now = 100000;
  const {chat, last, events} = setup({now: () => now});
  await chat.start();
  last().connack();
  last().deliver('msgr/p/bob', {state: 'online', ts: 5}, {retain: true});
  last().deliver('msgr/p/bob', {state: 'offline', ts: 50});  // a will, live
  assert.deepEqual(events.filter((e) => e.type === 'presence').map((e) => [e.state, e.ts]),
                   [['online', 5], ['offline', now]]);
  last().deliver('msgr/u/alice/typing/bob', {ts: now - 11000, typing: true});
  last().deliver('msgr/r/general/typing/bob', {ts: now, typing: true});
  last().deliver('msgr/r/general/typing/alice', {ts: now, typing: true});
  assert.deepEqual(events.filter((e) => e.type === 'typing').map((e) => [e.conv, e.user]),
                   [['room:general', 'bob']]);
  last().deliver('msgr/r/general/m/alice', {id: ID(7), ts: now, text: 'from my phone'});
  last().deliver('msgr/r/other/m/bob', {id: ID(8), ts: now, text: 'not joined'});
  await settle();
  assert.deepEqual((await chat.history('room:general')).map((m) => [m.from, m.state]),
                   [['alice', 'sent']]);
  assert.deepEqual(await chat.history('room:other'), []);
  now += 1;
  await chat.stop();
});

test('back-off: 0.5 s doubling to 15 s, ±30 %, reset after a 10 s connection', async () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6].map((a) => backoffDelay(a, undefined, () => 0.5)),
                   [500, 1000, 2000, 4000, 8000, 15000, 15000]);
  assert.equal(backoffDelay(0, undefined, () => 0), 350);
  assert.equal(backoffDelay(10, undefined, () => 1), 19500);
  let now = 0;
  const {chat, last, events} = setup({now: () => now, random: () => 0.5});
  await chat.start();
  const retries = () => events.filter((e) => e.type === 'state' && e.state === 'offline')
      .map((e) => e.retryInMs);
  for (let i = 0; i < 3; i++) {
    last().drop();
    chat.retryNow();
  }
  assert.deepEqual(retries(), [500, 1000, 2000]);
  last().connack();
  now += 10000;
  last().drop();
  assert.deepEqual(retries(), [500, 1000, 2000, 500]);
  await chat.stop();
});

test('a refused sign-in (0x86) stops retrying and says why', async () => {
  const {chat, clients, last, events} = setup();
  await chat.start();
  last().refuse(0x86);
  const offline = events.filter((e) => e.type === 'state').at(-1);
  assert.deepEqual([offline.state, offline.retryInMs, offline.error.message],
                   ['offline', null, 'wrong name or password']);
  chat.retryNow();
  assert.equal(clients.length, 1);
});

test('join, leave; sign-out: presence offline then DISCONNECT 0x00', async () => {
  const {chat, last, store} = setup();
  await chat.start();
  last().connack();
  await chat.join('team');
  assert.deepEqual(chat.rooms, ['general', 'team']);
  assert.deepEqual(await store.getMeta('rooms'), ['general', 'team']);
  assert.ok(last().subscribed.some((s) => 'msgr/r/team/#' in s));
  await chat.leave('general');
  assert.deepEqual(chat.rooms, ['team']);
  assert.ok(last().subscribed.some((s) => s.unsubscribe === 'msgr/r/general/#'));
  const client = last();
  const stopped = chat.stop({signOut: true});
  await settle();
  const bye = client.published.filter((p) => p.topic === 'msgr/p/alice').at(-1);
  assert.equal(bye.payload.state, 'offline');
  client.puback();
  await stopped;
  assert.deepEqual(client.ended.opts, {reasonCode: 0});
  assert.equal(chat.state, 'offline');
});

test('stop without sign-out: DISCONNECT 0x04, so the broker sends the will', async () => {
  const {chat, last} = setup();
  await chat.start();
  last().connack();
  const client = last();
  await chat.stop();
  assert.deepEqual(client.ended.opts, {reasonCode: 4});
  assert.ok(!client.published.some((p) => p.payload.state === 'offline'));
});

test('taken over (DISCONNECT 0x8E): no retry by itself, retryNow() takes the session back',
     async () => {
       const {chat, clients, last, events} = setup();
       await chat.start();
       last().connack();
       last().emit('disconnect', {reasonCode: 0x8e});
       last().drop();
       const offline = events.filter((e) => e.type === 'state').at(-1);
       assert.deepEqual([offline.state, offline.retryInMs, offline.error.code],
                        ['offline', null, 0x8e]);
       assert.equal(clients.length, 1);
       chat.retryNow();
       assert.equal(clients.length, 2);
       last().connack();
       assert.equal(chat.state, 'online');
       await chat.stop();
     });

test('a received message is PUBACKed only once it is in the store', async () => {
  let release;
  const store = new MemoryStore();
  const add = store.addMessage.bind(store);
  store.addMessage = (m) => new Promise((resolve) => {
    release = () => resolve(add(m));
  });
  const {chat, last} = setup({store});
  await chat.start();
  last().connack();
  dmFrom(last(), 'bob', ID(1), 'hold the ack');
  await settle();
  assert.equal(last().acked, undefined);
  release();
  await settle();
  assert.deepEqual(last().acked, [{topic: 'msgr/u/alice/dm/bob', error: null}]);
  await chat.stop();
});

test('a second close from the same connection schedules one retry, not two', async () => {
  const {chat, clients, last, events} = setup({random: () => 0.5});
  await chat.start();
  last().connack();
  last().drop();
  last().drop();
  assert.equal(events.filter((e) => e.type === 'state' && e.state === 'offline').length, 1);
  chat.retryNow();
  assert.equal(clients.length, 2);
  await chat.stop();
});

test('hostile timestamps: a ts past what Date shows, or far ahead, is not believed', async () => {
  const now = 1_700_000_000_000;
  const {chat, last, events} = setup({now: () => now});
  await chat.start();
  last().connack();
  dmFrom(last(), 'bob', ID(1), 'from the far future', 1e16);
  dmFrom(last(), 'bob', ID(2), 'a fraction', 1000.5);
  dmFrom(last(), 'bob', ID(3), 'an hour ahead', now + 3600000);
  dmFrom(last(), 'bob', ID(4), 'a minute ahead (clock skew)', now + 60000);
  await settle();
  const ts = Object.fromEntries((await chat.history('dm:bob')).map((m) => [m.id, m.ts]));
  assert.deepEqual(ts, {[ID(1)]: now, [ID(2)]: now, [ID(3)]: now, [ID(4)]: now + 60000});
  // A retained presence with such a ts would break every page that formats it.
  last().deliver('msgr/p/bob', {state: 'online', ts: 1e16}, {retain: true});
  last().deliver('msgr/p/carol', {state: 'offline', ts: -5}, {retain: true});
  assert.deepEqual(events.filter((e) => e.type === 'presence').map((e) => [e.user, e.ts]),
                   [['bob', now], ['carol', now]]);
  // Typing from the future would never be "older than 10 s".
  last().deliver('msgr/u/alice/typing/bob', {ts: now + 3600000, typing: true});
  last().deliver('msgr/u/alice/typing/bob', {ts: 1e16, typing: true});
  last().deliver('msgr/u/alice/typing/bob', {ts: Infinity, typing: true});
  assert.deepEqual(events.filter((e) => e.type === 'typing'), []);
  last().deliver('msgr/u/alice/typing/bob', {ts: now, typing: true});
  assert.equal(events.filter((e) => e.type === 'typing').length, 1);
  await chat.stop();
});

// Just enough of an IDBDatabase for IdbStore's writes, with the order of events a browser
// gives a failed request: its error event (bubbling from the request to the transaction,
// whose error is still null), then the transaction's abort, which sets tx.error.
class FakeIdb {
  constructor() {
    this.data = new Map();
  }

  transaction() {
    const tx = {error: null, oncomplete: null, onerror: null, onabort: null};
    const ops = [];
    const op = (fn) => {
      const req = {error: null, onerror: null};
      ops.push(() => fn(req));
      return req;
    };
    tx.objectStore = () => ({
      add: (v) => op((req) => {
        if (!this.data.has(v.id)) return this.data.set(v.id, v) && null;
        req.error = new DOMException('Key already exists in the object store.',
                                     'ConstraintError');
        return req;
      }),
      put: (v) => op(() => this.data.set(v.id, v) && null),
    });
    setTimeout(() => {
      for (const run of ops) {
        const failed = run();
        if (!failed) continue;
        const event = {type: 'error', target: failed};
        failed.onerror?.(event);
        tx.onerror?.(event);
        tx.error = failed.error;
        tx.onabort?.({type: 'abort', target: tx});
        return;
      }
      tx.oncomplete?.({type: 'complete', target: tx});
    }, 0);
    return tx;
  }
}

test('IdbStore: a duplicate id is false (not a throw of null)', async () => {
  const store = new IdbStore(new FakeIdb());
  const m = {id: ID(1), conv: 'dm:bob', from: 'bob', ts: 1, text: 'x', state: 'received'};
  assert.equal(await store.addMessage(m), true);
  assert.equal(await store.addMessage(m), false);
});

test('a store write rejecting with nothing still reports an Error', async () => {
  const store = new MemoryStore();
  store.addMessage = () => Promise.reject(null);  // as IdbStore did on a failed request
  const {chat, last, events} = setup({store, random: () => 0.5});
  await chat.start();
  last().connack();
  const client = last();
  dmFrom(client, 'bob', ID(1), 'not stored');
  await settle();
  assert.ok(client.acked[0].error instanceof Error);
  const errors = events.filter((e) => e.type === 'error' && e.scope === 'store');
  assert.ok(errors.length === 1 && errors[0].error instanceof Error);
  await chat.stop();
});

test('a failed store write ends the connection, so the broker resends on the next one',
     async () => {
  const store = new MemoryStore();
  const add = store.addMessage.bind(store);
  let fail = true;
  store.addMessage = (m) => (fail ? Promise.reject(new Error('disk full')) : add(m));
  const {chat, clients, last, events} = setup({store, random: () => 0.5});
  await chat.start();
  last().connack();
  const first = last();
  dmFrom(first, 'bob', ID(1), 'not stored the first time');
  await settle();
  // No PUBACK (MQTT.js does nothing else with the error) and not left open without it.
  assert.equal(first.acked[0].error.message, 'disk full');
  assert.ok(first.ended?.force);
  const offline = events.filter((e) => e.type === 'state').at(-1);
  assert.deepEqual([offline.state, offline.retryInMs, offline.error.message],
                   ['offline', 500, 'disk full']);
  fail = false;
  chat.retryNow();
  assert.equal(clients.length, 2);
  last().connack();
  dmFrom(last(), 'bob', ID(1), 'not stored the first time');  // the broker's resend
  await settle();
  assert.deepEqual(last().acked, [{topic: 'msgr/u/alice/dm/bob', error: null}]);
  assert.equal(events.filter((e) => e.type === 'message').length, 1);
  await chat.stop();
});

test('an outbox larger than the Receive Maximum drains within it, one per PUBACK', async () => {
  const {chat, last} = setup();
  await chat.start();
  for (let i = 0; i < 30; i++) await chat.send('dm:bob', `m${i}`);
  last().connack({receiveMaximum: 10});
  await settle();
  const sent = () => last().published.filter((p) => p.topic === 'msgr/u/bob/dm/alice');
  assert.equal(last().unacked, 10);   // the online presence and 9 messages
  assert.equal(sent().length, 9);
  last().puback(() => true, 1);
  assert.equal(sent().length, 10);
  while (sent().length < 30) {
    const before = sent().length;
    last().puback();
    assert.ok(sent().length > before);
  }
  assert.equal(last().maxUnacked, 10);
  assert.deepEqual(sent().map((p) => p.payload.text), Array.from({length: 30}, (_, i) => `m${i}`));
  last().puback();
  await settle();
  assert.deepEqual(await chat.store.listPending(), []);
  await chat.stop();
});

test('without a Receive Maximum at most 50 of our QoS 1 PUBLISHes are unacknowledged',
     async () => {
  const {chat, last} = setup();
  await chat.start();
  for (let i = 0; i < 60; i++) await chat.send('room:general', `m${i}`);
  last().connack();
  await settle();
  assert.equal(last().unacked, 50);
  while (last().unacked) last().puback();
  assert.equal(last().published.length, 61);
  assert.equal(last().maxUnacked, 50);
  await chat.stop();
});

test('retained messages: none asked for in the inbox and rooms, any that come ignored',
     async () => {
  const {chat, last, events} = setup();
  await chat.start();
  last().connack();
  const subs = last().subscribed[0];
  assert.deepEqual([subs['msgr/u/alice/#'].rh, subs['msgr/r/general/#'].rh,
                    subs['msgr/r/general/#'].nl, subs['msgr/p/+'].rh ?? 0], [2, 2, true, 0]);
  await chat.join('team');
  const team = last().subscribed.find((s) => 'msgr/r/team/#' in s)['msgr/r/team/#'];
  assert.deepEqual([team.rh, team.nl], [2, true]);
  // Planted (retained) by someone, e.g. before the subscription had rh 2.
  last().deliver('msgr/u/alice/dm/mallory', {id: ID(1), ts: 1000, text: 'pinned'},
                 {retain: true});
  last().deliver('msgr/r/general/m/mallory', {id: ID(2), ts: 1000, text: 'pinned'},
                 {retain: true});
  last().deliver('msgr/u/alice/typing/mallory', {ts: Date.now(), typing: true}, {retain: true});
  await settle();
  assert.deepEqual(await chat.history('dm:mallory'), []);
  assert.deepEqual(await chat.history('room:general'), []);
  assert.deepEqual(events.filter((e) => e.type === 'message' || e.type === 'typing'), []);
  assert.equal(last().acked.length, 3);  // acknowledged all the same
  await chat.stop();
});

test('FileStore: a message whose write failed is not kept (the resend is not a duplicate)',
     async () => {
  const dir = await mkdtemp(join(tmpdir(), 'chat-core-test-'));
  try {
    const store = await new FileStore(dir).load();
    const m = {id: ID(1), conv: 'dm:bob', from: 'bob', ts: 1, text: 'x', state: 'received'};
    // The temporary file cannot be made (a directory is in its place): the write fails.
    await mkdir(join(dir, 'store.json.tmp'));
    const warned = new Promise((resolve) => process.once('warning', resolve));
    await assert.rejects(store.addMessage(m));
    assert.equal(await store.getMessage(m.id), undefined);
    await warned;  // the background save's warning, of the same failure
    await rmdir(join(dir, 'store.json.tmp'));
    assert.equal(await store.addMessage(m), true);  // the broker's resend
    const again = await new FileStore(dir).load();
    assert.equal((await again.getMessage(m.id))?.text, 'x');
  } finally {
    await rm(dir, {recursive: true, force: true});
  }
});

test('message ids: 16 to 128 characters', async () => {
  const {chat, last} = setup();
  await chat.start();
  last().connack();
  for (const n of [1, 15, 16, 128, 129]) dmFrom(last(), 'bob', 'x'.repeat(n), `len ${n}`);
  await settle();
  assert.deepEqual((await chat.history('dm:bob')).map((m) => m.text).sort(),
                   ['len 128', 'len 16']);
  await chat.stop();
});

test('receipts carry at most 1000 ids: more go in several', async () => {
  const {chat, last} = setup();
  await chat.start();
  last().connack();
  const ids = Array.from({length: 2500}, (_, i) => ID(i));
  await chat.store.putMessages(ids.map((id, i) => ({id, conv: 'dm:bob', from: 'bob', ts: i,
                                                    text: 't', state: 'received'})));
  await chat.markRead('dm:bob');
  const read = last().published.filter((p) => p.topic === 'msgr/u/bob/rcpt/alice');
  assert.deepEqual(read.map((p) => p.payload.ids.length), [1000, 1000, 500]);
  assert.deepEqual(read.flatMap((p) => p.payload.ids), ids);
  await chat.stop();
});

test('a closing connection sends nothing more from the window', async () => {
  const {chat, last} = setup();
  await chat.start();
  for (let i = 0; i < 60; i++) await chat.send('room:general', `m${i}`);
  last().connack();
  await settle();
  assert.equal(last().published.length, 50);
  last().disconnecting = true;  // MQTT.js's end() begun: its callbacks come with errors
  for (const p of last().published) {
    const cb = p.cb;
    p.cb = null;
    cb?.(new Error('client disconnecting'));
  }
  assert.equal(last().published.length, 50);
  await chat.stop();
});
