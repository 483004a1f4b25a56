// Browser test: Debian's Chromium (headless, driven by playwright-core) loads the test page
// from ringmq's websocket plugin (http_root) and speaks MQTT over WebSocket to the same port
// with MQTT.js's browser bundle, while this driver is an MQTT.js client over TCP.
// Usage: node browser_test.mjs WSPORT MQTTPORT [CHROMIUM]. Started by browser_test.py, which
// prepares http_root and starts and stops the broker.
//
// Checks, in order (each wait has a timeout; no fixed sleeps):
//   1. a retained QoS 1 message published over TCP before the page loads;
//   2. the page: 200, text/html, with an ETag; app.js and mqtt.esm.js 200 text/javascript;
//   3. the page connects (CONNACK) and subscribes (SUBACK granting QoS 1), then gets the
//      retained message with RETAIN set;
//   4. TCP -> page: QoS 1, a short payload and a 100,000-byte one (a 64-bit frame length);
//   5. page -> TCP: QoS 1, both sizes, the page's publish resolved by PUBACK;
//   6. a reload: the page and both scripts come back 304 Not Modified (If-None-Match with the
//      ETag each came with), the page connects again and gets the retained message again;
//   7. the browser logged no console error, no page error, no failed request.
// Prints PASS/FAIL lines; exits 1 on the first failure.
import mqtt from 'mqtt';

import {Failure, QueuedClient, check, expectEqual, launchChromium, pageReady,
        reportFailure, withTimeout as withTimeoutMs} from './common.mjs';

const wsPort = Number(process.argv[2]);
const mqttPort = Number(process.argv[3]);
const chromiumPath = process.argv[4] ?? '/usr/bin/chromium';
if (!(wsPort > 0) || !(mqttPort > 0)) {
  console.error('usage: node browser_test.mjs WSPORT MQTTPORT [CHROMIUM]');
  process.exit(2);
}
const TIMEOUT_MS = 5000;         // for any single expected event
const LAUNCH_TIMEOUT_MS = 30000; // Chromium's first start on a busy machine
const BIG_BYTES = 100000;        // over 65,535: the 64-bit WebSocket payload length

// For any single expected event, TIMEOUT_MS unless told.
const withTimeout = (promise, what, ms = TIMEOUT_MS) => withTimeoutMs(promise, what, ms);

const started = Date.now();
function pass(what) {
  console.log(`PASS browser ${what} (${((Date.now() - started) / 1000).toFixed(2)} s)`);
}

// A payload the receiver can verify byte for byte: `tag` then a repeating pattern.
function bigPayload(tag) {
  const pattern = 'abcdefghijklmnopqrstuvwxyz0123456789';
  return (tag + pattern.repeat(Math.ceil(BIG_BYTES / pattern.length))).slice(0, BIG_BYTES);
}

const base = `ringmq-browser/${process.pid}-${Date.now().toString(36)}`;
const origin = `http://127.0.0.1:${wsPort}`;
const pageUrl = `${origin}/?base=${encodeURIComponent(base)}`;
const problems = [];   // console errors, page errors, failed requests: checked at the end
const responses = [];  // {path, status, headers} for every response from the origin

