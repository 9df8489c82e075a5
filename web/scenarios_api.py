"""/api/v1/scenarios: what the scenario editor works with (draft, problems
pointing at nodes, simulate, publish, roll back) and number bindings."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, g, jsonify, request

from appliance import audit, datatables, prompts
from appliance.model import ConfigError
from appliance.scenarios import graph as graphs
from appliance.scenarios import simulate
from appliance.scenarios import store as scenarios

from . import get_db, security
from .api import body, invalid

bp = Blueprint("scenarios_api", __name__, url_prefix="/api/v1")
bp.register_error_handler(ConfigError, invalid)
EDITORS = ("admin", "supervisor")


def prompt_exists(name: str) -> bool:
    return prompts.exists(current_app.config["KORUND_INSTANCE"].sounds, name)


def existing(db, name: str) -> str:
    if not db.execute("SELECT 1 FROM scenarios WHERE name = ?", [name]).fetchone():
        abort(404)
    return name


def scenario_json(db, name: str) -> dict:
    draft = scenarios.draft(db, name)
    title = db.execute("SELECT title FROM scenarios WHERE name = ?", [name]).fetchone()[0]
    return {"name": name, "title": title, "draft": draft, "versions": scenarios.versions(db, name),
            "problems": [{"node": p.node, "message": p.message} for p in graphs.check(draft, prompt_exists)]}


@bp.get("/scenarios")
@security.roles(*EDITORS)
def list_scenarios():
    return jsonify(scenarios.all_scenarios(get_db()))


@bp.post("/scenarios")
@security.roles(*EDITORS)
def create():
    d, db = body(), get_db()
    with db.atomic():
        scenarios.create(db, d.get("name", ""), d.get("title", ""), d.get("graph") or {"start": "", "nodes": {}})
        audit.record(db, g.user.username, "scenario added", d.get("name"))
    return jsonify(scenario_json(db, d["name"].strip())), 201


@bp.route("/scenarios/<name>", methods=["GET", "PUT"])
@security.roles(*EDITORS)
def scenario(name):
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


@bp.post("/scenarios/<name>/publish")
@security.roles(*EDITORS)
def publish(name):
    db = get_db()
    existing(db, name)
    with db.atomic():
        version = scenarios.publish(db, name, g.user.username, prompt_exists)
        audit.record(db, g.user.username, "scenario published", name, {"version": version})
    return jsonify({"name": name, "version": version})


@bp.post("/scenarios/<name>/rollback")
@security.roles(*EDITORS)
def rollback(name):
    db = get_db()
    existing(db, name)
    wanted = body().get("version")
    if not isinstance(wanted, int) or isinstance(wanted, bool):
        raise ConfigError("version", "'{value}' is not a number", value=wanted)
    with db.atomic():
        version = scenarios.roll_back(db, name, wanted, g.user.username)
        audit.record(db, g.user.username, "scenario rolled back", name, {"from": wanted, "version": version})
    return jsonify({"name": name, "version": version})


@bp.post("/scenarios/<name>/simulate")
@security.roles(*EDITORS)
def simulate_draft(name):
    db = get_db()
    existing(db, name)
    d = body()
    keys = "".join(c for c in str(d.get("keys", "")) if c in "0123456789*#")
    ani = "".join(c for c in str(d.get("ani", "")) if c in "0123456789+")
    return jsonify(simulate.simulate(scenarios.draft(db, name), keys, ani,
                                     lookup=lambda t, k: datatables.lookup(db, t, k),
                                     load=lambda other: scenarios.published(db, other)))


@bp.route("/bindings", methods=["GET", "PUT"])
@security.roles(*EDITORS)
def bindings():
    db = get_db()
    if request.method == "PUT":
        d = body()
        scenarios.bind(db, str(d.get("dnis", "")), scenario=d.get("scenario"), group=d.get("group"))
        audit.record(db, g.user.username, "number bound", str(d.get("dnis")), d)
    return jsonify(scenarios.bindings(db))
