// The console client's store: chat-core's MemoryStore kept in one JSON file, so the device id
// (hence the MQTT session), the joined rooms, the history and the outbox survive a restart.
//
// The whole file is rewritten after each change (changes made together are written once), to
// a temporary file synced and renamed over the old one: a crash leaves the old or the new
// version, never half of one. A console user's history is small enough for that; the browser
// keeps its in IndexedDB instead.

import {closeSync, constants, openSync, readFileSync, unlinkSync, writeSync} from 'node:fs';
import {mkdir, open, readFile, rename} from 'node:fs/promises';
import {join} from 'node:path';

import {MemoryStore} from '../web/js/chat-core.js';

const FORMAT = 1;

// A Map that reports every change, with a function that undoes it: MemoryStore's methods,
// whichever they are (it gains new ones), change its maps only through set, delete and clear.
class WatchedMap extends Map {
  constructor(onChange) {
    super();
    this.onChange = onChange;
  }

  set(key, value) {
    const had = super.has(key);
    const old = super.get(key);
    super.set(key, value);
    this.onChange?.(() => (had ? Map.prototype.set.call(this, key, old)
                               : Map.prototype.delete.call(this, key)));
    return this;
  }

  delete(key) {
    const old = super.get(key);
    const had = super.delete(key);
    if (had) this.onChange?.(() => Map.prototype.set.call(this, key, old));
    return had;
  }

  clear() {
    const old = [...this];
    super.clear();
    this.onChange?.(() => {
      for (const [k, v] of old) Map.prototype.set.call(this, k, v);
    });
  }
}

export class FileStore extends MemoryStore {
  #path;
  #saving = Promise.resolve();
  #dirty = false;
  #loading = false;
  #changes = 0;
  #undo = null;  // while a method makes its changes: how to undo them

  constructor(dir) {
    super();
    this.dir = dir;
    this.#path = join(dir, 'store.json');
    this.messages = new WatchedMap((undo) => this.#changed(undo));
    this.meta = new WatchedMap((undo) => this.#changed(undo));
    // Every method of the store resolves only once what it changed is on disk: chat-core
    // acknowledges a received message (PUBACK) when its write resolves, so a process that
    // dies before the file has it gets the message again from the broker. When the write
    // fails, the method rejects and its changes are undone: a message added to the map but
    // not to the file would otherwise be taken for a duplicate when the broker sends it
    // again, acknowledged, and never shown nor written. (MemoryStore's methods make their
    // changes before their first await, which is when they are recorded.)
    for (const name of Object.getOwnPropertyNames(MemoryStore.prototype)) {
      const method = MemoryStore.prototype[name];
      if (name === 'constructor' || typeof method !== 'function') continue;
      this[name] = async (...args) => {
        const before = this.#changes;
        const undo = [];
        this.#undo = undo;
        let running;
        try {
          running = method.apply(this, args);
        } finally {
          this.#undo = null;
        }
        const result = await running;
        if (this.#changes !== before) {
          try {
            await this.flush();
          } catch (error) {
            for (const fn of undo.reverse()) fn();
            throw error;
          }
        }
        return result;
      };
    }
  }

  // Reads the file if there is one (a missing file is an empty store).
  async load() {
    await mkdir(this.dir, {recursive: true, mode: 0o700});
    let text;
    try {
      text = await readFile(this.#path, 'utf8');
    } catch (error) {
      if (error.code === 'ENOENT') return this;
      throw error;
    }
    const data = JSON.parse(text);
    if (data.format !== FORMAT) throw new Error(`${this.#path}: unknown format ${data.format}`);
    this.#loading = true;
    try {
      for (const m of data.messages ?? []) this.messages.set(m.id, m);
      for (const [k, v] of Object.entries(data.meta ?? {})) this.meta.set(k, v);
    } finally {
      this.#loading = false;
    }
    return this;
  }

  // Resolves once every change made so far is on disk (rejects when a write failed).
  async flush() {
    while (this.#dirty) {
      this.#dirty = false;
      // After a failed write the next one tries again with everything.
      this.#saving = this.#saving.catch(() => {}).then(() => this.#write());
      await this.#saving;
    }
    await this.#saving;
  }

  #changed(undo) {
    if (this.#loading) return;
    this.#undo?.push(undo);
    this.#changes++;
    if (this.#dirty) return;
    this.#dirty = true;
    queueMicrotask(() => this.flush().catch((error) => {
      process.emitWarning(`could not save ${this.#path}: ${error.message}`);
    }));
  }

  async #write() {
    const data = {format: FORMAT, meta: Object.fromEntries(this.meta),
                  messages: [...this.messages.values()]};
    const tmp = `${this.#path}.tmp`;
    const f = await open(tmp, 'w', 0o600);
    try {
      await f.writeFile(JSON.stringify(data));
      await f.sync();
    } finally {
      await f.close();
    }
    await rename(tmp, this.#path);
    // The rename itself is durable once the directory is synced.
    const d = await open(this.dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  }
}

// One client per state directory: two would share the device id, hence the MQTT client id, and
// take the session from each other in turn. Returns a function that releases the lock; throws
// when a live process holds it (a lock left by a dead one is taken over).
export function lockStateDir(dir) {
  const path = join(dir, 'lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return () => {
        try {
          unlinkSync(path);
        } catch {
          // already gone
        }
      };
    } catch (error) {
      if (error.code !== 'EEXIST') throw error;
    }
    const pid = Number.parseInt(readFileSync(path, 'utf8'), 10);
    if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) {
      throw new Error(`${dir} is in use by process ${pid} (another chat.mjs for this user?)`);
    }
    unlinkSync(path);
  }
  throw new Error(`could not lock ${dir}`);
}

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
}
