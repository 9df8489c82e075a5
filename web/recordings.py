"""The recording archive (F12): search, playback, download, legal hold and
scoring beside the player; the same under /api/v1/recordings.

Who may see which recording is decided in appliance.recordings.search (an operator
only their own calls); a recording they may not see is a 404, the same as
one that does not exist. Every playback and download is in the audit log.
"""
from __future__ import annotations

import math
import mimetypes

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
from appliance.recordings import quality, search as recording_search, store as recordings
from appliance.render import config as render_config
from appliance.schedules import store as schedules
from web import api_common, security
from web.api_common import body
from web.context import error_text, get_db, gettext
from web.i18n import _

bp = Blueprint("recordings", __name__)
api_bp = api_common.blueprint("recordings_api", __name__)
REVIEWERS = ("admin", "supervisor")


AUDIT_PLAYED = _("recording played")
AUDIT_DOWNLOADED = _("recording downloaded")
AUDIT_SCORED = _("recording scored")
STATUS_NAMES = {"good": _("good"), "broken": _("broken"), "deleted": _("deleted"), "recording": _("recording now")}
FILTER_NAMES = {"start": _("From"), "end": _("To"), "operator": _("Operator"), "group": _("Group"),
                "ani": _("Caller number"), "dnis": _("Dialled number"), "min_duration": _("Duration from, s"),
                "max_duration": _("Duration to, s"), "scored": _("Score"), "hold": _("Legal hold")}


def viewer() -> recording_search.Viewer:
    extension = None
    if g.user.role == "operator" and g.user.operator_id is not None:
        row = get_db().execute("SELECT extension FROM operators WHERE id = ?", [g.user.operator_id]).fetchone()
        extension = row[0] if row else None
    return recording_search.Viewer(g.user.role, extension)


def timezone_name() -> str:
    return schedules.default_timezone(get_db())


def visible(recording_id) -> dict:
    rec = recording_search.get(get_db(), recording_id, viewer())
    if rec is None:
        abort(404)
    return rec


def _instance():
    return current_app.config["KORUND_INSTANCE"]


def audio_response(rec: dict, download: bool):
    """The file of a good recording, with HTTP Range (seeking) support;
    each playback (a request from the start) and download is audited."""
    if rec["status"] != "good":
        abort(404)
    try:
        path = recordings.file_of(_instance(), rec)
    except ValueError:              # a path leading out of the archive
        abort(404)
    if not path.is_file():
        abort(404)
    ranged = request.headers.get("Range", "").replace(" ", "")
    if request.method == "GET" and (download or not ranged or ranged.startswith("bytes=0-")):
        db = get_db()
        with db.atomic():
            audit.record(db, g.user.username, AUDIT_DOWNLOADED if download else AUDIT_PLAYED, str(rec["id"]),
                         {"operator": rec["operator"], "ani": rec["ani"], "started_at": rec["started_at"]})
    mimetype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if mimetype == "audio/x-wav":
        mimetype = "audio/wav"
    return send_file(path, mimetype=mimetype, as_attachment=download, conditional=True, max_age=0,
                     download_name=recording_search.download_name(rec, timezone_name()))


def _groups(db) -> list[str]:
    names = {gr.name for gr in render_config.load(db).groups}
    names |= {r[0] for r in db.execute("SELECT DISTINCT grp FROM recordings WHERE grp <> ''")}
    return sorted(names)


def _operators(db) -> list[tuple[str, str]]:
    return [(o.extension, o.name) for o in render_config.load(db).operators]


# --- panel -------------------------------------------------------------------

@bp.get("/recordings")
@security.roles(*recording_search.READERS)
def index():
    db, who = get_db(), viewer()
    args = {k: request.args.get(k, "") for k in recording_search.FILTERS}
    if who.role == "operator":
        args["operator"] = ""
    newest = request.args.get("order", "desc") != "asc"
    try:
        page = max(int(request.args.get("page", "1")), 1)
    except ValueError:
        page = 1
    errors, rows, total = {}, [], 0
    try:
        filters = recording_search.check_filters(args, timezone_name())
    except ConfigError as exc:
        errors[exc.field] = error_text(exc)
    else:
        rows, total = recording_search.search(db, filters, who, (page - 1) * recording_search.PER_PAGE, recording_search.PER_PAGE, newest)
    pages = max(math.ceil(total / recording_search.PER_PAGE), 1)
    query = {k: v for k, v in args.items() if v}
    return render_template("recordings.html", rows=rows, total=total, page=page, pages=pages, args=args,
                           errors=errors, order="desc" if newest else "asc", query=query,
                           options={"operator": [(ext, f"{ext} — {name}") for ext, name in _operators(db)],
                                    "group": [(name, name) for name in _groups(db)]}, status_names=STATUS_NAMES,
                           filter_names=FILTER_NAMES, is_operator=who.role == "operator")


@bp.get("/recordings/<recording_id>")
@security.roles(*recording_search.READERS)
def show(recording_id):
    db = get_db()
    rec = visible(recording_id)
    scores = quality.scores_of_recording(db, rec["id"])
    forms = quality.list_forms(db, active_only=True) if g.user.role in REVIEWERS else []
    chosen = None
    if forms:
        wanted = request.args.get("form", "")
        chosen = next((f for f in forms if str(f["id"]) == wanted), forms[0])
    return render_template("recording.html", rec=rec, scores=scores, forms=forms, form=chosen, entered={},
                           errors={}, status_names=STATUS_NAMES, can_review=g.user.role in REVIEWERS,
                           mine=[s for s in scores if s["reviewer"] == g.user.username])


