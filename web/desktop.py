"""The operator's desktop (F8, F9): state control, today's figures, and the
screen pop pushed over server-sent events, with the card, the IVR path,
notes saved as typed, transfer and callback orders; calling a number from
the desktop (the operator's phone rings first).

Operators use their own desktop; supervisors and admins may open any
operator's desktop read-only (``?operator=<extension>``). The JSON
endpoints below belong to the page (session cookie plus CSRF header);
``POST /api/v1/desktop/call`` is the API's too (an operator's token, as a
CRM's click-to-call uses it).
"""
from __future__ import annotations

import json
import re
import time

from flask import Blueprint, Response, abort, current_app, g, jsonify, render_template, request, url_for

from appliance.base import ami, audit, store
from appliance.base.errors import ConfigError
from appliance.clients import desktop, store as clients
from appliance.operators import states as operator_states
from web import api_common, security
from web.context import get_db

bp = Blueprint("desktop", __name__)
api_bp = api_common.blueprint("desktop_api", __name__)
READERS = ("admin", "supervisor")
LINKEDID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# An event stream ends after this long and the browser reconnects (with
# Last-Event-ID, so nothing is missed): a server thread is never held for
# good by a closed tab.
STREAM_SECONDS = 55
KEEPALIVE_SECONDS = 15
POLL_SECONDS = 0.1


# The page's JSON endpoints refuse a value as the API does.
bp.register_error_handler(ConfigError, api_common.invalid)


def _json_error(code: int, message: str):
    return jsonify(error="refused", message=message), code


def _whose() -> tuple[str, bool]:
    """(extension shown, read-only?) for the request's user."""
    db = get_db()
    if g.user.role == "operator":
        ext = desktop.extension_of(db, g.user)
        if not ext:
            abort(403)
        return ext, False
    ext = request.args.get("operator", "")
    if not re.fullmatch(r"[0-9]{2,8}", ext) or not db.execute(
            "SELECT 1 FROM operators WHERE extension = ?", [ext]).fetchone():
        abort(404)
    return ext, True


def _body() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ConfigError("body", "the request must be a JSON object")
    return data


def _session_for_writing(linkedid: str) -> str:
    """The operator's extension if they may change the session *linkedid*."""
    if not LINKEDID.fullmatch(linkedid):
        abort(404)
    if g.user.role != "operator":
        abort(403)
    ext = desktop.extension_of(get_db(), g.user)
    if not desktop.was_offered(get_db(), linkedid, ext):
        abort(404)
    return ext


@bp.get("/desktop")
@security.roles("operator", *READERS)
def page():
    db = get_db()
    if g.user.role != "operator" and not request.args.get("operator"):
        return render_template("desktop.html", chooser=operator_states.states(db), ext=None)
    ext, readonly = _whose()
    current = desktop.current_offer(db, ext)
    config = {
        "extension": ext, "readonly": readonly, "after": desktop.last_offer_id(db, ext),
        "current": current["linkedid"] if current else None,
        "events": url_for("desktop.events", operator=ext if readonly else None),
        "sessions": url_for("desktop.page") + "/sessions/",
        "state": url_for("desktop.change_state"), "figures": url_for("desktop.figures", operator=ext if readonly else None),
        "fields": clients.custom_fields(db),
        "call": url_for("desktop_api.api_call"),
        # record on demand (F12): web/recording_policy.py
        "recording": url_for("recording_policy_api.api_call_recording", linkedid="LINKEDID"),
    }
    return render_template("desktop.html", chooser=None, ext=ext, readonly=readonly,
                           state=operator_states.state(db, ext), reasons=operator_states.reasons(db),
                           figures=desktop.today_figures(db, ext), config=config,
                           operators=[o for o in operator_states.states(db) if o["extension"] != ext],
                           groups=[r[0] for r in db.execute("SELECT name FROM groups ORDER BY name")],
                           attended=desktop.attended_available(current_app.config["KORUND_INSTANCE"].etc))


