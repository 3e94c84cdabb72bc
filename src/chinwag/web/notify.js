// Alerts: a mention of your name or a private message that arrives while the tab
// is hidden adds one to the count in the page title ("(3) #lobby · chinwag") and,
// if the browser allows it and the bell is on, shows a desktop notification.
// The count is cleared when the tab is visible again.
//
// Permission is asked only on a user gesture (logging in, or clicking the bell),
// as browsers require; the bell's state is kept in localStorage.

const PREF = "chinwag.notify";

export class Alerts {
  constructor(bell, onOpen) {
    this.bell = bell;
    this.onOpen = onOpen; // (key) => void: a notification was clicked
    this.count = 0;
    this.base = "chinwag";
    this.bell.hidden = !this.supported();
    this.bell.addEventListener("click", () => this.toggle());
    document.addEventListener("visibilitychange", () => {
      if (!this.hidden()) this.clear();
    });
    this.render();
  }

  supported() {
    return typeof globalThis.Notification === "function";
  }

  hidden() {
    return document.visibilityState === "hidden";
  }

  wanted() {
    return localStorage.getItem(PREF) !== "off";
  }

  on() {
    return this.supported() && this.wanted() && Notification.permission === "granted";
  }

  // On a user gesture (the login form): ask once, unless the user turned it off.
  async ask() {
    if (this.supported() && this.wanted() && Notification.permission === "default") {
      await Notification.requestPermission();
    }
    this.render();
  }

  async toggle() {
    if (this.on()) {
      localStorage.setItem(PREF, "off");
    } else {
      localStorage.removeItem(PREF);
      if (Notification.permission === "default") await Notification.requestPermission();
    }
    this.render();
  }

  render() {
    const on = this.on();
    const blocked = this.supported() && Notification.permission === "denied";
    this.bell.setAttribute("aria-pressed", String(on));
    this.bell.title = on ? "Notifications on (click to turn off)"
      : blocked ? "Notifications are blocked in this browser's site settings"
        : "Notifications off (click to turn on)";
    this.bell.classList.toggle("blocked", blocked);
  }

  // The title without the count, e.g. "#lobby · chinwag".
  setTitle(base) {
    this.base = base;
    this.renderTitle();
  }

  renderTitle() {
    document.title = this.count ? `(${this.count}) ${this.base}` : this.base;
  }

  clear() {
    this.count = 0;
    this.renderTitle();
  }

  // A mention or private message; `where` is the conversation's name, `key` its id.
  alert(key, where, nick, text) {
    if (!this.hidden()) return;
    this.count += 1;
    this.renderTitle();
    if (!this.on()) return;
    const title = where === nick ? nick : `${nick} in ${where}`;
    const note = new Notification(title, { body: text, tag: `chinwag:${key}` });
    note.onclick = () => {
      window.focus();
      this.onOpen(key);
      note.close();
    };
  }
}
