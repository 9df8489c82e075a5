"""Quality review (F12): evaluation forms, average scores per operator and
group for a period, and an operator's own scores (*My scores*). Scoring
itself is on a recording's page (web.recordings)."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, flash, g, jsonify, redirect, render_template, request, url_for

from appliance.base import audit
from appliance.base.errors import ConfigError
from appliance.recordings import quality
from appliance.render import config as render_config
from appliance.schedules import store as schedules
from web import api_common, security
from web.api_common import body
from web.context import error_text, get_db, gettext
from web.i18n import _
from web.recordings import AUDIT_SCORED, viewer, visible

bp = Blueprint("quality", __name__)
api_bp = api_common.blueprint("quality_api", __name__)
REVIEWERS = ("admin", "supervisor")
BLANK_ROWS = 3


AUDIT_FORM = {"created": _("quality form created"), "changed": _("quality form changed"),
              "deleted": _("quality form deleted")}


def _period(args, tz: str) -> tuple[date, date, list[ConfigError]]:
    """The period's first and last day (default: the last 30 days on the
    call center's clock) and what was wrong with the input."""
    today = datetime.now(ZoneInfo(tz)).date()
    errors, days = [], {}
    for key, default in (("start", today - timedelta(days=29)), ("end", today)):
        raw = (args.get(key) or "").strip()
        try:
            days[key] = date.fromisoformat(raw) if raw else default
        except ValueError:
            errors.append(ConfigError(key, "a date like 2026-03-31"))
            days[key] = default
    if days["end"] < days["start"]:
        errors.append(ConfigError("end", "the period ends before it starts"))
    return days["start"], days["end"], errors


def _bounds(start: date, end: date, tz: str) -> tuple[str, str]:
    """[start, end + 1 day) on the call center's clock, as UTC ISO times."""
    zone = ZoneInfo(tz)
    return (datetime.combine(start, time(), zone).astimezone(timezone.utc).isoformat(),
            datetime.combine(end + timedelta(days=1), time(), zone).astimezone(timezone.utc).isoformat())


def _asked_period(db) -> tuple[date, date, list[ConfigError], str, str]:
    """The period the request asks for (``start``, ``end``): its first and
    last day, what was wrong with the input, and its UTC bounds."""
    tz = schedules.default_timezone(db)
    start, end, problems = _period(request.args, tz)
    return (start, end, problems, *_bounds(start, end, tz))


@bp.get("/quality")
@security.roles(*REVIEWERS)
def page():
    db = get_db()
    start, end, problems, start_iso, end_iso = _asked_period(db)
    errors = {exc.field: error_text(exc) for exc in problems}
    names = {o.extension: o.name for o in render_config.load(db).operators}
    by_operator = [] if errors else quality.averages(db, start_iso, end_iso, "operator")
    by_group = [] if errors else quality.averages(db, start_iso, end_iso, "grp")
    return render_template("quality.html", start=start.isoformat(), end=end.isoformat(), errors=errors,
                           by_operator=by_operator, by_group=by_group, names=names,
                           forms=quality.list_forms(db))


def _criteria_from(form) -> list[dict]:
    """The filled criteria rows of the edit form, in order (empty rows are
    dropped, so a ConfigError's criteria.N is the N-th row shown again)."""
    rows, n = [], 1
    while f"crit_name_{n}" in form:
        row = {k: (form.get(f"crit_{k}_{n}") or "").strip() for k in ("name", "weight", "max_points", "description")}
        if any(row.values()):
            rows.append(row)
        n += 1
    return rows


def _edit_rows(criteria: list[dict]) -> list[dict]:
    return [{k: ("" if c.get(k) is None else _plain(c.get(k))) for k in ("name", "weight", "max_points", "description")}
            for c in criteria] + [{"name": "", "weight": "", "max_points": "", "description": ""}] * BLANK_ROWS


