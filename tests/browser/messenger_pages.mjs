// Shared by the messenger's browser drivers (tests/browser/messenger_test.mjs and
// bench/messenger/browser_latency.mjs): a user's page of the messenger app
// (examples/messenger/web) driven through its UI, and the delivery latency between two such
// pages, measured one message at a time.
import {Failure, expectEqual, withTimeout} from './common.mjs';

// Nearest rank, on sorted values.
export function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.ceil(p / 100 * sorted.length) - 1)];
}

// `NAME p50=.. p99=.. n=..`
export function latencyLine(name, sorted) {
  return `${name} p50=${percentile(sorted, 50).toFixed(2)} p99=${
    percentile(sorted, 99).toFixed(2)} n=${sorted.length}`;
}

// Waits for fn(arg) to be true in `page`; on a timeout fails with what the page shows and
// `problems` (the errors seen in the pages so far).
export async function waitIn(page, name, what, fn, arg, ms, problems = []) {
  try {
    await page.waitForFunction(fn, arg, {timeout: ms});
  } catch (e) {
    if (page.isClosed()) throw new Failure(`${name}: page closed waiting for ${what}`);
    const state = await page.evaluate(() => ({
      conn: document.getElementById('conn')?.textContent.trim(),
      conv: document.getElementById('conv-title')?.textContent,
      sub: document.getElementById('conv-sub')?.textContent,
      bubbles: [...document.querySelectorAll('#messages .msg')]
          .map((m) => `${m.querySelector('.text').textContent}[${m.dataset.state}]`),
    })).catch(() => ({}));
    throw new Failure(`${name}: timed out after ${ms} ms waiting for ${what}; page: ${
      JSON.stringify(state)}; ${problems.join('; ') || 'no errors'}`);
  }
}

// One user's page in a browser context. options: origin (the app's URL without the path),
// timeoutMs (any single expected event), watch(page, name) (called on each new page), problems
// (an array the watcher fills; shown on timeouts).
export class User {
  constructor(name, context, {origin, timeoutMs, watch = () => {}, problems = []}) {
    this.name = name;
    this.context = context;
    this.page = null;
    this.origin = origin;
    this.timeoutMs = timeoutMs;
    this.watch = watch;
    this.problems = problems;
  }

  async open(ms = this.timeoutMs) {
    this.page = await this.context.newPage();
    this.watch(this.page, this.name);
    const r = await this.page.goto(`${this.origin}/`, {timeout: ms});
    expectEqual(`${this.name}: status of /`, 200, r.status());
  }

  wait(what, fn, arg, ms = this.timeoutMs) {
    return waitIn(this.page, this.name, what, fn, arg, ms, this.problems);
  }

  async signIn(ms = this.timeoutMs) {
    await this.page.fill('#signin-user', this.name);
    await this.page.press('#signin-user', 'Enter');
    await this.online(ms);
  }

  async online(ms = this.timeoutMs) {
    await this.wait('online', () => window.msgr?.client?.state === 'online' &&
                    document.getElementById('conn').dataset.state === 'online', null, ms);
    // Received messages and own updates, with the time they came (for the checks below).
    await this.page.evaluate(() => {
      if (window.watched === window.msgr.client) return;  // this client's events are recorded
      window.watched = window.msgr.client;
      window.seen = [];
      window.updates = [];
      // at: when the event was made (its timeStamp), not when this listener, which runs after
      // the page's own, got it; on the wall clock, which both pages share (each page's
      // performance.timeOrigin is its own reading of it).
      window.msgr.client.addEventListener('message', (e) => window.seen.push(
          {...e.detail.message, at: Date.now() - (performance.now() - e.timeStamp)}));
      window.msgr.client.addEventListener('update', (e) => window.updates.push(
          {id: e.detail.message.id, state: e.detail.message.state}));
    });
  }