@bp.get("/desktop/events")
@security.roles("operator", *READERS)
def events():
    """Server-sent events: each call offered to the operator's phone, with
    its whole session, as soon as the events service records it."""
    ext, readonly = _whose()
    viewer = None if readonly else ext   # an operator sees only their own earlier calls
    last = request.headers.get("Last-Event-ID") or request.args.get("after") or ""
    db = get_db()
    after = int(last) if last.isdigit() else desktop.last_offer_id(db, ext)
    inst = current_app.config["KORUND_INSTANCE"]

    def stream():
        own = inst.open_store()
        try:
            yield "retry: 1000\n\n"
            start = last_sent = time.monotonic()
            nonlocal after
            shown = None   # (offer id, state) the page last heard of
            while time.monotonic() - start < STREAM_SECONDS:
                found = desktop.wait_for_offers(own, ext, after, timeout=1.0, interval=POLL_SECONDS)
                for offer in found:
                    after = offer["id"]
                    payload = {"offer": offer, "session": desktop.session(own, offer["linkedid"], viewer)}
                    yield f"id: {offer['id']}\nevent: offer\ndata: {json.dumps(payload, ensure_ascii=False)}\n\n"
                    shown = (offer["id"], offer["state"])
                    last_sent = time.monotonic()
                # the call shown was answered, missed or ended: the card's badge follows
                latest = desktop.latest_offer(own, ext)
                if latest and latest["id"] <= after and (latest["id"], latest["state"]) != shown:
                    if shown is not None:
                        yield f"event: state\ndata: {json.dumps(latest)}\n\n"
                        last_sent = time.monotonic()
                    shown = (latest["id"], latest["state"])
                if time.monotonic() - last_sent > KEEPALIVE_SECONDS:
                    yield ": keep-alive\n\n"
                    last_sent = time.monotonic()
        finally:
            own.close()

    return Response(stream(), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@bp.get("/desktop/sessions/<linkedid>")
@security.roles("operator", *READERS)
def session_json(linkedid):
    db = get_db()
    if not LINKEDID.fullmatch(linkedid) or not desktop.can_read(db, g.user, linkedid):
        abort(404)
    found = desktop.session(db, linkedid, desktop.extension_of(db, g.user) if g.user.role == "operator" else None)
    if found is None:
        abort(404)
    return jsonify(found)


@bp.put("/desktop/sessions/<linkedid>/note")
@security.roles("operator")
def save_note(linkedid):
    ext = _session_for_writing(linkedid)
    at = desktop.save_note(get_db(), linkedid, g.user.username, ext, _body().get("text"))
    return jsonify(saved_at=at)


@bp.post("/desktop/sessions/<linkedid>/client")
@security.roles("operator")
def save_client(linkedid):
    _session_for_writing(linkedid)
    data = _body()
    client = desktop.save_client(get_db(), linkedid, data, g.user.username)
    return jsonify(client=client, edits=desktop.edits(get_db(), linkedid))


@bp.post("/desktop/sessions/<linkedid>/transfer")
@security.roles("operator")
def transfer(linkedid):
    ext = _session_for_writing(linkedid)
    db = get_db()
    data = _body()
    # bad input, and a number the operator may not send the caller to, answer before AMI is asked
    desktop.check_transfer(db, linkedid, data.get("target"), g.user.username, ext)
    if data.get("kind") == "attended" and not desktop.attended_available(current_app.config["KORUND_INSTANCE"].etc):
        raise ConfigError("kind", "attended transfer needs an attended-transfer feature code (atxfer) in "
                                  "Asterisk's features.conf; use a blind transfer")
    try:
        mgr = ami.connect(store.settings(db), timeout=5)
    except ami.AmiError as exc:
        return _json_error(503, str(exc))
    try:
        done = desktop.transfer(db, mgr, linkedid, data.get("kind") or "blind", data.get("target"),
                                g.user.username, ext)
    finally:
        ami.close(mgr)
    audit.record(db, g.user.username, "call transferred", linkedid, done)
    return jsonify(done)


@bp.post("/desktop/sessions/<linkedid>/transfer/<how>")
@security.roles("operator")
def finish_transfer(linkedid, how):
    """Complete or cancel the attended transfer the operator is consulting."""
    ext = _session_for_writing(linkedid)
    if how not in ("complete", "cancel"):
        abort(404)
    db = get_db()
    try:
        mgr = ami.connect(store.settings(db), timeout=5)
    except ami.AmiError as exc:
        return _json_error(503, str(exc))
    try:
        done = desktop.finish_attended(db, mgr, linkedid, how, g.user.username, ext)
    finally:
        ami.close(mgr)
    audit.record(db, g.user.username, "transfer completed" if how == "complete" else "transfer cancelled",
                 linkedid, done)
    return jsonify(done)


@bp.post("/desktop/sessions/<linkedid>/callback")
@security.roles("operator")
def callback(linkedid):
    _session_for_writing(linkedid)
    data = _body()
    order = desktop.order_callback(get_db(), linkedid, data.get("number"), data.get("slot"), g.user.username)
    return jsonify(order=order), 201


@bp.post("/desktop/state")
@security.roles("operator")
def change_state():
    db = get_db()
    ext = desktop.extension_of(db, g.user)
    if not ext:
        abort(403)
    data = _body()
    new = data.get("state")
    if new not in ("ready", "paused", "logged_out"):
        raise ConfigError("state", "one of {choices}", choices="ready, paused, logged_out")
    mgr = None
    try:
        mgr = ami.connect(store.settings(db), timeout=3)
    except ami.AmiError:
        mgr = None   # stored now; the ACD's sync makes the queues follow
    try:
        result = operator_states.change(db, mgr, ext, new, data.get("reason"), by=g.user.username)
    finally:
        ami.close(mgr)
    return jsonify(result)


@bp.get("/desktop/figures")
@security.roles("operator", *READERS)
def figures():
    ext, _readonly = _whose()
    db = get_db()
    return jsonify(figures=desktop.today_figures(db, ext), state=operator_states.state(db, ext))


@api_bp.post("/desktop/call")
@security.roles("operator")
def api_call():
    """Call a number from the operator's own phone: the phone rings first,
    then the number is dialled as if the operator had dialled it there."""
    db = get_db()
    ext = desktop.extension_of(db, g.user)
    if not ext:
        abort(403)
    number = api_common.body().get("number")
    # a number the operator may not call is refused (and audited) before AMI is asked
    checked = desktop.call_target(db, number, ext, g.user.username)
    try:
        mgr = ami.connect(store.settings(db), timeout=5)
    except ami.AmiError as exc:
        return jsonify(error="unavailable", message=str(exc)), 503
    try:
        placed = desktop.call_out(db, mgr, ext, checked)
    finally:
        ami.close(mgr)
    audit.record(db, g.user.username, "call placed", placed["number"], placed)
    return jsonify(placed), 202
