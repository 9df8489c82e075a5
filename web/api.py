"""REST API under /api/v1: everything the pages do, for integrations.

Authenticate with ``Authorization: Bearer <token>`` (tokens are made on the
profile page) or with the panel's session plus an ``X-CSRF-Token`` header.
Invalid input answers 422 with the field and a message; nothing is saved.
"""
from __future__ import annotations

from dataclasses import asdict

from flask import Blueprint, abort, g, jsonify, request

from appliance.base import audit
from appliance.operators import store as operator_store
from appliance.routing import store as routing
from appliance.lines import store as spans
from appliance.users import store as users

from . import changes, error_text, get_db, security, settings_page, status
from .openapi import spec
from appliance.base.errors import ConfigError
from appliance.render import config as render_config
from appliance.lines import trunks as sip_trunks

bp = Blueprint("api", __name__, url_prefix="/api/v1")
STAFF = security.STAFF


def body() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        abort(400, description="expected a JSON object")
    return data


@bp.errorhandler(ConfigError)
def invalid(exc: ConfigError):
    return jsonify(error="invalid", field=exc.field, message=error_text(exc)), 422


def trunk_json(t) -> dict:
    return {"name": t.name, "kind": t.kind, "host": t.host, "port": t.port, "enabled": t.enabled}


def operator_json(o) -> dict:
    return {"extension": o.extension, "name": o.name, "contact": o.contact, "enabled": o.enabled, "device": o.device,
            "sip_secret": o.sip_secret, "skills": routing.skills(get_db(), o.extension)}


# A group's ACD (operator_store.set_group_acd) and routing (routing.set_group_settings)
# settings, read and written by /groups as flat keys.
GROUP_ACD_KEYS = ("wrapup", "max_wait", "overflow_kind", "overflow_target", "announce_position",
                  "announce_holdtime", "noanswer_pause", "noanswer_after", "moh")


def group_json(gr) -> dict:
    return {"name": gr.name, "title": gr.title, "strategy": gr.strategy, "ring_timeout": gr.ring_timeout,
            "is_default": gr.is_default, "members": [op.extension for op, _ in gr.members],
            **{k: getattr(gr, k) for k in GROUP_ACD_KEYS if hasattr(gr, k)},
            **routing.group_settings(get_db(), gr.name)}


def set_group_settings(db, name: str, d: dict) -> None:
    """The ACD and routing keys present in the request body (others stay)."""
    acd = {k: d[k] for k in GROUP_ACD_KEYS if k in d}
    if acd:
        operator_store.set_group_acd(db, name, acd)
    settings = {k: d[k] for k in routing.GROUP_KEYS if k in d}
    if settings:
        routing.set_group_settings(db, name, settings)


def user_json(u) -> dict:
    return {"id": u.id, "username": u.username, "role": u.role, "language": u.language,
            "operator_id": u.operator_id, "active": u.active}


def find(items, key, value):
    item = next((i for i in items if getattr(i, key) == value), None)
    if item is None:
        abort(404)
    return item


def changed(action: str, target: str, details: dict | None = None):
    audit.record(get_db(), g.user.username, action, target, details)


@bp.get("/openapi.json")
def openapi():
    return jsonify(spec())


@bp.get("/me")
@security.roles(*security.ALL_ROLES)
def me():
    data = user_json(g.user)
    data["operator"] = None
    if g.user.operator_id:
        op = next((o for o in render_config.load(get_db()).operators if o.id == g.user.operator_id), None)
        data["operator"] = operator_json(op) if op else None
    return jsonify(data)


@bp.get("/status")
@security.roles(*STAFF)
def get_status():
    return jsonify(status.collect(get_db()) | {"recent_calls": status.recent_calls(get_db())})


# --- trunks ---------------------------------------------------------------

@bp.get("/trunks")
@security.roles(*STAFF)
def trunks():
    return jsonify([trunk_json(t) for t in render_config.load(get_db()).trunks])


