"""/api/v1/schedules: working hours, holidays and working-day exceptions that
number bindings and Condition nodes follow (F5)."""
from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, abort, g, jsonify, request

from appliance.base import audit
from appliance.schedules import store as schedules
from appliance.base.errors import ConfigError

from . import get_db, security
from .api import body, invalid

bp = Blueprint("schedules_api", __name__, url_prefix="/api/v1")
bp.register_error_handler(ConfigError, invalid)
EDITORS = ("admin", "supervisor")


def schedule_json(db, s: schedules.Schedule, now: datetime | None = None) -> dict:
    now = now or datetime.now(timezone.utc)
    return {**schedules.to_json(s), "open_now": schedules.is_open(s, now),
            "holiday_today": schedules.is_holiday(s, now), "used_by": schedules.used_by(db, s.name)}


def found(db, name: str) -> schedules.Schedule:
    s = schedules.load(db, name)
    if s is None:
        abort(404)
    return s


@bp.get("/schedules")
@security.roles(*EDITORS)
def list_schedules():
    db = get_db()
    return jsonify([schedule_json(db, s) for s in schedules.load_all(db)])


@bp.post("/schedules")
@security.roles(*EDITORS)
def create():
    d, db = body(), get_db()
    with db.atomic():
        s = schedules.save(db, d, create=True)
        audit.record(db, g.user.username, "schedule added", s.name, schedules.to_json(s))
    return jsonify(schedule_json(db, s)), 201


@bp.route("/schedules/<name>", methods=["GET", "PUT", "DELETE"])
@security.roles(*EDITORS)
def schedule(name):
    db = get_db()
    current = found(db, name)
    if request.method == "PUT":
        d = {**schedules.to_json(current), **body(), "name": name}
        with db.atomic():
            current = schedules.save(db, d, create=False)
            audit.record(db, g.user.username, "schedule changed", name, schedules.to_json(current))
    elif request.method == "DELETE":
        with db.atomic():
            schedules.delete(db, name)
            audit.record(db, g.user.username, "schedule deleted", name)
        return "", 204
    return jsonify(schedule_json(db, current))
