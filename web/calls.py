"""The call history (F14) in the panel and under /api/v1: a filtered, paged
list of calls and each call's page with its legs in order (trunk, IVR path
and inputs, queue, every operator offered, talk, holds, transfers,
recordings, notes, who hung up). Admins and supervisors see every call,
operators only the calls they were offered or took; technicians none."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, g, jsonify, render_template, request, url_for
from werkzeug.routing import BuildError

from appliance.base.errors import ConfigError
from appliance.history import legs as call_legs
from appliance.render import config as render_config
from appliance.schedules import store as schedules
from web import api_common, security
from web.api_common import whole_number
from web.context import error_text, get_db, gettext
from web.i18n import _

bp = Blueprint("calls", __name__)
api_bp = api_common.blueprint("calls_api", __name__)
READERS = ("admin", "supervisor", "operator")


FILTER_NAMES = {"start": _("From"), "end": _("To"), "direction": _("Direction"), "outcome": _("Outcome"),
                "group": _("Group"), "operator": _("Operator"), "ani": _("Caller number"),
                "dnis": _("Dialled number"), "line": _("Line (trunk or span)")}
DIRECTION_NAMES = {"inbound": _("inbound"), "outbound": _("outbound")}
OUTCOME_NAMES = {"answered": _("answered"), "abandoned": _("abandoned"), "in-progress": _("in progress")}
KIND_NAMES = {"trunk": _("Phone line"), "ivr": _("IVR"), "queue": _("Queue"), "offer": _("Offered"),
              "operator": _("Talk"), "hold": _("Hold"), "transfer": _("Transfer"), "recording": _("Recording"),
              "note": _("Note"), "hangup": _("Hang-up")}
RESULT_NAMES = {"answered": _("answered"), "no-answer": _("did not answer"), "busy": _("busy"),
                "cancelled": _("stopped ringing"), "unavailable": _("unreachable"), "abandoned": _("caller gave up"),
                "left": _("left the queue"), "done": _("done"), "agent": _("operator hung up"),
                "caller": _("caller hung up"), "transfer": _("transferred"), "operator": _("operator hung up"),
                "system": _("the system ended the call"), "good": _("good"), "broken": _("broken"),
                "recording": _("recording")}
# A call out's outcome and its Q.850 cause, as appliance.outbound.causes names them.
OUT_OUTCOME_NAMES = {"answered": _("answered"), "busy": _("busy"), "no-answer": _("no answer"),
                     "congestion": _("congestion"), "number-invalid": _("number invalid"),
                     "rejected": _("rejected"), "failed": _("failed")}
CAUSE_TEXTS = (_("unallocated number"), _("no route to destination"), _("normal clearing"), _("user busy"),
               _("no user responding"), _("no answer"), _("subscriber absent"), _("call rejected"),
               _("number changed"), _("destination out of order"), _("invalid number format"),
               _("facility rejected"), _("normal, unspecified"), _("no circuit available"),
               _("network out of order"), _("temporary failure"), _("switching equipment congestion"),
               _("requested circuit not available"), _("resource unavailable"), _("incoming calls barred"),
               _("bearer capability not authorized"), _("bearer capability not available"),
               _("not a member of the closed user group"), _("recovery on timer expiry"),
               _("interworking, unspecified"))
HANGUP_BY_NAMES = {"caller": _("the caller"), "operator": _("the operator"), "system": _("the system")}


@bp.app_template_filter("call_time")
def call_time(value: str | None) -> str:
    """A stored UTC time on the call center's clock, to the second."""
    if not value:
        return ""
    try:
        return datetime.fromisoformat(value).astimezone(_tz()).strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return value


def _tz() -> ZoneInfo:
    if "calls_tz" not in g:
        g.calls_tz = ZoneInfo(schedules.default_timezone(get_db()))
    return g.calls_tz


