// The messenger's core: the protocol of docs/messenger.md over an MQTT.js client, with no DOM
// and no Node-only import, so the browser app (web/js/app.js), the console client
// (console/chat.mjs) and the tests share it. The caller passes MQTT.js's connect function
// (the browser bundle's or the Node build's) and a store (MemoryStore here, IdbStore in
// web/js/idb-store.js).
//
// API
//   USER_RE, ROOM_RE             names of users /^[a-z0-9_]{1,32}$/ (no '-': it ends the user
//                                name in client ids msgr-USER-DEVICE) and rooms /^[a-z0-9_-]{1,32}$/
//   SESSION_EXPIRY_S, KEEPALIVE_S, TEXT_MAX, TYPING_MAX_AGE_MS   the contract's numbers
//   newId(), newDeviceId()       a message id (24 chars), a device id (12 chars [a-z0-9])
//   compareMessages(a, b)        display order: (ts, from, id)
//   parseConv(conv)              'dm:PEER' | 'room:ROOM' -> {kind: 'dm'|'room', name} or null
//   connackMessage(code)         words for a refused CONNACK (0x86 "wrong name or password", ...)
//   backoffDelay(attempt, backoff, random)   the reconnect delay in ms
//   class MemoryStore            the store interface, in memory (all methods async):
//     putMessage(m), getMessage(id) -> m | undefined, listConversation(conv) -> [m] in
//     display order, listPending() -> [m] with state 'pending' by ts, listConversations() ->
//     [{conv, last, unread}] newest first (unread: messages in state 'received'),
//     getMeta(key) -> value | undefined, setMeta(key, value), clear();
//     optional, used when present: addMessage(m) -> true, or false when the id is stored
//     already (atomic: one step instead of getMessage + putMessage, and received messages
//     need not wait in the client's queue), putMessages([m]) (one write), listUnread(conv)
//     -> [m] in state 'received' (instead of filtering listConversation)
//   class ChatClient extends EventTarget
//     constructor({connect, url, user, password, device, store, rooms = ['general'],
//                  now = Date.now, backoff, random = Math.random, connectTimeoutMs = 10000})
//       backoff: {initialMs: 500, maxMs: 15000, jitter: 0.3, resetAfterMs: 10000} (any subset)
//       device: when omitted, kept in the store's meta 'device' (made once)
//       rooms: joined on the first start; later the store's meta 'rooms' is the list
//     async start()                 connects; reconnects by itself with the back-off until stop()
//     async stop({signOut = false}) signOut: presence offline then DISCONNECT 0x00 (no will);
//                                   otherwise DISCONNECT 0x04 (the broker publishes the will)
//     async send(conv, text) -> message   stored 'pending' at once, published when online
//                                   (the PUBLISH does not wait for the store's write)
//     async join(room), async leave(room)   join throws "not allowed in room ROOM" (and
//                                   does not join) when the broker refuses the subscription
//     async markRead(conv)          own view: 'received' -> 'read', read receipts to the senders
//     setTyping(conv, typing)       QoS 0; 'true' is re-sent at most every 3 s
//     async history(conv) -> [message] in display order
//     async conversations() -> the store's listConversations()
//     state ('connecting'|'online'|'offline'), rooms ([names]), user, device, clientId,
//     presence (Map user -> {state, ts}), lastError
//     retryNow()                    when offline and waiting, reconnect at once; also after
//                                   the broker's DISCONNECT 0x8E (the same client id connected
//                                   elsewhere, e.g. another tab), after which it waits for this
//   Events (CustomEvent, fields in detail):
//     'state' {state, retryInMs, error}   retryInMs: ms until the next attempt (offline), or null
//                                         when it will not retry by itself (refused sign-in,
//                                         stopped, taken over: error.code 0x8E)
//     'message' {message}   a new message, own (at send) or received, once per id
//     'update' {message}    an own message's state changed (sent/delivered/read/failed), or a
//                           received one became 'read'
//     'presence' {user, state, ts}, 'typing' {conv, user, typing},
//     'error' {error, scope}  scope: 'connection' (also told by 'state'), 'subscribe' (e.g. a
//                           room the ACL refuses), 'publish' (a refused PUBLISH), 'store'
//     'rooms' {rooms}       the joined rooms changed
//   Received chat messages are PUBACKed once stored (MQTT.js's handleMessage), so a crash
//   before the write means the broker sends them again; duplicates are dropped by id. A
//   failed write ends the connection (as a lost one), so the broker sends it again.
//   Own QoS 1 PUBLISHes (messages, receipts, presence): at most min(the CONNACK's Receive
//   Maximum, 50) without their PUBACK on a connection; the others wait for one.
//   A message: {id, conv, from, ts, text, state}; state pending|sent|delivered|read for own
//   messages (or 'failed' when the broker refused the PUBLISH, e.g. not allowed by the ACL),
//   received|read for others'.

