// Shared by the browser tests' drivers (browser_test.mjs, messenger_test.mjs, tls_test.mjs):
// failures and their report, timeouts, an MQTT.js client whose messages queue up, waiting for
// the test page (page/app.js) to connect, and starting Debian's Chromium through playwright-core.
import {chromium} from 'playwright-core';

export class Failure extends Error {}

export function check(cond, message) {
  if (!cond) throw new Failure(message);
}

export function expectEqual(what, expected, actual) {
  const e = JSON.stringify(expected);
  const a = JSON.stringify(actual);
  if (e !== a) throw new Failure(`${what}: expected ${e}, received ${a}`);
}

// Prints why driver `name` failed: a Failure's message, or the stack of anything else; then
// the browser's `problems` (console errors, page errors, failed requests) so far, if any.
export function reportFailure(name, e, problems = []) {
  if (e instanceof Failure) {
    console.log(`FAIL ${name}: ${e.message}`);
  } else {
    console.log(`FAIL ${name}: unexpected error: ${e?.stack ?? e}`);
  }
  if (problems.length > 0) console.log(`browser problems so far:\n  ${problems.join('\n  ')}`);
}

export async function withTimeout(promise, what, ms) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(
        () => reject(new Failure(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

// An MQTT.js client (connected) whose messages queue up for next(): {topic, payload (a
// string), qos, retain}, in arrival order.
export class QueuedClient {
  constructor(client) {
    this.client = client;
    this.queue = [];
    this.waiters = [];
    client.on('message', (topic, payload, packet) => {
      const m = {topic, payload: payload.toString(), qos: packet.qos, retain: packet.retain};
      const w = this.waiters.shift();
      if (w) w(m); else this.queue.push(m);
    });
  }

  // The next message, waiting at most `ms` for it.
  next(what, ms = 5000) {
    const m = this.queue.shift();
    if (m) return Promise.resolve(m);
    return withTimeout(new Promise((resolve) => this.waiters.push(resolve)), what, ms);
  }
}

// Waits (at most `ms`) until the test page (page/app.js) is connected and subscribed, then
// checks that MQTT.js reported no error in it. `problems`: the browser's so far, for the
// message on a timeout.
export async function pageReady(page, problems, ms) {
  try {
    await page.waitForFunction(
        () => (window.failures?.length ?? 0) > 0 || (window.connected && window.subscribed),
        null, {timeout: ms});
  } catch {
    const s = await page.evaluate(() => ({connected: window.connected,
                                          subscribed: window.subscribed}));
    throw new Failure(`timed out after ${ms} ms waiting for the page to connect and ` +
                      `subscribe (${JSON.stringify(s)}; ${problems.join('; ') || 'no errors'})`);
  }
  expectEqual('MQTT.js errors in the page', [], await page.evaluate(() => window.failures));
}

// Headless Chromium at `path`, within `ms` (its first start on a busy machine is slow), with
// `args` added to its command line.
export function launchChromium(path, ms, args = []) {
  return withTimeout(
      chromium.launch({executablePath: path, headless: true,
                       args: ['--no-sandbox', '--disable-dev-shm-usage', ...args]}).catch((e) => {
        throw new Failure(`Chromium (${path}) did not start: ${e.message}`);
      }),
      `Chromium (${path}) to start`, ms);
}
