#!/usr/bin/env node
// The messenger's console client (docs/messenger.md): chat-core over MQTT.js's Node build
// (TCP, or ws:// URLs), with its state in a JSON file so that a restart resumes the session.
//
//   node examples/messenger/console/chat.mjs --user carol [--password-env VAR]
//       [--url mqtt://127.0.0.1:1883] [--room general ...] [--state-dir DIR] [--json]
//
// Lines read on stdin: text goes to the current conversation; commands:
//   /dm USER  /room ROOM  /join ROOM  /leave ROOM  /who  /history  /read  /quit
//   /send CONV TEXT   (CONV dm:USER or room:ROOM: one line, no current conversation needed)
// --json: one JSON object per line on stdout for every event ({"event": ..., "at": ms, ...}),
// for scripts and tests; the commands are the same.

import {homedir} from 'node:os';
import {join} from 'node:path';
import {createInterface} from 'node:readline';
import {parseArgs} from 'node:util';

import mqtt from 'mqtt';

import {ChatClient, ROOM_RE, USER_RE, parseConv} from '../web/js/chat-core.js';
import {FileStore, lockStateDir} from './file-store.mjs';

const USAGE = `usage: chat.mjs --user NAME [--password-env VAR] [--url URL] [--room ROOM ...]
                [--state-dir DIR] [--json]
  --user NAME         your user name (${USER_RE.source})
  --password-env VAR  read the password from environment variable VAR (when the broker
                      runs the auth_file plugin)
  --url URL           the broker (default mqtt://127.0.0.1:1883; ws://HOST:PORT/mqtt works too)
  --room ROOM         join ROOM (${ROOM_RE.source}; repeat for several; default: general on
                      the first run)
  --state-dir DIR     device id, rooms, history and outbox (default
                      ~/.local/state/ringmq-messenger/NAME)
  --json              print one JSON event per line (for scripts)
commands: /dm USER, /room ROOM, /join ROOM, /leave ROOM, /who, /history, /read,
          /send CONV TEXT, /quit (signs out); any other line is sent to the current
          conversation`;

function parseCommandLine() {
  let args;
  try {
    args = parseArgs({
      options: {
        'user': {type: 'string'},
        'password-env': {type: 'string'},
        'url': {type: 'string', default: 'mqtt://127.0.0.1:1883'},
        'room': {type: 'string', multiple: true},
        'state-dir': {type: 'string'},
        'json': {type: 'boolean', default: false},
        'help': {type: 'boolean', short: 'h', default: false},
      },
    }).values;
  } catch (error) {
    fail(`${error.message}\n${USAGE}`);
  }
  if (args.help) {
    console.log(USAGE);
    process.exit(0);
  }
  if (!USER_RE.test(args.user ?? '')) fail(`--user: a name matching ${USER_RE.source}\n${USAGE}`);
  for (const r of args.room ?? []) {
    if (!ROOM_RE.test(r)) fail(`--room ${r}: a name matching ${ROOM_RE.source}`);
  }
  let password;
  if (args['password-env'] !== undefined) {
    password = process.env[args['password-env']];
    if (!password) fail(`--password-env: ${args['password-env']} is not set`);
  }
  const stateBase = process.env.XDG_STATE_HOME || join(homedir(), '.local', 'state');
  return {
    user: args.user,
    password,
    url: args.url,
    rooms: args.room ?? [],
    stateDir: args['state-dir'] ?? join(stateBase, 'ringmq-messenger', args.user),
    json: args.json,
  };
}

function fail(message) {
  process.stderr.write(`chat.mjs: ${message}\n`);
  process.exit(2);
}