export const USER_RE = /^[a-z0-9_]{1,32}$/;
export const ROOM_RE = /^[a-z0-9_-]{1,32}$/;
export const SESSION_EXPIRY_S = 604800;
export const KEEPALIVE_S = 30;
export const TEXT_MAX = 4000;
export const TYPING_MAX_AGE_MS = 10000;
const TYPING_RESEND_MS = 3000;   // while typing, 'true' again at most this often
const TYPING_SHOW_MS = 6000;     // a typing indicator without news goes away after this
const RECEIPT_BATCH_MS = 25;     // delivered receipts gathered per sender for this long
const RECEIPT_MAX_IDS = 1000;    // ids per receipt: a receiver reads no more of one
const SIGN_OUT_WAIT_MS = 3000;   // the PUBACK of the offline presence at sign-out
const TS_SKEW_MS = 5 * 60 * 1000; // a received ts may be this far ahead of our clock
// A room: No Local (our own messages are ours already), no retained messages (rh 2).
const ROOM_SUBSCRIPTION = Object.freeze({qos: 1, nl: true, rh: 2});
const MAX_INFLIGHT = 50;         // our QoS 1 PUBLISHes without PUBACK, at most (see PublishWindow)

const DEFAULT_BACKOFF = {initialMs: 500, maxMs: 15000, jitter: 0.3, resetAfterMs: 10000};
const RANK = {pending: 0, failed: 0, sent: 1, delivered: 2, read: 3};
// CONNACK codes after which retrying cannot help: the user must change something.
const FATAL_CONNACK = new Set([0x84, 0x85, 0x86, 0x87, 0x8c]);
const TAKEN_OVER = 0x8e;  // DISCONNECT: the session was taken over
const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function randomString(length, alphabet) {
  const bytes = new Uint8Array(length);
  globalThis.crypto.getRandomValues(bytes);
  let s = '';
  // 256 % 62 != 0: the bias (a few of 62 letters by 1/256) does not matter for uniqueness.
  for (const b of bytes) s += alphabet[b % alphabet.length];
  return s;
}

export function newId() {
  return randomString(24, ID_ALPHABET);
}

export function newDeviceId() {
  return randomString(12, 'abcdefghijklmnopqrstuvwxyz0123456789');
}

