// chinwag's web client: IRC over WebSocket (text.ircv3.net) to this server's /irc.
// History comes from draft/chathistory: LATEST on join, BEFORE on scroll-up,
// AFTER the last message id after a reconnect; every message id is shown once.
// The DOM is built with textContent and elements only: nothing a user sent is
// ever parsed as HTML.

import {
  HELP, casefold, formatLine, isRoom, linkify, nickColour, nickOf, parseInput, parseLine, stripFormatting,
} from "./irc.js";

const WANTED_CAPS = ["server-time", "message-tags", "echo-message", "batch", "draft/chathistory"];
const PAGE = 50; // messages per CHATHISTORY request
const MAX_TEXT = 400; // bytes of text per PRIVMSG (the server's line limit is 512 with the command)
const BACKOFF_MAX = 30_000;

const $ = (id) => document.getElementById(id);
const el = (tag, cls, text) => {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
};

const state = {
  wanted: "", // the nick asked for
  me: "", // the nick the server gave us
  registered: false,
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
  nickTries: 0,
  continued: null, // {msgid, msg | null}: the previous line, for a long message split in several
};
window.chinwag = state; // for the curious (and the browser tests)

function conv(name) {
  const key = casefold(name);
  let c = state.convs.get(key);
  if (!c) {
    c = { name, key, room: isRoom(name), messages: [], members: new Map(), names: null, unread: 0,
      joined: false, loading: false, exhausted: false };
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
  status("connecting…");
  ws.onopen = () => {
    state.backoff = 1000;
    state.nickTries = 0;
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
    state.registered = false;
    state.batches.clear();
    state.pending.clear();
    for (const c of state.convs.values()) {
      c.joined = false;
      c.loading = false;
    }
    const wait = state.backoff;
    state.backoff = Math.min(state.backoff * 2, BACKOFF_MAX);
    status(`disconnected; reconnecting in ${Math.round(wait / 1000)} s`, true);
    state.timer = setTimeout(connect, wait);
  };
}

function status(text, bad = false) {
  const s = $("status");
  s.textContent = text;
  s.classList.toggle("bad", bad);
}

// --- history requests ------------------------------------------------------------------

function historyOn() {
  return state.caps.has("draft/chathistory");
}

function request(c, mode, ...args) {
  const queue = state.pending.get(c.key) || [];
  queue.push(mode);
  state.pending.set(c.key, queue);
  c.loading = true;
  send(formatLine("CHATHISTORY", mode.toUpperCase(), c.name, ...args));
}

function lastId(c) {
  for (let i = c.messages.length - 1; i >= 0; i--) if (c.messages[i].msgid) return c.messages[i].msgid;
  return null;
}

function firstId(c) {
  for (const m of c.messages) if (m.msgid) return m.msgid;
  return null;
}

// Join or reconnect: what was missed after the last id we have, or the latest page.
function catchUp(c) {
  if (!historyOn()) return;
  const last = lastId(c);
  if (last) request(c, "after", `msgid=${last}`, PAGE);
  else request(c, "latest", "*", PAGE);
}

function loadOlder() {
  const c = state.convs.get(state.current);
  if (!c || c.loading || c.exhausted || !historyOn() || !state.registered) return;
  const first = firstId(c);
  if (first) request(c, "before", `msgid=${first}`, PAGE);
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
    localStorage.setItem("chinwag.nick", state.me);
    status(`connected as ${state.me}`);
    const rooms = [...state.convs.values()].filter((c) => c.room).map((c) => c.name);
    for (const room of rooms.length ? rooms : ["#lobby"]) send(formatLine("JOIN", room));
    for (const c of state.convs.values()) if (!c.room) catchUp(c);
  },
  "433"(m) {
    if (state.registered) return system(`nick ${m.params[1]} is taken`);
    state.nickTries += 1;
    const base = state.wanted.slice(0, 28);
    send(formatLine("NICK", state.nickTries === 1 ? `${base}_` : `${base}_${state.nickTries}`));
  },
  "332"(m) {
    system(`topic: ${m.params[2]}`, m.params[1]);
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
    if (c.key === state.current) renderMembers();
  },
  JOIN(m) {
    const nick = nickOf(m.source);
    const c = conv(m.params[0]);
    if (casefold(nick) === casefold(state.me)) {
      c.joined = true;
      c.exhausted = false;
      if (state.current === null || state.joining === c.key) {
        state.joining = null;
        select(c.key);
      }
      catchUp(c);
    } else {
      c.members.set(casefold(nick), { nick, prefix: "" });
      system(`${nick} joined`, c.name);
      if (c.key === state.current) renderMembers();
    }
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
    gone(c, nick, `${nick} left${m.params[1] ? ` (${m.params[1]})` : ""}`);
  },
  KICK(m) {
    const c = conv(m.params[0]);
    const who = m.params[1];
    if (casefold(who) === casefold(state.me)) {
      c.joined = false;
      return system(`you were kicked by ${nickOf(m.source)}: ${m.params[2] || ""}`, c.name);
    }
    gone(c, who, `${who} was kicked by ${nickOf(m.source)}`);
  },
  QUIT(m) {
    const nick = nickOf(m.source);
    for (const c of state.convs.values()) {
      if (c.members.has(casefold(nick))) gone(c, nick, `${nick} quit${m.params[0] ? ` (${m.params[0]})` : ""}`);
    }
  },
  NICK(m) {
    const old = nickOf(m.source);
    const now = m.params[0];
    if (casefold(old) === casefold(state.me)) {
      state.me = now;
      localStorage.setItem("chinwag.nick", now);
      status(`connected as ${now}`);
    }
    for (const c of state.convs.values()) {
      const member = c.members.get(casefold(old));
      if (!member) continue;
      c.members.delete(casefold(old));
      c.members.set(casefold(now), { nick: now, prefix: member.prefix });
      system(`${old} is now known as ${now}`, c.name);
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
      if (c) done(c);
    }
    system(m.params[m.params.length - 1]);
  },
  ERROR(m) {
    system(`server: ${m.params[0] || "closing"}`);
  },
};

