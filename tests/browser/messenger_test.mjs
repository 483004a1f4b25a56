// The messenger's browser test (examples/messenger): Debian's Chromium (headless, driven by
// playwright-core) with alice and bob in two browser contexts (separate storage), the console
// client (examples/messenger/console/chat.mjs) over TCP, against build/ringmq serving the app.
// Usage: node messenger_test.mjs WSPORT MQTTPORT CHROMIUM ARTIFACTS TMPDIR AUTH_WSPORT
// ALICE_PASSWORD. Started by messenger_test.py, which starts the brokers (the second with
// sign-in) and kills/restarts the first when this driver prints `CONTROL kill` /
// `CONTROL start` (the answer comes back on stdin).
//
// Checks, in order (each wait has a timeout; no fixed sleeps):
//   1. both sign in through the form; each sees the other online (retained presence);
//   2. a DM alice -> bob through the UI: bob's list shows 1 unread, he opens it; alice's
//      message goes sent -> delivered -> read (read in colour);
//   3. typing: bob types, alice sees "typing…"; his message clears it;
//   4. the room general (joined on first sign-in): both ways, the sender's name shown;
//   5. the console client joins general and exchanges a message with the pages;
//   6. alice closes her page: bob sees her offline (the will) and "last seen";
//   7. bob sends m1-m3 (sent, not delivered); the broker gets SIGKILL; bob's page shows it is
//      offline with a retry countdown; bob writes m4 (pending); the broker starts again (same
//      ports and data); m4 goes out; bob sends m5;
//   8. alice opens a new page in the same context (signed in from localStorage): bob sees her
//      online; her DM shows the history from before (IndexedDB) and m1-m5, each once, in order;
//      bob's m1-m5 become read;
//      a second tab of alice's takes the session over (DISCONNECT 0x8E): the first shows it
//      and waits; its "use here" takes the session back;
//   9. screenshots, desktop (1200x800) and phone (390x844), into ARTIFACTS;
//  10. latency: N messages alice -> bob, one at a time (the next once the last one's read
//      receipt is back), from before alice's send() to bob's 'message' event, on the wall
//      clock both pages share: prints latency_loopback_ms p50= p99= n=;
//  11. sign-in on the broker with auth_file: a wrong password shows "wrong name or password"
//      on the form; the right one signs in; a room the ACL keeps alice out of is refused;
//      "Sign out" comes back to the form;
//  12. no console error, page error or failed request (except the browser's own WebSocket
//      connection errors while the broker is down).
// Prints PASS/FAIL lines; exits 1 on the first failure.
import {spawn} from 'node:child_process';
import {existsSync} from 'node:fs';
import {join, dirname} from 'node:path';
import {createInterface} from 'node:readline';
import {fileURLToPath} from 'node:url';

import {Failure, check, expectEqual, launchChromium, withTimeout as withTimeoutMs}
  from './common.mjs';
import {User as SharedUser, latencyLine, measureLatency, waitIn as sharedWaitIn}
  from './messenger_pages.mjs';

const [wsPort, mqttPort] = [Number(process.argv[2]), Number(process.argv[3])];
const chromiumPath = process.argv[4] ?? '/usr/bin/chromium';
const artifacts = process.argv[5];
const tmp = process.argv[6];
const authWsPort = Number(process.argv[7]);
const alicePassword = process.argv[8];
if (!(wsPort > 0) || !(mqttPort > 0) || !artifacts || !tmp || !(authWsPort > 0) ||
    !alicePassword) {
  console.error('usage: node messenger_test.mjs WSPORT MQTTPORT CHROMIUM ARTIFACTS TMPDIR ' +
                'AUTH_WSPORT ALICE_PASSWORD');
  process.exit(2);
}
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CONSOLE = join(ROOT, 'examples', 'messenger', 'console', 'chat.mjs');
const TIMEOUT_MS = 8000;          // any single expected event
const RECONNECT_TIMEOUT_MS = 25000;  // back-off up to 15 s after the broker's restart
const LAUNCH_TIMEOUT_MS = 30000;
const LATENCY_MESSAGES = 100;
const DESKTOP = {width: 1200, height: 800};
const PHONE = {width: 390, height: 844};
const origin = `http://127.0.0.1:${wsPort}`;

const started = Date.now();
function pass(what) {
  console.log(`PASS messenger ${what} (${((Date.now() - started) / 1000).toFixed(2)} s)`);
}

// For any single expected event, TIMEOUT_MS unless told.
const withTimeout = (promise, what, ms = TIMEOUT_MS) => withTimeoutMs(promise, what, ms);

// --- the broker, through messenger_test.py ---
const stdinLines = createInterface({input: process.stdin})[Symbol.asyncIterator]();
async function control(request) {
  console.log(`CONTROL ${request}`);
  const {value, done} = await withTimeout(stdinLines.next(), `the answer to ${request}`, 30000);
  check(!done && !value.startsWith('error'), `CONTROL ${request}: ${done ? 'no answer' : value}`);
  return value;
}

