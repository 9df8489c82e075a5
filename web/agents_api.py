"""/api/v1/agents: operator states (ACD). Supervisors and admins see and set
everyone's; an operator sees everyone's and sets their own (the user's
operator_id). /api/v1/pause-reasons lists the reasons a pause may carry."""
from __future__ import annotations

from flask import Blueprint, abort, g, jsonify

from appliance.operators import states as operator_states
from appliance.base import ami
from appliance.base import audit
from appliance.base import store

from . import get_db, security
from .api import body, invalid
from appliance.base.errors import ConfigError

bp = Blueprint("agents_api", __name__, url_prefix="/api/v1")
bp.register_error_handler(ConfigError, invalid)
EDITORS = ("admin", "supervisor")
VIEWERS = ("admin", "supervisor", "operator")


def may_change(db, extension: str) -> bool:
    if g.user.role in EDITORS:
        return True
    if g.user.role == "operator" and g.user.operator_id:
        row = db.execute("SELECT extension FROM operators WHERE id = ?", [g.user.operator_id]).fetchone()
        return bool(row) and row[0] == extension
    return False


def connect_ami(db):
    """An AMI session to push the change at once, or None (the events
    service's sync pushes it within operator_states.SYNC_SECONDS)."""
    try:
        return ami.connect(store.settings(db), timeout=0.3)
    except ami.AmiError:
        return None


def set_state(db, extension: str, new: str, reason) -> dict:
    """Change one operator's state as the logged-in user (shared with the
    panel's status page form)."""
    if not db.execute("SELECT 1 FROM operators WHERE extension = ?", [extension]).fetchone():
        abort(404)
    if not may_change(db, extension):
        abort(403)
    mgr = connect_ami(db)
    try:
        with operator_states.immediate(db):
            result = operator_states.change(db, mgr, extension, new, reason, by=g.user.username)
            audit.record(db, g.user.username, "operator state", extension,
                         {"state": new, "reason": result["reason"]})
    finally:
        ami.close(mgr)
    return result


@bp.get("/agents")
@security.roles(*VIEWERS)
def list_agents():
    return jsonify(operator_states.states(get_db()))


@bp.post("/agents/<extension>/state")
@security.roles(*VIEWERS)
def change_state(extension):
    d = body()
    return jsonify(set_state(get_db(), extension, str(d.get("state", "")), d.get("reason")))


@bp.get("/pause-reasons")
@security.roles(*VIEWERS)
def pause_reasons():
    return jsonify(operator_states.reasons(get_db()))