function handle(m) {
  const handler = HANDLERS[m.command];
  if (handler) handler(m);
  else if (/^[45]\d\d$/.test(m.command) && m.command !== "422") system(m.params.slice(1).join(" "));
}

function gone(c, nick, text) {
  c.members.delete(casefold(nick));
  system(text, c.name);
  if (c.key === state.current) renderMembers();
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
  const ts = m.tags.time ? Date.parse(m.tags.time) : Date.now();
  const msg = { msgid, ts, nick: from, text: stripFormatting(text), kind, mine };
  // A long message comes as several lines with one id: later pieces extend the first.
  const prev = state.continued;
  if (msgid && prev && prev.msgid === msgid) {
    if (prev.msg) {
      prev.msg.text += msg.text;
      if (prev.node) prev.node.replaceWith((prev.node = messageNode(prev.msg)));
    }
    return;
  }
  const batch = state.batches.get(m.tags.batch || "");
  if (msgid && state.seen.has(msgid)) {
    state.continued = { msgid, msg: null };
    return;
  }
  if (msgid) state.seen.add(msgid);
  state.continued = { msgid, msg, node: null };
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
}

function done(c) {
  const queue = state.pending.get(c.key) || [];
  const mode = queue.shift();
  c.loading = queue.length > 0;
  return mode;
}

