// The login form. It stays on screen until the server accepts the name (001);
// a taken or invalid name brings it back with the server's reason under the
// field, and the page never picks another name for the user.
//
// Three ways in: a name only (a guest, as on telnet), a name and a password
// (log in to that account), or both with "create" ticked (register it). The
// password goes to the server once, in the body of POST /session, and is
// never stored: the page keeps no copy (the field is emptied once it is
// accepted), and what survives a reload is an HttpOnly cookie no script reads.

const NAME = /^[^\s,*?!@#&:$][^\s,*?!@]*$/; // the server has the last word (432)

const $ = (id) => document.getElementById(id);

// GET, POST or DELETE /session: {ok, status, data}; throws if the server is unreachable.
export async function session(method, body) {
  const init = { method, credentials: "same-origin", cache: "no-store" };
  if (body) {
    init.headers = { "Content-Type": "application/json" };
    init.body = JSON.stringify(body);
  }
  const response = await fetch("/session", init);
  let data = {};
  try {
    data = await response.json();
  } catch {
    // (a proxy's error page)
  }
  return { ok: response.ok, status: response.status, data };
}

export class LoginForm {
  // onSubmit({nick, password, create}) is called on a user gesture with a name worth trying.
  constructor(onSubmit) {
    this.nick = $("nick");
    this.password = $("password");
    this.create = $("create");
    this.nick.value = localStorage.getItem("chinwag.nick") || "";
    // As the telnet protocol says: plain http is readable on the way (a page of the
    // machine itself is not on the network).
    const local = ["localhost", "127.0.0.1", "[::1]"].includes(location.hostname);
    $("password-note").hidden = location.protocol === "https:" || local;
    this.create.addEventListener("change", () => {
      this.password.autocomplete = this.create.checked ? "new-password" : "current-password";
    });
    $("login-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const nick = this.nick.value.trim();
      const password = this.password.value;
      const create = this.create.checked;
      if (!NAME.test(nick)) {
        this.error("a name is one word, without , * ? ! @ and not starting with # & : $");
        return;
      }
      if (create && !password) {
        this.error("choose a password for your account", this.password);
        return;
      }
      this.busy();
      onSubmit({ nick, password, create });
    });
  }

  busy() {
    this.error("");
    $("login-form").classList.add("busy");
    $("login-button").disabled = true;
  }

  // The password was accepted: the page forgets it.
  accepted() {
    this.password.value = "";
    this.create.checked = false;
  }

  // The reason next to the field ("" clears it); the form can be sent again.
  error(text, field = this.nick) {
    $("login-error").textContent = text;
    this.nick.setAttribute("aria-invalid", String(Boolean(text) && field === this.nick));
    this.password.setAttribute("aria-invalid", String(Boolean(text) && field === this.password));
    $("login-form").classList.remove("busy");
    $("login-button").disabled = false;
  }

  // In: the chat replaces the form.
  hide() {
    this.error("");
    $("login").hidden = true;
    $("app").hidden = false;
    $("input").focus();
  }

  // Back to the form with `nick` and why it was refused.
  show(nick, error, field = this.nick) {
    $("app").hidden = true;
    $("login").hidden = false;
    this.nick.value = nick;
    this.error(error, field);
    field.focus();
    field.select();
  }
}
