// TLS test (issue 14): MQTT.js in Node and Debian's Chromium (headless, playwright-core)
// against ringmq's mqtts:// and wss:// listeners. Usage: node tls_test.mjs SETTINGS, a JSON
// object from tls_test.py: the ports (mqtt, mqtts, wss, mtls, other_wss), the PEM files (ca,
// other_ca, client, client_key, other_client, other_client_key), spki (the server key's pin)
// and chromium. tls_test.py makes the certificates and starts and stops the broker.
//
// Checks, in order (each wait has a timeout; no fixed sleeps):
//   1. Node over mqtts:// and over wss:// (/mqtt), trusting only the test CA
//      (rejectUnauthorized): both connect (TLS 1.2 or 1.3, the server certificate verified for
//      127.0.0.1), subscribe with QoS 1, and each one's QoS 1 publish reaches both;
//   2. refused: a client trusting only the other CA, over mqtts:// and wss:// (no CONNACK, a
//      certificate error), and plain MQTT on the mqtts:// port (no CONNACK);
//   3. mTLS (the mtls listener: client_certs=require, ca= on the address): a client with the
//      test CA's client certificate connects and its QoS 1 publish reaches both clients of 1;
//      no client certificate, or one of the other CA: refused (no CONNACK, a TLS alert);
//   4. Chromium, trusting only the server key's SPKI pin (no blanket ignoreHTTPSErrors), opens
//      https://127.0.0.1:WSS/ (served by the websocket plugin's HTTP side over TLS: issuer and
//      subject checked), the page is https: and its only WebSocket is wss://127.0.0.1:WSS/mqtt;
//      it connects and subscribes; mqtts -> page and page -> mqtts at QoS 1 (browser over wss
//      <-> Node over mqtts); the other_wss port (a certificate of the other CA) is refused
//      with a certificate error (the pin trusts one key, not every certificate); no console
//      error, page error or failed request on the way.
// Chromium starts during 1-3. Prints PASS/FAIL lines; exits 1 on the first failure.
import {readFileSync} from 'node:fs';
import mqtt from 'mqtt';

import {Failure, QueuedClient, check, expectEqual, launchChromium, pageReady,
        reportFailure, withTimeout as withTimeoutMs} from './common.mjs';

const cfg = JSON.parse(process.argv[2] ?? '{}');
for (const port of ['mqtt', 'mqtts', 'wss', 'mtls', 'other_wss']) {
  if (!(cfg[port] > 0)) {
    console.error(`usage: node tls_test.mjs SETTINGS (a JSON object; no port '${port}')`);
    process.exit(2);
  }
}
const TIMEOUT_MS = 5000;         // for any single expected event
const LAUNCH_TIMEOUT_MS = 30000; // Chromium's first start on a busy machine

// For any single expected event, TIMEOUT_MS unless told.
const withTimeout = (promise, what, ms = TIMEOUT_MS) => withTimeoutMs(promise, what, ms);

const started = Date.now();
function pass(what) {
  console.log(`PASS tls ${what} (${((Date.now() - started) / 1000).toFixed(2)} s)`);
}

const pem = (name) => readFileSync(cfg[name]);
const ca = pem('ca');
const otherCa = pem('other_ca');
const base = `ringmq-tls/${process.pid}-${Date.now().toString(36)}`;
const urls = {
  plain: `mqtt://127.0.0.1:${cfg.mqtts}`,  // plain MQTT to the TLS port
  mqtts: `mqtts://127.0.0.1:${cfg.mqtts}`,
  wss: `wss://127.0.0.1:${cfg.wss}/mqtt`,
  mtls: `mqtts://127.0.0.1:${cfg.mtls}`,
};

// Connects with `options` (rejectUnauthorized unless told otherwise) and waits for the
// outcome: {client, connack: true} on CONNACK, or {connack: false, errors} once the connection
// closed without one. errors: MQTT.js's and its stream's messages (a TLS or WebSocket error
// after the TLS handshake reaches only the stream: MQTT.js passes on socket errors like
// ECONNREFUSED alone).
let clientCount = 0;
async function attempt(name, url, options) {
  const client = mqtt.connect(url, {
    protocolVersion: 5, clientId: `tls-${++clientCount}-${process.pid}`, reconnectPeriod: 0,
    connectTimeout: TIMEOUT_MS, rejectUnauthorized: true, ...options});
  const errors = new Set();
  const note = (e) => errors.add(e?.message ?? String(e));
  client.on('error', note);
  client.stream?.on('error', note);
  const connack = await withTimeout(new Promise((resolve) => {
    client.once('connect', () => resolve(true));
    client.once('close', () => resolve(false));
  }), `${name}: CONNACK or the connection's close`, TIMEOUT_MS + 1000);
  if (!connack) client.end(true);
  return {client, connack, errors: [...errors]};
}