export function compareMessages(a, b) {
  if (a.ts !== b.ts) return a.ts - b.ts;
  if (a.from !== b.from) return a.from < b.from ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

export function parseConv(conv) {
  const m = /^(dm|room):(.*)$/.exec(String(conv));
  if (!m || !(m[1] === 'dm' ? USER_RE : ROOM_RE).test(m[2])) return null;
  return {kind: m[1], name: m[2]};
}

export function connackMessage(code) {
  switch (code) {
    case 0x86: return 'wrong name or password';
    case 0x87: return 'not allowed';
    case 0x85: return 'client id refused';
    case 0x88: return 'server unavailable';
    case 0x89: return 'server busy';
    case 0x97: return 'quota exceeded';
    case 0x8e: return 'in use in another window';
    default: return code === undefined ? 'connection failed' : `refused (0x${code.toString(16)})`;
  }
}

export function backoffDelay(attempt, backoff = DEFAULT_BACKOFF, random = Math.random) {
  const b = {...DEFAULT_BACKOFF, ...backoff};
  const base = Math.min(b.maxMs, b.initialMs * 2 ** Math.min(attempt, 30));
  return Math.max(0, Math.round(base * (1 + b.jitter * (2 * random() - 1))));
}

function copy(m) {
  return m === undefined ? undefined : {...m};
}

export class MemoryStore {
  constructor() {
    this.messages = new Map();
    this.meta = new Map();
  }

  async putMessage(m) {
    this.messages.set(m.id, copy(m));
  }

  async getMessage(id) {
    return copy(this.messages.get(id));
  }

  async addMessage(m) {
    if (this.messages.has(m.id)) return false;
    this.messages.set(m.id, copy(m));
    return true;
  }

  async putMessages(ms) {
    for (const m of ms) this.messages.set(m.id, copy(m));
  }

  async listUnread(conv) {
    return [...this.messages.values()].filter((m) => m.conv === conv && m.state === 'received')
        .map(copy).sort(compareMessages);
  }

  async listConversation(conv) {
    return [...this.messages.values()].filter((m) => m.conv === conv).map(copy)
        .sort(compareMessages);
  }

  async listPending() {
    return [...this.messages.values()].filter((m) => m.state === 'pending').map(copy)
        .sort(compareMessages);
  }

  async listConversations() {
    return summarize(this.messages.values());
  }

  async getMeta(key) {
    const v = this.meta.get(key);
    return v === undefined ? undefined : structuredClone(v);
  }

  async setMeta(key, value) {
    this.meta.set(key, structuredClone(value));
  }

  async clear() {
    this.messages.clear();
    this.meta.clear();
  }
}

// [{conv, last, unread}] newest first, from any iterable of messages (shared with IdbStore).
export function summarize(messages) {
  const convs = new Map();
  for (const m of messages) {
    let c = convs.get(m.conv);
    if (!c) convs.set(m.conv, c = {conv: m.conv, last: null, unread: 0});
    if (!c.last || compareMessages(c.last, m) < 0) c.last = copy(m);
    if (m.state === 'received') c.unread++;
  }
  return [...convs.values()].sort((a, b) => compareMessages(b.last, a.last));
}

function parseJson(payload) {
  try {
    const text = typeof payload === 'string' ? payload : new TextDecoder().decode(payload);
    const v = JSON.parse(text);
    return v && typeof v === 'object' && !Array.isArray(v) ? v : null;
  } catch {
    return null;
  }
}

// A peer's ts is believed only when it is a safe integer in [0, now + 5 min]: anything else
// (1e16 is past what Date can show; a far future one would sort first, or keep a typing
// indicator fresh, for ever) is replaced by the arrival time or ignored.
const validTs = (ts, now) => Number.isSafeInteger(ts) && ts >= 0 && ts <= now + TS_SKEW_MS;

// A message id: 16 to 128 characters (ours are 24, newId()).
const validId = (id) => typeof id === 'string' && id.length >= 16 && id.length <= 128;

// Our QoS 1 PUBLISHes on one connection: at most `limit` of them without their PUBACK, the
// others wait for one. MQTT.js does not keep the server's Receive Maximum, and ringmq closes
// the connection (DISCONNECT 0x93) at the first PUBLISH past it: an outbox larger than that
// would be cut at the same message on every connection, for ever.
class PublishWindow {
  #draining = false;

  constructor(client, limit) {
    this.client = client;
    this.limit = limit;
    this.inflight = 0;
    this.waiting = [];
  }

  publish(topic, payload, opts, cb) {
    const send = () => {
      this.inflight++;
      this.client.publish(topic, payload, opts, (error, packet) => {
        this.inflight--;
        this.#next();
        cb?.(error, packet);
      });
    };
    if (this.inflight < this.limit) send();
    else this.waiting.push(send);
  }

  #next() {
    // A closing connection's callbacks come with errors (MQTT.js may call back at once): what
    // waits is for the next connection. Not reentered, so such callbacks do not recurse.
    if (this.#draining) return;
    this.#draining = true;
    try {
      while (this.client.connected && !this.client.disconnecting &&
             this.inflight < this.limit && this.waiting.length) {
        this.waiting.shift()();
      }
    } finally {
      this.#draining = false;
    }
  }
}

export class ChatClient extends EventTarget {
  #connect; #url; #password; #store; #now; #backoff; #random; #connectTimeoutMs;
  #initialRooms;
  #client = null;       // the MQTT.js client of the current attempt
  #window = null;       // its PublishWindow of QoS 1 PUBLISHes, once connected
  #generation = 0;      // bumped per attempt: callbacks of an older client are ignored
  #state = 'offline';
  #rooms = [];
  #started = false;
  #stopping = false;
  #attempt = 0;
  #connectedAt = null;  // when the current connection's CONNACK came
  #retryTimer = null;
  #paused = false;      // taken over (0x8E): no retry until retryNow()
  #serial = Promise.resolve();  // every store read-modify-write runs in this order
  #published = new Set();       // ids published on the current connection
  #receipts = new Map();        // "user\nconv\nstate" -> Set of ids not yet published
  #receiptsInFlight = new Set(); // [key, ids] published, waiting for their PUBACK
  #lastSentTs = 0;              // ts of the last message sent from here
  #receiptTimer = null;
  #typingSent = new Map();      // conv -> time 'true' was last sent
  #typingShown = new Map();     // conv\nuser -> timer clearing the indicator
  #storing = new WeakMap();     // MQTT.js packet -> its message's store write (see handleMessage)

  constructor({connect, url, user, password, device, store, rooms = ['general'], now = Date.now,
               backoff, random = Math.random, connectTimeoutMs = 10000} = {}) {
    super();
    if (typeof connect !== 'function') throw new TypeError('connect: MQTT.js\'s connect function');
    if (!USER_RE.test(user ?? '')) throw new TypeError(`user: must match ${USER_RE}`);
    for (const r of rooms) {
      if (!ROOM_RE.test(r)) throw new TypeError(`room ${r}: must match ${ROOM_RE}`);
    }
    this.#connect = connect;
    this.#url = url;
    this.user = user;
    this.#password = password || undefined;
    this.device = device;
    this.#store = store ?? new MemoryStore();
    this.#initialRooms = [...rooms];
    this.#now = now;
    this.#backoff = {...DEFAULT_BACKOFF, ...backoff};
    this.#random = random;
    this.#connectTimeoutMs = connectTimeoutMs;
    this.presence = new Map();
    this.lastError = null;
  }

  get state() { return this.#state; }
  get rooms() { return [...this.#rooms]; }
  get store() { return this.#store; }
  get clientId() { return `msgr-${this.user}-${this.device}`; }

  async start() {
    if (this.#started) return;
    this.#started = true;
    this.#stopping = false;
    if (!this.device) {
      this.device = await this.#store.getMeta('device');
      if (!this.device) {
        this.device = newDeviceId();
        await this.#store.setMeta('device', this.device);
      }
    }
    const rooms = await this.#store.getMeta('rooms');
    this.#rooms = Array.isArray(rooms) ? rooms.filter((r) => ROOM_RE.test(r))
                                       : [...this.#initialRooms];
    if (!Array.isArray(rooms)) await this.#store.setMeta('rooms', this.#rooms);
    this.#open();
  }

  async stop({signOut = false} = {}) {
    if (!this.#started) return;
    this.#stopping = true;
    this.#started = false;
    clearTimeout(this.#retryTimer);
    clearTimeout(this.#receiptTimer);
    for (const t of this.#typingShown.values()) clearTimeout(t);
    this.#typingShown.clear();
    const client = this.#client;
    const win = this.#window?.client === client ? this.#window : null;
    this.#client = null;
    this.#window = null;
    this.#generation++;
    if (client) {
      const connected = client.connected;
      if (connected && signOut) {
        await this.#withTimeout(new Promise((resolve) => {
          const publish = win ? win.publish.bind(win) : client.publish.bind(client);
          publish(`msgr/p/${this.user}`, JSON.stringify({state: 'offline', ts: this.#now()}),
                  {qos: 1, retain: true}, () => resolve());
        }), SIGN_OUT_WAIT_MS).catch(() => {});
      }
      await new Promise((resolve) => {
        // 0x00: a normal disconnection, the will is dropped; 0x04: "disconnect with will
        // message", so the others see this user offline.
        client.end(!connected, connected ? {reasonCode: signOut ? 0x00 : 0x04} : {}, resolve);
      });
    }
    await this.#serial;
    this.#setState('offline', {retryInMs: null});
  }

  retryNow() {
    if (this.#started && this.#state === 'offline' && (this.#retryTimer !== null || this.#paused)) {
      clearTimeout(this.#retryTimer);
      this.#retryTimer = null;
      this.#paused = false;
      this.#open();
    }
  }

  async send(conv, text) {
    const c = parseConv(conv);
    if (!c) throw new TypeError(`conversation ${conv}: expected dm:USER or room:ROOM`);
    text = String(text);
    if (text.trim() === '') throw new TypeError('empty message');
    if (text.length > TEXT_MAX) throw new TypeError(`message longer than ${TEXT_MAX} characters`);
    // Strictly increasing: messages are ordered by (ts, from, id), and two of this sender's in
    // the same millisecond would otherwise be ordered by their random ids.
    const ts = Math.max(this.#now(), this.#lastSentTs + 1);
    this.#lastSentTs = ts;
    const message = {id: newId(), conv, from: this.user, ts, text, state: 'pending'};
    // Queued before the PUBLISH, so its PUBACK finds the message stored; not awaited before
    // it, so the store's latency is not the message's.
    const stored = this.#run(() => this.#store.putMessage(message));
    this.#publishMessage(message);  // before the listeners' work on the event
    this.#emit('message', {message: {...message}});
    await stored;
    return {...message};
  }

  async join(room) {
    if (!ROOM_RE.test(room)) throw new TypeError(`room ${room}: must match ${ROOM_RE}`);
    if (this.#rooms.includes(room)) return;
    this.#rooms.push(room);
    await this.#store.setMeta('rooms', this.#rooms);
    this.#emit('rooms', {rooms: this.rooms});
    const refused = await this.#subscribe({[`msgr/r/${room}/#`]: ROOM_SUBSCRIPTION});
    if (refused.length) {
      // Not a member (the ACL): not joined.
      this.#rooms = this.#rooms.filter((r) => r !== room);
      await this.#store.setMeta('rooms', this.#rooms);
      this.#emit('rooms', {rooms: this.rooms});
      throw new Error(`not allowed in room ${room}`);
    }
  }

  async leave(room) {
    if (!this.#rooms.includes(room)) return;
    this.#rooms = this.#rooms.filter((r) => r !== room);
    await this.#store.setMeta('rooms', this.#rooms);
    this.#emit('rooms', {rooms: this.rooms});
    if (this.#client?.connected) {
      await this.#client.unsubscribeAsync(`msgr/r/${room}/#`)
          .catch((error) => this.#emit('error', {error, scope: 'subscribe'}));
    }
  }

  async history(conv) {
    return this.#store.listConversation(conv);
  }

  async conversations() {
    return this.#store.listConversations();
  }

  async markRead(conv) {
    const changed = await this.#run(async () => {
      const unread = this.#store.listUnread ? await this.#store.listUnread(conv)
          : (await this.#store.listConversation(conv)).filter((m) => m.state === 'received');
      const out = unread.filter((m) => m.from !== this.user);
      for (const m of out) m.state = 'read';
      if (this.#store.putMessages) await this.#store.putMessages(out);
      else for (const m of out) await this.#store.putMessage(m);
      return out;
    });
    for (const m of changed) {
      this.#emit('update', {message: m});
      this.#queueReceipt(m.from, m.conv, 'read', m.id);
    }
    if (changed.length) this.#flushReceipts();
  }

  setTyping(conv, typing) {
    const c = parseConv(conv);
    if (!c || !this.#client?.connected) return;
    const now = this.#now();
    if (typing) {
      if (now - (this.#typingSent.get(conv) ?? -Infinity) < TYPING_RESEND_MS) return;
      this.#typingSent.set(conv, now);
    } else {
      if (!this.#typingSent.has(conv)) return;
      this.#typingSent.delete(conv);
    }
    const topic = c.kind === 'dm' ? `msgr/u/${c.name}/typing/${this.user}`
                                  : `msgr/r/${c.name}/typing/${this.user}`;
    this.#client.publish(topic, JSON.stringify({ts: now, typing: !!typing}), {qos: 0});
  }

  // --- connection ---

  #open() {
    if (!this.#started) return;
    this.#retryTimer = null;
    const generation = ++this.#generation;
    this.#setState('connecting', {retryInMs: null});
    const options = {
      protocolVersion: 5,
      clientId: this.clientId,
      clean: false,
      keepalive: KEEPALIVE_S,
      reconnectPeriod: 0,
      connectTimeout: this.#connectTimeoutMs,
      properties: {sessionExpiryInterval: SESSION_EXPIRY_S},
      will: {topic: `msgr/p/${this.user}`,
             payload: JSON.stringify({state: 'offline', ts: this.#now()}),
             qos: 1, retain: true},
    };
    options.username = this.user;
    if (this.#password) options.password = this.#password;
    let client;
    try {
      client = this.#connect(this.#url, options);
    } catch (error) {
      this.#lost(generation, error);
      return;
    }
    this.#client = client;
    // MQTT.js sends a QoS 1 message's PUBACK when handleMessage calls back: here, once the
    // message is in the store, so a page or process that dies before that gets it again.
    client.handleMessage = (packet, callback) => {
      const stored = this.#storing.get(packet);
      if (!stored) {
        callback();
        return;
      }
      this.#storing.delete(packet);
      // A failed write: no PUBACK. MQTT.js (5.16) does nothing else with the error (no
      // close): the message would stay unacknowledged on a live connection, and after the
      // broker's Receive Maximum of them nothing more would come while we look online. So
      // this connection ends, as a lost one (reconnect with back-off), and the broker sends
      // the message again on the next.
      stored.then(() => callback(), (error) => {
        error ??= new Error('store write failed');
        callback(error);
        this.#lost(generation, error);
      });
    };
    let failure = null;
    client.on('connect', (connack) => {
      if (generation === this.#generation) this.#online(client, connack);
    });
    client.on('message', (topic, payload, packet) => {
      if (generation === this.#generation) this.#onMessage(topic, payload, packet);
    });
    client.on('error', (error) => {
      if (generation !== this.#generation) return;
      failure = error;
      if (typeof error?.code === 'number') {
        error.message = connackMessage(error.code);
      }
    });
    client.on('disconnect', (packet) => {
      // The broker's DISCONNECT; 0x8E: this client id connected again elsewhere (another tab
      // with the same device id): reconnecting would take it back, and so on.
      if (generation === this.#generation && packet?.reasonCode === TAKEN_OVER) {
        failure = Object.assign(new Error(connackMessage(TAKEN_OVER)), {code: TAKEN_OVER});
      }
    });
    client.on('close', () => {
      if (generation === this.#generation) this.#lost(generation, failure);
    });
  }

  #online(client, connack) {
    this.#connectedAt = this.#now();
    const receiveMaximum = connack?.properties?.receiveMaximum ?? 65535;
    this.#window = new PublishWindow(client, Math.max(1, Math.min(receiveMaximum, MAX_INFLIGHT)));
    this.#published.clear();
    this.lastError = null;
    this.#setState('online', {retryInMs: null});
    // Retain Handling 2 on the inbox and the rooms: anyone may write a retained message there
    // (a DM, typing, a receipt), which would come back on every connect; rh 0 for presence,
    // which is retained on purpose.
    const subs = {[`msgr/u/${this.user}/#`]: {qos: 1, rh: 2}, 'msgr/p/+': {qos: 1, rh: 0}};
    for (const r of this.#rooms) subs[`msgr/r/${r}/#`] = ROOM_SUBSCRIPTION;
    this.#subscribe(subs).then((refused) => {
      for (const topic of refused) {
        this.#emit('error', {error: new Error(`subscription to ${topic} refused`),
                             scope: 'subscribe'});
      }
    });
    this.#window.publish(`msgr/p/${this.user}`,
                         JSON.stringify({state: 'online', ts: this.#now()}),
                         {qos: 1, retain: true});
    this.#flushOutbox();
    this.#flushReceipts();
  }

  // SUBSCRIBE on the current connection (none: nothing to do, the next connection subscribes
  // to every joined room); resolves to the topics the broker refused.
  async #subscribe(subs) {
    const client = this.#client;
    if (!client?.connected) return [];
    try {
      const granted = await client.subscribeAsync(subs);
      return (granted ?? []).filter((g) => g.qos >= 0x80).map((g) => g.topic);
    } catch (error) {
      // MQTT.js rejects when a code in the SUBACK is a failure, with the SUBACK in
      // error.packet (codes in the order of the filters).
      const codes = error?.packet?.granted;
      if (Array.isArray(codes)) {
        const topics = Object.keys(subs);
        return codes.flatMap((code, i) => code >= 0x80 && topics[i] ? [topics[i]] : []);
      }
      if (client === this.#client) this.#emit('error', {error, scope: 'subscribe'});
      return [];
    }
  }

  #lost(generation, error) {
    if (generation !== this.#generation) return;
    this.#generation++;  // whatever this client still says (a second 'close') is ignored
    const client = this.#client;
    this.#client = null;
    this.#window = null;  // what waits in it goes again on the next connection
    if (client) client.end(true);
    this.#typingSent.clear();
    // Receipts without their PUBACK go again on the next connection (MQTT.js keeps nothing
    // across clients); a receipt seen twice changes nothing.
    for (const [key, ids] of this.#receiptsInFlight) {
      for (const id of ids) this.#queueReceiptKey(key, id);
    }
    this.#receiptsInFlight.clear();
    if (this.#stopping || !this.#started) return;
    if (this.#connectedAt !== null &&
        this.#now() - this.#connectedAt >= this.#backoff.resetAfterMs) {
      this.#attempt = 0;
    }
    this.#connectedAt = null;
    if (error) {
      this.lastError = error;
      this.#emit('error', {error, scope: 'connection'});
    }
    if (typeof error?.code === 'number' && FATAL_CONNACK.has(error.code)) {
      this.#started = false;
      this.#setState('offline', {retryInMs: null, error});
      return;
    }
    if (error?.code === TAKEN_OVER) {
      // Paused, not stopped: retryNow() takes the session back.
      this.#retryTimer = null;
      this.#paused = true;
      this.#setState('offline', {retryInMs: null, error});
      return;
    }
    const delay = backoffDelay(this.#attempt++, this.#backoff, this.#random);
    this.#retryTimer = setTimeout(() => this.#open(), delay);
    this.#setState('offline', {retryInMs: delay, error: error ?? null});
  }

  #setState(state, {retryInMs = null, error = null} = {}) {
    this.#state = state;
    this.#emit('state', {state, retryInMs, error});
  }

  #emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, {detail}));
  }

  #run(fn) {
    const result = this.#serial.then(fn);
    this.#serial = result.catch((error) => this.#storeError(error));
    return result;
  }

  #storeError(error) {
    this.#emit('error', {error: error ?? new Error('store write failed'), scope: 'store'});
  }

  #withTimeout(promise, ms) {
    let timer;
    return Promise.race([promise, new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error('timed out')), ms);
    })]).finally(() => clearTimeout(timer));
  }

  // --- sending ---

  async #flushOutbox() {
    const generation = this.#generation;
    let pending;
    try {
      pending = await this.#run(() => this.#store.listPending());
    } catch {
      return;
    }
    if (generation !== this.#generation) return;
    for (const m of pending) this.#publishMessage(m);
  }

  #publishMessage(message) {
    const client = this.#client;
    const win = this.#window;
    if (!client?.connected || win?.client !== client || this.#published.has(message.id)) return;
    const c = parseConv(message.conv);
    const topic = c.kind === 'dm' ? `msgr/u/${c.name}/dm/${this.user}`
                                  : `msgr/r/${c.name}/m/${this.user}`;
    const generation = this.#generation;
    this.#published.add(message.id);
    win.publish(topic, JSON.stringify({id: message.id, ts: message.ts, text: message.text}),
                {qos: 1}, (error) => {
      if (generation !== this.#generation) return;  // the next connection resends it
      if (error) {
        // A PUBACK with a failure code: the broker refused it (e.g. the ACL); resending the
        // same message would be refused again.
        if (typeof error.code === 'number' && error.code >= 0x80) {
          this.#advance(message.id, 'failed', null);
          this.#emit('error', {error, scope: 'publish'});
        }
        this.#published.delete(message.id);
        return;
      }
      this.#advance(message.id, 'sent', null);
    });
  }

  // Moves an own message forward (never back): 'sent' only from pending, receipts upward.
  #advance(id, state, conv) {
    return this.#run(async () => {
      const m = await this.#store.getMessage(id);
      if (!m || m.from !== this.user || (conv !== null && m.conv !== conv)) return null;
      if (state === 'failed' ? m.state !== 'pending' : RANK[state] <= RANK[m.state]) return null;
      m.state = state;
      await this.#store.putMessage(m);
      return m;
    }).then((m) => {
      if (m) this.#emit('update', {message: m});
    });
  }

  #queueReceipt(to, conv, state, id) {
    this.#queueReceiptKey(`${to}\n${conv}\n${state}`, id);
  }

  #queueReceiptKey(key, id) {
    let ids = this.#receipts.get(key);
    if (!ids) this.#receipts.set(key, ids = new Set());
    ids.add(id);
  }

  #flushReceipts() {
    clearTimeout(this.#receiptTimer);
    this.#receiptTimer = null;
    const client = this.#client;
    const win = this.#window;
    if (!client?.connected || win?.client !== client) return;
    for (const [key, ids] of this.#receipts) {
      const [to, conv, state] = key.split('\n');
      // The conversation as the original sender names it: dm:ME, or the room.
      const theirConv = conv.startsWith('dm:') ? `dm:${this.user}` : conv;
      const all = [...ids];
      for (let i = 0; i < all.length; i += RECEIPT_MAX_IDS) {
        const chunk = all.slice(i, i + RECEIPT_MAX_IDS);
        const batch = [key, chunk];
        this.#receiptsInFlight.add(batch);
        win.publish(`msgr/u/${to}/rcpt/${this.user}`,
                    JSON.stringify({ids: chunk, state, conv: theirConv}), {qos: 1}, (error) => {
                      // Acknowledged, or refused by the broker (no use sending it again); a
                      // lost connection puts what is still in flight back (#lost).
                      if (!error || client === this.#client) this.#receiptsInFlight.delete(batch);
                    });
      }
    }
    this.#receipts.clear();
  }

  // --- receiving ---

  #onMessage(topic, payload, packet) {
    const t = topic.split('/');
    if (t[0] !== 'msgr') return;
    // Only presence is retained; a retained message in an inbox or a room (rh 2 keeps them
    // away; a subscription made before that did not) is someone's plant: ignored.
    if (packet?.retain && t[1] !== 'p') return;
    if (t[1] === 'p' && t.length === 3) {
      this.#onPresence(t[2], parseJson(payload), packet);
    } else if (t[1] === 'u' && t.length === 5 && t[2] === this.user && USER_RE.test(t[4])) {
      const from = t[4];
      if (t[3] === 'dm') this.#onChat(`dm:${from}`, from, parseJson(payload), packet);
      else if (t[3] === 'rcpt') this.#onReceipt(from, parseJson(payload));
      else if (t[3] === 'typing') this.#onTyping(`dm:${from}`, from, parseJson(payload));
    } else if (t[1] === 'r' && t.length === 5 && this.#rooms.includes(t[2]) &&
               USER_RE.test(t[4])) {
      const conv = `room:${t[2]}`;
      if (t[3] === 'm') this.#onChat(conv, t[4], parseJson(payload), packet);
      else if (t[3] === 'typing' && t[4] !== this.user) {
        this.#onTyping(conv, t[4], parseJson(payload));
      }
    }
  }

  #onPresence(user, p, packet) {
    if (!USER_RE.test(user) || !p || (p.state !== 'online' && p.state !== 'offline')) return;
    let ts = validTs(p.ts, this.#now()) ? p.ts : this.#now();
    // A will carries the time of its CONNECT; delivered live (not retained), now is closer to
    // when the user went away.
    if (p.state === 'offline' && !packet?.retain) ts = Math.max(ts, this.#now());
    const old = this.presence.get(user);
    if (old && old.state === p.state && old.ts === ts) return;
    this.presence.set(user, {state: p.state, ts});
    this.#emit('presence', {user, state: p.state, ts});
  }

  #onChat(conv, from, p, packet) {
    if (!p || !validId(p.id) || typeof p.text !== 'string' || p.text.length > TEXT_MAX) return;
    const ts = validTs(p.ts, this.#now()) ? p.ts : this.#now();
    const own = from === this.user;
    const message = {id: p.id, conv, from, ts, text: p.text, state: own ? 'sent' : 'received'};
    // addMessage is atomic (of two racing copies one is added), so it need not wait for the
    // queue; without it, get + put run in the queue.
    const add = this.#store.addMessage ? this.#store.addMessage(message) : this.#run(async () => {
      if (await this.#store.getMessage(message.id)) return false;  // a duplicate
      await this.#store.putMessage(message);
      return true;
    });
    if (packet && typeof packet === 'object') this.#storing.set(packet, add);
    add.then((added) => {
      if (!added) return;
      this.#emit('message', {message: {...message}});
      if (!own) {
        this.#queueReceipt(from, conv, 'delivered', message.id);
        if (!this.#receiptTimer) {
          this.#receiptTimer = setTimeout(() => this.#flushReceipts(), RECEIPT_BATCH_MS);
        }
      }
    }, (error) => this.#storeError(error));
  }

  #onReceipt(from, p) {
    if (!p || !Array.isArray(p.ids) || (p.state !== 'delivered' && p.state !== 'read')) return;
    const c = parseConv(p.conv);
    if (!c) return;
    // In a DM the receipt's sender is the peer and names the conversation as we do (dm:PEER);
    // in a room, any member.
    if (c.kind === 'dm' && c.name !== from) return;
    const conv = p.conv;
    for (const id of p.ids.slice(0, RECEIPT_MAX_IDS)) {
      if (validId(id)) this.#advance(id, p.state, conv);
    }
  }

  #onTyping(conv, user, p) {
    if (!p || typeof p.typing !== 'boolean') return;
    const now = this.#now();
    if (!validTs(p.ts, now) || now - p.ts > TYPING_MAX_AGE_MS) return;
    const key = `${conv}\n${user}`;
    clearTimeout(this.#typingShown.get(key));
    this.#typingShown.delete(key);
    if (p.typing) {
      this.#typingShown.set(key, setTimeout(() => {
        this.#typingShown.delete(key);
        this.#emit('typing', {conv, user, typing: false});
      }, TYPING_SHOW_MS));
    }
    this.#emit('typing', {conv, user, typing: p.typing});
  }
}