@bp.get("/recordings/<recording_id>/audio")
@security.roles(*recording_search.READERS)
def audio(recording_id):
    return audio_response(visible(recording_id), download=request.args.get("download") == "1")


@bp.post("/recordings/<recording_id>/hold")
@security.roles(*REVIEWERS)
def hold(recording_id):
    rec = visible(recording_id)
    on = request.form.get("on") == "1"
    set_hold(rec, on)
    flash(gettext("Legal hold is set: this recording will not be deleted.") if on
          else gettext("Legal hold removed: retention applies again."))
    return redirect(url_for("recordings.show", recording_id=rec["id"]))


def set_hold(rec: dict, on: bool) -> None:
    """recordings.set_legal_hold refuses deleted recordings and writes the
    audit row ('recording legal hold on' / 'off')."""
    recordings.set_legal_hold(get_db(), rec["id"], on, g.user.username)


@bp.errorhandler(ConfigError)
def refused(exc: ConfigError):
    flash(error_text(exc), "error")
    return redirect(request.referrer if security_safe(request.referrer) else url_for("recordings.index"))


def security_safe(target: str | None) -> bool:
    return bool(target) and target.startswith(request.host_url)


@bp.post("/recordings/<recording_id>/score")
@security.roles(*REVIEWERS)
def score(recording_id):
    db = get_db()
    rec = visible(recording_id)
    form_id = request.form.get("form_id", "")
    form = quality.get_form(db, int(form_id)) if form_id.isdigit() else None
    points = {k[len("points_"):]: v for k, v in request.form.items() if k.startswith("points_")}
    comments = {k[len("comment_"):]: v for k, v in request.form.items() if k.startswith("comment_")}
    try:
        if form is None:
            raise ConfigError("form", "there is no such form")
        saved = quality.save_score(db, rec, form["id"], g.user.username, points, comments,
                                   request.form.get("comment", ""))
        with db.atomic():
            audit.record(db, g.user.username, AUDIT_SCORED, str(rec["id"]),
                         {"form": saved["form"], "total": saved["total"], "operator": rec["operator"]})
    except ConfigError as exc:
        known = {f"criterion.{c['id']}" for c in (form or {}).get("criteria", [])}
        general = "" if exc.field in known else error_text(exc)
        scores = quality.scores_of_recording(db, rec["id"])
        forms = quality.list_forms(db, active_only=True)
        return render_template("recording.html", rec=rec, scores=scores, forms=forms,
                               form=form or (forms[0] if forms else None),
                               entered=request.form, errors={exc.field: error_text(exc)}, general=general,
                               status_names=STATUS_NAMES, can_review=True,
                               mine=[s for s in scores if s["reviewer"] == g.user.username]), 422
    flash(gettext("Score saved: {total} of 100.", total=saved["total"]))
    return redirect(url_for("recordings.show", recording_id=rec["id"]))


# --- API ---------------------------------------------------------------------

def recording_json(rec: dict, scores: list | None = None) -> dict:
    out = {k: rec[k] for k in ("id", "linkedid", "started_at", "ended_at", "duration", "size", "sha256", "channels",
                               "operator", "ani", "dnis", "policy", "status", "legal_hold", "keep_until",
                               "deleted_at", "delete_reason", "score")}
    out["group"] = rec["grp"]
    out["audio"] = url_for("recordings_api.api_audio", recording_id=rec["id"]) if rec["status"] == "good" else None
    if scores is not None:
        out["scores"] = [{"id": s["id"], "form": s["form"], "reviewer": s["reviewer"], "scored_at": s["scored_at"],
                          "total": s["total"], "comment": s["comment"],
                          "criteria": [{"name": c["name"], "weight": c["weight"], "max_points": c["max_points"],
                                        "points": c["points"], "comment": c["comment"]} for c in s["criteria"]]}
                         for s in scores]
    return out


@api_bp.get("/recordings")
@security.roles(*recording_search.READERS)
def api_list():
    who = viewer()
    args = {k: request.args.get(k, "") for k in recording_search.FILTERS}
    if who.role == "operator" and args["operator"] and args["operator"] != who.extension:
        return jsonify([])
    filters = recording_search.check_filters(args, timezone_name())
    raw_limit, raw_offset = request.args.get("limit", "100"), request.args.get("offset", "0")
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 1000:
        raise ConfigError("limit", "'limit' must be a whole number from 1 to 1000")
    if not raw_offset.isdigit():
        raise ConfigError("offset", "'offset' must be a whole number")
    limit, offset = int(raw_limit), int(raw_offset)
    rows, _total = recording_search.search(get_db(), filters, who, offset, limit, request.args.get("order", "desc") != "asc")
    return jsonify([recording_json(r) for r in rows])


@api_bp.get("/recordings/<recording_id>")
@security.roles(*recording_search.READERS)
def api_get(recording_id):
    rec = visible(recording_id)
    return jsonify(recording_json(rec, quality.scores_of_recording(get_db(), rec["id"])))


@api_bp.get("/recordings/<recording_id>/audio")
@security.roles(*recording_search.READERS)
def api_audio(recording_id):
    return audio_response(visible(recording_id), download=request.args.get("download") == "1")


@api_bp.post("/recordings/<recording_id>/hold")
@security.roles(*REVIEWERS)
def api_hold(recording_id):
    rec = visible(recording_id)
    on = body().get("on")
    if not isinstance(on, bool):
        raise ConfigError("on", "true or false")
    set_hold(rec, on)
    return jsonify(recording_json(visible(rec["id"])))
