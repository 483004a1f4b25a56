// Shared by the browser tests' drivers (browser_test.mjs, messenger_test.mjs): failures,
// timeouts and starting Debian's Chromium through playwright-core.
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

// Headless Chromium at `path`, within `ms` (its first start on a busy machine is slow).
export function launchChromium(path, ms) {
  return withTimeout(
      chromium.launch({executablePath: path, headless: true,
                       args: ['--no-sandbox', '--disable-dev-shm-usage']}).catch((e) => {
        throw new Failure(`Chromium (${path}) did not start: ${e.message}`);
      }),
      `Chromium (${path}) to start`, ms);
}
