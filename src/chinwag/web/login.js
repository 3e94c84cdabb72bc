// The login form. It stays on screen until the server accepts the name (001);
// a taken or invalid name brings it back with the server's reason under the
// field, and the page never picks another name for the user.

const NAME = /^[^\s,*?!@#&:$][^\s,*?!@]*$/; // the server has the last word (432)

const $ = (id) => document.getElementById(id);

export class LoginForm {
  // onName(nick) is called on a user gesture with a name worth trying.
  constructor(onName) {
    this.nick = $("nick");
    this.nick.value = localStorage.getItem("chinwag.nick") || "";
    $("login-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const nick = this.nick.value.trim();
      if (!NAME.test(nick)) {
        this.error("a name is one word, without , * ? ! @ and not starting with # & : $");
        return;
      }
      this.error("");
      $("login-form").classList.add("busy");
      $("login-button").disabled = true;
      onName(nick);
    });
  }

  // The reason next to the field ("" clears it); the form can be sent again.
  error(text) {
    $("login-error").textContent = text;
    this.nick.setAttribute("aria-invalid", String(Boolean(text)));
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
  show(nick, error) {
    $("app").hidden = true;
    $("login").hidden = false;
    this.nick.value = nick;
    this.error(error);
    this.nick.focus();
    this.nick.select();
  }
}