@bp.post("/trunks")
@security.roles("admin", "technician")
def add_trunk():
    d = body()
    db = get_db()
    with db.atomic():
        sip_trunks.add_sip_trunk(db, d.get("name", ""), d.get("host", ""), d.get("port", 5060))
        changed("trunk added", d.get("name"), {"host": d.get("host"), "port": d.get("port")})
    return jsonify(trunk_json(find(render_config.load(db).trunks, "name", d["name"].strip()))), 201


@bp.route("/trunks/<name>", methods=["GET", "PUT", "DELETE"])
@security.roles(*STAFF)
def trunk(name):
    db = get_db()
    current = find(render_config.load(db).trunks, "name", name)
    if request.method == "GET":
        return jsonify(trunk_json(current))
    if g.user.role not in ("admin", "technician"):
        abort(403)
    with db.atomic():
        if request.method == "DELETE":
            sip_trunks.delete_trunk(db, name)
            changed("trunk deleted", name)
            return "", 204
        d = body()
        sip_trunks.update_sip_trunk(db, name, d.get("host", current.host), d.get("port", current.port))
        changed("trunk changed", name, {"host": d.get("host"), "port": d.get("port")})
    return jsonify(trunk_json(find(render_config.load(db).trunks, "name", name)))


# --- E1 spans -------------------------------------------------------------

@bp.get("/spans")
@security.roles(*STAFF)
def list_spans():
    return jsonify([asdict(s) for s in spans.load_all(get_db())])


@bp.post("/spans")
@security.roles("admin", "technician")
def add_span():
    db = get_db()
    s = spans.validate(body())
    with db.atomic():
        spans.save(db, s, create=True)
        changed("span added", str(s.span), asdict(s))
    return jsonify(asdict(s)), 201


@bp.route("/spans/<int:number>", methods=["GET", "PUT", "DELETE"])
@security.roles(*STAFF)
def span(number):
    db = get_db()
    current = find(spans.load_all(db), "span", number)
    if request.method == "GET":
        return jsonify(asdict(current))
    if g.user.role not in ("admin", "technician"):
        abort(403)
    with db.atomic():
        if request.method == "DELETE":
            spans.delete(db, number)
            changed("span deleted", str(number))
            return "", 204
        s = spans.validate(asdict(current) | body() | {"span": number})
        spans.save(db, s, create=False)
        changed("span changed", str(number), asdict(s))
    return jsonify(asdict(s))


# --- operators and groups ---------------------------------------------------

@bp.get("/operators")
@security.roles("admin", "supervisor")
def operators():
    return jsonify([operator_json(o) for o in render_config.load(get_db()).operators])


@bp.post("/operators")
@security.roles("admin", "supervisor")
def add_operator():
    d = body()
    db = get_db()
    with db.atomic():
        operator_store.add_operator(db, str(d.get("extension", "")), d.get("name", ""), d.get("contact"), device=d.get("device"))
        if "skills" in d:
            routing.set_skills(db, str(d["extension"]).strip(), d["skills"])
        changed("operator added", str(d.get("extension")), {"name": d.get("name"), "skills": d.get("skills")})
    return jsonify(operator_json(find(render_config.load(db).operators, "extension", str(d["extension"]).strip()))), 201


@bp.route("/operators/<extension>", methods=["GET", "PUT", "DELETE"])
@security.roles("admin", "supervisor")
def operator(extension):
    db = get_db()
    current = find(render_config.load(db).operators, "extension", extension)
    if request.method == "GET":
        return jsonify(operator_json(current))
    with db.atomic():
        if request.method == "DELETE":
            operator_store.delete_operator(db, extension)
            changed("operator deleted", extension)
            return "", 204
        d = body()
        operator_store.update_operator(db, extension, d.get("name", current.name), d.get("contact", current.contact),
                              bool(d.get("enabled", current.enabled)), device=d.get("device"))
        if "skills" in d:
            routing.set_skills(db, extension, d["skills"])
        changed("operator changed", extension, {"name": d.get("name"), "contact": d.get("contact"),
                                                "skills": d.get("skills")})
    return jsonify(operator_json(find(render_config.load(db).operators, "extension", extension)))


