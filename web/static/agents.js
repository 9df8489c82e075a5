// The status page's operator-state table: refreshed from /api/v1/agents
// every few seconds (states change with every call).
(function () {
  "use strict";
  var table = document.getElementById("agent-states");
  if (!table) return;
  var names = JSON.parse(table.dataset.names);
  var noAnswer = table.dataset.noAnswer;
  function refresh() {
    fetch("/api/v1/agents", {credentials: "same-origin"}).then(function (r) {
      return r.ok ? r.json() : null;
    }).then(function (rows) {
      if (!rows) return;
      rows.forEach(function (a) {
        var tr = table.querySelector('tr[data-extension="' + a.extension + '"]');
        if (!tr) return;
        var state = tr.querySelector(".state");
        state.textContent = names[a.state] || a.state;
        state.className = "state " + (a.state === "paused" || a.state === "logged_out" ? "bad" : "ok");
        tr.querySelector(".reason").textContent = a.reason === "no answer" ? noAnswer : (a.reason || "");
        tr.querySelector(".since").textContent = (a.since || "").slice(0, 19).replace("T", " ");
      });
    }).catch(function () {});
  }
  setInterval(refresh, 3000);
})();
