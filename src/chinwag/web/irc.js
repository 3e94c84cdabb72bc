// Pure helpers for the web client: IRC line parsing and formatting, casefolding,
// nick colours (the terminal client's, see chinwag/client/render.py), links.
// No DOM and no sockets here, so the browser tests can call each one directly.

// The terminal client's palette, in the same order: a nick gets the same colour
// in both clients (SHA-256 of the casefolded nick, see casefold, first 4 bytes
// big-endian, modulo 12).
export const PALETTE = [
  "#d13b3b", "#c25e00", "#9a7d00", "#4f8a10", "#008a5e", "#00849a",
  "#2f72d6", "#6a5fd8", "#9350c9", "#c0399a", "#d0436a", "#7d7f2a",
];

const FOLD = { "[": "{", "]": "}", "\\": "|", "~": "^" };

export function casefold(name) {
  // The server's fold (core/names.py, CASEMAPPING=rfc8265): ASCII as rfc1459;
  // other names PRECIS-style: fullwidth/halfwidth forms mapped, lowercased, NFC,
  // with rfc1459's []\~ = {}|^ kept. "ВАСЯ" and "вася" are one name.
  if (/^[\x00-\x7f]*$/.test(name)) {
    return name.replace(/[A-Z[\]\\~]/g, (c) => FOLD[c] || String.fromCharCode(c.charCodeAt(0) + 32));
  }
  const narrow = name.replace(/[\uff01-\uffef]/g, (c) => {
    const plain = c.normalize("NFKC");
    return plain.length === 1 ? plain : c;
  });
  return narrow.toLowerCase().normalize("NFC").replace(/[[\]\\~]/g, (c) => FOLD[c]);
}

// SHA-256 in plain JavaScript: crypto.subtle exists only in secure contexts
// (https, or http://localhost), and a LAN server is usually plain http.
const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

export function sha256(bytes) {
  const n = bytes.length;
  const padded = new Uint8Array(((n + 9 + 63) >> 6) << 6);
  padded.set(bytes);
  padded[n] = 0x80;
  const view = new DataView(padded.buffer);
  view.setUint32(padded.length - 8, Math.floor(n / 0x20000000));
  view.setUint32(padded.length - 4, (n << 3) >>> 0);
  const h = new Uint32Array([
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
  ]);
  const w = new Uint32Array(64);
  const rotr = (x, r) => (x >>> r) | (x << (32 - r));
  for (let off = 0; off < padded.length; off += 64) {
    for (let i = 0; i < 16; i++) w[i] = view.getUint32(off + 4 * i);
    for (let i = 16; i < 64; i++) {
      const a = w[i - 15], b = w[i - 2];
      const s0 = rotr(a, 7) ^ rotr(a, 18) ^ (a >>> 3);
      const s1 = rotr(b, 17) ^ rotr(b, 19) ^ (b >>> 10);
      w[i] = (w[i - 16] + s0 + w[i - 7] + s1) >>> 0;
    }
    let [a, b, c, d, e, f, g, hh] = h;
    for (let i = 0; i < 64; i++) {
      const t1 = (hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i]) >>> 0;
      const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) >>> 0;
      hh = g; g = f; f = e; e = (d + t1) >>> 0; d = c; c = b; b = a; a = (t1 + t2) >>> 0;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
  }
  const out = new Uint8Array(32);
  const ov = new DataView(out.buffer);
  h.forEach((x, i) => ov.setUint32(4 * i, x));
  return out;
}

function paletteColour(digest) {
  const first = new DataView(digest.buffer, digest.byteOffset, 4).getUint32(0);
  return PALETTE[first % PALETTE.length];
}

const colours = new Map();

// The colour of a nick: Web Crypto when the page is a secure context, else the
// JavaScript digest above; both give the same bytes.
export async function nickColour(nick) {
  const key = casefold(nick);
  let colour = colours.get(key);
  if (colour === undefined) {
    const data = new TextEncoder().encode(key);
    const digest = globalThis.crypto && crypto.subtle
      ? new Uint8Array(await crypto.subtle.digest("SHA-256", data))
      : sha256(data);
    colour = paletteColour(digest);
    colours.set(key, colour);
  }
  return colour;
}