let browser;
let tcp;
let rc = 1;
try {
  // 1. The retained message, there before the page exists.
  tcp = new QueuedClient(await withTimeout(
      mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`,
                        {protocolVersion: 5, clientId: `browser-tcp-${process.pid}`,
                         reconnectPeriod: 0}),
      'the TCP client\'s CONNACK'));
  await withTimeout(tcp.client.publishAsync(`${base}/retained`, 'retained before load',
                                            {qos: 1, retain: true}),
                    'PUBACK for the retained message');
  const granted = await withTimeout(tcp.client.subscribeAsync(`${base}/from-page`, {qos: 1}),
                                    'the TCP client\'s SUBACK');
  expectEqual('QoS granted to the TCP client', [1], granted.map((g) => g.qos));
  pass('tcp client connected, retained message stored');

  browser = await launchChromium(chromiumPath, LAUNCH_TIMEOUT_MS);
  pass(`Chromium ${browser.version()} started`);
  const page = await browser.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed',
          (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  page.on('response', (r) => {
    const url = new URL(r.url());
    if (url.protocol === 'http:' && url.origin === origin) {
      responses.push({path: url.pathname, status: r.status(), headers: r.headers(),
                      ifNoneMatch: r.request().allHeaders().then((h) => h['if-none-match'],
                                                                 () => undefined)});
    }
  });
  // The status line as it came off the wire, per request: for a document revalidated with
  // 304, Chromium reports the cached 200 to the page (and to playwright's response.status()).
  const cdp = await page.context().newCDPSession(page);
  const wireUrl = new Map();     // requestId -> URL
  const wireStatus = new Map();  // requestId -> status code
  cdp.on('Network.requestWillBeSent', (e) => wireUrl.set(e.requestId, e.request.url));
  cdp.on('Network.responseReceivedExtraInfo', (e) => wireStatus.set(e.requestId, e.statusCode));
  await cdp.send('Network.enable');
  const wireStatuses = (path) => [...wireUrl]
      .filter(([, url]) => new URL(url).origin === origin && new URL(url).pathname === path)
      .map(([id]) => wireStatus.get(id));

  // 2. The page and its scripts, as the broker served them.
  const main = await page.goto(pageUrl, {timeout: TIMEOUT_MS});
  check(main !== null, `no response for ${pageUrl}`);
  expectEqual(`status of ${pageUrl}`, 200, main.status());
  expectEqual('Content-Type of the page', 'text/html; charset=utf-8',
              main.headers()['content-type']);
  check(/^"[^"]+"$/.test(main.headers()['etag'] ?? ''),
        `the page's ETag: expected a quoted tag, received ${main.headers()['etag']}`);

  // 3. Connected and subscribed; the retained message arrives with RETAIN set.
  const ready = () => pageReady(page, problems, TIMEOUT_MS);
  await ready();
  for (const script of ['/app.js', '/mqtt.esm.js']) {
    const r = responses.find((x) => x.path === script);
    check(r !== undefined, `the browser did not load ${script}`);
    expectEqual(`status of ${script}`, 200, r.status);
    expectEqual(`Content-Type of ${script}`, 'text/javascript; charset=utf-8',
                r.headers['content-type']);
  }
  pass('page served by the broker (text/html, scripts text/javascript), connected over ws://');

  // Waits until the page has received `count` messages; returns them.
  const pageReceived = async (count, what) => {
    try {
      await page.waitForFunction((n) => window.received.length >= n, count,
                                 {timeout: TIMEOUT_MS});
    } catch {
      const got = await page.evaluate(() => window.received.map((m) => m.topic));
      throw new Failure(`timed out after ${TIMEOUT_MS} ms waiting for ${what}; ` +
                        `the page has ${JSON.stringify(got)}`);
    }
    return page.evaluate(() => window.received);
  };
  let got = await pageReceived(1, 'the retained message in the page');
  expectEqual('retained message in the page',
              {topic: `${base}/retained`, payload: 'retained before load', qos: 1, retain: true},
              got[0]);
  pass('retained message reached the page with RETAIN set');

  // 4. TCP -> page, QoS 1.
  const big = bigPayload('to-page:');
  await withTimeout(tcp.client.publishAsync(`${base}/to-page/a`, 'hello page', {qos: 1}),
                    'PUBACK for TCP -> page');
  await withTimeout(tcp.client.publishAsync(`${base}/to-page/big`, big, {qos: 1}),
                    'PUBACK for the big TCP -> page message');
  got = await pageReceived(3, 'the TCP client\'s messages in the page');
  expectEqual('TCP -> page message',
              {topic: `${base}/to-page/a`, payload: 'hello page', qos: 1, retain: false}, got[1]);
  expectEqual('big TCP -> page message (topic, qos, length)',
              [`${base}/to-page/big`, 1, BIG_BYTES],
              [got[2].topic, got[2].qos, got[2].payload.length]);
  check(got[2].payload === big, 'big TCP -> page message: payload differs from what was sent');
  pass(`TCP -> page, QoS 1 (${'hello page'.length} and ${BIG_BYTES} bytes)`);

  // 5. page -> TCP, QoS 1: the page's publishAsync resolves on PUBACK.
  const bigBack = bigPayload('from-page:');
  for (const payload of ['hello tcp', bigBack]) {
    await withTimeout(
        page.evaluate(([t, p]) => window.publishFromPage(t, p, 1), [`${base}/from-page`, payload]),
        'PUBACK for the page\'s publish');
    const m = await tcp.next(`the page's ${payload.length}-byte message over TCP`);
    expectEqual('page -> TCP message (topic, qos, retain, length)',
                [`${base}/from-page`, 1, false, payload.length],
                [m.topic, m.qos, m.retain, m.payload.length]);
    check(m.payload === payload, 'page -> TCP message: payload differs from what was sent');
  }
  pass(`page -> TCP, QoS 1 (${'hello tcp'.length} and ${BIG_BYTES} bytes)`);

  // 6. A reload revalidates the page and the scripts (Cache-Control: no-cache) with the
  // ETags they came with: 304 on the wire for each, and the scripts reported 304 to the page;
  // the new page connects again and gets the retained message again.
  const first = new Map(responses.map((r) => [r.path, r.headers['etag']]));
  responses.length = 0;
  wireUrl.clear();
  wireStatus.clear();
  const again = await page.reload({timeout: TIMEOUT_MS});
  check(again !== null, 'no response for the reloaded page');
  await ready();
  for (const path of ['/', '/app.js', '/mqtt.esm.js']) {
    const r = responses.find((x) => x.path === path);
    check(r !== undefined, `the reloaded page did not request ${path}`);
    check(first.get(path) !== undefined, `no ETag on the first response for ${path}`);
    expectEqual(`If-None-Match sent for ${path} on reload`, first.get(path), await r.ifNoneMatch);
    expectEqual(`status line(s) on the wire for ${path} on reload`, [304], wireStatuses(path));
    if (path !== '/') expectEqual(`status of ${path} on reload`, 304, r.status);
  }
  got = await pageReceived(1, 'the retained message in the reloaded page');
  expectEqual('retained message in the reloaded page',
              {topic: `${base}/retained`, payload: 'retained before load', qos: 1, retain: true},
              got[0]);
  pass('reload: page and scripts 304 (ETag), connected again, retained message again');

  // 7. Nothing went wrong in the browser on the way.
  expectEqual('MQTT.js errors in the page', [], await page.evaluate(() => window.failures));
  expectEqual('console errors, page errors and failed requests', [], problems);
  pass('no console errors, page errors or failed requests');

  // Leaves no retained message behind (the broker's store is temporary anyway).
  await withTimeout(tcp.client.publishAsync(`${base}/retained`, '', {qos: 1, retain: true}),
                    'PUBACK for clearing the retained message');
  rc = 0;
} catch (e) {
  reportFailure('browser', e, problems);
} finally {
  if (browser) await withTimeout(browser.close(), 'Chromium to close').catch(() => {});
  if (tcp) await withTimeout(tcp.client.endAsync(), 'the TCP client to close').catch(() => {});
}
const seconds = ((Date.now() - started) / 1000).toFixed(1);
console.log(`browser: ${rc === 0 ? 'passed' : 'FAILED'} in ${seconds} s`);
process.exit(rc);
