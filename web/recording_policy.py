"""Записи разговоров → Политика (admin): the recording policies, the disk
guard's floors and the recordings' disk usage; and the API to record a live
call on demand (start / pause / resume), used by the operator's desktop and
the supervisor's status page. The library is appliance.recordings.store.

An operator may pause only a recording they started on demand: one the
policy makes (every call, or a sample of them) is for disputes and quality
review, and stays whole."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, g, jsonify, redirect, render_template, request, url_for

from appliance.base import ami, audit, store
from appliance.base.errors import ConfigError
from appliance.clients import desktop
from appliance.recordings import store as recordings
from web import api_common, security
from web.api_common import body
from web.context import error_text, get_db, gettext
from web.i18n import _

bp = Blueprint("recording_policy", __name__)
api_bp = api_common.blueprint("recording_policy_api", __name__)
ADMINS = ("admin",)
CONTROLLERS = ("admin", "supervisor", "operator")


def _instance():
    return current_app.config["KORUND_INSTANCE"]


def _policy_json(p: dict) -> dict:
    return {k: p[k] for k in ("scope", "target", "mode", "sample_percent", "two_channel", "retention_days")}


# --- the page -----------------------------------------------------------------------

@bp.get("/recording-policy")
@security.roles(*ADMINS)
def page(form=None, errors=None, guard_form=None, guard_errors=None, status=200):
    db = get_db()
    groups = [r[0] for r in db.execute("SELECT name FROM groups ORDER BY name")]
    return render_template("recording_policy.html", policies=recordings.policies(db),
                           usage=recordings.usage(db, _instance()), groups=groups,
                           form=form or {"scope": "group", "mode": "all", "sample_percent": "100"},
                           errors=errors or {}, guard_form=guard_form or recordings.guard_settings(db),
                           guard_errors=guard_errors or {}), status


@bp.post("/recording-policy")
@security.roles(*ADMINS)
def save():
    db, f = get_db(), request.form
    form = {k: f.get(k, "") for k in ("scope", "target", "mode", "sample_percent", "retention_days")}
    form["two_channel"] = f.get("two_channel", "")
    try:
        p = recordings.set_policy(db, g.user.username, form["scope"], form["target"], form["mode"],
                                  form["sample_percent"], form["two_channel"], form["retention_days"])
    except ConfigError as exc:
        return page(form=form, errors={exc.field: error_text(exc)}, status=422)
    flash(gettext("Policy {name} saved. Apply the configuration so that Asterisk records by it.",
                  name=recordings.policy_key(p["scope"], p["target"])))
    return redirect(url_for("recording_policy.page"))


@bp.post("/recording-policy/delete")
@security.roles(*ADMINS)
def remove():
    db = get_db()
    try:
        recordings.delete_policy(db, g.user.username, request.form.get("scope", ""),
                                 request.form.get("target", ""))
    except ConfigError as exc:
        flash(error_text(exc), "error")
        return redirect(url_for("recording_policy.page"))
    flash(gettext("Policy deleted. Apply the configuration so that Asterisk records by it."))
    return redirect(url_for("recording_policy.page"))


@bp.post("/recording-policy/guard")
@security.roles(*ADMINS)
def save_guard():
    db, f = get_db(), request.form
    form = {k: f.get(k, "") for k in ("warn_free_percent", "delete_free_percent")}
    try:
        recordings.set_guard(db, g.user.username, form["warn_free_percent"], form["delete_free_percent"])
    except ConfigError as exc:
        return page(guard_form=form, guard_errors={exc.field: error_text(exc)}, status=422)
    flash(gettext("Disk guard saved."))
    return redirect(url_for("recording_policy.page"))


@bp.post("/recording-policy/live/<linkedid>")
@security.roles("admin", "supervisor")
def control_live(linkedid):
    """The status page's Record / Pause / Resume of a live call."""
    db = get_db()
    try:
        mgr = ami.connect(store.settings(db), timeout=5)
    except ami.AmiError:
        flash(gettext("Asterisk is not reachable"), "error")
        return redirect(url_for("status.page"))
    try:
        recordings.control(db, _instance(), mgr, linkedid, request.form.get("action", ""), g.user.username)
    except ConfigError as exc:
        flash(error_text(exc), "error")
    finally:
        ami.close(mgr)
    return redirect(url_for("status.page"))


