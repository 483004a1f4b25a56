// Delivery latency between two browser clients of the messenger (examples/messenger/web):
// Debian's Chromium (headless, playwright-core from tests/browser/node_modules), alice and bob
// in two browser contexts, the real UI loaded from ORIGIN (the broker's --http-root, directly
// or through bench/messenger/browser_latency.py's delay proxy). Both sign in, alice starts a
// DM with bob and bob opens it; then tests/browser/messenger_pages.mjs's measureLatency: N
// messages alice -> bob, one at a time (the next once the last one's read receipt is back),
// each from just before alice's send() to bob's 'message' event, on the wall clock both pages
// share. Prints `NAME p50=.. p99=.. n=..` and `latencies_ms [..]` (JSON, sorted).
//
// Usage: node browser_latency.mjs --origin http://127.0.0.1:PORT [--name NAME]
//   [--messages 100] [--chromium /usr/bin/chromium] [--timeout-ms 30000] [--load-timeout-ms 90000]
// Started by browser_latency.py (which starts the broker and, for the weak profile, runs this
// inside the client network namespace). Exits 1 on a failure or an error in the pages.
import {parseArgs} from 'node:util';

import {Failure, launchChromium} from '../../tests/browser/common.mjs';
import {User, latencyLine, measureLatency} from '../../tests/browser/messenger_pages.mjs';

const {values: opt} = parseArgs({options: {
  'origin': {type: 'string'},
  'name': {type: 'string', default: 'latency_ms'},
  'messages': {type: 'string', default: '100'},
  'chromium': {type: 'string', default: '/usr/bin/chromium'},
  'timeout-ms': {type: 'string', default: '30000'},       // any single expected event
  'load-timeout-ms': {type: 'string', default: '90000'},  // a page load (340 KB of script)
}});
if (!opt.origin) {
  console.error('usage: node browser_latency.mjs --origin http://127.0.0.1:PORT [--name NAME] ' +
                '[--messages N] [--chromium PATH] [--timeout-ms MS] [--load-timeout-ms MS]');
  process.exit(2);
}
const messages = Number(opt.messages);
const timeoutMs = Number(opt['timeout-ms']);
const loadMs = Number(opt['load-timeout-ms']);
const started = Date.now();
const log = (what) => console.log(`${what} (${((Date.now() - started) / 1000).toFixed(1)} s)`);

const problems = [];
function watch(page, name) {
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`${name}: console error: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`${name}: page error: ${e.message}`));
  page.on('requestfailed', (r) =>
    problems.push(`${name}: request failed: ${r.url()} ${r.failure()?.errorText}`));
}

let browser;
let rc = 1;
try {
  browser = await launchChromium(opt.chromium, 60000);
  log(`Chromium ${browser.version()} started`);
  const options = {origin: opt.origin, timeoutMs, watch, problems};
  const alice = new User('alice', await browser.newContext(), options);
  const bob = new User('bob', await browser.newContext(), options);
  await Promise.all([alice.open(loadMs), bob.open(loadMs)]);
  log('pages loaded');
  await Promise.all([alice.signIn(loadMs), bob.signIn(loadMs)]);
  log('alice and bob signed in');
  await alice.startDm('bob');
  await alice.send('hello bob');
  await bob.wait('dm:alice in the list', () =>
    document.querySelector('.conv-item[data-conv="dm:alice"]') !== null);
  await bob.openConv('dm:alice');
  await alice.bubble('hello bob', 'read');
  log('DM open on both sides, first message read');
  const latencies = await measureLatency(alice, bob, messages, timeoutMs);
  log(`${messages} messages alice -> bob measured`);
  console.log(latencyLine(opt.name, latencies));
  console.log(`latencies_ms ${JSON.stringify(latencies)}`);
  if (problems.length) throw new Failure(`problems in the pages: ${problems.join('; ')}`);
  rc = 0;
} catch (e) {
  console.log(`FAIL browser_latency: ${e instanceof Failure ? e.message : e.stack}`);
} finally {
  await browser?.close().catch(() => {});
}
process.exit(rc);
