// Interop: MQTT.js (npm `mqtt`, pinned in package-lock.json) against a running broker, in
// MQTT 3.1.1 and 5.0. Usage: node scenarios.mjs PORT [WSPORT websocket|mixed]. Started by
// ../mqttjs_test.py, which starts and stops the broker under test.
//
// Scenarios per version: QoS 0/1/2 round trips, a retained message delivered to a later
// subscriber, the will published when the client's socket is destroyed without DISCONNECT, a
// persistent session (clean=false, + Session Expiry in 5.0) that queues QoS 1 messages while
// the client is offline and delivers them on reconnect without a new SUBSCRIBE, and the + and
// # wildcards. Prints one PASS/FAIL line per scenario; exits 1 if any failed. Every wait has
// a timeout.
import mqtt from 'mqtt';

const port = Number(process.argv[2]);
// Optional: the broker's WebSocket port and how clients use it ("websocket": every client
// over ws://127.0.0.1:WSPORT/mqtt; "mixed": clients alternate, WebSocket first).
const wsPort = Number(process.argv[3] ?? 0);
const transport = process.argv[4] ?? 'tcp';
if (!Number.isInteger(port) || port <= 0 || (transport !== 'tcp' && !(wsPort > 0))) {
  console.error('usage: node scenarios.mjs PORT [WSPORT websocket|mixed]');
  process.exit(2);
}
let clientsMade = 0;

// Where the next client connects: TCP, or WebSocket (MQTT.js sends subprotocol "mqtt").
function endpoint() {
  clientsMade += 1;
  const ws = transport === 'websocket' || (transport === 'mixed' && clientsMade % 2 === 1);
  return ws ? {protocol: 'ws', host: '127.0.0.1', port: wsPort, path: '/mqtt'}
            : {host: '127.0.0.1', port};
}
const TIMEOUT_MS = 5000;  // for any single expected event
const QUIET_MS = 300;     // watched for "nothing (more) arrives"

class Failure extends Error {}

function fail(message) {
  throw new Failure(message);
}

function expectEqual(what, expected, actual) {
  const e = JSON.stringify(expected);
  const a = JSON.stringify(actual);
  if (e !== a) fail(`${what}: expected ${e}, received ${a}`);
}

async function withTimeout(promise, what, ms = TIMEOUT_MS) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Failure(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

// Clients of the running scenario, force-closed when it ends.
let live = [];

class Client {
  static async connect(version, {clientId, clean = true, sessionExpiry, will} = {}) {
    const c = new Client();
    c.name = clientId ?? 'mqttjs';
    c.messages = [];
    c.waiter = null;
    c.errors = [];
    const options = {
      ...endpoint(),
      protocolVersion: version,
      clean,
      keepalive: 60,
      reconnectPeriod: 0,  // a lost connection stays lost
      connectTimeout: TIMEOUT_MS,
      resubscribe: false,
    };
    if (clientId !== undefined) options.clientId = clientId;
    if (will !== undefined) options.will = will;
    if (version === 5 && sessionExpiry !== undefined) {
      options.properties = {sessionExpiryInterval: sessionExpiry};
    }
    c.client = mqtt.connect(options);
    live.push(c);
    c.client.on('error', (e) => c.errors.push(e));
    c.client.on('message', (topic, payload, packet) => {
      c.messages.push({topic, payload: payload.toString(), qos: packet.qos, retain: packet.retain});
      if (c.waiter) c.waiter();
    });
    const connack = await withTimeout(new Promise((resolve, reject) => {
      c.client.once('connect', resolve);
      c.client.once('error', reject);
      c.client.once('close', () => reject(new Failure(`${c.name}: connection closed before CONNACK`)));
    }), `the CONNACK of ${c.name}`);
    c.sessionPresent = connack.sessionPresent;
    return c;
  }

  async subscribe(topic, qos) {
    const granted = await withTimeout(this.client.subscribeAsync(topic, {qos}), `the SUBACK for ${topic}`);
    expectEqual(`granted QoS for ${topic}`, [qos], granted.map((g) => g.qos));
  }

  async publish(topic, payload, qos, retain = false) {
    await withTimeout(this.client.publishAsync(topic, payload, {qos, retain}),
                      `the acknowledgement of a QoS ${qos} PUBLISH to ${topic}`);
  }

  async nextMessage(what) {
    const deadline = Date.now() + TIMEOUT_MS;
    while (this.messages.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0) fail(`timed out after ${TIMEOUT_MS} ms waiting for ${what}`);
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => { clearTimeout(timer); resolve(); };
      });
      this.waiter = null;
    }
    return this.messages.shift();
  }

  async expectQuiet(what) {
    await new Promise((resolve) => setTimeout(resolve, QUIET_MS));
    if (this.messages.length > 0) {
      fail(`expected nothing more (${what}) for ${QUIET_MS} ms, received ${JSON.stringify(this.messages[0])}`);
    }
  }

  async end() {
    await withTimeout(this.client.endAsync(), `the end of ${this.name}'s connection`);
  }

  // Destroys the socket without DISCONNECT, as a crashed client's kernel would.
  drop() {
    this.client.stream.destroy();
  }
}

async function expectMessage(client, what, topic, payload, qos, retain) {
  const m = await client.nextMessage(what);
  expectEqual(`${what} (topic, payload, qos, retain)`, [topic, payload, qos, retain],
              [m.topic, m.payload, m.qos, m.retain]);
}

