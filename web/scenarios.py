"""IVR scenarios: the list (create, published version, bound numbers) and
the visual editor (web/static/editor.js), which works through this module's
API with the session's CSRF token: /api/v1/scenarios (draft, problems
pointing at nodes, simulate, publish, roll back), the node types, and which
number runs which scenario (/api/v1/bindings)."""
from __future__ import annotations

import re

from flask import Blueprint, abort, current_app, g, jsonify, redirect, render_template, request, url_for

from appliance.base import audit
from appliance.base.errors import ConfigError
from appliance.callbacks import store as callbacks
from appliance.prompts import builtin as prompts
from appliance.scenarios import graph as graphs, simulate, store as scenarios
from appliance.scenarios.nodes import TYPES
from appliance.schedules import store as schedules
from appliance.tables import store as datatables
from web import api_common, security
from web.api_common import body
from web.context import error_text, get_db, gettext
from web.i18n import _

bp = Blueprint("scenarios", __name__)
api_bp = api_common.blueprint("scenarios_api", __name__)
EDITORS = ("admin", "supervisor")


@bp.route("/scenarios/", methods=["GET", "POST"])
@security.roles(*EDITORS)
def index():
    db = get_db()
    form, errors = request.form if request.method == "POST" else {}, {}
    if request.method == "POST":
        name = (form.get("name") or "").strip()
        try:
            with db.atomic():
                scenarios.create(db, name, form.get("title", ""), {"start": "", "nodes": {}})
                audit.record(db, g.user.username, "scenario added", name)
        except ConfigError as exc:
            errors[exc.field] = error_text(exc)
        else:
            return redirect(url_for("scenarios.editor", name=name))
    numbers: dict[str, list[str]] = {}
    for b in scenarios.bindings(db):
        if b["scenario"]:
            numbers.setdefault(b["scenario"], []).append(b["dnis"])
    return render_template("scenarios.html", scenarios=scenarios.all_scenarios(db), numbers=numbers,
                           form=form, errors=errors), (400 if errors else 200)


@bp.get("/scenarios/<name>")
@security.roles(*EDITORS)
def editor(name):
    db = get_db()
    if not db.execute("SELECT 1 FROM scenarios WHERE name = ?", [name]).fetchone():
        abort(404)
    return render_template("scenario_editor.html", name=name, strings=strings(), csrf=security.csrf_token())


def strings() -> dict[str, str]:
    """What editor.js shows, in the user's language."""
    return {
        "save": gettext("Save draft"),
        "saved": gettext("Draft saved"),
        "unsaved": gettext("Unsaved changes"),
        "make_start": gettext("Make it the start"),
        "delete": gettext("Delete the node"),
        "no_problems": gettext("No problems: the scenario can be published."),
        "problems": gettext("Problems"),
        "node": gettext("Node"),
        "keys": gettext("Menu keys"),
        "add_key": gettext("Add a key"),
        "remove": gettext("Remove"),
        "key": gettext("Key"),
        "not_a_key": gettext("A phone key is 0-9, * or #"),
        "key_exists": gettext("This key is already in the menu"),
        "select_node": gettext("Click a node to edit it; drag from an output's dot to a node to connect."),
        "published": gettext("Published version {version}"),
        "publish_failed": gettext("Not published"),
        "rolled_back": gettext("Rolled back: version {version} is now running"),
        "simulate_error": gettext("The walk stopped"),
        "played": gettext("Plays"),
        "waits": gettext("Waits for a key {timeout} s"),
        "pressed": gettext("key"),
        "no_key": gettext("no key"),
        "digits": gettext("Digits entered"),
        "says": gettext("Says"),
        "route": gettext("Sent to"),
        "to_group": gettext("group {target}"),
        "to_operator": gettext("operator {target}"),
        "to_number": gettext("number {target}"),
        "hangup": gettext("Hangs up"),
        "lookup": gettext("Looks up in"),
        "found": gettext("found"),
        "not_found": gettext("not found"),
        "goto": gettext("Goes on in scenario"),
        "records": gettext("Records a message for group {group} (up to {seconds} s)"),
        "records_empty": gettext("the caller says nothing: nothing is kept"),
        "callback": gettext("Stores a callback order for group {group}: number {number}, {when}"),
        "asap": gettext("as soon as possible"),
        "bound": gettext("Number {dnis} now runs this scenario"),
        "error": gettext("Error"),
        "none": "—",
        "roll_back": gettext("Roll back to this version"),
        "leave": gettext("Leave without saving?"),
        "days": gettext("Mon,Tue,Wed,Thu,Fri,Sat,Sun"),
        "comma": gettext("separate with commas"),
    }


