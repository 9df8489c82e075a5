"""SIP protection: the addresses the SIP guard banned after repeated failed
SIP requests (appliance/operators/sip_guard.py), lifting a ban, the guard's
limits and allow list, and the TLS transport secure phones use. Admins and
technicians see the page and lift bans; only an admin changes the limits.
The same under /api/v1/sip-bans and /api/v1/sip-guard."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, g, jsonify, redirect, render_template, request, url_for

from appliance.base import store, tls
from appliance.base.errors import ConfigError
from appliance.operators import devices, sip_guard
from appliance.render import pjsip
from web import api_common, security
from web.api_common import body
from web.context import error_text, get_db, gettext

bp = Blueprint("sip_bans", __name__, url_prefix="/sip-bans")
api_bp = api_common.blueprint("sip_bans_api", __name__)
VIEWERS = ("admin", "technician")
SHOWN = 100


def ban_json(b: sip_guard.Ban) -> dict:
    return {"id": b.id, "address": b.address, "failures": b.failures, "events": b.events,
            "accounts": b.accounts, "started_at": b.started_at, "until": b.until, "active": b.active,
            "ended_at": b.ended_at, "ended_by": b.ended_by}


def policy_json(p: sip_guard.Policy) -> dict:
    return {"failures": p.failures, "window": p.window, "ban_minutes": p.ban_minutes,
            "allow": [str(n) for n in p.allow]}


def _lift(db, ban_id: int) -> sip_guard.Ban:
    return sip_guard.lift(db, ban_id, g.user.username)


@bp.route("/", methods=["GET", "POST"])
@security.roles(*VIEWERS)
def page():
    db = get_db()
    errors = {}
    form = request.form if request.method == "POST" else {}
    if request.method == "POST":
        action = request.form.get("action")
        try:
            if action == "lift":
                ban = _lift(db, request.form.get("ban", type=int) or 0)
                flash(gettext("The ban of {address} is lifted; the guard lets it in within seconds.",
                              address=ban.address))
            elif action == "settings":
                if g.user.role != "admin":
                    abort(403)
                sip_guard.set_policy(db, {k: request.form.get(k, "") for k in
                                          ("failures", "window", "ban_minutes", "allow")}, g.user.username)
                flash(gettext("Saved. The SIP guard uses the new limits within seconds."))
            else:
                abort(400)
        except ConfigError as exc:
            errors[exc.field] = error_text(exc)
        else:
            return redirect(url_for("sip_bans.page"))
    p = sip_guard.policy(db)
    settings = store.settings(db)
    bans = sip_guard.recent(db, SHOWN)
    return render_template(
        "sip_bans.html", active=[b for b in bans if b.active], ended=[b for b in bans if not b.active],
        policy=p, form=form or {**policy_json(p), "allow": p.allow_text}, errors=errors,
        never=sorted(sip_guard.own_addresses(settings) | sip_guard.trunk_addresses(db)),
        tls_port=pjsip.tls_port(settings), certificate=tls.current(current_app.config["KORUND_INSTANCE"].base),
        secure_phones=sorted(devices.secure_phones(db))), (400 if errors else 200)


@api_bp.get("/sip-bans")
@security.roles(*VIEWERS)
def api_bans():
    """The bans in force; ?all=1 also the ended ones (newest first, at most 1000)."""
    db = get_db()
    if request.args.get("all") == "1":
        return jsonify([ban_json(b) for b in sip_guard.recent(db, 1000)])
    return jsonify([ban_json(b) for b in sip_guard.active(db)])


@api_bp.post("/sip-bans/<int:ban_id>/lift")
@security.roles(*VIEWERS)
def api_lift(ban_id: int):
    db = get_db()
    if sip_guard.get(db, ban_id) is None:
        abort(404)
    return jsonify(ban_json(_lift(db, ban_id)))


@api_bp.get("/sip-guard")
@security.roles(*VIEWERS)
def api_policy():
    return jsonify(policy_json(sip_guard.policy(get_db())))


@api_bp.put("/sip-guard")
@security.roles("admin")
def api_set_policy():
    d = body()
    unknown = [k for k in d if k not in ("failures", "window", "ban_minutes", "allow")]
    if unknown:
        raise ConfigError(unknown[0], "not a setting of the SIP guard")
    if isinstance(d.get("allow"), list):
        d["allow"] = " ".join(str(a) for a in d["allow"])
    return jsonify(policy_json(sip_guard.set_policy(get_db(), d, g.user.username)))
