// The messenger's page: sign-in, the conversation list and one conversation, drawn from
// chat-core.js's events; history in IndexedDB (idb-store.js); MQTT.js's browser bundle from
// ../vendor/ (copied there by scripts/setup.sh). For tests and the console, window.msgr holds
// {client, store, openConv} once signed in.
import mqtt from '../vendor/mqtt.esm.js';
import {ChatClient, USER_RE, ROOM_RE, parseConv, compareMessages, connackMessage, newDeviceId}
  from './chat-core.js';
import {IdbStore} from './idb-store.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const MQTT_URL = brokerUrl();
const TYPING_IDLE_MS = 4000;
const TAKEN_OVER = 0x8e;  // the broker's DISCONNECT when this client id connected elsewhere
const wide = matchMedia('(min-width: 760px)');

let client = null;
let store = null;
let current = null;            // the open conversation
let renderToken = 0;           // a newer openConv() drops an older one's late history
const startedDms = new Set();  // chats opened before their first message
const typing = new Map();      // conv -> Set of users typing
let retryAt = 0;
let countdown = null;
let typingIdle = null;
let signingOut = false;

// --- helpers ---

// The page's own host, or ?mqtt=URL when that is ws:// or wss:// on the same host name (any
// port: e.g. a test's proxy). The page sends the user's name and password to it, so not to
// whatever broker a link names.
function brokerUrl() {
  const own = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/mqtt`;
  const asked = params.get('mqtt');
  if (!asked) return own;
  let url = null;
  try {
    url = new URL(asked);
  } catch {
    // not a URL: ignored below
  }
  if (url && (url.protocol === 'ws:' || url.protocol === 'wss:') &&
      url.hostname === location.hostname && !url.username && !url.password) {
    return asked;
  }
  console.warn(`?mqtt=${asked} ignored: only ws:// or wss:// on ${location.hostname} ` +
               `(the page sends your password there); using ${own}`);
  return own;
}

function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') e.className = v;
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k.startsWith('aria-') || k === 'role' || k === 'tabindex') e.setAttribute(k, v);
    else e[k] = v;
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

const timeFmt = new Intl.DateTimeFormat(undefined, {hour: '2-digit', minute: '2-digit'});
const dayFmt = new Intl.DateTimeFormat(undefined, {day: 'numeric', month: 'short'});

// Dates from the store or a peer: chat-core keeps received ones sane, but a store written
// before it did may hold a ts Date cannot show (past ±8.64e15, where formatting throws).
function validDate(ts) {
  const d = new Date(ts);
  return Number.isNaN(d.getTime()) ? null : d;
}

function when(ts) {
  const d = validDate(ts);
  if (!d) return '';
  const today = new Date().toDateString() === d.toDateString();
  return today ? timeFmt.format(d) : `${dayFmt.format(d)} ${timeFmt.format(d)}`;
}

function convName(conv) {
  const c = parseConv(conv);
  return c.kind === 'room' ? `# ${c.name}` : c.name;
}

function avatar(conv, node = el('span', {class: 'avatar', 'aria-hidden': 'true'})) {
  const c = parseConv(conv);
  node.textContent = c.name.slice(0, 1);
  node.classList.toggle('room', c.kind === 'room');
  // A colour per name, the same on every screen.
  let h = 0;
  for (const ch of c.name) h = (h * 31 + ch.codePointAt(0)) % 360;
  node.style.background = `hsl(${h} 45% 42%)`;
  if (c.kind === 'dm') node.dataset.presence = client?.presence.get(c.name)?.state ?? 'offline';
  else delete node.dataset.presence;
  return node;
}

function onScreen(conv) {
  return conv === current && document.visibilityState === 'visible' &&
         (wide.matches || document.body.classList.contains('show-conv'));
}

function typingText(conv) {
  const users = [...(typing.get(conv) ?? [])];
  if (!users.length) return '';
  const c = parseConv(conv);
  if (c.kind === 'dm') return 'typing…';
  return users.length === 1 ? `${users[0]} is typing…` : `${users.join(', ')} are typing…`;
}

function presenceText(user) {
  const p = client?.presence.get(user);
  if (!p) return '';
  return p.state === 'online' ? 'online' : `last seen ${when(p.ts)}`;
}

// --- connection state ---

