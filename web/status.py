"""The status page and ``/api/v1/status``."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, render_template

from appliance import status

from . import get_db

bp = Blueprint("status", __name__)

RECENT_CALLS = 20


def _recent_calls(db):
    cols = ["started_at", "ani", "dnis", "trunk", "grp", "route_source", "operator",
            "connected_at", "ended_at", "outcome"]
    rows = db.execute(f"SELECT {', '.join(cols)} FROM calls ORDER BY id DESC LIMIT ?",
                      [RECENT_CALLS]).fetchall()
    return [dict(zip(cols, r)) for r in rows]


@bp.get("/")
def page():
    db = get_db()
    return render_template("status.html", s=status.collect(current_app.config["KORUND_INSTANCE"], db),
                           calls=_recent_calls(db))


@bp.get("/api/v1/status")
def api_status():
    db = get_db()
    data = status.collect(current_app.config["KORUND_INSTANCE"], db)
    data["recent_calls"] = _recent_calls(db)
    return jsonify(data)
