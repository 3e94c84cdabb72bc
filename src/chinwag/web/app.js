// chinwag's web client: IRC over WebSocket (text.ircv3.net) to this server's /irc.
// History comes from draft/chathistory: LATEST on join, BEFORE on scroll-up,
// AFTER the last message id after a reconnect; every message id is shown once.
// The DOM is built with textContent and elements only: nothing a user sent is
// ever parsed as HTML. Accounts: POST /session logs in (or registers) and sets
// an HttpOnly cookie that the WebSocket upgrade carries, so a reload stays
// logged in without the page keeping the password; DELETE /session logs out.

import {
  HELP, casefold, closingReason, formatLine, isRoom, mentions, nickOf, parseInput, parseLine, splitUtf8,
  stripFormatting,
} from "./irc.js";
import { History } from "./history.js";
import { LoginForm, session } from "./login.js";
import { Alerts } from "./notify.js";
import { el, eventNodes, logNodes, memberNodes, messageNode, showTopic } from "./view.js";

const WANTED_CAPS = ["server-time", "message-tags", "echo-message", "batch", "draft/chathistory",
  "draft/message-redaction"];
const MAX_TEXT = 400; // bytes of text per PRIVMSG (the server's line limit is 512 with the command)
const BACKOFF_MAX = 30_000;

const $ = (id) => document.getElementById(id);

const state = {
  wanted: "", // the nick asked for
  account: null, // the account the session cookie logs in to (GET/POST /session), or null: a guest
  me: "", // the nick the server gave us
  registered: false,
  shown: false, // the chat is on screen (after the first 001; back to the form on a taken name)
  closing: null, // the reason in the server's ERROR before it closes
  restarting: false, // the server said it is shutting down: reconnecting until it is back
  topicAsked: new Set(), // rooms whose /topic reply is to be shown in the log
  caps: new Set(),
  offered: new Set(),
  convs: new Map(), // casefolded name -> conversation
  current: null,
  seen: new Set(), // message ids shown
  batches: new Map(), // ref -> {type, target, lines}
  pending: new Map(), // casefolded target -> [request mode, ...] in the order sent
  ws: null,
  backoff: 1000,
  timer: null,
  continued: null, // {msgid, ref, msg | null}: the previous line (ref: its batch), for a long message split in several
};
window.chinwag = state; // for the curious (and the browser tests)

function conv(name) {
  const key = casefold(name);
  let c = state.convs.get(key);
  if (!c) {
    c = { name, key, room: isRoom(name), messages: [], members: new Map(), names: null, unread: 0,
      joined: false, loading: false, exhausted: false, topic: null, stale: false };
    state.convs.set(key, c);
    renderRooms();
  }
  return c;
}

// --- the socket ----------------------------------------------------------------------

function send(line) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(line);
}