function showState(state, retryInMs, error) {
  const conn = $('conn');
  conn.dataset.state = state;
  clearInterval(countdown);
  countdown = null;
  $('retry-now').hidden = true;
  if (state === 'offline' && retryInMs !== null && retryInMs !== undefined) {
    retryAt = Date.now() + retryInMs;
    const tick = () => {
      const s = Math.max(0, Math.ceil((retryAt - Date.now()) / 1000));
      $('conn-text').textContent = `offline · retrying in ${s} s`;
    };
    tick();
    countdown = setInterval(tick, 500);
    $('retry-now').hidden = false;
    $('retry-now').textContent = 'retry now';
  } else {
    $('conn-text').textContent = state === 'connecting' ? 'connecting…'
        : state === 'offline' && error ? `offline · ${error.message}` : state;
    if (state === 'offline' && error?.code === TAKEN_OVER) {
      // Another tab or window of this browser signed in as the same user and took the session.
      $('retry-now').textContent = 'use here';
      $('retry-now').hidden = false;
    }
  }
}

// --- conversation list ---

// conv -> {conv, last, unread}: read from the store at sign-in, then kept up to date from the
// core's events (not read again per event: that would cost a read of every message).
let summaries = new Map();

function noteMessage(m) {
  let s = summaries.get(m.conv);
  if (!s) summaries.set(m.conv, s = {conv: m.conv, last: null, unread: 0});
  if (!s.last || compareMessages(s.last, m) < 0) s.last = m;
  if (m.state === 'received') s.unread++;
}

function noteUpdate(m) {
  const s = summaries.get(m.conv);
  if (!s) return;
  if (s.last?.id === m.id) s.last = m;
  if (m.from !== client.user && m.state === 'read') s.unread = Math.max(0, s.unread - 1);
}

let listQueued = false;
function refreshList() {
  if (listQueued) return;
  listQueued = true;
  setTimeout(() => {
    listQueued = false;
    if (client) renderList();
  }, 0);
}

function renderList() {
  const rooms = client.rooms.map((r) => `room:${r}`);
  const dms = new Set([...summaries.keys()].filter((c) => c.startsWith('dm:')));
  for (const c of startedDms) dms.add(c);
  if (current?.startsWith('dm:')) dms.add(current);
  const lastTs = (c) => summaries.get(c)?.last?.ts ?? 0;
  const byRecent = (a, b) => lastTs(b) - lastTs(a) || (a < b ? -1 : 1);
  const people = [...client.presence.keys()]
      .filter((u) => u !== client.user && !dms.has(`dm:${u}`)).sort()
      .map((u) => `dm:${u}`);

  const list = $('conv-list');
  list.replaceChildren();
  let unreadTotal = 0;
  const section = (title, convs) => {
    if (!convs.length) return;
    list.append(el('li', {role: 'presentation'}, el('h2', {textContent: title})));
    for (const conv of convs) {
      const s = summaries.get(conv);
      unreadTotal += s?.unread ?? 0;
      const t = typingText(conv);
      const c = parseConv(conv);
      let preview = '';
      if (s?.last) {
        preview = (s.last.from === client.user ? 'You: '
                   : c.kind === 'room' ? `${s.last.from}: ` : '') + s.last.text;
      } else if (c.kind === 'dm') {
        preview = presenceText(c.name);
      }
      list.append(el('li', {
        class: 'conv-item', role: 'button', tabindex: '0', dataset: {conv},
        'aria-current': conv === current ? 'true' : 'false',
        'aria-label': `${convName(conv)}${s?.unread ? `, ${s.unread} unread` : ''}`,
      },
      avatar(conv),
      el('div', {class: 'body'},
         el('div', {class: 'row'}, el('span', {class: 'name', textContent: convName(conv)}),
            s?.last ? el('span', {class: 'time', textContent: when(s.last.ts)}) : null),
         el('div', {class: 'row'},
            el('span', {class: `preview${t ? ' typing' : ''}`, textContent: t || preview}),
            s?.unread ? el('span', {class: 'unread', textContent: String(s.unread)}) : null))));
    }
  };
  section('Rooms', rooms.sort(byRecent));
  section('Chats', [...dms].sort(byRecent));
  section('People', people);
  document.title = `${unreadTotal ? `(${unreadTotal}) ` : ''}Messenger · ringmq`;
}

$('conv-list').addEventListener('click', (e) => {
  const item = e.target.closest('.conv-item');
  if (item) openConv(item.dataset.conv);
});
$('conv-list').addEventListener('keydown', (e) => {
  const item = e.target.closest('.conv-item');
  if (item && (e.key === 'Enter' || e.key === ' ')) {
    e.preventDefault();
    openConv(item.dataset.conv);
  }
});

// --- one conversation ---

function statusMark(m) {
  switch (m.state) {
    case 'pending': return ['◷', 'pending'];
    case 'sent': return ['✓', 'sent'];
    case 'delivered': return ['✓✓', 'delivered'];
    case 'read': return ['✓✓', 'read'];
    case 'failed': return ['⚠ not sent', 'not sent'];
    default: return ['', ''];
  }
}

