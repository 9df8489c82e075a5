// The Lines page's test dial: while it runs, its steps are fetched from
// /api/v1/test-dials/<id> twice a second and the table redrawn (the server
// builds the steps and their text; a reload shows them again).
(function () {
  "use strict";
  var box = document.getElementById("test-dial-result");
  if (!box || box.dataset.running !== "1") return;
  var body = box.querySelector("#test-dial-steps tbody");
  var outcome = document.getElementById("test-dial-outcome");
  var url = "/api/v1/test-dials/" + encodeURIComponent(box.dataset.id);
  var timer = null;

  function cell(text) {
    var td = document.createElement("td");
    td.textContent = text;
    return td;
  }

  function draw(dial) {
    var rows = document.createDocumentFragment();
    dial.steps.forEach(function (step) {
      var tr = document.createElement("tr");
      tr.className = "test-dial-step";
      tr.dataset.kind = step.kind;
      tr.appendChild(cell("+" + step.t.toFixed(2) + " s"));
      tr.appendChild(cell(step.text));
      rows.appendChild(tr);
    });
    body.replaceChildren(rows);
    outcome.textContent = dial.result;
    outcome.dataset.outcome = dial.outcome;
    box.dataset.running = dial.running ? "1" : "0";
    if (dial.error) {
      var p = document.getElementById("test-dial-error") || document.createElement("p");
      p.id = "test-dial-error";
      p.className = "error";
      p.textContent = dial.error;
      box.appendChild(p);
    }
  }

  function poll() {
    fetch(url, {credentials: "same-origin"}).then(function (r) {
      return r.ok ? r.json() : null;
    }).then(function (dial) {
      if (!dial) return;
      draw(dial);
      if (!dial.running) clearInterval(timer);
    }).catch(function () {});
  }

  timer = setInterval(poll, 500);
  poll();
})();