@bp.get("/groups")
@security.roles("admin", "supervisor")
def groups():
    return jsonify([group_json(gr) for gr in render_config.load(get_db()).groups])


@bp.post("/groups")
@security.roles("admin", "supervisor")
def add_group():
    d = body()
    db = get_db()
    with db.atomic():
        operator_store.add_group(db, d.get("name", ""), d.get("title", ""), d.get("strategy", "rrmemory"),
                        d.get("ring_timeout", 15), bool(d.get("is_default", False)))
        operator_store.set_members(db, d["name"].strip(), [str(m) for m in d.get("members", [])])
        set_group_settings(db, d["name"].strip(), d)
        changed("group added", d.get("name"), {"members": d.get("members", [])})
    return jsonify(group_json(find(render_config.load(db).groups, "name", d["name"].strip()))), 201


@bp.route("/groups/<name>", methods=["GET", "PUT", "DELETE"])
@security.roles("admin", "supervisor")
def group(name):
    db = get_db()
    current = find(render_config.load(db).groups, "name", name)
    if request.method == "GET":
        return jsonify(group_json(current))
    with db.atomic():
        if request.method == "DELETE":
            operator_store.delete_group(db, name)
            changed("group deleted", name)
            return "", 204
        d = body()
        operator_store.update_group(db, name, d.get("title", current.title), d.get("strategy", current.strategy),
                           d.get("ring_timeout", current.ring_timeout), bool(d.get("is_default", current.is_default)))
        if "members" in d:
            operator_store.set_members(db, name, [str(m) for m in d["members"]])
        set_group_settings(db, name, d)
        changed("group changed", name, d)
    return jsonify(group_json(find(render_config.load(db).groups, "name", name)))


# --- users, settings, audit, changes ---------------------------------------

@bp.get("/users")
@security.roles("admin")
def list_users():
    return jsonify([user_json(u) for u in users.all_users(get_db())])


@bp.post("/users")
@security.roles("admin")
def add_user():
    d = body()
    db = get_db()
    with db.atomic():
        u = users.create(db, d.get("username", ""), d.get("password", ""), d.get("role", ""),
                         d.get("language", "ru"), d.get("operator_id"))
        changed("user added", u.username, {"role": u.role})
    return jsonify(user_json(u)), 201


@bp.route("/users/<int:user_id>", methods=["GET", "PUT", "DELETE"])
@security.roles("admin")
def user(user_id):
    db = get_db()
    current = users.get(db, user_id) or abort(404)
    if request.method == "GET":
        return jsonify(user_json(current))
    with db.atomic():
        if request.method == "DELETE":
            if current.id == g.user.id:
                raise ConfigError("id", "you cannot delete yourself")
            users.delete(db, user_id)
            changed("user deleted", current.username)
            return "", 204
        d = body()
        u = users.update(db, user_id, role=d.get("role"), language=d.get("language"),
                         active=d.get("active"), password=d.get("password"),
                         operator_id=d.get("operator_id", "keep"))
        changed("user changed", u.username, {k: v for k, v in d.items() if k != "password"})
    return jsonify(user_json(u))


@bp.route("/settings", methods=["GET", "PUT"])
@security.roles("admin")
def settings():
    db = get_db()
    if request.method == "PUT":
        settings_page.save(db, body(), g.user.username)
    current = dict(db.execute("SELECT key, value FROM settings"))
    return jsonify({k: current.get(k) for k in (*settings_page.EDITABLE, *settings_page.READ_ONLY)})


@bp.get("/audit")
@security.roles("admin")
def audit_entries():
    limit = min(max(request.args.get("limit", 100, type=int), 1), 1000)
    return jsonify(audit.entries(get_db(), limit, max(0, request.args.get("offset", 0, type=int))))


@bp.get("/changes")
@security.roles(*changes.EDITORS)
def pending_changes():
    return jsonify({"pending": changes.pending(get_db())})


@bp.post("/apply")
@security.roles(*changes.EDITORS)
def apply_changes():
    ok, message = changes.apply_now(get_db())
    return jsonify(applied=ok, message=message), (200 if ok else 409)