function bubble(m) {
  const mine = m.from === client.user;
  const room = m.conv.startsWith('room:');
  const meta = el('div', {class: 'meta'},
                  el('time', {dateTime: validDate(m.ts)?.toISOString() ?? '',
                              textContent: when(m.ts)}));
  if (mine) {
    const [mark, label] = statusMark(m);
    meta.append(el('span', {class: 'status', textContent: mark, 'aria-label': label,
                            title: label}));
  }
  return el('li', {class: `msg${mine ? ' mine' : ''}`,
                   dataset: {id: m.id, state: m.state, ts: String(m.ts), from: m.from}},
            room && !mine ? el('div', {class: 'from', textContent: m.from}) : null,
            el('div', {class: 'text', textContent: m.text}), meta);
}

function showMessage(m) {
  const list = $('messages');
  if (list.querySelector(`[data-id="${CSS.escape(m.id)}"]`)) return;  // shown already
  const node = bubble(m);
  const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
  // Display order (ts, from, id): walk back from the end, usually one step.
  let after = list.lastElementChild;
  while (after && compareMessages({ts: Number(after.dataset.ts), from: after.dataset.from,
                                   id: after.dataset.id}, m) > 0) {
    after = after.previousElementSibling;
  }
  if (after) after.after(node); else list.prepend(node);
  if (nearBottom || m.from === client.user) list.scrollTop = list.scrollHeight;
}

function updateMessage(m) {
  const node = $('messages').querySelector(`[data-id="${CSS.escape(m.id)}"]`);
  if (node) node.replaceWith(bubble(m));
}

function showConvHeader() {
  if (!current) return;
  const c = parseConv(current);
  avatar(current, $('conv-avatar'));
  $('conv-title').textContent = convName(current);
  const t = typingText(current);
  const sub = $('conv-sub');
  sub.textContent = t || (c.kind === 'dm' ? presenceText(c.name) : 'room');
  sub.classList.toggle('typing', !!t);
  $('leave').hidden = c.kind !== 'room';
}

async function openConv(conv) {
  if (!parseConv(conv)) return;
  const token = ++renderToken;
  if (current && current !== conv) client.setTyping(current, false);
  current = conv;
  localStorage.setItem(`msgr-conv-${client.user}`, conv);
  if (conv.startsWith('dm:')) startedDms.add(conv);
  $('empty').hidden = true;
  $('conv').hidden = false;
  document.body.classList.add('show-conv');
  showConvHeader();
  $('messages').replaceChildren();
  const history = await client.history(conv);
  if (token !== renderToken) return;
  for (const m of history) showMessage(m);
  $('messages').scrollTop = $('messages').scrollHeight;
  if (wide.matches) $('text').focus();
  refreshList();
  if (onScreen(conv)) await client.markRead(conv);
}

$('back').addEventListener('click', () => {
  if (current) client.setTyping(current, false);
  document.body.classList.remove('show-conv');
  refreshList();
});

$('leave').addEventListener('click', async () => {
  const c = parseConv(current);
  if (c?.kind !== 'room') return;
  await client.leave(c.name);
  current = null;
  $('conv').hidden = true;
  $('empty').hidden = false;
  document.body.classList.remove('show-conv');
  refreshList();
});

document.addEventListener('visibilitychange', () => {
  if (current && onScreen(current)) client.markRead(current);
});

// --- composer ---

async function sendCurrent() {
  const text = $('text').value;
  if (!current || text.trim() === '') return;
  $('text').value = '';
  autosize();
  clearTimeout(typingIdle);
  client.setTyping(current, false);
  try {
    await client.send(current, text.trim());
  } catch (error) {
    $('tools-error').textContent = error.message;
  }
}

function autosize() {
  const t = $('text');
  t.style.height = 'auto';
  t.style.height = `${Math.min(t.scrollHeight + 2, 160)}px`;
}

$('composer').addEventListener('submit', (e) => {
  e.preventDefault();
  sendCurrent();
});
$('text').addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    sendCurrent();
  }
});
$('text').addEventListener('input', () => {
  autosize();
  if (!current) return;
  const busy = $('text').value.trim() !== '';
  client.setTyping(current, busy);
  clearTimeout(typingIdle);
  if (busy) typingIdle = setTimeout(() => client.setTyping(current, false), TYPING_IDLE_MS);
});

// --- sidebar forms ---

function nameFrom(input, what, re) {
  const name = input.value.trim().toLowerCase();
  if (!re.test(name)) {
    $('tools-error').textContent =
        `${what}: 1-32 of a-z, 0-9${re === ROOM_RE ? ', -' : ''} and _`;
    return null;
  }
  $('tools-error').textContent = '';
  input.value = '';
  return name;
}