// --- pages ---
const problems = [];
let outage = false;  // the broker is down: the browser's own WebSocket errors are expected
function watch(page, name) {
  const expected = (text) => outage && /WebSocket connection to .* failed/.test(text);
  page.on('console', (m) => {
    if (m.type() === 'error' && !expected(m.text())) {
      problems.push(`${name}: console error: ${m.text()}`);
    }
  });
  page.on('pageerror', (e) => problems.push(`${name}: page error: ${e.message}`));
  page.on('requestfailed', (r) => {
    if (!outage) problems.push(`${name}: request failed: ${r.url()} ${r.failure()?.errorText}`);
  });
}

function waitIn(page, name, what, fn, arg, ms = TIMEOUT_MS) {
  return sharedWaitIn(page, name, what, fn, arg, ms, problems);
}

class User extends SharedUser {
  constructor(name, context) {
    super(name, context, {origin, timeoutMs: TIMEOUT_MS, watch, problems});
  }
}

// The console client, --json: one event per line.
class ConsoleClient {
  constructor(name) {
    this.events = [];
    this.waiters = [];
    this.proc = spawn(process.execPath,
                      [CONSOLE, '--user', name, '--url', `mqtt://127.0.0.1:${mqttPort}`,
                       '--room', 'general', '--state-dir', join(tmp, `console-${name}`),
                       '--json'], {stdio: ['pipe', 'pipe', 'inherit']});
    this.exited = new Promise((resolve) => this.proc.on('exit', resolve));
    createInterface({input: this.proc.stdout}).on('line', (line) => {
      try {
        this.events.push(JSON.parse(line));
      } catch {
        return;
      }
      for (const w of this.waiters.splice(0)) w();
    });
  }

  async until(what, pred) {
    const deadline = Date.now() + TIMEOUT_MS;
    for (;;) {
      const e = this.events.find(pred);
      if (e) return e;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Failure(`console client: timed out waiting for ${what}; events: ${
            JSON.stringify(this.events.slice(-10))}`);
      }
      await withTimeout(new Promise((r) => this.waiters.push(r)), `console: ${what}`, left)
          .catch(() => {});
    }
  }

  line(text) {
    this.proc.stdin.write(`${text}\n`);
  }
}

const shots = [];
async function shoot(page, name) {
  const path = join(artifacts, `${name}.png`);
  await page.screenshot({path});
  shots.push(path);
}