# --- the API ----------------------------------------------------------------------------

@api_bp.get("/recording-policies")
@security.roles(*ADMINS)
def api_policies():
    return jsonify([_policy_json(p) for p in recordings.policies(get_db())])


@api_bp.put("/recording-policies")
@security.roles(*ADMINS)
def api_set_policy():
    d = body()
    p = recordings.set_policy(get_db(), g.user.username, d.get("scope"), d.get("target", ""), d.get("mode"),
                              d.get("sample_percent", 100), d.get("two_channel", False),
                              d.get("retention_days"))
    return jsonify(p)


@api_bp.delete("/recording-policies/<scope>")
@security.roles(*ADMINS)
def api_delete_policy(scope):
    recordings.delete_policy(get_db(), g.user.username, scope, request.args.get("target", ""))
    return "", 204


@api_bp.get("/recording-guard")
@security.roles(*ADMINS)
def api_guard():
    return jsonify(recordings.usage(get_db(), _instance()))


@api_bp.put("/recording-guard")
@security.roles(*ADMINS)
def api_set_guard():
    d = body()
    db = get_db()
    recordings.set_guard(db, g.user.username, d.get("warn_free_percent"), d.get("delete_free_percent"))
    return jsonify(recordings.usage(db, _instance()))


def _who(db) -> str | None:
    """The extension whose call an operator may control; None for staff
    (any call). An operator without an extension may control nothing."""
    if g.user.role == "operator":
        ext = desktop.extension_of(db, g.user)
        if not ext:
            abort(403)
        return ext
    return None


def _pausable(db, linkedid: str, ext: str | None) -> bool:
    """May the user pause the call's recording? Staff (*ext* None) may; an
    operator only one started on demand, not one the policy makes."""
    if ext is None:
        return True
    offer = desktop.live_offer(db, linkedid, ext)
    rec = recordings.live_recording(db, offer["dest_channel"] or "") if offer else None
    return rec is None or rec["mode"] == "demand"


def _state(db, linkedid: str, ext: str | None) -> dict:
    return {**recordings.call_state(db, linkedid, ext), "pausable": _pausable(db, linkedid, ext)}


@api_bp.get("/calls/<linkedid>/recording")
@security.roles(*CONTROLLERS)
def api_call_recording(linkedid):
    db = get_db()
    return jsonify(_state(db, linkedid, _who(db)))


@api_bp.post("/calls/<linkedid>/recording")
@security.roles(*CONTROLLERS)
def api_control(linkedid):
    db = get_db()
    ext = _who(db)
    action = str(body().get("action", ""))
    if action not in ("start", "pause", "resume"):
        raise ConfigError("action", "one of {choices}", choices="start, pause, resume")
    if recordings.call_state(db, linkedid, ext)["live"] is False:
        raise ConfigError("action", "the call is not in progress")
    if action == "pause" and not _pausable(db, linkedid, ext):
        audit.record(db, g.user.username, _("recording pause refused"), linkedid)
        return jsonify(error="refused", message=gettext(
            "The recording policy records this call whole: an operator cannot pause it.")), 403
    try:
        mgr = ami.connect(store.settings(db), timeout=5)
    except ami.AmiError:
        return jsonify(error="unavailable", message=gettext("Asterisk is not reachable")), 503
    try:
        recordings.control(db, _instance(), mgr, linkedid, action, g.user.username, ext)
    finally:
        ami.close(mgr)
    return jsonify(_state(db, linkedid, ext))