export function nickColourSync(nick) {
  return paletteColour(sha256(new TextEncoder().encode(casefold(nick))));
}

// --- IRC lines -----------------------------------------------------------------

const TAG_ESCAPES = { ":": ";", s: " ", "\\": "\\", r: "\r", n: "\n" };

export function parseLine(line) {
  const msg = { tags: {}, source: "", command: "", params: [] };
  let rest = line;
  if (rest.startsWith("@")) {
    const sp = rest.indexOf(" ");
    for (const tag of rest.slice(1, sp < 0 ? undefined : sp).split(";")) {
      if (!tag) continue;
      const eq = tag.indexOf("=");
      const key = eq < 0 ? tag : tag.slice(0, eq);
      const value = eq < 0 ? "" : tag.slice(eq + 1).replace(/\\(.?)/g, (_, c) => TAG_ESCAPES[c] ?? c);
      msg.tags[key] = value;
    }
    rest = sp < 0 ? "" : rest.slice(sp + 1).replace(/^ +/, "");
  }
  if (rest.startsWith(":")) {
    const sp = rest.indexOf(" ");
    msg.source = rest.slice(1, sp < 0 ? undefined : sp);
    rest = sp < 0 ? "" : rest.slice(sp + 1).replace(/^ +/, "");
  }
  while (rest) {
    if (rest.startsWith(":")) {
      msg.params.push(rest.slice(1));
      break;
    }
    const sp = rest.indexOf(" ");
    const word = sp < 0 ? rest : rest.slice(0, sp);
    if (!msg.command) msg.command = word.toUpperCase();
    else msg.params.push(word);
    rest = sp < 0 ? "" : rest.slice(sp + 1).replace(/^ +/, "");
  }
  return msg;
}

// One IRC line from a command and its parameters; the last one is sent as a
// trailing parameter when it needs to be. Line breaks never reach the wire.
export function formatLine(command, ...params) {
  const clean = params.map((p) => String(p).replace(/[\r\n\0]/g, " "));
  const last = clean.length ? clean[clean.length - 1] : null;
  const head = [command, ...clean.slice(0, -1)];
  if (last === null) return command;
  const trailing = last === "" || last.includes(" ") || last.startsWith(":");
  return [...head, trailing ? ":" + last : last].join(" ");
}

export function nickOf(source) {
  const bang = source.indexOf("!");
  return bang < 0 ? source : source.slice(0, bang);
}

export function isRoom(name) {
  return /^[#&]/.test(name);
}

// IRC formatting (bold, colours...) and other control characters are dropped.
export function stripFormatting(text) {
  return text.replace(/\x03(\d{1,2}(,\d{1,2})?)?|\x04[0-9a-fA-F]{6}(,[0-9a-fA-F]{6})?|[\x00-\x1f\x7f]/g, "");
}

// Text -> [{text}] and [{text, href}] pieces; only http(s) addresses become links.
export function linkify(text) {
  const out = [];
  const re = /\bhttps?:\/\/[^\s<>"']+/gi;
  let last = 0;
  for (const m of text.matchAll(re)) {
    let url = m[0];
    const trail = url.match(/[.,;:!?)\]}]+$/);
    if (trail && !(trail[0].startsWith(")") && url.includes("("))) url = url.slice(0, url.length - trail[0].length);
    if (m.index > last) out.push({ text: text.slice(last, m.index) });
    out.push({ text: url, href: url });
    last = m.index + url.length;
  }
  if (last < text.length) out.push({ text: text.slice(last) });
  return out;
}

// Text -> pieces of at most `max` bytes of UTF-8, never splitting a character.
export function splitUtf8(text, max) {
  const out = [];
  const enc = new TextEncoder();
  let piece = "";
  for (const ch of text) {
    if (enc.encode(piece + ch).length > max) {
      out.push(piece);
      piece = "";
    }
    piece += ch;
  }
  if (piece) out.push(piece);
  return out;
}

