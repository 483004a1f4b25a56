// The browser's message store: chat-core.js's store interface (see MemoryStore there) on
// IndexedDB, one database per user ("msgr-USER"), so a reload or a new tab shows the history.
// Object stores: "messages" (key: id; indexes "conv" and "state") and "meta" (key -> value).
import {compareMessages, summarize} from './chat-core.js';

const VERSION = 1;

function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

export class IdbStore {
  #db;

  constructor(db) {
    this.#db = db;
  }

  static async open(user) {
    const req = indexedDB.open(`msgr-${user}`, VERSION);
    req.onupgradeneeded = () => {
      const db = req.result;
      const messages = db.createObjectStore('messages', {keyPath: 'id'});
      messages.createIndex('conv', 'conv');
      messages.createIndex('state', 'state');
      db.createObjectStore('meta');
    };
    return new IdbStore(await request(req));
  }

  close() {
    this.#db.close();
  }

  #store(name, mode = 'readonly') {
    return this.#db.transaction(name, mode).objectStore(name);
  }

  // 'relaxed': written when the browser has it, without waiting for the disk's flush (a
  // crash of the machine, not of the browser, may lose the last writes).
  async #write(name, fn) {
    const tx = this.#db.transaction(name, 'readwrite', {durability: 'relaxed'});
    fn(tx.objectStore(name));
    await new Promise((resolve, reject) => {
      tx.oncomplete = resolve;
      // A failed request's error event bubbles here before the abort sets tx.error: the
      // request's error is the event's target's (tx.error would still be null).
      tx.onerror = (e) => reject(e.target?.error ?? tx.error ?? new Error('write failed'));
      tx.onabort = () => reject(tx.error ?? new Error('transaction aborted'));
    });
  }

  putMessage(m) {
    return this.#write('messages', (s) => s.put({...m}));
  }

  // Stores m unless its id is there already (one transaction): true when it was added.
  async addMessage(m) {
    try {
      await this.#write('messages', (s) => s.add({...m}));
      return true;
    } catch (error) {
      if (error?.name === 'ConstraintError') return false;
      throw error;
    }
  }

  putMessages(ms) {
    return this.#write('messages', (s) => {
      for (const m of ms) s.put({...m});
    });
  }

  async listUnread(conv) {
    const all = await request(this.#store('messages').index('state').getAll('received'));
    return all.filter((m) => m.conv === conv).sort(compareMessages);
  }

  getMessage(id) {
    return request(this.#store('messages').get(id));
  }

  async listConversation(conv) {
    const all = await request(this.#store('messages').index('conv').getAll(conv));
    return all.sort(compareMessages);
  }

  async listPending() {
    const all = await request(this.#store('messages').index('state').getAll('pending'));
    return all.sort(compareMessages);
  }

  async listConversations() {
    return summarize(await request(this.#store('messages').getAll()));
  }

  getMeta(key) {
    return request(this.#store('meta').get(key));
  }

  setMeta(key, value) {
    return this.#write('meta', (s) => s.put(value, key));
  }

  clear() {
    return Promise.all([this.#write('messages', (s) => s.clear()),
                        this.#write('meta', (s) => s.clear())]);
  }
}