function scenariosFor(version) {
  const v = version === 5 ? 'v5' : 'v3.1.1';
  const prefix = `interop/mqttjs/${v}`;

  const roundTrip = (qos) => async () => {
    const topic = `${prefix}/qos${qos}`;
    const sub = await Client.connect(version);
    const pub = await Client.connect(version);
    await sub.subscribe(topic, qos);
    await pub.publish(topic, `hello qos${qos}`, qos);
    await expectMessage(sub, `the QoS ${qos} message`, topic, `hello qos${qos}`, qos, false);
    await sub.expectQuiet('a second copy');
    await pub.end();
    await sub.end();
  };

  const retained = async () => {
    const topic = `${prefix}/retained`;
    const pub = await Client.connect(version);
    await pub.publish(topic, 'kept', 1, true);
    const sub = await Client.connect(version);
    await sub.subscribe(topic, 1);
    await expectMessage(sub, 'the retained message', topic, 'kept', 1, true);
    await pub.publish(topic, '', 1, true);  // an empty retained message clears it
    const later = await Client.connect(version);
    await later.subscribe(topic, 1);
    await later.expectQuiet('the cleared retained message');
  };

  const will = async () => {
    const willTopic = `${prefix}/will`;
    const watcher = await Client.connect(version);
    await watcher.subscribe(willTopic, 1);
    const victim = await Client.connect(version, {
      clientId: `mqttjs-${v}-victim`,
      will: {topic: willTopic, payload: Buffer.from('victim died'), qos: 1, retain: false},
    });
    victim.drop();
    await expectMessage(watcher, 'the will message', willTopic, 'victim died', 1, false);
  };

  const persistentSession = async () => {
    const topic = `${prefix}/session`;
    const session = {clientId: `mqttjs-${v}-persistent`, clean: false, sessionExpiry: 60};
    const first = await Client.connect(version, session);
    await first.subscribe(topic, 1);
    await first.end();
    const pub = await Client.connect(version);
    for (let i = 0; i < 3; i++) await pub.publish(topic, `queued ${i}`, 1);
    // Reconnect without subscribing again: the session holds the subscription.
    const again = await Client.connect(version, session);
    if (!again.sessionPresent) fail('CONNACK Session Present: expected 1, received 0');
    for (let i = 0; i < 3; i++) {
      await expectMessage(again, `queued message ${i}`, topic, `queued ${i}`, 1, false);
    }
    await again.expectQuiet('messages beyond the 3 queued');
  };

  const wildcards = async () => {
    const base = `${prefix}/wild`;
    const plus = `${base}/+/temp`;
    const hash = `${base}/kitchen/#`;
    const sPlus = await Client.connect(version);
    const sHash = await Client.connect(version);
    const pub = await Client.connect(version);
    await sPlus.subscribe(plus, 1);
    await sHash.subscribe(hash, 1);
    const published = [`${base}/kitchen/temp`, `${base}/hall/temp`, `${base}/kitchen/hum`,
                       `${base}/kitchen/oven/temp`, `${base}/kitchen`, `${base}/hall/x/temp`];
    for (const [i, t] of published.entries()) await pub.publish(t, `reading ${i}`, 1);
    const cases = [
      [sPlus, plus, [`${base}/kitchen/temp`, `${base}/hall/temp`]],
      // '#' also matches the parent level itself (§4.7.1.2).
      [sHash, hash, [`${base}/kitchen/temp`, `${base}/kitchen/hum`, `${base}/kitchen/oven/temp`,
                     `${base}/kitchen`]],
    ];
    for (const [sub, filter, want] of cases) {
      const got = [];
      for (let i = 0; i < want.length; i++) {
        got.push((await sub.nextMessage(`message ${i + 1} of ${want.length} for ${filter}`)).topic);
      }
      expectEqual(`topics delivered to ${filter}`, [...want].sort(), got.sort());
      await sub.expectQuiet(`topics not matching ${filter}`);
    }
  };

  return [
    [`${v} qos0 round trip`, roundTrip(0)],
    [`${v} qos1 round trip`, roundTrip(1)],
    [`${v} qos2 round trip`, roundTrip(2)],
    [`${v} retained message to a later subscriber`, retained],
    [`${v} will on destroyed socket`, will],
    [`${v} persistent session queues qos1 while offline`, persistentSession],
    [`${v} wildcards + and #`, wildcards],
  ];
}

const scenarios = [...scenariosFor(4), ...scenariosFor(5)];
let failed = 0;
for (const [name, run] of scenarios) {
  const t0 = Date.now();
  try {
    await run();
    const errors = live.flatMap((c) => c.errors);
    if (errors.length > 0) {
      throw new Failure(`client errors: ${errors.map((e) => e.message).join('; ')}`);
    }
    console.log(`PASS mqttjs ${name} (${((Date.now() - t0) / 1000).toFixed(2)} s)`);
  } catch (e) {
    failed++;
    console.log(`FAIL mqttjs ${name}: ${e instanceof Failure ? e.message : e.stack}`);
  } finally {
    for (const c of live) c.client.end(true);
    live = [];
  }
}
console.log(`mqttjs: ${scenarios.length - failed}/${scenarios.length} scenarios passed`);
process.exit(failed > 0 ? 1 : 0);