let browser;
let consoleClient;
let rc = 1;
try {
  browser = await launchChromium(chromiumPath, LAUNCH_TIMEOUT_MS);
  pass(`Chromium ${browser.version()} started`);
  const alice = new User('alice', await browser.newContext({viewport: DESKTOP}));
  const bob = new User('bob', await browser.newContext({viewport: DESKTOP}));

  // 1. Sign in; presence both ways.
  await Promise.all([alice.open(), bob.open()]);
  pass('pages loaded');
  await alice.signIn();
  pass('alice signed in');
  await bob.signIn();
  const presence = ([who, state]) => document.querySelector(
      `.conv-item[data-conv="dm:${who}"] .avatar`)?.dataset.presence === state;
  await alice.wait('bob online in the list', presence, ['bob', 'online']);
  await bob.wait('alice online in the list', presence, ['alice', 'online']);
  pass('alice and bob signed in in two contexts, each sees the other online');

  // 2. A DM through the UI, with receipts.
  await alice.startDm('bob');
  await alice.send('hello bob');
  await bob.wait('1 unread from alice', () => document.querySelector(
      '.conv-item[data-conv="dm:alice"] .unread')?.textContent === '1');
  await bob.openConv('dm:alice');
  await bob.bubble('hello bob');
  await alice.bubble('hello bob', 'read');
  const helloId = (await alice.bubbles()).find((m) => m.text === 'hello bob').id;
  const states = await alice.page.evaluate(
      (id) => window.updates.filter((u) => u.id === id).map((u) => u.state), helloId);
  check(states.includes('delivered') && states.at(-1) === 'read' &&
        states.indexOf('delivered') < states.indexOf('read'),
        `alice's receipts: expected delivered then read, received ${JSON.stringify(states)}`);
  const readColour = await alice.page.$eval(
      `.msg[data-id="${helloId}"] .status`, (e) => getComputedStyle(e).color);
  expectEqual('colour of a read mark', 'rgb(26, 140, 216)', readColour);
  check(await bob.page.$('.conv-item[data-conv="dm:alice"] .unread') === null,
        'bob\'s unread count stayed after reading');
  pass(`DM alice -> bob: shown once, receipts ${states.join(' -> ')}, read mark in colour`);

  // 3. Typing.
  await bob.page.type('#text', 'hi al');
  await alice.wait('"typing…" for bob', () =>
    document.getElementById('conv-sub').textContent === 'typing…');
  await bob.page.type('#text', 'ice');
  await bob.page.press('#text', 'Enter');
  await alice.bubble('hi alice');
  await alice.wait('the typing indicator gone', () =>
    document.getElementById('conv-sub').textContent !== 'typing…');
  pass('typing indicator shown while bob types, gone when he sends');

  // 4. The room general, joined on first sign-in.
  await alice.openConv('room:general');
  await alice.send('hello room');
  await bob.wait('an unread in general', () => document.querySelector(
      '.conv-item[data-conv="room:general"] .unread')?.textContent === '1');
  await bob.openConv('room:general');
  await bob.bubble('hello room');
  expectEqual('sender shown in the room', 'alice',
              (await bob.bubbles()).find((m) => m.text === 'hello room').from);
  await bob.send('hi room');
  await alice.bubble('hi room');
  await alice.bubble('hello room', 'read');
  pass('room general both ways, sender names shown, read receipt in the room');

  // 5. The console client in the room.
  if (existsSync(CONSOLE)) {
    consoleClient = new ConsoleClient('carol');
    await consoleClient.until('online', (e) => e.event === 'state' && e.state === 'online');
    consoleClient.line('/send room:general hello from the console');
    await alice.bubble('hello from the console');
    await bob.bubble('hello from the console');
    await alice.send('hi carol');
    await consoleClient.until('alice\'s message', (e) => e.event === 'message' &&
        e.message.text === 'hi carol' && e.message.from === 'alice');
    consoleClient.line('/quit');
    await withTimeout(consoleClient.exited, 'the console client to quit');
    await alice.wait('carol offline after /quit', () =>
      window.msgr.client.presence.get('carol')?.state === 'offline');
    pass('console client (chat.mjs over TCP) joined general, exchanged messages, signed out');
  } else {
    console.log(`TODO messenger: no ${CONSOLE} yet: the console client did not take part`);
  }

  // 6. Alice closes her page: the will.
  await bob.openConv('dm:alice');
  const historyBefore = (await alice.page.evaluate(() => window.msgr.client.history('dm:bob')))
      .map((m) => m.text);
  await alice.page.close();
  await bob.wait('alice offline (the will)', () =>
    document.getElementById('conv-sub').textContent.startsWith('last seen'));
  pass(`alice closed her page: bob sees "${await bob.sub()}"`);

  // 7. Messages to offline alice, the broker killed and restarted between two of them.
  const offlineTexts = ['m1 while alice is away', 'm2', 'm3 just before the kill'];
  for (const t of offlineTexts) await bob.send(t);
  for (const t of offlineTexts) await bob.bubble(t, 'sent');
  outage = true;
  await control('kill');
  await bob.wait('offline with a retry countdown', () =>
    document.getElementById('conn').dataset.state === 'offline' &&
    /retrying in \d+ s/.test(document.getElementById('conn-text').textContent));
  const outboxText = 'm4 written while the broker is down';
  await bob.send(outboxText);
  await bob.bubble(outboxText, 'pending');
  await shoot(bob.page, 'bob-desktop-broker-down');
  pass('broker killed (SIGKILL): bob offline with a countdown, his m4 pending in the outbox');
  await control('start');
  await bob.online(RECONNECT_TIMEOUT_MS);
  outage = false;
  await bob.bubble(outboxText, 'sent');
  await bob.send('m5 after the restart');
  await bob.bubble('m5 after the restart', 'sent');
  pass('broker restarted on the same ports and data: bob reconnected, m4 left the outbox');

  // 8. Alice comes back in a new page of the same context.
  await alice.open();
  await alice.online();
  await bob.wait('alice online again', () =>
    document.getElementById('conv-sub').textContent === 'online');
  await alice.openConv('dm:bob');
  const expected = [...historyBefore, ...offlineTexts, outboxText, 'm5 after the restart'];
  await alice.wait(`${expected.length} messages in dm:bob`, (n) =>
    document.querySelectorAll('#messages .msg').length >= n, expected.length);
  for (const t of [...offlineTexts, outboxText, 'm5 after the restart']) {
    await bob.bubble(t, 'read');
  }
  const shown = await alice.bubbles();
  expectEqual('alice\'s dm:bob after her return', expected, shown.map((m) => m.text));
  expectEqual('distinct ids shown', shown.length, new Set(shown.map((m) => m.id)).size);
  const bobShown = await bob.bubbles();
  expectEqual('bob\'s dm:alice', expected, bobShown.map((m) => m.text));
  pass(`alice back: ${expected.length} messages, each once, in order (history from IndexedDB ` +
       'and 5 sent while she was away across a SIGKILL); bob\'s all read');

  // 8b. A second tab of alice's (same device id, so the same client id) takes the session
  // over: the first says so and waits instead of taking it back; "use here" does.
  const second = await alice.context.newPage();
  watch(second, 'alice (second tab)');
  await second.goto(`${origin}/`, {timeout: TIMEOUT_MS});
  await waitIn(second, 'alice (second tab)', 'online',
               () => window.msgr?.client?.state === 'online');
  await alice.wait('"in use in another window" and "use here"', () =>
    document.getElementById('conn-text').textContent === 'offline · in use in another window' &&
    !document.getElementById('retry-now').hidden &&
    document.getElementById('retry-now').textContent === 'use here');
  await second.close();
  await alice.page.click('#retry-now');
  await alice.wait('online again after "use here"', () =>
    window.msgr.client.state === 'online');
  await bob.wait('alice online after her tabs', () =>
    document.getElementById('conv-sub').textContent === 'online');
  pass('a second tab took the session (DISCONNECT 0x8E): the first waited, "use here" took it back');

  // 9. Screenshots.
  await shoot(alice.page, 'alice-desktop');
  await shoot(bob.page, 'bob-desktop');
  await alice.page.setViewportSize(PHONE);
  await bob.page.setViewportSize(PHONE);
  await alice.page.click('#back');
  await alice.wait('the list on a phone', () =>
    getComputedStyle(document.querySelector('.sidebar')).display !== 'none' &&
    getComputedStyle(document.querySelector('.conversation')).display === 'none');
  await shoot(alice.page, 'alice-phone-list');
  await bob.wait('the conversation on a phone', () =>
    getComputedStyle(document.querySelector('.sidebar')).display === 'none');
  await shoot(bob.page, 'bob-phone-conversation');
  pass(`screenshots so far: ${shots.join(' ')}`);
  await alice.page.setViewportSize(DESKTOP);
  await bob.page.setViewportSize(DESKTOP);

  // 10. Latency, one message at a time (the next once the last one's read receipt is back):
  // messenger_pages.mjs's measureLatency.
  const latencies = await measureLatency(alice, bob, LATENCY_MESSAGES, TIMEOUT_MS);
  console.log(latencyLine('latency_loopback_ms', latencies));
  const bobLatency = (await bob.bubbles()).filter((m) => m.text.startsWith('latency '));
  expectEqual('latency messages shown by bob', LATENCY_MESSAGES,
              new Set(bobLatency.map((m) => m.id)).size);
  expectEqual('no latency message shown twice', LATENCY_MESSAGES, bobLatency.length);
  pass(`${LATENCY_MESSAGES} messages alice -> bob measured`);

  // 11. Sign-in with a password (a third context: its own storage).
  const signer = await (await browser.newContext({viewport: DESKTOP})).newPage();
  watch(signer, 'alice (auth)');
  const authPage = (what, fn, arg) => waitIn(signer, 'alice (auth)', what, fn, arg);
  await signer.goto(`http://127.0.0.1:${authWsPort}/`, {timeout: TIMEOUT_MS});
  await signer.fill('#signin-user', 'alice');
  await signer.fill('#signin-password', 'not her password');
  await signer.press('#signin-password', 'Enter');
  await authPage('"wrong name or password" on the form', () =>
    !document.getElementById('signin').hidden &&
    document.getElementById('signin-error').textContent === 'wrong name or password');
  await shoot(signer, 'alice-signin-refused');
  await signer.fill('#signin-password', alicePassword);
  await signer.press('#signin-password', 'Enter');
  await authPage('signed in with her password', () =>
    window.msgr?.client?.state === 'online' && document.getElementById('signin').hidden);
  await signer.fill('#join-room-name', 'secret');
  await signer.press('#join-room-name', 'Enter');
  await authPage('"not allowed in room secret"', () =>
    document.getElementById('tools-error').textContent === 'not allowed in room secret' &&
    !window.msgr.client.rooms.includes('secret'));
  await signer.click('#signout');
  await authPage('the sign-in form after signing out', () =>
    !document.getElementById('signin').hidden && window.msgr === null &&
    localStorage.getItem('msgr-user') === null);
  pass('auth_file: wrong password refused on the form (0x86), right one signs in, ' +
       'a room outside the ACL refused, sign-out back to the form');

  // 12. Nothing went wrong in the pages.
  expectEqual('problems in the pages', [], problems);
  pass('no console error, page error or failed request');
  console.log(`screenshots: ${shots.join(' ')}`);
  rc = 0;
} catch (e) {
  console.log(`FAIL messenger: ${e instanceof Failure ? e.message : e.stack}`);
  if (problems.length) console.log(`page problems: ${problems.join('; ')}`);
} finally {
  consoleClient?.proc.kill();
  await browser?.close().catch(() => {});
}
process.exit(rc);
