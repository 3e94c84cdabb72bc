// DOM builders for the message log: one line per message, and runs of membership
// events (joins, parts, quits, kicks, nick changes) as small grey lines, folded
// into one expandable "5 joined, 2 left" line from FOLD_AT in a row.
// Elements and textContent only: nothing a user sent is parsed as HTML.

import { casefold, linkify, nickColour, summarize } from "./irc.js";

export const FOLD_AT = 3;

export const el = (tag, cls, text) => {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
};

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

function timeNode(ts) {
  const when = new Date(ts);
  const time = el("time", "time", timeFormat.format(when));
  time.dateTime = when.toISOString();
  time.title = dateFormat.format(when);
  return time;
}

export function coloured(node, nick) {
  nickColour(nick).then((colour) => {
    node.style.color = colour;
  });
  return node;
}

// Text with its http(s) addresses as links.
export function textNode(text, cls = "text") {
  const body = el("span", cls);
  for (const piece of linkify(text)) {
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
  return body;
}

// m: {msgid, ts, nick, text, kind: msg|action|notice|system|event, mine, mention}
export function messageNode(m) {
  const kind = m.kind === "event" ? "system event" : m.kind;
  const li = el("li", `msg ${kind}${m.mine ? " mine" : ""}${m.mention ? " mention" : ""}`);
  if (m.msgid) li.dataset.msgid = m.msgid;
  li.append(timeNode(m.ts));
  if (m.nick && m.kind !== "event") {
    li.append(coloured(el("span", "nick", m.kind === "action" ? `* ${m.nick}` : m.nick), m.nick));
  }
  li.append(textNode(m.text));
  return li;
}

// A run of consecutive events: each on its own line, or one folded line.
export function eventNodes(run, open = false) {
  if (run.length < FOLD_AT) return run.map(messageNode);
  const li = el("li", "msg system events");
  const details = el("details");
  details.open = open;
  const summary = el("summary");
  summary.append(timeNode(run[0].ts), el("span", "text", summarize(run)));
  const list = el("ol");
  list.append(...run.map(messageNode));
  details.append(summary, list);
  li.append(details);
  return [li];
}

// The nodes for a whole conversation.
export function logNodes(messages) {
  const out = [];
  for (let i = 0; i < messages.length;) {
    let j = i;
    while (j < messages.length && messages[j].kind === "event") j++;
    if (j > i) {
      out.push(...eventNodes(messages.slice(i, j)));
      i = j;
    } else {
      out.push(messageNode(messages[i]));
      i += 1;
    }
  }
  return out;
}

// The member list: operators, then voiced, then the others, by name.
export function memberNodes(members) {
  const order = (p) => (p.includes("@") ? 0 : p.includes("+") ? 1 : 2);
  const sorted = [...members].sort((a, b) => order(a.prefix) - order(b.prefix)
    || casefold(a.nick).localeCompare(casefold(b.nick)));
  return sorted.map((m) => {
    const li = el("li", "member");
    if (m.prefix) li.append(el("span", "prefix", m.prefix[0]));
    li.append(coloured(el("span", "nick", m.nick), m.nick));
    return li;
  });
}

const topicDate = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

// topic: {text, by, at} or null (hidden); who set it and when are in the tooltip.
export function showTopic(node, topic) {
  node.replaceChildren(topic ? textNode(topic.text, "") : "");
  node.hidden = !topic;
  node.title = topic ? [topic.text, topic.by && `set by ${topic.by}`,
    topic.at && topicDate.format(new Date(topic.at))].filter(Boolean).join("\n") : "";
}
