/* Korund's scenario editor: the graph as boxes on an SVG canvas, a property
   form built from each node type's fields, problems by node, the simulator,
   publish and roll back. Talks to /api/v1 with the session's CSRF token. */
"use strict";
(function () {
  const DATA = JSON.parse(document.getElementById("editor-data").textContent);
  const T = DATA.strings;
  const SVG = "http://www.w3.org/2000/svg";
  const W = 180, HEAD = 46, PORT = 18;
  const $ = (id) => document.getElementById(id);
  const canvas = $("canvas"), viewport = $("viewport"), nodesG = $("nodes"), linksG = $("links");
  const dragLink = $("drag-link");

  let types = {}, lists = {}, graph = {start: "", nodes: {}}, problems = [], versions = [];
  let selected = null, dirty = false, view = {x: 20, y: 20, k: 1};

  function fmt(text, params) {
    return text.replace(/\{(\w+)\}/g, (m, k) => (k in params ? params[k] : m));
  }

  function el(tag, attrs, text) {
    const e = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v !== null && v !== undefined && v !== false) e.setAttribute(k, v === true ? "" : v);
    }
    if (text !== undefined) e.textContent = text;
    return e;
  }

  async function api(method, path, body) {
    const opts = {method, credentials: "same-origin", headers: {"Accept": "application/json"}};
    if (method !== "GET") opts.headers["X-CSRF-Token"] = DATA.csrf;
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    const r = await fetch("/api/v1" + path, opts);
    let json = null;
    try { json = await r.json(); } catch (e) { json = null; }
    return {ok: r.ok, status: r.status, json};
  }

  function setState(text, bad) {
    const s = $("state");
    s.textContent = text;
    s.className = bad ? "bad" : "hint";
  }

  function changed() {
    dirty = true;
    setState(T.unsaved);
    render();
  }

  // --- the graph ------------------------------------------------------------

  function outputsOf(node) {
    const t = types[node.type];
    if (!t) return [];
    const keys = t.options ? Object.keys(node.options || {}).sort().map((k) => "key:" + k) : [];
    return keys.concat(t.outputs);
  }

  function target(node, out) {
    if (out.startsWith("key:")) return (node.options || {})[out.slice(4)] || null;
    return (node.next || {})[out] || null;
  }

  function connect(node, out, to) {
    if (out.startsWith("key:")) {
      node.options = node.options || {};
      node.options[out.slice(4)] = to;
    } else {
      node.next = node.next || {};
      if (to) node.next[out] = to; else delete node.next[out];
    }
  }

  function outLabel(node, out) {
    if (out.startsWith("key:")) return T.key + " " + out.slice(4);
    const t = types[node.type];
    return (t.output_labels || {})[out] || out;
  }

  function pos(nid) {
    const n = graph.nodes[nid];
    if (!Array.isArray(n.pos) || n.pos.length !== 2) n.pos = [40, 40];
    return n.pos;
  }

  function height(node) {
    return HEAD + Math.max(1, outputsOf(node).length) * PORT + 6;
  }

  function summary(node) {
    const t = types[node.type];
    if (!t) return "";
    const parts = [];
    for (const f of t.fields) {
      const v = node[f.name];
      if (v === undefined || v === null || v === "" || (Array.isArray(v) && !v.length)) continue;
      if (f.kind === "bool" || f.kind === "int" || !shown(node, f)) continue;
      const choice = f.kind === "choice" && f.choices.find((c) => String(c[0]) === String(v));
      parts.push(choice ? choice[1] : (Array.isArray(v) ? v.join(", ") : String(v)));
      if (parts.length === 2) break;
    }
    const s = parts.join(" · ");
    return s.length > 26 ? s.slice(0, 25) + "…" : s;
  }

  function newId(type) {
    let i = 1;
    while (graph.nodes[type + i]) i += 1;
    return type + i;
  }

  function freeSpot() {
    // The first free cell of a grid from the top left of the view.
    const x0 = (30 - view.x) / view.k, y0 = (30 - view.y) / view.k;
    const cols = Math.max(1, Math.floor((canvas.getBoundingClientRect().width / view.k - 30) / (W + 60)));
    const taken = Object.keys(graph.nodes).map(pos);
    for (let i = 0; ; i += 1) {
      const x = x0 + (i % cols) * (W + 60), y = y0 + Math.floor(i / cols) * 150;
      if (!taken.some(([tx, ty]) => Math.abs(tx - x) < W + 20 && Math.abs(ty - y) < 110)) {
        return [Math.round(x), Math.round(y)];
      }
    }
  }

  function addNode(type) {
    const t = types[type];
    const nid = newId(type);
    const node = {type, next: {}};
    if (t.options) node.options = {};
    for (const f of t.fields) if ("default" in f) node[f.name] = f.default;
    node.pos = freeSpot();
    graph.nodes[nid] = node;
    if (!graph.start || !graph.nodes[graph.start]) graph.start = nid;
    selected = nid;
    show(nid);
    changed();
  }

  function show(nid) {
    // Pan so that the node is inside the canvas.
    const r = canvas.getBoundingClientRect();
    const [x, y] = pos(nid);
    const sx = x * view.k + view.x, sy = y * view.k + view.y;
    if (sx < 0 || sx + W * view.k > r.width) view.x -= sx - 30;
    if (sy < 0 || sy + 120 * view.k > r.height) view.y -= sy - 30;
  }

  function deleteNode(nid) {
    delete graph.nodes[nid];
    for (const node of Object.values(graph.nodes)) {
      for (const out of outputsOf(node)) if (target(node, out) === nid) connect(node, out, null);
    }
    if (graph.start === nid) graph.start = Object.keys(graph.nodes)[0] || "";
    if (selected === nid) selected = null;
    changed();
  }

  // --- drawing ------------------------------------------------------------

  function applyView() {
    viewport.setAttribute("transform", `translate(${view.x} ${view.y}) scale(${view.k})`);
  }

  function render() {
    applyView();
    nodesG.replaceChildren();
    linksG.replaceChildren();
    const faulty = new Set(problems.map((p) => p.node).filter(Boolean));
    for (const [nid, node] of Object.entries(graph.nodes)) {
      const [x, y] = pos(nid);
      const h = height(node);
      const cls = ["node"];
      if (nid === selected) cls.push("selected");
      if (faulty.has(nid)) cls.push("faulty");
      if (nid === graph.start) cls.push("start");
      const g = el("svg:g", {class: cls.join(" "), transform: `translate(${x} ${y})`, "data-node": nid,
                             id: "node-" + nid});
      g.append(el("svg:rect", {class: "box", width: W, height: h, rx: 6}));
      g.append(el("svg:text", {class: "title", x: 10, y: 17}, (nid === graph.start ? "▶ " : "") + nid));
      const t = types[node.type];
      g.append(el("svg:text", {class: "kind", x: 10, y: 33}, t ? t.label : node.type));
      g.append(el("svg:text", {class: "summary", x: 10, y: 45 + (outputsOf(node).length ? 0 : 8)}, summary(node)));
      g.append(el("svg:circle", {class: "in", cx: 0, cy: 17, r: 5}));
      outputsOf(node).forEach((out, i) => {
        const py = HEAD + i * PORT + PORT / 2 + 4;
        const connected = target(node, out);
        g.append(el("svg:text", {class: "port-label", x: W - 14, y: py + 4, "text-anchor": "end"}, outLabel(node, out)));
        g.append(el("svg:circle", {class: "port" + (connected ? " linked" : " dangling"), cx: W, cy: py, r: 6,
                                   "data-output": out, "data-node": nid}));
        if (connected && graph.nodes[connected]) {
          const [tx, ty] = pos(connected);
          linksG.append(el("svg:path", {class: "link", d: curve(x + W, y + py, tx, ty + 17),
                                        "data-from": nid + "/" + out}));
        }
      });
      nodesG.append(g);
    }
    renderProblems();
    renderProps();
  }

  function curve(x1, y1, x2, y2) {
    const dx = Math.max(40, Math.abs(x2 - x1) / 2);
    return `M${x1} ${y1} C${x1 + dx} ${y1} ${x2 - dx} ${y2} ${x2} ${y2}`;
  }

  function toGraph(evt) {
    const r = canvas.getBoundingClientRect();
    return [(evt.clientX - r.left - view.x) / view.k, (evt.clientY - r.top - view.y) / view.k];
  }

  // --- mouse: move nodes, connect ports, pan, zoom --------------------------

  let drag = null;

  canvas.addEventListener("pointerdown", (evt) => {
    if (evt.button !== 0) return;
    const port = evt.target.closest("circle.port");
    const nodeEl = evt.target.closest("g.node");
    const [gx, gy] = toGraph(evt);
    if (port) {
      drag = {kind: "link", from: port.dataset.node, out: port.dataset.output, x: gx, y: gy};
    } else if (nodeEl) {
      const nid = nodeEl.dataset.node;
      const [x, y] = pos(nid);
      drag = {kind: "move", nid, dx: gx - x, dy: gy - y, moved: false};
      if (selected !== nid) { selected = nid; render(); }
    } else {
      drag = {kind: "pan", sx: evt.clientX, sy: evt.clientY, vx: view.x, vy: view.y, moved: false};
    }
    evt.preventDefault();
    canvas.focus();
  });

  window.addEventListener("pointermove", (evt) => {
    if (!drag) return;
    const [gx, gy] = toGraph(evt);
    if (drag.kind === "link") {
      const node = graph.nodes[drag.from];
      const i = outputsOf(node).indexOf(drag.out);
      const [x, y] = pos(drag.from);
      dragLink.setAttribute("d", curve(x + W, y + HEAD + i * PORT + PORT / 2 + 4, gx, gy));
    } else if (drag.kind === "move") {
      graph.nodes[drag.nid].pos = [Math.round(gx - drag.dx), Math.round(gy - drag.dy)];
      drag.moved = true;
      render();
    } else {
      view.x = drag.vx + evt.clientX - drag.sx;
      view.y = drag.vy + evt.clientY - drag.sy;
      drag.moved = drag.moved || Math.abs(evt.clientX - drag.sx) + Math.abs(evt.clientY - drag.sy) > 3;
      applyView();
    }
  });

  window.addEventListener("pointerup", (evt) => {
    if (!drag) return;
    const d = drag;
    drag = null;
    dragLink.setAttribute("d", "");
    if (d.kind === "link") {
      const under = document.elementFromPoint(evt.clientX, evt.clientY);
      const nodeEl = under && under.closest && under.closest("g.node");
      const to = nodeEl ? nodeEl.dataset.node : null;
      connect(graph.nodes[d.from], d.out, to);
      changed();
    } else if (d.kind === "move" && d.moved) {
      changed();
    } else if (d.kind === "pan" && !d.moved && selected) {
      selected = null;
      render();
    }
  });

  function zoom(factor, cx, cy) {
    const r = canvas.getBoundingClientRect();
    cx = cx === undefined ? r.width / 2 : cx;
    cy = cy === undefined ? r.height / 2 : cy;
    const k = Math.min(3, Math.max(0.25, view.k * factor));
    view.x = cx - (cx - view.x) * (k / view.k);
    view.y = cy - (cy - view.y) * (k / view.k);
    view.k = k;
    applyView();
  }

  canvas.addEventListener("wheel", (evt) => {
    evt.preventDefault();
    const r = canvas.getBoundingClientRect();
    zoom(evt.deltaY < 0 ? 1.1 : 1 / 1.1, evt.clientX - r.left, evt.clientY - r.top);
  }, {passive: false});

  function fit() {
    const ids = Object.keys(graph.nodes);
    if (!ids.length) { view = {x: 20, y: 20, k: 1}; applyView(); return; }
    const xs = ids.map((n) => pos(n)[0]), ys = ids.map((n) => pos(n)[1]);
    const x0 = Math.min(...xs) - 20, y0 = Math.min(...ys) - 20;
    const x1 = Math.max(...xs) + W + 40, y1 = Math.max(...ys) + 160;
    const r = canvas.getBoundingClientRect();
    const k = Math.min(1.5, Math.max(0.25, Math.min(r.width / (x1 - x0), r.height / (y1 - y0))));
    view = {x: -x0 * k, y: -y0 * k, k};
    applyView();
  }

  $("zoom-in").addEventListener("click", () => zoom(1.2));
  $("zoom-out").addEventListener("click", () => zoom(1 / 1.2));
  $("zoom-fit").addEventListener("click", fit);

  canvas.addEventListener("keydown", (evt) => {
    if ((evt.key === "Delete" || evt.key === "Backspace") && selected) {
      evt.preventDefault();
      deleteNode(selected);
    }
  });

  // --- the property form ----------------------------------------------------

  function shown(node, f) {
    for (const [name, want] of Object.entries(f.when || {})) {
      const t = types[node.type];
      const other = t.fields.find((x) => x.name === name);
      const have = name in node ? node[name] : (other ? other.default : undefined);
      if (Array.isArray(want) ? !want.includes(have) : have !== want) return false;
    }
    return true;
  }

  function splitList(text) {
    return text.split(/[,\s]+/).map((s) => s.trim()).filter(Boolean);
  }

  function setValue(node, name, value, rerender) {
    if (value === undefined || value === "" || (Array.isArray(value) && !value.length)) delete node[name];
    else node[name] = value;
    dirty = true;
    setState(T.unsaved);
    if (rerender) render(); else redrawNodeOnly();
  }

  function redrawNodeOnly() {
    // Keep the focus in the form: redraw the canvas, not the form.
    const keep = renderProps;
    renderProps = () => {};
    try { render(); } finally { renderProps = keep; }
  }

  function input(f, node) {
    const id = "p-" + f.name;
    const v = node[f.name];
    const list = lists[f.kind];
    let e;
    if (f.kind === "bool") {
      e = el("input", {id, type: "checkbox", checked: Boolean(v)});
      e.addEventListener("change", () => setValue(node, f.name, e.checked, true));
    } else if (f.kind === "choice" || (list && f.kind !== "prompts" && f.kind !== "list")) {
      e = el("select", {id});
      const options = f.kind === "choice" ? f.choices.slice() : [["", T.none]].concat(list.map((x) => [x[0], x[1]]));
      if (f.kind === "choice" && (v === undefined || v === "")) options.unshift(["", T.none]);
      if (v !== undefined && v !== "" && !options.some((o) => String(o[0]) === String(v))) options.push([v, v]);
      for (const [value, label] of options) {
        e.append(el("option", {value, selected: String(value) === String(v === undefined ? "" : v)}, label));
      }
      e.addEventListener("change", () => setValue(node, f.name, e.value, true));
    } else if (f.kind === "days") {
      e = el("span", {id, class: "days"});
      const names = T.days.split(",");
      names.forEach((label, i) => {
        const box = el("input", {type: "checkbox", value: i + 1, checked: Array.isArray(v) && v.includes(i + 1)});
        box.addEventListener("change", () => {
          const days = [...e.querySelectorAll("input:checked")].map((b) => Number(b.value));
          setValue(node, f.name, days, false);
        });
        const l = el("label", {});
        l.append(box, " " + label);
        e.append(l);
      });
    } else if (f.kind === "int") {
      e = el("input", {id, type: "number", min: f.min, max: f.max, value: v === undefined ? "" : v});
      e.addEventListener("input", () => {
        const n = Number(e.value);
        setValue(node, f.name, e.value === "" ? undefined : (Number.isInteger(n) ? n : e.value), false);
      });
    } else {
      const multi = f.kind === "prompts" || f.kind === "list";
      const attrs = {id, type: "text", autocomplete: "off", value: Array.isArray(v) ? v.join(", ") : (v === undefined ? "" : v)};
      if (list) attrs.list = "list-" + f.kind;
      if (multi) attrs.placeholder = T.comma;
      e = el("input", attrs);
      e.addEventListener("input", () => setValue(node, f.name, multi ? splitList(e.value) : e.value, false));
    }
    return e;
  }

  function menuKeys(node) {
    const box = el("div", {class: "keys", id: "menu-keys"});
    box.append(el("h3", {}, T.keys));
    for (const k of Object.keys(node.options || {}).sort()) {
      const row = el("div", {class: "key-row"});
      row.append(el("span", {}, T.key + " " + k + " → " + (node.options[k] || T.none)));
      const rm = el("button", {type: "button", class: "small danger", "data-key": k}, T.remove);
      rm.addEventListener("click", () => { delete node.options[k]; changed(); });
      row.append(rm);
      box.append(row);
    }
    const add = el("div", {class: "key-row"});
    const key = el("input", {id: "new-key", type: "text", maxlength: 1, size: 2, autocomplete: "off"});
    const btn = el("button", {type: "button", class: "small", id: "add-key"}, T.add_key);
    const msg = el("span", {class: "error"});
    btn.addEventListener("click", () => {
      const k = key.value.trim();
      if (!/^[0-9*#]$/.test(k)) { msg.textContent = T.not_a_key; return; }
      node.options = node.options || {};
      if (k in node.options) { msg.textContent = T.key_exists; return; }
      node.options[k] = null;
      changed();
    });
    add.append(key, btn, msg);
    box.append(add);
    return box;
  }

  let renderProps = function () {
    const box = $("props");
    box.replaceChildren();
    const node = selected && graph.nodes[selected];
    if (!node) {
      box.append(el("p", {class: "hint", id: "props-hint"}, T.select_node));
      return;
    }
    const t = types[node.type];
    box.append(el("h2", {id: "props-title"}, T.node + " " + selected + " — " + (t ? t.label : node.type)));
    if (t) {
      for (const f of t.fields) {
        if (!shown(node, f)) continue;
        const row = el("div", {class: "field"});
        row.append(el("label", {for: "p-" + f.name}, f.label));
        row.append(input(f, node));
        box.append(row);
      }
      if (t.options) box.append(menuKeys(node));
    }
    const actions = el("div", {class: "row"});
    if (graph.start !== selected) {
      const st = el("button", {type: "button", id: "make-start", class: "small"}, T.make_start);
      st.addEventListener("click", () => { graph.start = selected; changed(); });
      actions.append(st);
    }
    const del = el("button", {type: "button", id: "delete-node", class: "small danger"}, T.delete);
    del.addEventListener("click", () => deleteNode(selected));
    actions.append(del);
    box.append(actions);
  };

  function renderProblems() {
    const ul = $("problems");
    ul.replaceChildren();
    if (!problems.length) {
      ul.append(el("li", {class: "ok", id: "no-problems"}, T.no_problems));
      return;
    }
    for (const p of problems) {
      const li = el("li", {class: "problem", "data-node": p.node || ""});
      if (p.node) li.append(el("b", {}, p.node + ": "));
      li.append(p.message);
      if (p.node) li.addEventListener("click", () => { selected = p.node; if (graph.nodes[p.node]) show(p.node); render(); });
      ul.append(li);
    }
  }

  // --- server: load, save, simulate, publish, roll back, bind ---------------

  function loaded(s) {
    graph = s.draft && typeof s.draft === "object" ? s.draft : {start: "", nodes: {}};
    if (!graph.nodes || typeof graph.nodes !== "object") graph.nodes = {};
    graph.start = graph.start || "";
    problems = s.problems || [];
    versions = s.versions || [];
    $("scenario-title").textContent = s.title || "";
    renderVersions();
  }

  async function save() {
    const r = await api("PUT", "/scenarios/" + encodeURIComponent(DATA.name), {graph});
    if (!r.ok) {
      setState((r.json && r.json.message) || T.error + " " + r.status, true);
      return false;
    }
    problems = r.json.problems || [];
    versions = r.json.versions || [];
    dirty = false;
    setState(T.saved);
    $("publish-result").textContent = "";
    render();
    renderVersions();
    return true;
  }

  function simStep(e) {
    if ("play" in e) return ["sim-play", T.played + ": " + e.play.join(", ")];
    if ("wait" in e) return ["sim-wait", fmt(T.waits, {timeout: e.wait}) + ": " + (e.key ? T.pressed + " " + e.key : T.no_key)];
    if ("digits" in e) return ["sim-digits", T.digits + ": " + (e.digits || T.none)];
    if ("say" in e) return ["sim-say", T.says + ": " + e.say + " (" + e.as + ")"];
    if ("route" in e) return ["sim-route", T.route + ": " + fmt(T["to_" + e.route] || "{target}", {target: e.target})];
    if ("hangup" in e) return ["sim-hangup", T.hangup];
    if ("lookup" in e) return ["sim-lookup", T.lookup + " " + e.lookup + " (" + (e.key || "") + "): " + (e.found ? T.found : T.not_found)];
    if ("record" in e) return ["sim-record", fmt(T.records, {group: e.record, seconds: e.max_seconds}) +
                                              (e.empty ? ": " + T.records_empty : "")];
    if ("callback" in e) return ["sim-callback", fmt(T.callback, {group: e.callback, number: e.number,
                                 when: e.asap ? T.asap : e.from.replace("T", " ") + " – " + (e.until || "").slice(11)})];
    return ["sim-other", e.note || JSON.stringify(e)];
  }

  async function simulate() {
    if (!(await save())) return;
    const r = await api("POST", "/scenarios/" + encodeURIComponent(DATA.name) + "/simulate",
                        {keys: $("sim-keys").value, ani: $("sim-ani").value});
    const ol = $("sim-steps");
    ol.replaceChildren();
    if (!r.ok) { ol.append(el("li", {class: "bad"}, (r.json && r.json.message) || T.error)); return; }
    for (const e of r.json.events) {
      const [cls, text] = simStep(e);
      ol.append(el("li", {class: cls}, text));
    }
    for (const p of r.json.path) {
      if ("scenario" in p) ol.append(el("li", {class: "sim-goto"}, T.goto + " " + p.scenario));
    }
    if (r.json.error) ol.append(el("li", {class: "bad sim-error"}, T.simulate_error + ": " + r.json.error));
  }

  async function publish() {
    if (!(await save())) return;
    const out = $("publish-result");
    const r = await api("POST", "/scenarios/" + encodeURIComponent(DATA.name) + "/publish");
    if (r.ok) {
      out.className = "ok";
      out.textContent = fmt(T.published, {version: r.json.version});
      await reload();
    } else {
      out.className = "bad";
      out.textContent = T.publish_failed + ": " + ((r.json && r.json.message) || r.status);
    }
  }

  function renderVersions() {
    const table = $("versions");
    table.replaceChildren();
    versions.forEach((v, i) => {
      const tr = el("tr", {"data-version": v.version});
      tr.append(el("td", {}, "v" + v.version), el("td", {}, v.published_at), el("td", {}, v.published_by || ""));
      const td = el("td", {});
      if (i > 0) {
        const b = el("button", {type: "button", class: "small", id: "rollback-" + v.version}, T.roll_back);
        b.addEventListener("click", () => rollBack(v.version));
        td.append(b);
      }
      tr.append(td);
      table.append(tr);
    });
  }

  async function rollBack(version) {
    const r = await api("POST", "/scenarios/" + encodeURIComponent(DATA.name) + "/rollback", {version});
    const out = $("publish-result");
    if (r.ok) {
      out.className = "ok";
      out.textContent = fmt(T.rolled_back, {version});
      selected = null;
      await reload();
    } else {
      out.className = "bad";
      out.textContent = (r.json && r.json.message) || T.error;
    }
  }

  async function bindings() {
    const r = await api("GET", "/bindings");
    if (r.ok) {
      $("bound-numbers").textContent = r.json.filter((b) => b.scenario === DATA.name).map((b) => b.dnis).join(", ") || T.none;
    }
  }

  async function bind() {
    const dnis = $("bind-dnis").value.trim();
    const r = await api("PUT", "/bindings", {dnis, scenario: DATA.name});
    const out = $("bind-result");
    out.className = r.ok ? "ok" : "bad";
    out.textContent = r.ok ? fmt(T.bound, {dnis}) : ((r.json && r.json.message) || T.error);
    await bindings();
  }

  async function reload() {
    const r = await api("GET", "/scenarios/" + encodeURIComponent(DATA.name));
    if (r.ok) loaded(r.json);
    dirty = false;
    render();
  }

  async function pickList(path, kind, pick) {
    const r = await api("GET", path);
    if (r.ok && Array.isArray(r.json)) {
      lists[kind] = r.json.map(pick);
      const dl = el("datalist", {id: "list-" + kind});
      for (const [value, label] of lists[kind]) dl.append(el("option", {value}, label));
      document.body.append(dl);
    }
  }

  async function start() {
    const r = await api("GET", "/scenario-node-types");
    for (const t of r.json || []) types[t.type] = t;
    const palette = $("palette");
    for (const t of Object.values(types)) {
      const b = el("button", {type: "button", class: "small", id: "add-" + t.type}, t.label);
      b.addEventListener("click", () => addNode(t.type));
      palette.append(b);
    }
    // Pick-lists; a missing list (e.g. no prompts API) leaves a free text field.
    await Promise.all([
      pickList("/groups", "group", (x) => [x.name, x.name + " — " + x.title]),
      pickList("/operators", "operator", (x) => [x.extension, x.extension + " " + x.name]),
      pickList("/scenarios", "scenario", (x) => [x.name, x.name + " — " + x.title]),
      pickList("/prompts", "prompts", (x) => (typeof x === "string" ? [x, x] : [x.name, x.name])),
      pickList("/tables", "table", (x) => (typeof x === "string" ? [x, x] : [x.name, x.name])),
      pickList("/schedules", "schedule", (x) => [x.name, x.title ? x.name + " — " + x.title : x.name]),
    ]);
    await reload();
    fit();
    await bindings();
    setState("");
    canvas.dataset.ready = "1";
  }

  $("save").addEventListener("click", save);
  $("publish").addEventListener("click", publish);
  $("simulate").addEventListener("click", simulate);
  $("bind").addEventListener("click", bind);
  window.addEventListener("beforeunload", (evt) => {
    if (dirty) { evt.preventDefault(); evt.returnValue = T.leave; }
  });
  start();
})();