def _extension() -> str | None:
    """None for admins and supervisors (every call); an operator's extension
    ("" when their user has none: no call)."""
    if g.user.role != "operator":
        return None
    if g.user.operator_id is None:
        return ""
    row = get_db().execute("SELECT extension FROM operators WHERE id = ?", [g.user.operator_id]).fetchone()
    return row[0] if row else ""


def _page() -> int:
    raw = request.args.get("page", "1")
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError("page", "a whole number from 1")
    return int(raw)


def _visible_call(call_id: str) -> dict:
    """The call with its legs, or 404 (also for an operator who took no part:
    the same answer as for a call that does not exist)."""
    db = get_db()
    rec = call_legs.record(db, str(call_id))
    if rec is None:
        abort(404)
    extension = _extension()
    if extension is not None and not call_legs.took_part(db, rec, extension):
        abort(404)
    return rec


def _recording_url(recording_id) -> str | None:
    try:
        return url_for("recordings.show", recording_id=recording_id)
    except BuildError:   # a build without the recording archive
        return None


# --- panel -------------------------------------------------------------------

@bp.get("/calls")
@security.roles(*READERS)
def index():
    db = get_db()
    extension = _extension()
    args = {k: request.args.get(k, "").strip() for k in call_legs.FILTERS}
    if extension is not None:
        args["operator"] = ""
    errors, result = {}, {"calls": [], "total": 0, "page": 1, "pages": 1}
    try:
        result = call_legs.search(db, args, _page(), call_legs.PER_PAGE, extension, _tz())
    except ConfigError as exc:
        errors[exc.field] = error_text(exc)
    config = render_config.load(db)
    groups = sorted({gr.name for gr in config.groups} | {r[0] for r in db.execute(
        "SELECT DISTINCT grp FROM calls WHERE grp IS NOT NULL AND grp != ''")})
    options = {"direction": [(k, gettext(v)) for k, v in DIRECTION_NAMES.items()],
               "outcome": [(k, gettext(v)) for k, v in OUTCOME_NAMES.items()],
               "group": [(name, name) for name in groups],
               "operator": [(o.extension, f"{o.extension} — {o.name}") for o in config.operators]}
    return render_template("calls.html", result=result, args=args, errors=errors, options=options,
                           query={k: v for k, v in args.items() if v},
                           is_operator=extension is not None, filter_names=FILTER_NAMES,
                           direction_names=DIRECTION_NAMES, outcome_names=OUTCOME_NAMES,
                           hangup_by_names=HANGUP_BY_NAMES)


@bp.get("/calls/<call_id>")
@security.roles(*READERS)
def show(call_id):
    rec = _visible_call(call_id)
    for leg in rec["legs"]:
        if leg["kind"] == "recording":
            leg["url"] = _recording_url(leg["detail"]["recording_id"])
    return render_template("call.html", call=rec, kind_names=KIND_NAMES, result_names=RESULT_NAMES,
                           direction_names=DIRECTION_NAMES, outcome_names=OUTCOME_NAMES,
                           hangup_by_names=HANGUP_BY_NAMES, out_outcome_names=OUT_OUTCOME_NAMES)


# --- API ---------------------------------------------------------------------

@api_bp.get("/calls")
@security.roles(*READERS)
def api_calls():
    args = {k: v for k, v in request.args.items() if k not in ("limit", "offset")}
    limit = whole_number("limit", call_legs.PER_PAGE, 1, call_legs.MAX_PER_PAGE)
    offset = whole_number("offset", 0, 0, 10 ** 9)
    calls, total = call_legs.select(get_db(), args, offset, limit, _extension(), _tz())
    response = jsonify(calls)
    response.headers["X-Total-Count"] = str(total)
    return response


@api_bp.get("/calls/<call_id>")
@security.roles(*READERS)
def api_call(call_id):
    rec = _visible_call(call_id)
    for leg in rec["legs"]:
        if leg["kind"] == "recording":
            leg["detail"]["url"] = _recording_url(leg["detail"]["recording_id"])
    return jsonify(rec)