  async openConv(conv) {
    await this.page.click(`.conv-item[data-conv="${conv}"]`, {timeout: this.timeoutMs});
    await this.wait(`${conv} open`, (c) => window.msgr && document.querySelector(
        `.conv-item[data-conv="${c}"]`)?.getAttribute('aria-current') === 'true', conv);
  }

  // A new DM with `peer` from the "new chat" field, left open.
  async startDm(peer) {
    await this.page.fill('#new-chat-user', peer);
    await this.page.press('#new-chat-user', 'Enter');
    await this.wait(`dm:${peer} open`, (p) =>
      document.getElementById('conv-title').textContent === p, peer);
  }

  async send(text) {
    await this.page.fill('#text', text);
    await this.page.press('#text', 'Enter');
    await this.bubble(text);
  }

  // Waits for a bubble with `text` (in state `state`, when given).
  bubble(text, state, ms) {
    return this.wait(`the message "${text}"${state ? ` ${state}` : ''}`, ([t, s]) =>
      [...document.querySelectorAll('#messages .msg')].some(
          (m) => m.querySelector('.text').textContent === t && (!s || m.dataset.state === s)),
    [text, state], ms);
  }

  bubbles() {
    return this.page.$$eval('#messages .msg', (els) => els.map((e) => ({
      id: e.dataset.id, text: e.querySelector('.text').textContent, state: e.dataset.state,
      mine: e.classList.contains('mine'), from: e.querySelector('.from')?.textContent ?? null,
    })));
  }

  sub() {
    return this.page.textContent('#conv-sub');
  }
}

// Delivery latency, one message at a time: `count` DMs from `sender` to `receiver` (two
// online Users, the receiver with the DM open, so that it sends read receipts), each from
// just before the sender's send() to the receiver's 'message' event, on the wall clock both
// pages share. The receiver's page reports each arrival, the sender's each read receipt,
// through bindings (no polling); the next message leaves the sender's page when the last one's
// read receipt is back, so that each is measured alone. `ms`: the timeout for each event.
// Returns the latencies in ms, sorted; fails unless each message arrived exactly once.
export async function measureLatency(sender, receiver, count, ms, prefix = 'latency ') {
  const arrived = new Map();  // text -> resolve
  const read = new Map();
  await receiver.page.exposeFunction('latencyArrived', (text) => arrived.get(text)?.());
  await sender.page.exposeFunction('latencyRead', (text) => read.get(text)?.());
  await receiver.page.evaluate((p) => window.msgr.client.addEventListener('message', (e) => {
    if (e.detail.message.text.startsWith(p)) window.latencyArrived(e.detail.message.text);
  }), prefix);
  await sender.page.evaluate((p) => {
    window.sentAt = {};
    window.msgr.client.addEventListener('update', (e) => {
      const m = e.detail.message;
      if (m.text.startsWith(p) && m.state === 'read') window.latencyRead(m.text);
    });
  }, prefix);
  const conv = `dm:${receiver.name}`;
  for (let i = 0; i < count; i++) {
    const text = `${prefix}${i}`;
    const got = new Promise((resolve) => arrived.set(text, resolve));
    const done = new Promise((resolve) => read.set(text, resolve));
    await sender.page.evaluate(([c, t]) => {
      window.sentAt[t] = Date.now();
      window.msgr.client.send(c, t);
    }, [conv, text]);
    await withTimeout(got, `${receiver.name}'s 'message' event for "${text}"`, ms);
    await withTimeout(done, `${sender.name}'s read receipt for "${text}"`, ms);
  }
  const sentAt = await sender.page.evaluate(() => window.sentAt);
  const seenAt = await receiver.page.evaluate(
      (p) => window.seen.filter((m) => m.text.startsWith(p)).map((m) => [m.text, m.at]), prefix);
  expectEqual('latency messages received once each', count, seenAt.length);
  return seenAt.map(([text, at]) => at - sentAt[text]).sort((a, b) => a - b);
}