$('new-chat').addEventListener('submit', (e) => {
  e.preventDefault();
  const user = nameFrom($('new-chat-user'), 'user name', USER_RE);
  if (user) openConv(`dm:${user}`);
});

$('join-room').addEventListener('submit', async (e) => {
  e.preventDefault();
  const room = nameFrom($('join-room-name'), 'room name', ROOM_RE);
  if (!room) return;
  try {
    await client.join(room);
  } catch (error) {
    $('tools-error').textContent = error.message;
    return;
  }
  openConv(`room:${room}`);
});

// --- sign-in and sign-out ---

function showSignIn(message = '') {
  $('app').hidden = true;
  $('signin').hidden = false;
  $('signin-error').textContent = message;
  $('signin-user').focus();
}

async function teardown() {
  const old = client;
  client = null;
  window.msgr = null;
  current = null;
  startedDms.clear();
  typing.clear();
  summaries = new Map();
  clearInterval(countdown);
  document.body.classList.remove('show-conv');
  if (old) await old.stop({signOut: true});
  store?.close();
  store = null;
}

async function signIn(user, password) {
  localStorage.setItem('msgr-user', user);
  if (password) sessionStorage.setItem('msgr-password', password);
  let device = localStorage.getItem('msgr-device');
  if (!/^[a-z0-9]{12}$/.test(device ?? '')) {
    device = newDeviceId();
    localStorage.setItem('msgr-device', device);
  }
  store = await IdbStore.open(user);
  client = new ChatClient({connect: mqtt.connect, url: MQTT_URL, user, password, device, store});
  const me = client;
  const on = (type, fn) => me.addEventListener(type, (e) => {
    if (client === me) fn(e.detail);
  });
  on('state', ({state, retryInMs, error}) => {
    showState(state, retryInMs, error);
    if (state === 'offline' && retryInMs === null && typeof error?.code === 'number' &&
        error.code !== TAKEN_OVER && !signingOut) {
      // Refused: wrong name or password, not allowed. Back to the form.
      localStorage.removeItem('msgr-user');
      sessionStorage.removeItem('msgr-password');
      teardown().then(() => showSignIn(connackMessage(error.code)));
    }
  });
  on('message', ({message}) => {
    noteMessage(message);
    if (message.conv === current) {
      showMessage(message);
      if (message.from !== me.user && onScreen(current)) me.markRead(current);
    }
    refreshList();
  });
  on('update', ({message}) => {
    noteUpdate(message);
    if (message.conv === current) updateMessage(message);
    refreshList();
  });
  on('presence', ({user: who}) => {
    if (current === `dm:${who}`) showConvHeader();
    refreshList();
  });
  on('typing', ({conv, user: who, typing: isTyping}) => {
    let users = typing.get(conv);
    if (!users) typing.set(conv, users = new Set());
    if (isTyping) users.add(who); else users.delete(who);
    if (conv === current) showConvHeader();
    refreshList();
  });
  on('rooms', () => refreshList());
  on('error', ({error, scope}) => {
    // The connection's troubles show in its state; the others here.
    if (scope !== 'connection') $('tools-error').textContent = error?.message ?? String(error);
  });

  $('signin').hidden = true;
  $('app').hidden = false;
  $('me-name').textContent = user;
  avatar(`dm:${user}`, $('me-avatar'));
  delete $('me-avatar').dataset.presence;
  window.msgr = {client, store, openConv};
  summaries = new Map((await store.listConversations()).map((c) => [c.conv, c]));
  await client.start();
  refreshList();
  const last = localStorage.getItem(`msgr-conv-${user}`);
  if (wide.matches) await openConv(parseConv(last) ? last : `room:${client.rooms[0] ?? 'general'}`);
  dispatchEvent(new CustomEvent('msgr-ready'));
}

$('signin-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const user = $('signin-user').value.trim().toLowerCase();
  if (!USER_RE.test(user)) {
    $('signin-error').textContent = 'a name is 1-32 of a-z, 0-9 and _';
    return;
  }
  $('signin-error').textContent = '';
  await signIn(user, $('signin-password').value);
});

$('signout').addEventListener('click', async () => {
  signingOut = true;
  localStorage.removeItem('msgr-user');
  sessionStorage.removeItem('msgr-password');
  await teardown();
  signingOut = false;
  showSignIn();
});

$('retry-now').addEventListener('click', () => client?.retryNow());

wide.addEventListener('change', () => {
  if (current && onScreen(current)) client.markRead(current);
});

const saved = localStorage.getItem('msgr-user');
if (saved && USER_RE.test(saved)) {
  signIn(saved, sessionStorage.getItem('msgr-password') ?? '');
} else {
  showSignIn();
}
