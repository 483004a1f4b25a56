// The test page's MQTT client: MQTT.js's browser bundle over WebSocket to the origin that
// served this page (ws://HOST:PORT/mqtt, the same port as the page; wss:// when the page came
// over https, as in tls_test.mjs). The topics live under ?base=... (the driver picks a fresh
// one per run). What browser_test.mjs and tls_test.mjs read:
//   window.connected   true after CONNACK (false again on close)
//   window.subscribed  true after the SUBACK for BASE/to-page/# and BASE/retained (QoS 1)
//   window.received    [{topic, payload, qos, retain}] in arrival order
//   window.failures    errors MQTT.js reported (also logged with console.error)
//   window.publishFromPage(topic, payload, qos)  resolves once the broker acknowledged
import mqtt from './mqtt.esm.js';

const base = new URLSearchParams(location.search).get('base') ?? 'ringmq-browser';
const state = document.getElementById('state');

window.connected = false;
window.subscribed = false;
window.received = [];
window.failures = [];

const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
const client = mqtt.connect(`${scheme}://${location.host}/mqtt`, {
  protocolVersion: 5,
  clientId: `browser-${Math.random().toString(16).slice(2, 10)}`,
  clean: true,
  reconnectPeriod: 0,  // a lost connection is a test failure, not something to hide
  connectTimeout: 5000,
});

client.on('connect', async () => {
  window.connected = true;
  state.textContent = 'connected';
  try {
    const granted = await client.subscribeAsync(
        {[`${base}/to-page/#`]: {qos: 1}, [`${base}/retained`]: {qos: 1}});
    const codes = granted.map((g) => g.qos);
    if (codes.some((qos) => qos !== 1)) throw new Error(`SUBACK granted ${codes}`);
    window.subscribed = true;
    state.textContent = 'subscribed';
  } catch (e) {
    window.failures.push(`subscribe: ${e.message}`);
    console.error('subscribe failed:', e);
  }
});

client.on('message', (topic, payload, packet) => {
  const text = new TextDecoder().decode(payload);
  window.received.push({topic, payload: text, qos: packet.qos, retain: packet.retain});
  const li = document.createElement('li');
  li.textContent = `${topic}: ${text}`;
  document.getElementById('messages').append(li);
});

client.on('close', () => {
  window.connected = false;
  state.textContent = 'closed';
});

client.on('error', (e) => {
  window.failures.push(`error: ${e.message}`);
  console.error('mqtt error:', e);
});

window.publishFromPage = async (topic, payload, qos) => {
  const packet = await client.publishAsync(topic, payload, {qos});
  return packet ? packet.messageId ?? null : null;  // QoS 1: after PUBACK
};