def _plain(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@bp.route("/quality/forms/new", methods=["GET", "POST"])
@security.roles(*REVIEWERS)
def new_form():
    db = get_db()
    if request.method == "POST":
        rows = _criteria_from(request.form)
        active = request.form.get("active") == "1"
        try:
            form = quality.create_form(db, request.form.get("name"), rows, g.user.username, active)
        except ConfigError as exc:
            return render_template("quality_form.html", form=None, name=request.form.get("name", ""),
                                   active=active, rows=_edit_rows(rows), errors={exc.field: error_text(exc)}), 422
        with db.atomic():
            audit.record(db, g.user.username, AUDIT_FORM["created"], form["name"],
                         {"criteria": [c["name"] for c in form["criteria"]]})
        flash(gettext("Form {name} saved.", name=form["name"]))
        return redirect(url_for("quality.page"))
    return render_template("quality_form.html", form=None, name="", active=True, rows=_edit_rows([]), errors={})


@bp.route("/quality/forms/<int:form_id>", methods=["GET", "POST"])
@security.roles(*REVIEWERS)
def edit_form(form_id):
    db = get_db()
    form = quality.get_form(db, form_id)
    if form is None or not form["current"]:
        abort(404)
    if request.method == "POST":
        if request.form.get("action") == "delete":
            try:
                quality.delete_form(db, form_id)
            except ConfigError as exc:
                flash(error_text(exc), "error")
                return redirect(url_for("quality.edit_form", form_id=form_id))
            with db.atomic():
                audit.record(db, g.user.username, AUDIT_FORM["deleted"], form["name"])
            flash(gettext("Form {name} deleted.", name=form["name"]))
            return redirect(url_for("quality.page"))
        rows = _criteria_from(request.form)
        active = request.form.get("active") == "1"
        try:
            saved = quality.update_form(db, form_id, request.form.get("name"), rows, active, g.user.username)
        except ConfigError as exc:
            return render_template("quality_form.html", form=form, name=request.form.get("name", ""),
                                   active=active, rows=_edit_rows(rows), errors={exc.field: error_text(exc)}), 422
        with db.atomic():
            audit.record(db, g.user.username, AUDIT_FORM["changed"], saved["name"],
                         {"version": saved["version"], "criteria": [c["name"] for c in saved["criteria"]],
                          "active": saved["active"]})
        if saved["id"] != form_id:
            flash(gettext("The form has scores, so your changes are saved as version {v}; earlier scores keep "
                          "the criteria they were given on.", v=saved["version"]))
        else:
            flash(gettext("Form {name} saved.", name=saved["name"]))
        return redirect(url_for("quality.edit_form", form_id=saved["id"]))
    return render_template("quality_form.html", form=form, name=form["name"], active=form["active"],
                           rows=_edit_rows(form["criteria"]), errors={})


@bp.get("/my-scores")
@security.roles("operator")
def mine():
    who = viewer()
    scores = quality.scores_of_operator(get_db(), who.extension) if who.extension else []
    return render_template("quality_mine.html", scores=scores, has_phone=bool(who.extension))


# --- API ---------------------------------------------------------------------

def form_json(form: dict) -> dict:
    return {"id": form["id"], "name": form["name"], "version": form["version"], "active": form["active"],
            "scores": form["scores"], "created_at": form["created_at"], "created_by": form["created_by"],
            "criteria": [{"id": c["id"], "name": c["name"], "description": c["description"],
                          "weight": c["weight"], "max_points": c["max_points"]} for c in form["criteria"]]}


def score_json(s: dict) -> dict:
    return {"id": s["id"], "recording_id": s["recording_id"], "form_id": s["form_id"], "form": s["form"],
            "reviewer": s["reviewer"], "scored_at": s["scored_at"], "operator": s["operator"], "group": s["grp"],
            "call_at": s["call_at"], "total": s["total"], "comment": s["comment"],
            "criteria": [{"id": c["id"], "name": c["name"], "weight": c["weight"], "max_points": c["max_points"],
                          "points": c["points"], "comment": c["comment"]} for c in s["criteria"]]}


def _current_form(form_id) -> dict:
    form = quality.get_form(get_db(), int(form_id)) if str(form_id).isdigit() else None
    if form is None or not form["current"]:
        abort(404)
    return form


def _form_input(data: dict) -> tuple:
    active = data.get("active", True)
    if not isinstance(active, bool):
        raise ConfigError("active", "true or false")
    return data.get("name"), data.get("criteria"), active


@api_bp.get("/quality/forms")
@security.roles(*REVIEWERS)
def api_forms():
    return jsonify([form_json(f) for f in quality.list_forms(get_db())])


@api_bp.post("/quality/forms")
@security.roles(*REVIEWERS)
def api_form_create():
    db = get_db()
    name, criteria, active = _form_input(body())
    form = quality.create_form(db, name, criteria, g.user.username, active)
    with db.atomic():
        audit.record(db, g.user.username, AUDIT_FORM["created"], form["name"],
                     {"criteria": [c["name"] for c in form["criteria"]]})
    return jsonify(form_json(form)), 201


@api_bp.get("/quality/forms/<form_id>")
@security.roles(*REVIEWERS)
def api_form(form_id):
    return jsonify(form_json(_current_form(form_id)))


@api_bp.put("/quality/forms/<form_id>")
@security.roles(*REVIEWERS)
def api_form_update(form_id):
    db = get_db()
    form = _current_form(form_id)
    data = body()
    name, criteria, active = _form_input({"name": form["name"], "active": form["active"],
                                          "criteria": form["criteria"], **data})
    saved = quality.update_form(db, form["id"], name, criteria, active, g.user.username)
    with db.atomic():
        audit.record(db, g.user.username, AUDIT_FORM["changed"], saved["name"],
                     {"version": saved["version"], "criteria": [c["name"] for c in saved["criteria"]],
                      "active": saved["active"]})
    return jsonify(form_json(saved))


@api_bp.delete("/quality/forms/<form_id>")
@security.roles(*REVIEWERS)
def api_form_delete(form_id):
    db = get_db()
    form = quality.delete_form(db, _current_form(form_id)["id"])
    with db.atomic():
        audit.record(db, g.user.username, AUDIT_FORM["deleted"], form["name"])
    return "", 204


@api_bp.post("/recordings/<recording_id>/scores")
@security.roles(*REVIEWERS)
def api_score(recording_id):
    db = get_db()
    rec = visible(recording_id)
    data = body()
    form_id, points, comments = data.get("form_id"), data.get("points"), data.get("comments") or {}
    if not isinstance(form_id, int) or isinstance(form_id, bool):
        raise ConfigError("form_id", "there is no such form")
    if not isinstance(points, dict) or not isinstance(comments, dict):
        raise ConfigError("points", "must be an object of criterion id: points")
    comment = data.get("comment") or ""
    if not isinstance(comment, str):
        raise ConfigError("comment", "must be text")
    saved = quality.save_score(db, rec, form_id, g.user.username, points, comments, comment)
    with db.atomic():
        audit.record(db, g.user.username, AUDIT_SCORED, str(rec["id"]),
                     {"form": saved["form"], "total": saved["total"], "operator": rec["operator"]})
    return jsonify(score_json(saved)), 201


@api_bp.get("/quality/scores")
@security.roles(*REVIEWERS, "operator")
def api_scores():
    """Scores, newest call first: an operator gets their own; admins and
    supervisors everyone's or one operator's (?operator=EXT)."""
    who = viewer()
    if who.role == "operator":
        extension = who.extension or ""
    else:
        extension = request.args.get("operator") or None
    return jsonify([score_json(s) for s in quality.scores_of_operator(get_db(), extension)])


@api_bp.get("/quality/averages")
@security.roles(*REVIEWERS)
def api_averages():
    db = get_db()
    _start, _end, problems, start_iso, end_iso = _asked_period(db)
    if problems:
        raise problems[0]
    by = request.args.get("by", "operator")
    if by not in ("operator", "group"):
        raise ConfigError("by", "operator or group")
    return jsonify(quality.averages(db, start_iso, end_iso, "operator" if by == "operator" else "grp"))