function connect() {
  clearTimeout(state.timer);
  const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/irc`;
  const ws = new WebSocket(url, ["text.ircv3.net"]);
  state.ws = ws;
  state.closing = null;
  if (!state.restarting) status("connecting…");
  ws.onopen = () => {
    send("CAP LS 302");
    send(formatLine("NICK", state.wanted));
    send(formatLine("USER", state.wanted.replace(/[^A-Za-z0-9]/g, "") || "web", "0", "*", "chinwag web client"));
  };
  ws.onmessage = (event) => {
    try {
      handle(parseLine(String(event.data)));
    } catch (err) {
      console.error("chinwag: cannot handle", event.data, err);
    }
  };
  ws.onclose = () => {
    if (state.ws !== ws) return;
    state.ws = null;
    offline();
    const reason = state.closing;
    if (!state.shown) {
      login.error(reason ? `the server said: ${reason}` : "cannot reach the server; try again in a moment");
      return;
    }
    const wait = state.backoff;
    state.backoff = Math.min(state.backoff * 2, BACKOFF_MAX);
    if (reason && /shutting down|restart/i.test(reason)) state.restarting = true;
    const when = `reconnecting in ${Math.round(wait / 1000)} s`;
    if (state.restarting) status("server restarting — reconnecting…", true);
    else status(reason ? `disconnected (${reason}); ${when}` : `disconnected; ${when}`, true);
    state.timer = setTimeout(connect, wait);
  };
}

// The connection is gone: what we knew of each room may be out of date.
function offline() {
  state.registered = false;
  state.batches.clear();
  state.pending.clear();
  state.topicAsked.clear();
  for (const c of state.convs.values()) {
    c.joined = false;
    c.loading = false;
    c.stale = c.room;
  }
  renderMembers();
}

function status(text, bad = false) {
  const s = $("status");
  s.textContent = text;
  s.classList.toggle("bad", bad);
}

// --- incoming lines --------------------------------------------------------------------

const HANDLERS = {
  CAP(m) {
    const sub = (m.params[1] || "").toUpperCase();
    if (sub === "LS") {
      const more = m.params[2] === "*";
      for (const cap of m.params[more ? 3 : 2].split(" ")) if (cap) state.offered.add(cap.split("=")[0]);
      if (more) return;
      const want = WANTED_CAPS.filter((c) => state.offered.has(c));
      if (want.length) send(formatLine("CAP", "REQ", want.join(" ")));
      else send("CAP END");
    } else if (sub === "ACK") {
      for (const cap of m.params[2].split(" ")) if (cap) state.caps.add(cap.replace(/^-/, ""));
      send("CAP END");
    } else if (sub === "NAK") {
      send("CAP END");
    }
  },
  PING(m) {
    send(formatLine("PONG", ...m.params));
  },
  "001"(m) {
    state.me = m.params[0];
    state.registered = true;
    state.restarting = false;
    state.backoff = 1000;
    localStorage.setItem("chinwag.nick", state.me);
    if (!state.shown) showApp();
    status(`connected as ${state.me}`);
    const rooms = [...state.convs.values()].filter((c) => c.room).map((c) => c.name);
    for (const room of rooms.length ? rooms : ["#lobby"]) send(formatLine("JOIN", room));
    for (const c of state.convs.values()) if (!c.room) hist.catchUp(c);
  },
  "433"(m) {
    // Never another name than the one asked for: the user chooses.
    const nick = m.params[1];
    if (state.registered) return system(`${nick} is taken`);
    const mine = state.shown && casefold(nick) === casefold(state.me); // a reconnect
    backToLogin(mine ? `${nick} is taken, perhaps still by your previous connection: try again in a minute`
      : `${nick} is taken`);
  },
  "432"(m) {
    const reason = m.params[m.params.length - 1];
    if (state.registered) return system(`${m.params[1]}: ${reason}`);
    backToLogin(reason);
  },
  "331"(m) {
    const c = state.convs.get(casefold(m.params[1]));
    if (!c) return;
    c.topic = null;
    if (state.topicAsked.delete(c.key)) system("no topic is set", c.name);
    if (c.key === state.current) renderTopic();
  },
  "332"(m) {
    const c = state.convs.get(casefold(m.params[1]));
    if (!c) return;
    c.topic = { text: stripFormatting(m.params[2] || ""), by: "", at: 0 };
    if (state.topicAsked.delete(c.key)) system(`topic: ${c.topic.text}`, c.name);
    if (c.key === state.current) renderTopic();
  },
  "333"(m) {
    const c = state.convs.get(casefold(m.params[1]));
    if (!c || !c.topic) return;
    c.topic.by = nickOf(m.params[2] || "");
    c.topic.at = Number(m.params[3]) * 1000 || 0;
    if (c.key === state.current) renderTopic();
  },
  TOPIC(m) {
    const c = conv(m.params[0]);
    const nick = nickOf(m.source);
    const text = stripFormatting(m.params[1] || "");
    c.topic = text ? { text, by: nick, at: stamp(m) } : null;
    system(text ? `${nick} set the topic: ${text}` : `${nick} cleared the topic`, c.name);
    if (c.key === state.current) renderTopic();
  },
  "353"(m) {
    const c = conv(m.params[2]);
    c.names = c.names || new Map();
    for (const entry of m.params[3].split(" ")) {
      if (!entry) continue;
      const prefix = entry.match(/^[~&@%+]*/)[0];
      const nick = nickOf(entry.slice(prefix.length));
      c.names.set(casefold(nick), { nick, prefix });
    }
  },
  "366"(m) {
    const c = conv(m.params[1]);
    c.members = c.names || new Map();
    c.names = null;
    c.stale = false;
    if (c.key === state.current) renderMembers();
  },
  JOIN(m) {
    const nick = nickOf(m.source);
    const c = conv(m.params[0]);
    if (casefold(nick) === casefold(state.me)) {
      c.joined = true;
      c.exhausted = false;
      c.topic = null; // a 332 follows if the room has one
      if (c.key === state.current) renderTopic();
      if (state.current === null || state.joining === c.key) {
        state.joining = null;
        select(c.key);
      }
      hist.catchUp(c);
    } else {
      c.members.set(casefold(nick), { nick, prefix: "" });
      addEvent(c, m, "join", `${nick} joined`);
      if (c.key === state.current) renderMembers();
    }
  },
  REDACT(m) {
    // draft/message-redaction: a removed message leaves the log (to us, a
    // private one is named by the other party: its sender or its recipient).
    const [target, msgid] = m.params;
    const where = casefold(target) === casefold(state.me) ? nickOf(m.source) : target;
    const c = state.convs.get(casefold(where));
    if (!c || !msgid) return;
    const at = c.messages.findIndex((x) => x.msgid === msgid);
    if (at < 0) return;
    c.messages.splice(at, 1);
    if (c.key === state.current) renderMessages();
  },
  PART(m) {
    const nick = nickOf(m.source);
    const c = conv(m.params[0]);
    if (casefold(nick) === casefold(state.me)) {
      state.convs.delete(c.key);
      if (state.current === c.key) state.current = null;
      select(state.current ?? [...state.convs.keys()][0] ?? null);
      renderRooms();
      return;
    }
    gone(c, m, "part", nick, `${nick} left${m.params[1] ? ` (${m.params[1]})` : ""}`);
  },
  KICK(m) {
    const c = conv(m.params[0]);
    const who = m.params[1];
    if (casefold(who) === casefold(state.me)) {
      c.joined = false;
      return system(`you were kicked by ${nickOf(m.source)}: ${m.params[2] || ""}`, c.name);
    }
    gone(c, m, "kick", who, `${who} was kicked by ${nickOf(m.source)}${m.params[2] ? ` (${m.params[2]})` : ""}`);
  },
  QUIT(m) {
    const nick = nickOf(m.source);
    for (const c of state.convs.values()) {
      if (c.members.has(casefold(nick))) gone(c, m, "quit", nick, `${nick} quit${m.params[0] ? ` (${m.params[0]})` : ""}`);
    }
  },
  NICK(m) {
    const old = nickOf(m.source);
    const now = m.params[0];
    if (casefold(old) === casefold(state.me)) {
      state.me = now;
      state.wanted = now; // the name to ask for again after a reconnect
      localStorage.setItem("chinwag.nick", now);
      status(`connected as ${now}`);
    }
    for (const c of state.convs.values()) {
      const member = c.members.get(casefold(old));
      if (!member) continue;
      c.members.delete(casefold(old));
      c.members.set(casefold(now), { nick: now, prefix: member.prefix });
      addEvent(c, m, "nick", `${old} is now known as ${now}`);
      if (c.key === state.current) renderMembers();
    }
  },
  PRIVMSG(m) {
    message(m, "msg");
  },
  NOTICE(m) {
    message(m, "notice");
  },
  BATCH(m) {
    const ref = m.params[0];
    if (ref.startsWith("+")) {
      state.batches.set(ref.slice(1), { type: m.params[1], target: m.params[2] || "", lines: [] });
    } else {
      const batch = state.batches.get(ref.slice(1));
      state.batches.delete(ref.slice(1));
      if (batch && /(^|\/)chathistory$/.test(batch.type)) history(batch);
    }
  },
  FAIL(m) {
    if (m.params[0] === "CHATHISTORY") {
      const c = state.convs.get(casefold(m.params[3] || ""));
      if (c) hist.done(c);
    }
    system(m.params[m.params.length - 1]);
  },
  ERROR(m) {
    // Shown by the status line when the socket closes, never as a raw line.
    state.closing = closingReason(m.params[0] || "") || null;
  },
};

function handle(m) {
  const handler = HANDLERS[m.command];
  if (handler) handler(m);
  else if (/^[45]\d\d$/.test(m.command) && m.command !== "422") system(m.params.slice(1).join(" "));
}

function gone(c, m, what, nick, text) {
  c.members.delete(casefold(nick));
  addEvent(c, m, what, text);
  if (c.key === state.current) renderMembers();
}

function stamp(m) {
  return m.tags.time ? Date.parse(m.tags.time) : Date.now();
}

// A join, part, quit, kick or nick change: a small grey line, folded with its neighbours.
function addEvent(c, m, what, text) {
  const msg = { msgid: null, ts: stamp(m), nick: nickOf(m.source), text, kind: "event", what, mine: false };
  c.messages.push(msg);
  if (c.key === state.current) append(msg);
}

// A PRIVMSG or NOTICE, live or in a history batch.
function message(m, kind) {
  const from = nickOf(m.source);
  let text = m.params[1] ?? "";
  const target = m.params[0] || "";
  if (!m.source.includes("!") && !isRoom(target)) return system(text); // from the server itself
  const mine = casefold(from) === casefold(state.me);
  const where = isRoom(target) ? target : mine ? target : from;
  if (kind === "msg" && text.startsWith("\x01ACTION")) {
    kind = "action";
    text = text.slice(8).replace(/\x01$/, "");
  } else if (text.startsWith("\x01")) {
    return; // other CTCP
  }
  const msgid = m.tags.msgid || null;
  const ts = stamp(m);
  const clean = stripFormatting(text);
  const msg = { msgid, ts, nick: from, text: clean, kind, mine, mention: !mine && mentions(clean, state.me) };
  // A long message comes as several lines with one id: later pieces extend the
  // first. Only in the same stream: a history batch that repeats the live line
  // just shown (LATEST asked on join, the message stored meanwhile) is no piece.
  const ref = m.tags.batch || "";
  const prev = state.continued;
  if (msgid && prev && prev.msgid === msgid && prev.ref === ref) {
    if (prev.msg) {
      prev.msg.text += msg.text;
      if (prev.node) prev.node.replaceWith((prev.node = messageNode(prev.msg)));
    }
    return;
  }
  const batch = state.batches.get(m.tags.batch || "");
  if (msgid && state.seen.has(msgid)) {
    state.continued = { msgid, ref, msg: null };
    return;
  }
  if (msgid) state.seen.add(msgid);
  state.continued = { msgid, ref, msg, node: null };
  if (batch) {
    batch.lines.push(msg);
    return;
  }
  const c = conv(where);
  c.messages.push(msg);
  if (c.key === state.current) state.continued.node = append(msg);
  else {
    c.unread += 1;
    renderRooms();
  }
  if (msg.mention || (!mine && !c.room)) alerts.alert(c.key, c.name, from, msg.text);
}

// The end of a chathistory batch: merged into its conversation, then shown.
function history(batch) {
  const c = conv(batch.target);
  const fresh = batch.lines;
  state.continued = null;
  const mode = hist.merge(c, fresh);
  if (c.key !== state.current) {
    if (mode === "after" && fresh.length) {
      c.unread += fresh.length;
      renderRooms();
    }
    return;
  }
  const log = $("log");
  const fromBottom = log.scrollHeight - log.scrollTop;
  renderMessages();
  if (mode === "before") log.scrollTop = log.scrollHeight - fromBottom;
  else log.scrollTop = log.scrollHeight;
  if (mode !== "after" && !c.exhausted && log.scrollHeight <= log.clientHeight) loadOlder();
}

function loadOlder() {
  hist.older(state.convs.get(state.current));
}

function system(text, where) {
  const c = where ? conv(where) : state.convs.get(state.current);
  const msg = { msgid: null, ts: Date.now(), nick: "", text: stripFormatting(text), kind: "system", mine: false };
  if (!c) {
    status(text);
    return;
  }
  c.messages.push(msg);
  if (c.key === state.current) append(msg);
}

// --- rendering ---------------------------------------------------------------------------

function nearBottom() {
  const log = $("log");
  return log.scrollHeight - log.scrollTop - log.clientHeight < 60;
}

// Add a message of the current conversation to the log. An event redraws the run
// of events it ends (folded from FOLD_AT on), keeping a folded run open if it was.
function append(m) {
  const stick = nearBottom();
  const list = $("messages");
  let node;
  if (m.kind === "event") {
    const c = state.convs.get(state.current);
    let start = c.messages.length - 1;
    while (start > 0 && c.messages[start - 1].kind === "event") start -= 1;
    let open = false;
    for (let last = list.lastElementChild; last && /\bevents?\b/.test(last.className); last = list.lastElementChild) {
      open = open || Boolean(last.querySelector("details[open]"));
      last.remove();
    }
    list.append(...eventNodes(c.messages.slice(start), open));
  } else {
    node = messageNode(m);
    list.append(node);
  }
  if (stick) $("log").scrollTop = $("log").scrollHeight;
  return node;
}

function renderMessages() {
  const c = state.convs.get(state.current);
  $("messages").replaceChildren(...(c ? logNodes(c.messages) : []));
}

function renderRooms() {
  const items = [...state.convs.values()].map((c) => {
    const li = el("li", c.key === state.current ? "current" : "");
    const button = el("button", "room", c.name);
    button.type = "button";
    button.addEventListener("click", () => {
      select(c.key);
      document.body.classList.remove("show-rooms");
    });
    if (c.unread) button.append(el("span", "unread", String(c.unread)));
    li.append(button);
    return li;
  });
  $("room-list").replaceChildren(...items);
}

// Greyed, with a note, while we are not in the room: the list may be out of
// date until the server sends it again on rejoin.
function renderMembers() {
  const c = state.convs.get(state.current);
  const stale = Boolean(c && c.stale);
  $("members").classList.toggle("stale", stale);
  $("member-note").textContent = stale ? "offline: last known members" : "";
  $("member-count").textContent = c && c.room ? String(c.members.size) : "";
  $("member-list").replaceChildren(...memberNodes(c ? [...c.members.values()] : []));
}

function renderTopic() {
  const c = state.convs.get(state.current);
  showTopic($("topic"), c && c.topic);
}

function select(key) {
  state.current = key;
  const c = key ? state.convs.get(key) : null;
  if (c) c.unread = 0;
  $("title").textContent = c ? c.name : "";
  $("input").placeholder = c ? `Message ${c.name}` : "/join #room";
  alerts.setTitle(c ? `${c.name} · chinwag` : "chinwag");
  renderRooms();
  renderTopic();
  renderMessages();
  renderMembers();
  $("log").scrollTop = $("log").scrollHeight;
}

// --- input -------------------------------------------------------------------------------

function submit(event) {
  event.preventDefault();
  const input = $("input");
  const line = input.value;
  if (!line.trim()) return;
  if (!state.registered) {
    status("not connected yet; your line is kept", true);
    return;
  }
  const c = state.convs.get(state.current);
  const result = parseInput(line, c ? c.name : null);
  input.value = "";
  if (result.error) return system(result.error);
  if (result.help) return HELP.forEach((h) => system(h));
  if (result.join) state.joining = casefold(result.join);
  if (result.say) {
    const { target, text, action } = result.say;
    if (!isRoom(target)) {
      conv(target);
      select(casefold(target));
    }
    for (const piece of splitUtf8(text, MAX_TEXT)) {
      send(formatLine("PRIVMSG", target, action ? `\x01ACTION ${piece}\x01` : piece));
      if (!state.caps.has("echo-message")) {
        conv(target).messages.push({ msgid: null, ts: Date.now(), nick: state.me, text: piece,
          kind: action ? "action" : "msg", mine: true });
        if (casefold(target) === state.current) renderMessages();
      }
    }
    return;
  }
  if (result.showTopic) state.topicAsked.add(casefold(result.showTopic));
  for (const l of result.lines || []) send(l);
}

// --- login ------------------------------------------------------------------------------

function showApp() {
  state.shown = true;
  login.hide();
  const out = $("logout");
  out.hidden = !state.account;
  out.title = state.account ? `log out of account ${state.account}` : "";
}

async function submitLogin({ nick, password, create }) {
  state.backoff = 1000;
  if (!password) {
    state.account = null;
    state.wanted = nick;
    connect();
    return;
  }
  let answer;
  try {
    answer = await session("POST", { name: nick, password, create });
  } catch {
    login.error("cannot reach the server; try again in a moment");
    return;
  }
  if (!answer.ok) {
    login.error(answer.data.error || `the server answered ${answer.status}`, $("password"));
    return;
  }
  login.accepted();
  state.account = answer.data.account;
  state.wanted = answer.data.account;
  connect();
}

async function logout() {
  try {
    await session("DELETE");
  } catch {
    // unreachable: the cookie lives on until it expires, but this page forgets it
  }
  // A fresh page: nothing of the account's (its private conversations) stays on screen.
  const ws = state.ws;
  state.ws = null;
  if (ws) ws.close(1000);
  location.reload();
}

function backToLogin(error) {
  const ws = state.ws;
  state.ws = null;
  clearTimeout(state.timer);
  if (ws) ws.close(1000);
  offline();
  $("logout").hidden = true;
  state.shown = false;
  state.restarting = false;
  login.show(state.wanted, error);
}

const hist = new History(state, send);
const alerts = new Alerts($("bell"), (key) => {
  if (state.convs.has(key)) select(key);
});
const login = new LoginForm((form) => {
  alerts.ask(); // a user gesture: the one moment a browser lets a page ask
  submitLogin(form);
});
$("logout").addEventListener("click", logout);
// Logged in before (the session cookie)? Then straight in, as that account.
session("GET").then(({ data }) => {
  if (data.account && !state.ws && !state.shown) {
    state.account = data.account;
    state.wanted = data.account;
    login.busy();
    connect();
  }
}, () => {});
$("send").addEventListener("submit", submit);
$("log").addEventListener("scroll", () => {
  if ($("log").scrollTop < 40) loadOlder();
});
$("toggle-rooms").addEventListener("click", () => document.body.classList.toggle("show-rooms"));
$("toggle-members").addEventListener("click", () => document.body.classList.toggle("show-members"));