// Peers' text is shown as it is except for control characters (C0, DEL, C1): a newline would
// let a message forge a line of its own ("[room:general] carol: ..."), and escape sequences
// (ANSI, OSC) would reach the terminal. They show as \n, \t, \r, \xHH.
const CONTROL_RE = /[\x00-\x1f\x7f-\x9f]/g;
const NAMED = {'\n': '\\n', '\t': '\\t', '\r': '\\r'};
function printable(text) {
  return String(text).replace(CONTROL_RE, (c) =>
    NAMED[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

// Output: lines for a person (control characters escaped), or JSON events for a script.
class Output {
  constructor(json, rl) {
    this.json = json;
    this.rl = rl;
    this.tty = Boolean(rl.terminal);
    this.closed = false;  // no prompt once the input is closed
  }

  event(type, fields) {
    if (this.json) process.stdout.write(`${JSON.stringify({event: type, at: Date.now(), ...fields})}\n`);
  }

  line(text) {
    if (this.json) return;
    text = printable(text);
    if (this.tty) {
      // Above the prompt, which is drawn again with whatever was being typed.
      process.stdout.write(`\r\x1b[K${text}\n`);
      if (!this.closed) this.rl.prompt(true);
    } else {
      process.stdout.write(`${text}\n`);
    }
  }
}

const clock = (ts) => new Date(ts).toTimeString().slice(0, 8);
const errorText = (error) => (error ? error.message || String(error) : null);

async function main() {
  const opts = parseCommandLine();
  // A reader that went away (`| head`) ends the client, not with a stack trace.
  process.stdout.on('error', (error) => process.exit(error.code === 'EPIPE' ? 0 : 1));
  const store = new FileStore(opts.stateDir);
  await store.load();
  const unlock = lockStateDir(opts.stateDir);
  process.on('exit', unlock);

  const client = new ChatClient({
    connect: mqtt.connect, url: opts.url, user: opts.user, password: opts.password, store,
    rooms: opts.rooms.length ? opts.rooms : ['general'],
  });
  const interactive = Boolean(process.stdin.isTTY && process.stdout.isTTY && !opts.json);
  const rl = createInterface({input: process.stdin, output: interactive ? process.stdout : undefined,
                              terminal: interactive});
  const out = new Output(opts.json, rl);
  let current = null;  // the conversation on screen
  const setCurrent = (conv) => {
    current = conv;
    rl.setPrompt(`${opts.user}@${conv ?? '-'}> `);
  };

  client.addEventListener('state', ({detail: {state, retryInMs, error}}) => {
    out.event('state', {state, retryInMs, error: errorText(error)});
    if (state === 'online') {
      out.line(`* online as ${opts.user} (device ${client.device}) at ${opts.url}`);
    } else if (state === 'offline' && retryInMs !== null) {
      out.line(`* offline${error ? ` (${errorText(error)})` : ''}, retrying in ` +
               `${(retryInMs / 1000).toFixed(1)} s`);
    } else if (state === 'offline' && error) {
      out.line(`* offline: ${errorText(error)}`);
    }
  });
  client.addEventListener('message', ({detail: {message}}) => {
    out.event('message', {message});
    if (message.from !== opts.user) {
      out.line(`[${message.conv}] ${message.from}: ${message.text}`);
      // The conversation on screen is being read.
      if (message.conv === current) client.markRead(current).catch(() => {});
    }
  });
  client.addEventListener('update', ({detail: {message}}) => {
    out.event('update', {message});
    if (message.from === opts.user && (message.state === 'delivered' ||
                                       message.state === 'read' || message.state === 'failed')) {
      const text = message.text.length > 40 ? `${message.text.slice(0, 39)}…` : message.text;
      out.line(`[${message.conv}] (${message.state}) ${text}`);
    }
  });
  client.addEventListener('presence', ({detail: {user, state, ts}}) => {
    out.event('presence', {user, state, ts});
    if (user !== opts.user) out.line(`* ${user} is ${state} (since ${clock(ts)})`);
  });
  client.addEventListener('typing', ({detail: {conv, user, typing}}) => {
    out.event('typing', {conv, user, typing});
    if (typing) out.line(`* ${user} is typing in ${conv}`);
  });
  client.addEventListener('error', ({detail: {error, scope}}) => {
    out.event('error', {error: errorText(error), scope});
    // A connection's error is in the 'state' line already.
    if (scope !== 'connection') out.line(`! ${errorText(error)}`);
  });
  client.addEventListener('rooms', ({detail: {rooms}}) => {
    out.event('rooms', {rooms});
  });

  let stopping = null;
  const finish = (signOut) => {
    stopping ??= (async () => {
      rl.close();
      await client.stop({signOut});
      await store.flush();
      out.event('stopped', {signOut});
      out.line(signOut ? '* signed out' : '* disconnected');
      process.exit(0);
    })();
    return stopping;
  };

  await client.start();
  for (const r of opts.rooms) await client.join(r);
  setCurrent(client.rooms.length ? `room:${client.rooms[0]}` : null);
  out.event('started', {user: opts.user, device: client.device, clientId: client.clientId,
                        rooms: client.rooms, stateDir: opts.stateDir});
  out.line(`* ${opts.user} (device ${client.device}), rooms: ${client.rooms.join(', ') || '-'};` +
           ` talking in ${current ?? '- (use /dm USER or /join ROOM)'}; /quit to sign out`);

  const commands = {
    async dm(arg) {
      if (!USER_RE.test(arg)) throw new Error(`usage: /dm USER (${USER_RE.source})`);
      setCurrent(`dm:${arg}`);
      out.line(`* talking to ${arg}`);
    },
    async room(arg) {
      if (!client.rooms.includes(arg)) throw new Error(`not in room ${arg} (/join ${arg})`);
      setCurrent(`room:${arg}`);
      out.line(`* talking in room ${arg}`);
    },
    async join(arg) {
      if (!ROOM_RE.test(arg)) throw new Error(`usage: /join ROOM (${ROOM_RE.source})`);
      await client.join(arg);
      setCurrent(`room:${arg}`);
      out.line(`* joined ${arg}`);
    },
    async leave(arg) {
      if (!client.rooms.includes(arg)) throw new Error(`not in room ${arg}`);
      await client.leave(arg);
      if (current === `room:${arg}`) setCurrent(null);
      out.line(`* left ${arg}`);
    },
    async who() {
      const users = [...client.presence].map(([user, p]) => ({user, ...p}))
          .sort((a, b) => (a.user < b.user ? -1 : 1));
      out.event('who', {users});
      for (const u of users) out.line(`  ${u.user}: ${u.state} since ${clock(u.ts)}`);
      if (!users.length) out.line('  (nobody seen yet)');
    },
    async history(arg) {
      const conv = arg || current;
      if (!parseConv(conv)) throw new Error('usage: /history [CONV]');
      const messages = await client.history(conv);
      out.event('history', {conv, messages});
      for (const m of messages) {
        out.line(`  ${clock(m.ts)} [${m.conv}] ${m.from}: ${m.text}` +
                 (m.from === opts.user ? ` (${m.state})` : ''));
      }
      if (!messages.length) out.line('  (no messages)');
    },
    async read() {
      if (current) await client.markRead(current);
    },
    async send(arg) {
      const space = arg.indexOf(' ');
      const conv = space < 0 ? arg : arg.slice(0, space);
      if (!parseConv(conv) || space < 0) throw new Error('usage: /send CONV TEXT');
      await client.send(conv, arg.slice(space + 1));
    },
    async quit() {
      await finish(true);
    },
  };

  // Typing shown to the others while a message (not a command) is being written on a terminal;
  // chat-core sends 'true' at most every 3 s.
  if (interactive) {
    process.stdin.on('keypress', () => {
      if (current && rl.line && !rl.line.startsWith('/')) client.setTyping(current, true);
    });
  }

  // One line at a time, in order: a /join finishes before the next line is sent.
  let queue = Promise.resolve();
  rl.on('line', (line) => {
    if (interactive && current) client.setTyping(current, false);
    queue = queue.then(async () => {
      if (stopping) return;
      const text = line.trim();
      try {
        if (text.startsWith('/')) {
          const space = text.indexOf(' ');
          const name = text.slice(1, space < 0 ? undefined : space);
          const arg = space < 0 ? '' : text.slice(space + 1).trim();
          const command = Object.hasOwn(commands, name) ? commands[name] : null;
          if (!command) throw new Error(`unknown command /${name}`);
          await command(arg);
        } else if (text) {
          if (!current) throw new Error('no conversation: /dm USER or /join ROOM first');
          await client.send(current, text);
        }
      } catch (error) {
        out.event('error', {error: errorText(error), line});
        out.line(`! ${errorText(error)}`);
      }
      if (out.tty) rl.prompt();
    });
  });
  // The end of input (Ctrl-D, or a script's last line): disconnect without signing out, after
  // the lines before it; the session stays and the others see this user offline (the will).
  rl.on('close', () => {
    out.closed = true;
    queue = queue.then(() => finish(false));
  });
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => finish(false));
  rl.on('SIGINT', () => finish(false));  // Ctrl-C at the prompt
  if (out.tty) rl.prompt();
}

main().catch((error) => {
  process.stderr.write(`chat.mjs: ${error.stack || error}\n`);
  process.exit(1);
});