// Input line -> { lines: [IRC lines], local: {...} } or { error }.
// `target` is the current room or conversation.
export function parseInput(input, target) {
  if (!input.startsWith("/") || input.startsWith("//")) {
    const text = input.startsWith("//") ? input.slice(1) : input;
    if (!target) return { error: "join a room first: /join #room" };
    return { say: { target, text, action: false } };
  }
  const sp = input.indexOf(" ");
  const name = (sp < 0 ? input.slice(1) : input.slice(1, sp)).toLowerCase();
  const arg = sp < 0 ? "" : input.slice(sp + 1).trim();
  switch (name) {
    case "me":
      if (!target) return { error: "join a room first: /join #room" };
      return { say: { target, text: arg, action: true } };
    case "msg": {
      const m = arg.match(/^(\S+)\s+(.+)$/);
      if (!m) return { error: "usage: /msg NICK text" };
      return { say: { target: m[1], text: m[2], action: false } };
    }
    case "join": {
      let room = arg.split(/\s+/)[0];
      if (!room) return { error: "usage: /join #room" };
      if (!isRoom(room)) room = "#" + room;
      return { lines: [formatLine("JOIN", room)], join: room };
    }
    case "nick":
      if (!arg || /\s/.test(arg)) return { error: "usage: /nick NEW" };
      return { lines: [formatLine("NICK", arg)] };
    case "part": {
      const m = arg.match(/^([#&]\S*)?\s*(.*)$/);
      const room = (m && m[1]) || target;
      if (!room || !isRoom(room)) return { error: "usage: /part [#room] [reason]" };
      return { lines: [m && m[2] ? formatLine("PART", room, m[2]) : formatLine("PART", room)], part: room };
    }
    case "topic":
      if (!target || !isRoom(target)) return { error: "usage: /topic text (in a room)" };
      if (!arg) return { lines: [formatLine("TOPIC", target)], showTopic: target };
      return { lines: [formatLine("TOPIC", target, arg)] };
    case "quote":
      return arg ? { lines: [arg] } : { error: "usage: /quote RAW LINE" };
    case "help":
      return { help: true };
    default:
      return { error: `unknown command /${name}; try /help` };
  }
}

export const HELP = [
  "/join #room: join a room",
  "/msg NICK text: a private message",
  "/me waves: an action",
  "/nick NEW: change your name",
  "/part [#room] [reason]: leave a room",
  "/topic [text]: show or set the room's topic",
  "//text: send text that starts with /",
];

// --- mentions, membership events, server goodbyes ------------------------------------

const NICK_CHAR = /[\p{L}\p{M}\p{N}\-[\]\\`_^{|}]/u; // letters, marks and digits of any script

// Whether `text` names `nick` as a word of its own: "bob:", "hi bob!" and "BOB"
// do (casefolded), "bobby" and "x_bob" do not; nor "Васятка" for "Вася".
export function mentions(text, nick) {
  if (!nick) return false;
  const hay = casefold(text);
  const needle = casefold(nick);
  for (let at = hay.indexOf(needle); at >= 0; at = hay.indexOf(needle, at + 1)) {
    const before = at > 0 ? hay[at - 1] : "";
    const after = hay[at + needle.length] || "";
    if (!NICK_CHAR.test(before) && !NICK_CHAR.test(after)) return true;
  }
  return false;
}

const EVENT_WORDS = [["join", "joined"], ["leave", "left"], ["kick", "kicked"], ["nick", "changed name"]];

// A run of membership events -> "5 joined, 2 left" (a part and a quit both leave).
export function summarize(events) {
  const counts = { join: 0, leave: 0, kick: 0, nick: 0 };
  for (const e of events) counts[e.what === "part" || e.what === "quit" ? "leave" : e.what] += 1;
  return EVENT_WORDS.filter(([what]) => counts[what]).map(([what, word]) => `${counts[what]} ${word}`).join(", ");
}

// The reason in "Closing Link: nick (reason)", the ERROR a server sends before it
// closes; any other ERROR text is returned as it is.
export function closingReason(text) {
  const m = text.match(/^Closing Link: \S+ \((.*)\)$/s);
  return m ? m[1] : text;
}