// The end of a chathistory batch: merge it, oldest first, into its conversation.
function history(batch) {
  const c = conv(batch.target);
  const mode = done(c) || "latest";
  const fresh = batch.lines;
  state.continued = null;
  if (mode === "after") {
    c.messages = c.messages.concat(fresh);
    if (fresh.length >= PAGE) request(c, "after", `msgid=${fresh[fresh.length - 1].msgid}`, PAGE);
  } else {
    c.messages = fresh.concat(c.messages);
    if (fresh.length < PAGE) c.exhausted = true;
  }
  c.messages.sort((a, b) => a.ts - b.ts); // stable: equal times keep their order
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

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

function messageNode(m) {
  const li = el("li", `msg ${m.kind}${m.mine ? " mine" : ""}`);
  if (m.msgid) li.dataset.msgid = m.msgid;
  const when = new Date(m.ts);
  const time = el("time", "time", timeFormat.format(when));
  time.dateTime = when.toISOString();
  time.title = dateFormat.format(when);
  li.append(time);
  if (m.nick) {
    const nick = el("span", "nick", m.kind === "action" ? `* ${m.nick}` : m.nick);
    nickColour(m.nick).then((colour) => {
      nick.style.color = colour;
    });
    li.append(nick);
  }
  const body = el("span", "text");
  for (const piece of linkify(m.text)) {
    if (piece.href) {
      const a = el("a", "", piece.text);
      a.href = piece.href;
      a.target = "_blank";
      a.rel = "noopener noreferrer nofollow";
      body.append(a);
    } else {
      body.append(document.createTextNode(piece.text));
    }
  }
  li.append(body);
  return li;
}

function nearBottom() {
  const log = $("log");
  return log.scrollHeight - log.scrollTop - log.clientHeight < 60;
}

function append(m) {
  const stick = nearBottom();
  const node = messageNode(m);
  $("messages").append(node);
  if (stick) $("log").scrollTop = $("log").scrollHeight;
  return node;
}

function renderMessages() {
  const c = state.convs.get(state.current);
  $("messages").replaceChildren(...(c ? c.messages.map(messageNode) : []));
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

function renderMembers() {
  const c = state.convs.get(state.current);
  const order = (p) => (p.includes("@") ? 0 : p.includes("+") ? 1 : 2);
  const members = c ? [...c.members.values()] : [];
  members.sort((a, b) => order(a.prefix) - order(b.prefix) || casefold(a.nick).localeCompare(casefold(b.nick)));
  $("member-count").textContent = c && c.room ? String(members.length) : "";
  $("member-list").replaceChildren(...members.map((m) => {
    const li = el("li", "member");
    if (m.prefix) li.append(el("span", "prefix", m.prefix[0]));
    const nick = el("span", "nick", m.nick);
    nickColour(m.nick).then((colour) => {
      nick.style.color = colour;
    });
    li.append(nick);
    return li;
  }));
}

function select(key) {
  state.current = key;
  const c = key ? state.convs.get(key) : null;
  if (c) c.unread = 0;
  $("title").textContent = c ? c.name : "";
  $("input").placeholder = c ? `Message ${c.name}` : "/join #room";
  document.title = c ? `${c.name} · chinwag` : "chinwag";
  renderRooms();
  renderMessages();
  renderMembers();
  $("log").scrollTop = $("log").scrollHeight;
}

// --- input -------------------------------------------------------------------------------

function pieces(text) {
  const out = [];
  const enc = new TextEncoder();
  let piece = "";
  for (const ch of text) {
    if (enc.encode(piece + ch).length > MAX_TEXT) {
      out.push(piece);
      piece = "";
    }
    piece += ch;
  }
  if (piece) out.push(piece);
  return out;
}

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
    for (const piece of pieces(text)) {
      send(formatLine("PRIVMSG", target, action ? `\x01ACTION ${piece}\x01` : piece));
      if (!state.caps.has("echo-message")) {
        conv(target).messages.push({ msgid: null, ts: Date.now(), nick: state.me, text: piece,
          kind: action ? "action" : "msg", mine: true });
        if (casefold(target) === state.current) renderMessages();
      }
    }
    return;
  }
  for (const l of result.lines || []) send(l);
}

function start(event) {
  event.preventDefault();
  const nick = $("nick").value.trim();
  if (!/^[^\s,*?!@#&:$][^\s,*?!@]*$/.test(nick)) {
    $("login-error").textContent = "a name is one word, without , * ? ! @ and not starting with # & : $";
    return;
  }
  state.wanted = nick;
  $("login").hidden = true;
  $("app").hidden = false;
  $("input").focus();
  connect();
}

$("nick").value = localStorage.getItem("chinwag.nick") || "";
$("login-form").addEventListener("submit", start);
$("send").addEventListener("submit", submit);
$("log").addEventListener("scroll", () => {
  if ($("log").scrollTop < 40) loadOlder();
});
$("toggle-rooms").addEventListener("click", () => document.body.classList.toggle("show-rooms"));
$("toggle-members").addEventListener("click", () => document.body.classList.toggle("show-members"));
