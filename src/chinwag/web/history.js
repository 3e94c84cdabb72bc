// draft/chathistory bookkeeping: LATEST on join, BEFORE on scroll-up, AFTER the
// last message id after a reconnect. Requests are queued per conversation in the
// order sent, so each batch that comes back is merged the way it was asked for.
// No DOM here: the page redraws after `merge`.

import { formatLine } from "./irc.js";

export const PAGE = 50; // messages per CHATHISTORY request

function lastId(c) {
  for (let i = c.messages.length - 1; i >= 0; i--) if (c.messages[i].msgid) return c.messages[i].msgid;
  return null;
}

function firstId(c) {
  for (const m of c.messages) if (m.msgid) return m.msgid;
  return null;
}

export class History {
  // state: {caps, pending, registered}; send(line) writes one IRC line.
  constructor(state, send) {
    this.state = state;
    this.send = send;
  }

  on() {
    return this.state.caps.has("draft/chathistory");
  }

  request(c, mode, ...args) {
    const queue = this.state.pending.get(c.key) || [];
    queue.push(mode);
    this.state.pending.set(c.key, queue);
    c.loading = true;
    this.send(formatLine("CHATHISTORY", mode.toUpperCase(), c.name, ...args));
  }

  // Join or reconnect: what was missed after the last id we have, or the latest page.
  catchUp(c) {
    if (!this.on()) return;
    const last = lastId(c);
    if (last) this.request(c, "after", `msgid=${last}`, PAGE);
    else this.request(c, "latest", "*", PAGE);
  }

  older(c) {
    if (!c || c.loading || c.exhausted || !this.on() || !this.state.registered) return;
    const first = firstId(c);
    if (first) this.request(c, "before", `msgid=${first}`, PAGE);
  }

  // A request of `c` was answered (or failed): its mode.
  done(c) {
    const queue = this.state.pending.get(c.key) || [];
    const mode = queue.shift();
    c.loading = queue.length > 0;
    return mode;
  }

  // The end of a chathistory batch: merge it, oldest first, into `c`; returns
  // the mode it answered. A full AFTER page asks for the next one.
  merge(c, fresh) {
    const mode = this.done(c) || "latest";
    // A live message can arrive before the batch that also holds it (LATEST asked
    // on join, the message stored meanwhile): keep one of each msgid.
    const have = new Set(c.messages.map((m) => m.msgid).filter(Boolean));
    const got = fresh;
    fresh = got.filter((m) => !m.msgid || !have.has(m.msgid));
    if (mode === "after") {
      c.messages = c.messages.concat(fresh);
      if (got.length >= PAGE) this.request(c, "after", `msgid=${got[got.length - 1].msgid}`, PAGE);
    } else {
      c.messages = fresh.concat(c.messages);
      if (got.length < PAGE) c.exhausted = true;
    }
    c.messages.sort((a, b) => a.ts - b.ts); // stable: equal times keep their order
    return mode;
  }
}
