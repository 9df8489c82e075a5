// A recording's page: saving a score replaces only the scoring card, so the
// player beside it keeps playing while the supervisor scores.
(function () {
  "use strict";
  function bind() {
    var form = document.getElementById("score-form");
    if (form) form.addEventListener("submit", submit);
  }
  function submit(event) {
    event.preventDefault();
    var form = event.target;
    var button = document.getElementById("save-score");
    if (button) button.disabled = true;
    fetch(form.action, {method: "POST", body: new FormData(form), credentials: "same-origin"})
      .then(function (resp) { return resp.text(); })
      .then(function (html) {
        var page = new DOMParser().parseFromString(html, "text/html");
        var card = page.getElementById("scoring");
        if (!card) { form.submit(); return; }     // not the recording's page: let the browser show it
        document.getElementById("scoring").replaceWith(document.importNode(card, true));
        var main = document.querySelector("main");
        main.querySelectorAll(".flash").forEach(function (el) { el.remove(); });
        page.querySelectorAll("main .flash").forEach(function (el) {
          main.insertBefore(document.importNode(el, true), main.firstChild);
        });
        bind();
      })
      .catch(function () { form.submit(); });
  }
  bind();
})();