async function connect(name, url, options) {
  const r = await attempt(name, url, options);
  check(r.connack, `${name} (${url}): no CONNACK; errors: ${JSON.stringify(r.errors)}`);
  return new QueuedClient(r.client);
}

// Expects no CONNACK, and an error matching `errorPattern` when given; returns the matching
// part of the error (OpenSSL's messages are long), or ''.
async function refused(name, url, options, errorPattern) {
  const r = await attempt(name, url, options);
  if (r.connack) await r.client.endAsync();
  check(!r.connack, `${name} (${url}): expected no CONNACK, the broker accepted the client`);
  if (!errorPattern) return '';
  const match = r.errors.map((e) => e.match(errorPattern)).find((m) => m);
  check(match, `${name} (${url}): expected an error matching ${errorPattern}, ` +
               `received ${JSON.stringify(r.errors)}`);
  return match[0];
}

async function subscribe(q, filter) {
  const granted = await withTimeout(q.client.subscribeAsync(filter, {qos: 1}),
                                    `SUBACK for ${filter}`);
  expectEqual(`QoS granted for ${filter}`, [1], granted.map((g) => g.qos));
}

// `from` publishes at QoS 1 (resolved by PUBACK); each of `to` receives it.
async function publishTo(from, topic, payload, ...to) {
  await withTimeout(from.client.publishAsync(topic, payload, {qos: 1}), `PUBACK for ${topic}`);
  for (const q of to) {
    expectEqual(`message on ${topic}`, {topic, payload, qos: 1, retain: false},
                await q.next(`${topic} at a subscriber`));
  }
}

const clients = [];
const problems = [];  // console errors, page errors, failed requests: checked at the end
let rc = 1;
// Chromium starts (with its first page, slow too) while the Node clients run: about 3 s less.
const browserStarting = launchChromium(cfg.chromium, LAUNCH_TIMEOUT_MS,
                                       [`--ignore-certificate-errors-spki-list=${cfg.spki}`]);
