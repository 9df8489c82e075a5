"""Pending changes and Apply: render → write → reload → verify → roll back;
the same under /api/v1/changes and /api/v1/apply."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, g, jsonify, redirect, request, url_for

from appliance import apply as applier
from appliance.base import ami, audit
from appliance.lines import apply as dahdi_apply
from web import api_common, security
from web.context import get_db, gettext

bp = Blueprint("changes", __name__)
api_bp = api_common.blueprint("changes_api", __name__)

EDITORS = ("admin", "supervisor", "technician")


def pending(db) -> list[str]:
    return applier.pending(current_app.config["KORUND_INSTANCE"], db)


def apply_now(db) -> tuple[bool, str]:
    """Apply the stored configuration; (ok, message for the user)."""
    inst = current_app.config["KORUND_INSTANCE"]
    mgr = ami.connect_if_running(inst, db, timeout=5)
    try:
        result = applier.apply(inst, db, mgr)
    except applier.ApplyError as exc:
        audit.record(db, g.user.username, "apply refused", details={"error": str(exc)})
        return False, gettext("Asterisk rejected the changes; the previous configuration is back. "
                              "What Asterisk said: {error}", error=str(exc))
    finally:
        ami.close(mgr)
    audit.record(db, g.user.username, "apply", details={"generation": result.generation,
                                                        "reloaded": result.reloaded,
                                                        "modules": result.modules})
    if result.reloaded:
        said = gettext("Changes applied: Asterisk reloaded.")
        if dahdi_apply.not_in_service(db):
            said += " " + gettext("The E1 span settings are not in service yet: use the DAHDI apply on the "
                                  "Lines page.")
        return True, said
    return True, gettext("Changes written; Asterisk is not running and will read them when it starts.")


@bp.post("/apply")
@security.roles(*EDITORS)
def apply_changes():
    ok, message = apply_now(get_db())
    flash(message, "ok" if ok else "error")
    target = request.form.get("next", "")
    return redirect(target if target.startswith("/") and not target.startswith("//") else url_for("status.page"))


@api_bp.get("/changes")
@security.roles(*EDITORS)
def api_pending():
    return jsonify({"pending": pending(get_db())})


@api_bp.post("/apply")
@security.roles(*EDITORS)
def api_apply():
    ok, message = apply_now(get_db())
    return jsonify(applied=ok, message=message), (200 if ok else 409)
