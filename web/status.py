"""The status page and its JSON twin, /api/v1/status.

Technicians see the appliance, not the calls: the last calls (callers'
numbers) are shown to admins and supervisors only; a technician's
``recent_calls`` is empty."""
from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify, render_template

from appliance import status
from appliance.health import store as health
from appliance.operators import states as operator_states
from appliance.recordings import store as recordings
from web import api_common, security
from web.context import get_db

bp = Blueprint("status", __name__)
api_bp = api_common.blueprint("status_api", __name__)

RECENT_CALLS = 20
# Who sees the last calls, with the callers' numbers.
CALL_READERS = ("admin", "supervisor")


def recent_calls(db, limit: int = RECENT_CALLS):
    if g.user.role not in CALL_READERS:
        return []
    cols = ["started_at", "ani", "dnis", "trunk", "grp", "route_source", "operator",
            "connected_at", "ended_at", "outcome"]
    rows = db.execute(f"SELECT {', '.join(cols)} FROM calls ORDER BY id DESC LIMIT ?", [limit]).fetchall()
    return [dict(zip(cols, r)) for r in rows]


def collect(db) -> dict:
    return status.collect(current_app.config["KORUND_INSTANCE"], db)


@bp.get("/")
@security.roles(*security.STAFF)
def page():
    db = get_db()
    supervises = g.user.role in ("admin", "supervisor")
    return render_template("status.html", s=collect(db), calls=recent_calls(db),
                           states=operator_states.states(db) if supervises else None,
                           hw_alarms=health.alarms(db, active_only=True, limit=20),
                           live_calls=recordings.live_calls(db) if supervises else None)


@api_bp.get("/status")
@security.roles(*security.STAFF)
def api_status():
    return jsonify(collect(get_db()) | {"recent_calls": recent_calls(get_db())})