const pageOpening = browserStarting.then((b) => withTimeout(b.newPage(), 'Chromium\'s page'));
pageOpening.catch(() => {});  // reported where awaited
try {
  // 1. Node over mqtts:// and wss://, trusting the test CA only.
  const overMqtts = await connect('mqtts client', urls.mqtts, {ca});
  clients.push(overMqtts);
  const tls = overMqtts.client.stream;
  check(tls.authorized, `mqtts client: the server certificate is not authorized: ` +
                        `${tls.authorizationError}`);
  check(['TLSv1.2', 'TLSv1.3'].includes(tls.getProtocol()),
        `mqtts client: negotiated ${tls.getProtocol()}`);
  const peer = tls.getPeerCertificate();
  expectEqual('server certificate (subject CN, issuer CN, subjectaltname)',
              ['localhost', 'ringmq test CA', 'IP Address:127.0.0.1, DNS:localhost'],
              [peer.subject?.CN, peer.issuer?.CN, peer.subjectaltname]);
  const overWss = await connect('wss client', urls.wss, {ca});
  clients.push(overWss);
  await subscribe(overMqtts, `${base}/node/#`);
  await subscribe(overWss, `${base}/node/#`);
  await publishTo(overMqtts, `${base}/node/from-mqtts`, 'over mqtts', overMqtts, overWss);
  await publishTo(overWss, `${base}/node/from-wss`, 'over wss', overMqtts, overWss);
  pass(`Node over mqtts:// (${tls.getProtocol()}) and wss:// trusting the test CA: ` +
       'QoS 1 both ways');

  // 2. Refused: the wrong CA; plain MQTT on a TLS port.
  // Node checks the chain after the handshake (the server sends only its own certificate).
  const certificateError = /unable to verify the first certificate/;
  const e1 = await refused('mqtts client trusting the other CA', urls.mqtts, {ca: otherCa},
                           certificateError);
  const e2 = await refused('wss client trusting the other CA', urls.wss, {ca: otherCa},
                           certificateError);
  await refused('plain MQTT on the mqtts port', urls.plain, {});
  pass(`refused: the other CA over mqtts and wss (${e1}; ${e2}); plain MQTT on mqtts`);

  // 3. mTLS.
  const withCert = await connect('mTLS client', urls.mtls,
                                 {ca, cert: pem('client'), key: pem('client_key')});
  clients.push(withCert);
  await publishTo(withCert, `${base}/node/from-mtls`, 'over mTLS', overMqtts, overWss);
  // The broker's alerts: certificate_required (TLS 1.3; handshake_failure in TLS 1.2) and
  // unknown_ca.
  const e3 = await refused('mTLS client without a certificate', urls.mtls, {ca},
                           /alert (certificate required|handshake failure)/);
  const e4 = await refused('mTLS client with a certificate of the other CA', urls.mtls,
                           {ca, cert: pem('other_client'), key: pem('other_client_key')},
                           /alert unknown ca/);
  pass(`mTLS: client certificate accepted; none (${e3}) and the other CA's (${e4}) refused`);

  // 4. Chromium over https:// and wss://, the server key pinned.
  const page = await pageOpening;
  pass(`Chromium ${page.context().browser().version()} started`);
  const websockets = [];
  page.on('websocket', (ws) => websockets.push(ws.url()));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed',
          (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  await subscribe(overMqtts, `${base}/from-page`);

  const origin = `https://127.0.0.1:${cfg.wss}`;
  const response = await page.goto(`${origin}/?base=${encodeURIComponent(base)}`,
                                   {timeout: TIMEOUT_MS}).catch((e) => {
    throw new Failure(`opening ${origin}/ with the server key pinned: ` +
                      e.message.split('\n')[0]);
  });
  check(response !== null, `no response for ${origin}/`);
  expectEqual(`status of ${origin}/`, 200, response.status());
  const security = await response.securityDetails();
  expectEqual('the page\'s certificate (issuer, subject)', ['ringmq test CA', 'localhost'],
              [security?.issuer, security?.subjectName]);
  check(/^TLS 1\.[23]$/.test(security?.protocol ?? ''),
        `the page's TLS version: ${security?.protocol}`);
  expectEqual('the page\'s protocol', 'https:', await page.evaluate(() => location.protocol));
  await pageReady(page, problems, TIMEOUT_MS);
  expectEqual('the page\'s WebSockets', [`wss://127.0.0.1:${cfg.wss}/mqtt`], websockets);
  pass(`page over https (${security.protocol}, issuer ${security.issuer}), ` +
       'connected over wss:// and subscribed');

  // mqtts -> page.
  await withTimeout(overMqtts.client.publishAsync(`${base}/to-page/a`, 'mqtts to page', {qos: 1}),
                    'PUBACK for mqtts -> page');
  try {
    await page.waitForFunction(() => window.received.length >= 1, null, {timeout: TIMEOUT_MS});
  } catch {
    throw new Failure(`timed out after ${TIMEOUT_MS} ms waiting for the mqtts client's ` +
                      'message in the page');
  }
  expectEqual('mqtts -> page message',
              [{topic: `${base}/to-page/a`, payload: 'mqtts to page', qos: 1, retain: false}],
              await page.evaluate(() => window.received));
  // page -> mqtts: the page's publish resolves on PUBACK.
  await withTimeout(page.evaluate(([t, p]) => window.publishFromPage(t, p, 1),
                                  [`${base}/from-page`, 'page to mqtts']),
                    'PUBACK for the page\'s publish');
  expectEqual('page -> mqtts message',
              {topic: `${base}/from-page`, payload: 'page to mqtts', qos: 1, retain: false},
              await overMqtts.next('the page\'s message at the mqtts client'));
  pass('browser over wss:// <-> Node over mqtts://, QoS 1 both ways');

  // The pin trusts our server key, not every certificate: a certificate of the other CA.
  const other = `https://127.0.0.1:${cfg.other_wss}/`;
  const otherError = await withTimeout(
      page.goto(other, {timeout: TIMEOUT_MS}).then(() => null, (e) => e.message),
      `${other} to fail`);
  check(otherError !== null && /ERR_CERT_/.test(otherError),
        `${other} (a certificate of the other CA): expected a certificate error, ` +
        `received ${otherError ?? 'the page'}`);
  pass(`the other CA's certificate refused by Chromium (${otherError.split(' ')[1]})`);

  // The failed navigation above is a failed request of its own; nothing else.
  const unexpected = problems.filter((p) => !p.startsWith(`request failed: ${other}`));
  expectEqual('console errors, page errors and failed requests', [], unexpected);
  pass('no console errors, page errors or failed requests');
  rc = 0;
} catch (e) {
  reportFailure('tls', e, problems);
} finally {
  const browser = await browserStarting.catch(() => null);
  if (browser) await withTimeout(browser.close(), 'Chromium to close').catch(() => {});
  for (const q of clients) {
    await withTimeout(q.client.endAsync(), 'a client to close').catch(() => {});
  }
}
const seconds = ((Date.now() - started) / 1000).toFixed(1);
console.log(`tls: ${rc === 0 ? 'passed' : 'FAILED'} in ${seconds} s`);
process.exit(rc);
