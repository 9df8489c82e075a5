"""What callers left in the IVR: voice messages (F2) and callback orders
(F3), for supervisors to work through; the same under /api/v1."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)

from appliance.base import audit
from appliance.base.errors import ConfigError
from appliance.callbacks import service as dialer, store as callbacks
from appliance.messages import store as messages
from appliance.render import config as render_config
from appliance.schedules import store as schedules
from web import api_common, security
from web.api_common import body, whole_number
from web.context import error_text, get_db, gettext
from web.i18n import _

bp = Blueprint("inbox", __name__)
api_bp = api_common.blueprint("inbox_api", __name__)
READERS = ("admin", "supervisor")


AUDIT_HANDLED = _("message handled")
AUDIT_CALLBACK = {"done": _("callback done"), "cancelled": _("callback cancelled")}
AUDIT_RETRY = _("callback retried")
AUDIT_DIALER = _("callback dialing limits changed")
STATUS_NAMES = (_("new"), _("handled"), _("done"), _("cancelled"), _("failed"))   # shown through _() in the pages
# The dialer's attempt results (appliance/callbacks/service.py RESULTS), shown through _().
RESULT_NAMES = {"answered": _("answered"), "no_answer": _("no answer"), "busy": _("busy"), "failed": _("failed"),
                "lost": _("lost (the dialer was down)"), "operator_no_answer": _("operator did not answer"),
                "operator_unreachable": _("operator unreachable"),
                "operator_hung_up": _("operator hung up before the client answered"), None: _("dialing now")}


@bp.app_template_filter("inbox_time")
def local_time(value: str | None) -> str:
    """A stored UTC time on the call center's clock (the ``timezone``
    setting, as for schedules and callback slots), to the minute."""
    if not value:
        return ""
    if "inbox_tz" not in g:
        g.inbox_tz = ZoneInfo(schedules.default_timezone(get_db()))
    try:
        return datetime.fromisoformat(value).astimezone(g.inbox_tz).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return value


def _base():
    return current_app.config["KORUND_INSTANCE"].base


def _groups(db, table: str) -> list[str]:
    names = {gr.name for gr in render_config.load(db).groups}
    names |= {r[0] for r in db.execute(f"SELECT DISTINCT grp FROM {table}")}
    return sorted(names)


def _filters(states) -> tuple[str, str]:
    status = request.args.get("status", "")
    return (status if status in states else ""), request.args.get("group", "")[:40]


def _message_404(db, message_id):
    message = messages.get(db, message_id)
    if message is None:
        abort(404)
    return message


def _mark_handled(db, message: dict) -> dict | None:
    """Mark a new message handled by the user, with its audit entry; the
    message as now, or None if it was handled already."""
    with db.atomic():
        if message["status"] != "new":
            return None
        message = messages.mark_handled(db, message["id"], g.user.username)
        audit.record(db, g.user.username, AUDIT_HANDLED, str(message["id"]),
                     {"group": message["grp"], "ani": message["ani"]})
    return message


def _order_changed(db, action: str, order: dict) -> dict:
    audit.record(db, g.user.username, action, str(order["id"]), {"group": order["grp"], "number": order["number"]})
    return order


def _set_status(db, callback_id: int, new: str) -> dict:
    """Close an order as done or cancelled, with its audit entry (LookupError, ConfigError)."""
    with db.atomic():
        order = callbacks.set_status(db, callback_id, new, g.user.username)
        return _order_changed(db, AUDIT_CALLBACK[order["status"]], order)


def _retry(db, callback_id: int) -> dict:
    """Have the dialer call an order now, with its audit entry (LookupError, ConfigError)."""
    dialer.check_retry(db, callback_id, g.user.username)   # the outbound policy; its refusal stays audited
    with db.atomic():
        dialer.retry(db, callback_id, dialer.system_clock())
        return _order_changed(db, AUDIT_RETRY, callbacks.get(db, callback_id))


# --- panel -------------------------------------------------------------------

@bp.get("/messages")
@security.roles(*READERS)
def messages_page():
    db = get_db()
    status, group = _filters(messages.STATES)
    rows = messages.list_messages(db, status or None, group or None)
    return render_template("messages.html", rows=rows, status=status, group=group,
                           groups=_groups(db, "messages"))


@bp.get("/messages/<int:message_id>/audio")
@security.roles(*READERS)
def message_audio(message_id):
    message = _message_404(get_db(), message_id)
    path = messages.audio_path(_base(), message)
    if path is None:
        abort(404)
    return send_file(path, mimetype="audio/wav", download_name=f"message-{message_id}.wav",
                     conditional=True, max_age=0)


@bp.post("/messages/<int:message_id>/handled")
@security.roles(*READERS)
def message_handled(message_id):
    db = get_db()
    message = _message_404(db, message_id)
    if _mark_handled(db, message):
        flash(gettext("Message {id} is marked handled.", id=message_id))
    else:
        flash(gettext("Message {id} was already handled by {user}.", id=message_id,
                      user=message["handled_by"] or "?"))
    return redirect(url_for("inbox.messages_page", status=request.form.get("status", ""),
                            group=request.form.get("group", "")))


@bp.get("/callbacks")
@security.roles(*READERS)
def callbacks_page():
    db = get_db()
    status, group = _filters(callbacks.STATES)
    rows = callbacks.list_orders(db, status or None, group or None)
    now = dialer.system_clock()
    dialing = dialer.dialing_state(db, [c["id"] for c in rows])
    overdue = {c["id"] for c in rows if dialer.is_overdue({**c, **dialing.get(c["id"], {})}, now)}
    return render_template("callbacks.html", rows=rows, status=status, group=group,
                           groups=_groups(db, "callbacks"), states=callbacks.STATES, dialing=dialing,
                           overdue=overdue, result_names=RESULT_NAMES, limits=dialer.limits(db),
                           overrides=dialer.group_overrides(db), limit_names=LIMIT_NAMES,
                           limit_ranges=dialer.LIMITS, all_groups=[gr.name for gr in render_config.load(db).groups])


LIMIT_NAMES = {"max_attempts": _("Attempts at most"), "retry_seconds": _("Retry after, seconds"),
               "client_ring": _("Client's phone rings, seconds"),
               "operator_ring": _("Operator's phone rings, seconds")}


def _back():
    return redirect(url_for("inbox.callbacks_page", status=request.form.get("filter_status", ""),
                            group=request.form.get("group", "")))


@bp.post("/callbacks/<int:callback_id>/retry")
@security.roles(*READERS)
def callback_retry(callback_id):
    try:
        _retry(get_db(), callback_id)
    except LookupError:
        abort(404)
    except ConfigError as exc:
        flash(error_text(exc), "error")
    else:
        flash(gettext("Callback order {id} will be dialed again now.", id=callback_id))
    return _back()


@bp.post("/callbacks/dialing")
@security.roles(*READERS)
def callback_limits():
    db = get_db()
    target = request.form.get("limits_group", "")
    if target and target not in {gr.name for gr in render_config.load(db).groups}:
        flash(gettext("There is no group {name}.", name=target[:40]), "error")
        return _back()
    try:
        with db.atomic():
            saved = dialer.set_limits(db, {k: request.form.get(k, "") for k in dialer.LIMITS}, target or None)
            audit.record(db, g.user.username, AUDIT_DIALER, target or "*", saved)
    except ConfigError as exc:
        flash(gettext("{field}: {error}", field=gettext(LIMIT_NAMES.get(exc.field, exc.field)),
                      error=error_text(exc)), "error")
    else:
        flash(gettext("Dialing limits saved."))
    return _back()


@bp.post("/callbacks/<int:callback_id>/status")
@security.roles(*READERS)
def callback_status(callback_id):
    new = request.form.get("status", "")
    try:
        _set_status(get_db(), callback_id, new)
    except LookupError:
        abort(404)
    except ConfigError as exc:
        flash(error_text(exc), "error")
    else:
        flash(gettext("Callback order {id}: {status}.", id=callback_id, status=new))
    return _back()


# --- API ---------------------------------------------------------------------

def message_json(m: dict) -> dict:
    return {"id": m["id"], "group": m["grp"], "ani": m["ani"], "uniqueid": m["uniqueid"],
            "duration": m["duration"], "created_at": m["created_at"], "status": m["status"],
            "handled_at": m["handled_at"], "handled_by": m["handled_by"],
            "audio": url_for("inbox.message_audio", message_id=m["id"])}


def callback_json(c: dict, dialing: dict | None = None) -> dict:
    if dialing is None:
        dialing = dialer.dialing_state(get_db(), [c["id"]]).get(c["id"], {})
    return {"id": c["id"], "group": c["grp"], "number": c["number"], "ani": c["ani"], "asap": c["asap"],
            "slot_from": c["slot_from"], "slot_until": c["slot_until"], "status": c["status"],
            "uniqueid": c["uniqueid"], "created_at": c["created_at"], "changed_at": c["changed_at"],
            "changed_by": c["changed_by"], "tries": dialing.get("tries", 0), "next_at": dialing.get("next_at"),
            "overdue": dialer.is_overdue(c, dialer.system_clock()), "attempts": dialing.get("attempts", [])}


def _limit() -> int:
    return whole_number("limit", 200, 1, 1000)


@api_bp.get("/messages")
@security.roles(*READERS)
def api_messages():
    rows = messages.list_messages(get_db(), request.args.get("status") or None,
                                  request.args.get("group") or None, _limit())
    return jsonify([message_json(m) for m in rows])


@api_bp.post("/messages/<int:message_id>/handled")
@security.roles(*READERS)
def api_message_handled(message_id):
    db = get_db()
    message = _message_404(db, message_id)
    return jsonify(message_json(_mark_handled(db, message) or message))


@api_bp.get("/callbacks")
@security.roles(*READERS)
def api_callbacks():
    db = get_db()
    rows = callbacks.list_orders(db, request.args.get("status") or None,
                                 request.args.get("group") or None, _limit())
    dialing = dialer.dialing_state(db, [c["id"] for c in rows])
    return jsonify([callback_json(c, dialing.get(c["id"], {})) for c in rows])


@api_bp.post("/callbacks/<int:callback_id>/status")
@security.roles(*READERS)
def api_callback_status(callback_id):
    db, new = get_db(), body().get("status")
    if callbacks.get(db, callback_id) is None:
        abort(404)
    return jsonify(callback_json(_set_status(db, callback_id, new if isinstance(new, str) else "")))


@api_bp.post("/callbacks/<int:callback_id>/retry")
@security.roles(*READERS)
def api_callback_retry(callback_id):
    db = get_db()
    if callbacks.get(db, callback_id) is None:
        abort(404)
    return jsonify(callback_json(_retry(db, callback_id)))
