// The operator's desktop: screen pop over server-sent events, the card,
// notes saved as typed, calling a number (the phone rings first), transfer,
// callback orders and state control.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const config = JSON.parse($("desktop-config").textContent);
  const t = JSON.parse($("desktop-strings").textContent);
  const csrf = document.querySelector("input[name=csrf_token]").value;
  const fmt = (text, params) => text.replace(/\{(\w+)\}/g, (m, k) => (k in params ? params[k] : m));
  // For tests and the bench: when each call's card was shown (ms since epoch).
  window.korundPops = [];
  let current = null;        // the session shown
  let noteTimer = null;

  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }

  function show(node, text) {
    node.textContent = text || "";
    node.hidden = !text;
  }

  function when(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    return isNaN(d) ? iso : d.toLocaleString();
  }

  async function send(method, url, body) {
    const r = await fetch(url, {
      method, credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf},
      body: JSON.stringify(body),
    });
    let data = {};
    try { data = await r.json(); } catch (e) { data = {message: r.statusText || String(r.status)}; }
    if (!r.ok) throw new Error(data.message || String(r.status));
    return data;
  }

  function sessionUrl(linkedid, what) {
    return config.sessions + encodeURIComponent(linkedid) + (what ? "/" + what : "");
  }

  // --- the card -------------------------------------------------------------------
  function renderPath(path) {
    const ol = $("ivr-path");
    ol.replaceChildren();
    if (!path.length) { ol.append(el("li", t.path_empty, "hint")); return; }
    for (const s of path) {
      let li;
      if (s.kind === "value") {
        li = el("li");
        li.append(el("span", s.name + " " + t.entered + ": ", "hint"), el("strong", s.value));
        li.className = "value";
      } else if (s.kind === "scenario") {
        li = el("li", t.scenario + " " + s.name);
      } else if (s.kind === "error") {
        li = el("li", t.error + ": " + s.text, "error");
      } else {
        li = el("li", t.node + " " + s.node + (s.type ? " (" + s.type + ")" : ""), "hint");
      }
      ol.append(li);
    }
  }

  function noteLine(n) {
    const p = el("p", null, "note");
    p.append(el("strong", n.author + " (" + (n.extension || "") + "), " + when(n.updated_at) + ": "));
    p.append(el("span", n.text));
    return p;
  }

  function renderNotes(s) {
    const box = $("notes-earlier");
    box.replaceChildren();
    const others = s.notes.filter((n) => config.readonly || n.extension !== config.extension);
    if (!others.length) box.append(el("p", t.no_notes, "hint"));
    for (const n of others) box.append(noteLine(n));
    const mine = s.notes.find((n) => n.extension === config.extension);
    const area = $("note");
    if (area && document.activeElement !== area) area.value = mine ? mine.text : "";
    renderEdits(s.edits);
  }

  function renderEdits(edits) {
    const ul = $("edits");
    ul.replaceChildren();
    for (const e of edits) {
      const d = e.details || {};
      let what = t.edits[e.what] || e.what;
      if (d.changes) what += ": " + Object.entries(d.changes).map(([k, v]) => k + " " + JSON.stringify(v[0] ?? "") + " → " + JSON.stringify(v[1] ?? "")).join(", ");
      if (d.target) what += ": " + d.kind + " → " + d.target;
      if (d.order) what += " #" + d.order;
      ul.append(el("li", when(e.at) + " " + e.author + " — " + what));
    }
  }

  function fillClient(c, ani) {
    $("c-name").value = c ? c.name : "";
    $("c-phones").value = c ? c.phones.join(", ") : (ani || "");
    $("c-company").value = c ? c.company : "";
    $("c-email").value = c ? c.email : "";
    for (const input of document.querySelectorAll("[data-custom]")) {
      input.value = c && c.fields[input.dataset.custom] != null ? c.fields[input.dataset.custom] : "";
    }
    $("card-known").textContent = c ? t.known + " #" + c.id : t.new_caller;
    $("card-vip").hidden = !(c && c.vip);
    renderNumbers(c ? c.phones : (ani ? [ani] : []));
  }

  // Click-to-call: a button for each of the card's numbers (the caller's
  // number while the card is new).
  function renderNumbers(numbers) {
    const box = $("card-numbers");
    if (!box) return;
    box.replaceChildren();
    for (const n of numbers) {
      const b = el("button", fmt(t.call, {number: n}), "call-number");
      b.type = "button";
      b.dataset.number = n;
      b.addEventListener("click", () => callNumber(n, $("card-call-error"), $("card-call-status")));
      box.append(b, " ");
    }
  }

  function renderHistory(rows) {
    const body = $("history").tBodies[0];
    body.replaceChildren();
    if (!rows.length) {
      const tr = el("tr"); const td = el("td", t.no_history, "hint"); td.colSpan = 5; tr.append(td); body.append(tr);
      return;
    }
    for (const h of rows) {
      const tr = el("tr");
      tr.append(el("td", when(h.started_at)), el("td", h.operator || ""), el("td", h.group || ""),
                el("td", h.outcome || ""), el("td", h.notes.map((n) => n.author + ": " + n.text).join(" · ")));
      body.append(tr);
    }
  }

  function render(s, offer) {
    const fresh = !current || current.linkedid !== s.linkedid;
    current = s;
    $("waiting").hidden = true;
    $("call").hidden = false;
    $("call").dataset.linkedid = s.linkedid;
    $("card-ani").textContent = s.ani || "?";
    $("card-group").textContent = s.group || "—";
    $("card-dnis").textContent = s.dnis || "—";
    const state = offer ? offer.state : (s.offers.length ? s.offers[s.offers.length - 1].state : "");
    $("card-state").textContent = t[state] || state;
    $("card-outbound").hidden = !s.outbound;
    $("trail").textContent = s.offers.map((o) => fmt(t.offered, {extension: o.extension, at: when(o.at)}) +
                                           " (" + (t[o.state] || o.state) + ")").join(" → ");
    const cb = s.callback;   // a call the callback dialer placed for an order
    show($("callback-info"), cb ? fmt(t.callback_call, {
      order: cb.order, number: cb.number,
      when: cb.asap ? t.asap : when(cb.slot_from) + (cb.slot_until ? " – " + when(cb.slot_until) : "")}) : "");
    const crm = $("crm-link");
    crm.hidden = !s.crm_url;
    if (s.crm_url) crm.href = s.crm_url;
    if (fresh) {
      fillClient(s.client, s.ani);
      show($("client-error"), "");
      for (const id of ["transfer-error", "transfer-done", "callback-error", "callback-done", "card-call-error",
                        "card-call-status"]) if ($(id)) show($(id), "");
      if ($("note-status")) $("note-status").textContent = "";
    }
    renderPath(s.path);
    renderNotes(s);
    renderHistory(s.history);
  }

  async function load(linkedid) {
    const r = await fetch(sessionUrl(linkedid), {credentials: "same-origin"});
    if (r.ok) render(await r.json());
  }

  // --- the screen pop ------------------------------------------------------------
  function listen() {
    const url = config.events + (config.events.includes("?") ? "&" : "?") + "after=" + config.after;
    const source = new EventSource(url);
    source.addEventListener("offer", (ev) => {
      const data = JSON.parse(ev.data);
      config.after = data.offer.id;
      if (data.session) {
        render(data.session, data.offer);
        window.korundPops.push({linkedid: data.offer.linkedid, offer: data.offer.id, ani: data.offer.ani, at: data.offer.at,
                                shown: Date.now()});
      }
      $("stream-error").hidden = true;
    });
    source.addEventListener("state", (ev) => {
      const data = JSON.parse(ev.data);
      if (current && current.linkedid === data.linkedid) $("card-state").textContent = t[data.state] || data.state;
    });
    source.onerror = () => show($("stream-error"), t.connection_lost);
    source.onopen = () => { $("stream-error").hidden = true; };
  }

  // --- notes, saved as typed -------------------------------------------------------
  function saveNote(linkedid) {
    const status = $("note-status");
    status.textContent = t.saving;
    send("PUT", sessionUrl(linkedid, "note"), {text: $("note").value})
      .then(() => { status.textContent = t.saved; status.dataset.saved = $("note").value; })
      .catch((e) => { status.textContent = fmt(t.not_saved, {error: e.message}); });
  }

  // --- card edits -------------------------------------------------------------
  function clientData() {
    const fields = {};
    for (const input of document.querySelectorAll("[data-custom]")) fields[input.dataset.custom] = input.value;
    const data = {name: $("c-name").value, phones: $("c-phones").value, company: $("c-company").value,
                  email: $("c-email").value, fields};
    if (current && current.client) data.id = current.client.id;
    return data;
  }

  function saveClient() {
    if (!current) return;
    const s = current;
    send("POST", sessionUrl(s.linkedid, "client"), clientData())
      .then((data) => {
        s.client = data.client; s.edits = data.edits;
        renderNumbers(data.client.phones);
        show($("client-error"), "");
        $("client-status").textContent = t.saved;
        $("card-known").textContent = t.known + " #" + data.client.id;
        renderEdits(data.edits);
      })
      .catch((e) => show($("client-error"), e.message));
  }

  // --- attended transfer: the consultation, followed until completed or cancelled ----------
  let consulting = null;     // {linkedid, target, timer}

  function consult(linkedid, target, to) {
    endConsult();
    consulting = {linkedid, target, to, timer: setInterval(consultState, 1000)};
    $("consult-target").textContent = target;
    // an outside number has no desktop to follow: the operator hears it ring and answer
    $("consult-state").textContent = to === "number" ? t.consult_number : t.ringing;
    show($("transfer-done"), "");
    $("consult").hidden = false;
  }

  function endConsult() {
    if (consulting) clearInterval(consulting.timer);
    consulting = null;
    $("consult").hidden = true;
  }

  async function consultState() {
    if (!consulting) return;
    const c = consulting;
    const r = await fetch(sessionUrl(c.linkedid), {credentials: "same-origin"});
    if (!r.ok || consulting !== c) return;
    const s = await r.json();
    const mine = s.offers.filter((o) => o.extension === config.extension).pop();
    if (mine && mine.state !== "answered") { endConsult(); render(s, mine); return; }   // my leg is gone
    const theirs = c.to === "number" ? null : s.offers.filter((o) => o.extension === c.target).pop();
    if (theirs) $("consult-state").textContent = t[theirs.state] || theirs.state;
    if (current && current.linkedid === s.linkedid) render(s, mine);
  }

  // --- calling a number: the operator's phone rings first, then the number is dialled -----------
  function callNumber(number, error, status) {
    show(error, "");
    send("POST", config.call, {number})
      .then((d) => show(status, fmt(t.calling, {phone: d.phone, number: d.number})))
      .catch((e) => { show(status, ""); show(error, e.message); });
  }

  // --- state, transfer, callback ------------------------------------------------------------
  function setState(state, reason) {
    send("POST", config.state, {state, reason})
      .then((s) => {
        $("state").textContent = (t.states[s.state] || s.state) + (s.reason ? " (" + s.reason + ")" : "");
        show($("state-error"), "");
      })
      .catch((e) => show($("state-error"), e.message));
  }

  function wire() {
    if (config.readonly) return;
    $("state-ready").addEventListener("click", () => setState("ready"));
    $("state-pause").addEventListener("click", () => setState("paused", $("pause-reason").value));
    $("state-logout").addEventListener("click", () => setState("logged_out"));
    $("note").addEventListener("input", () => {
      if (!current) return;
      const linkedid = current.linkedid;   // the call the note was typed for
      clearTimeout(noteTimer);
      $("note-status").textContent = t.saving;
      noteTimer = setTimeout(() => saveNote(linkedid), 400);
    });
    for (const input of document.querySelectorAll("#client-form input, #client-form select")) {
      input.addEventListener("change", saveClient);
    }
    $("client-form").addEventListener("submit", (ev) => { ev.preventDefault(); saveClient(); });
    $("dial-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      callNumber($("dial-number").value.trim(), $("dial-error"), $("dial-status"));
    });
    $("transfer").addEventListener("click", () => {
      if (!current) return;
      const target = $("transfer-target").value.trim();
      send("POST", sessionUrl(current.linkedid, "transfer"), {target, kind: $("transfer-kind").value})
        .then((d) => {
          show($("transfer-error"), "");
          if (d.consulting) consult(current.linkedid, d.target, d.to);
          else show($("transfer-done"), fmt(t.transferred, {target: d.target}));
        })
        .catch((e) => { show($("transfer-done"), ""); show($("transfer-error"), e.message); });
    });
    for (const how of ["complete", "cancel"]) {
      $("consult-" + how).addEventListener("click", () => {
        if (!consulting) return;
        const c = consulting;
        send("POST", sessionUrl(c.linkedid, "transfer/" + how), {})
          .then(() => {
            endConsult();
            show($("transfer-error"), "");
            show($("transfer-done"), fmt(how === "complete" ? t.transferred : t.consult_cancelled, {target: c.target}));
          })
          .catch((e) => show($("transfer-error"), e.message));
      });
    }
    $("callback").addEventListener("click", () => {
      if (!current) return;
      send("POST", sessionUrl(current.linkedid, "callback"),
           {number: $("callback-number").value, slot: $("callback-slot").value})
        .then((d) => { show($("callback-error"), ""); show($("callback-done"), fmt(t.ordered, {order: d.order})); })
        .catch((e) => { show($("callback-done"), ""); show($("callback-error"), e.message); });
    });
  }

  // --- recording on demand: Record / Pause / Resume of the call on the phone ------------------
  function recordingUrl(linkedid) {
    return config.recording.replace("LINKEDID", encodeURIComponent(linkedid));
  }

  function showRecording(r) {
    $("recording-card").hidden = !r.live;
    $("rec-state").textContent = r.paused ? t.rec_paused : (r.recording ? t.rec_on : t.rec_off);
    // buttons are styled inline-block, which [hidden] alone does not override
    const only = (id, on) => { $(id).hidden = !on; $(id).style.display = on ? "" : "none"; };
    only("rec-start", !r.recording);
    only("rec-pause", r.recording && !r.paused && r.pausable !== false);   // a policy's recording stays whole
    only("rec-resume", r.paused);
  }

  function recordingState() {
    if (config.readonly || !current) return;
    fetch(recordingUrl(current.linkedid), {credentials: "same-origin"})
      .then((r) => (r.ok ? r.json() : null)).then((d) => { if (d) showRecording(d); }).catch(() => {});
  }

  function wireRecording() {
    for (const action of ["start", "pause", "resume"]) {
      $("rec-" + action).addEventListener("click", () => {
        if (!current) return;
        send("POST", recordingUrl(current.linkedid), {action})
          .then((d) => { show($("rec-error"), ""); showRecording(d); })
          .catch((e) => show($("rec-error"), e.message));
      });
    }
  }

  // --- today's figures and the state as the ACD sees it, every 15 s ---------------------
  function duration(seconds) {
    const s = Math.round(seconds), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    const two = (n) => String(n).padStart(2, "0");
    return (h ? h + ":" + two(m) : String(m)) + ":" + two(s % 60);
  }

  function showFigures(f) {
    $("fig-answered").textContent = f.answered;
    $("fig-talk").textContent = duration(f.talk_seconds);
    $("fig-average").textContent = duration(f.average_seconds);
  }

  function refresh() {
    fetch(config.figures, {credentials: "same-origin"}).then((r) => (r.ok ? r.json() : null)).then((d) => {
      if (!d) return;
      showFigures(d.figures);
      $("state").textContent = (t.states[d.state.state] || d.state.state) + (d.state.reason ? " (" + d.state.reason + ")" : "");
    }).catch(() => {});
  }

  showFigures({answered: $("fig-answered").textContent, talk_seconds: +$("fig-talk").dataset.seconds,
               average_seconds: +$("fig-average").dataset.seconds});
  setInterval(refresh, 15000);
  wire();
  if (!config.readonly) { wireRecording(); setInterval(recordingState, 2000); }
  if (config.current) load(config.current);
  listen();
}());