# --- API ---------------------------------------------------------------------


def prompt_exists(name: str) -> bool:
    return prompts.exists(current_app.config["KORUND_INSTANCE"].sounds, name)


def existing(db, name: str) -> str:
    if not db.execute("SELECT 1 FROM scenarios WHERE name = ?", [name]).fetchone():
        abort(404)
    return name


# The checks' messages (English in the library), translated for the user by
# matching them against these templates; an unknown message stays as it is.
PROBLEMS = (
    _("output '{output}' leads nowhere"), _("output '{output}' leads to a missing node '{target}'"),
    _("prompt '{name}' does not exist"), _("cannot be reached from the start"),
    _("a loop through here never waits for the caller"), _("node ids are letters, digits, _ and -"),
    _("unknown node type {type}"), _("the scenario has no nodes"), _("'start' must name one of the nodes"),
    _("'{key}' is required"), _("'{key}' must be a whole number from {lo} to {hi}"),
    _("at least one prompt"), _("a menu needs a prompt"), _("a menu needs at least one option"),
    _("'{key}' is not a phone key"), _("an input needs a prompt"), _("'variable' must be a-z, 0-9 and _"),
    _("'min_digits' is more than 'max_digits'"), _("'pattern' is not a regular expression: {error}"),
    _("'by' names the variable to look up by (or 'ani')"), _("'by' must be a variable name"),
    _("'to' must be one of {choices}"), _("'group' must name a group"), _("'operator' must be an extension"),
    _("'number' must be digits"), _("'as' must be one of {choices}"), _("'scenario' must name a scenario"),
    _("'beep' must be true or false"), _("'slots' must be a list"), _("at most {n} slots (keys 2 to 9)"),
    _("'{spec}' is not a slot like 14:00-16:00 or tomorrow 09:00-12:00"),
    _("'{spec}' has a time that does not exist"), _("'{spec}' ends before it starts"),
    _("'test' must be one of {choices}"), _("'from' and 'until' must be HH:MM"),
    _("'days' must list weekdays 1 (Monday) to 7"), _("'schedule' must name a schedule"),
    _("'numbers' must list numbers or prefixes"), _("schedule '{name}' does not exist"),
)
_PATTERNS = [(t, re.compile(re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>.*?)", re.escape(t)) + "$")) for t in PROBLEMS]


def problem_text(message: str) -> str:
    for template, pattern in _PATTERNS:
        m = pattern.fullmatch(message)
        if m:
            params = m.groupdict()
            if "output" in params:   # as the editor labels the port
                out = params["output"]
                params["output"] = (gettext("key") + " " + out[4:] if out.startswith("key:")
                                    else choice_label("out", out))
            return gettext(template).format(**params)
    return message


def scenario_json(db, name: str) -> dict:
    draft = scenarios.draft(db, name)
    title = db.execute("SELECT title FROM scenarios WHERE name = ?", [name]).fetchone()[0]
    return {"name": name, "title": title, "draft": draft, "versions": scenarios.versions(db, name),
            "problems": [{"node": p.node, "message": problem_text(p.message)}
                         for p in graphs.check(draft, prompt_exists)]}


# Node types, field labels and choices ("field=value") the editor shows; a
# node type's labels are English in its module and translated here.
TYPE_LABELS = {"play": _("Play prompts"), "menu": _("Menu"), "input": _("Collect digits"),
               "say": _("Say a value"), "set": _("Set a variable"), "route": _("Send to operators"),
               "hangup": _("Hang up"), "lookup": _("Look up in a table"), "goto": _("Go to a scenario"),
               "condition": _("Condition"), "message": _("Leave a message"), "callback": _("Order a callback")}
WORDS = (_("Prompts"), _("A key interrupts the prompt"), _("Wait for a key, s"), _("Retries"),
         _("Prompts after a wrong key"), _("Prompts when no key is pressed"), _("Variable"),
         _("At least digits"), _("At most digits"), _("Ends the input"), _("Wait for digits, s"),
         _("Pattern (regular expression)"), _("Prompts after a wrong input"),
         _("Value ({variable} is replaced)"), _("Say as"), _("Send to"), _("Group"), _("Operator"),
         _("Number"), _("Priority in the queue"), _("Skill (best-skilled operators first)"), _("Goodbye prompts"), _("Data table"),
         _("Look up by the variable"), _("Prefix of the variables"), _("Scenario"),
         _("as=digits"), _("as=number"), _("as=money"), _("as=date"),
         _("to=group"), _("to=operator"), _("to=number"),
         _("out=next"), _("out=fail"), _("out=found"), _("out=not_found"), _("out=true"), _("out=false"),
         _("out=empty"),
         # condition, message and callback nodes
         _("Test"), _("From (HH:MM)"), _("Until (HH:MM)"), _("Weekdays"), _("Schedule (true while open)"),
         _("Schedule (true on its holidays)"), _("Number prefixes"), _("Numbers"), _("Equals"),
         _("test=time"), _("test=weekday"), _("test=schedule"), _("test=holiday"), _("test=caller_prefix"),
         _("test=caller_in"), _("test=equals"),
         _("Longest message, s"), _("Beep before recording"), _("Stop after silence, s (0 = never)"),
         _("Prompts offering the times (1 = as soon as possible)"),
         _("Time slots for keys 2 to 9 (14:00-16:00, tomorrow 09:00-12:00)"),
         _("Prompts before the number is read back"), _("Prompts after it (1 = right, 2 = another number)"),
         _("Prompts asking for another number"), _("Prompts when the order is taken"))


def choice_label(field: str, value) -> str:
    key = f"{field}={value}"
    text = gettext(key)
    return str(value) if text == key else text


def node_type_json(t) -> dict:
    """A node type as the editor needs it: its fields (labels and choices in
    the user's language) and its outputs; a menu's key outputs are "options"."""
    keyed = t.outputs({"options": {"1": "x"}})
    fields = []
    for f in t.fields:
        f = dict(f)
        f["label"] = gettext(f.get("label") or f["name"])
        if "choices" in f:
            f["choices"] = [[c, choice_label(f["name"], c)] for c in f["choices"]]
        fields.append(f)
    return {"type": t.name, "label": gettext(TYPE_LABELS.get(t.name, t.name)), "waits": t.waits,
            "fields": fields,
            "outputs": [o for o in keyed if not o.startswith("key:")],
            "output_labels": {o: choice_label("out", o) for o in keyed if not o.startswith("key:")},
            "options": any(o.startswith("key:") for o in keyed)}


@api_bp.get("/scenario-node-types")
@security.roles(*EDITORS)
def api_node_types():
    return jsonify([node_type_json(t) for _name, t in sorted(TYPES.items())])


@api_bp.get("/scenarios")
@security.roles(*EDITORS)
def api_scenarios():
    return jsonify(scenarios.all_scenarios(get_db()))


@api_bp.post("/scenarios")
@security.roles(*EDITORS)
def api_create():
    d, db = body(), get_db()
    with db.atomic():
        scenarios.create(db, d.get("name", ""), d.get("title", ""), d.get("graph") or {"start": "", "nodes": {}})
        audit.record(db, g.user.username, "scenario added", d.get("name"))
    return jsonify(scenario_json(db, d["name"].strip())), 201


@api_bp.route("/scenarios/<name>", methods=["GET", "PUT"])
@security.roles(*EDITORS)
def api_scenario(name):
    db = get_db()
    existing(db, name)
    if request.method == "PUT":
        graph = body().get("graph")
        if not isinstance(graph, dict):
            raise ConfigError("graph", "a scenario is an object with 'start' and 'nodes'")
        with db.atomic():
            scenarios.save_draft(db, name, graph)
            audit.record(db, g.user.username, "scenario draft saved", name)
    return jsonify(scenario_json(db, name))


@api_bp.post("/scenarios/<name>/publish")
@security.roles(*EDITORS)
def api_publish(name):
    db = get_db()
    existing(db, name)
    problems = graphs.check(scenarios.draft(db, name), prompt_exists)
    if problems:   # refused here too, to say it in the user's language
        raise ConfigError("graph", "the scenario has problems: {problems}", problems="; ".join(
            f"{p.node}: {problem_text(p.message)}" if p.node else problem_text(p.message) for p in problems))
    with db.atomic():
        version = scenarios.publish(db, name, g.user.username, prompt_exists)
        audit.record(db, g.user.username, "scenario published", name, {"version": version})
    return jsonify({"name": name, "version": version})


@api_bp.post("/scenarios/<name>/rollback")
@security.roles(*EDITORS)
def api_rollback(name):
    db = get_db()
    existing(db, name)
    wanted = body().get("version")
    if not isinstance(wanted, int) or isinstance(wanted, bool):
        raise ConfigError("version", "'{value}' is not a number", value=wanted)
    with db.atomic():
        version = scenarios.roll_back(db, name, wanted, g.user.username)
        audit.record(db, g.user.username, "scenario rolled back", name, {"from": wanted, "version": version})
    return jsonify({"name": name, "version": version})


@api_bp.post("/scenarios/<name>/simulate")
@security.roles(*EDITORS)
def api_simulate(name):
    db = get_db()
    existing(db, name)
    d = body()
    keys = "".join(c for c in str(d.get("keys", "")) if c in "0123456789*#")
    ani = "".join(c for c in str(d.get("ani", "")) if c in "0123456789+")
    return jsonify(simulate.simulate(scenarios.draft(db, name), keys, ani, now=callbacks.now_here(db),
                                     lookup=lambda t, k: datatables.lookup(db, t, k),
                                     load=lambda other: scenarios.published(db, other),
                                     schedule=lambda sname: schedules.load(db, sname)))


BINDING_KEYS = ("scenario", "group", "schedule", "otherwise_scenario", "otherwise_group")


@api_bp.route("/bindings", methods=["GET", "PUT"])
@security.roles(*EDITORS)
def api_bindings():
    """PUT {dnis, scenario | group[, schedule, otherwise_scenario | otherwise_group]}:
    with a schedule the number runs the first target while it is open and the
    'otherwise' one while it is closed (F5)."""
    db = get_db()
    if request.method == "PUT":
        d = body()
        for key in ("dnis",) + BINDING_KEYS:
            if d.get(key) is not None and not isinstance(d.get(key), str):
                raise ConfigError(key, "'{value}' is not a name", value=d.get(key))
        target = {k: d.get(k) or None for k in BINDING_KEYS}
        with db.atomic():
            scenarios.bind(db, d.get("dnis") or "", **target)
            audit.record(db, g.user.username, "number bound", str(d.get("dnis")),
                         {k: v for k, v in target.items() if v})
    return jsonify(scenarios.bindings(db))


@api_bp.delete("/bindings/<dnis>")
@security.roles(*EDITORS)
def api_unbind(dnis):
    db = get_db()
    with db.atomic():
        if not scenarios.unbind(db, dnis):
            abort(404)
        audit.record(db, g.user.username, "number unbound", dnis)
    return "", 204
