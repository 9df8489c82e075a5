"""The Schedules page (admin, supervisor): working hours per weekday,
holidays and working-day exceptions, and which number runs what while its
schedule is open and otherwise (F5). Changes take effect on the next call;
there is nothing to apply to Asterisk. The same under /api/v1/schedules."""
from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, abort, flash, g, jsonify, redirect, render_template, request, url_for

from appliance.base import audit
from appliance.base.errors import ConfigError
from appliance.render import config as render_config
from appliance.scenarios import store as scenarios
from appliance.schedules import store as schedules
from web import api_common, security
from web.api_common import body
from web.context import error_text, get_db, gettext

bp = Blueprint("schedules", __name__, url_prefix="/schedules")
api_bp = api_common.blueprint("schedules_api", __name__)
EDITORS = ("admin", "supervisor")


def day_names() -> tuple[str, ...]:
    return (gettext("Monday"), gettext("Tuesday"), gettext("Wednesday"), gettext("Thursday"),
            gettext("Friday"), gettext("Saturday"), gettext("Sunday"))


# ------------------------------------------------------------ form ↔ schedule

def form_of(s: schedules.Schedule) -> dict:
    j = schedules.to_json(s)
    form = {"name": s.name, "title": s.title, "timezone": s.timezone,
            "holidays": "\n".join(f"{h['date']} {h['title']}".strip() for h in j["holidays"]),
            "workdays": "\n".join(f"{w['date']} {w['like']} {w['title']}".strip() for w in j["workdays"])}
    for day in schedules.WEEKDAYS:
        form[f"day{day}"] = ", ".join(j["weekly"][str(day)])
    return form


def data_of(form) -> dict:
    """The JSON form of a schedule from the page's form (lines of dates)."""
    holidays, workdays = [], []
    for line in str(form.get("holidays", "")).splitlines():
        if line.strip():
            when, _, title = line.strip().partition(" ")
            holidays.append({"date": when, "title": title.strip()})
    for line in str(form.get("workdays", "")).splitlines():
        if line.strip():
            when, _, rest = line.strip().partition(" ")
            like, _, title = rest.strip().partition(" ")
            if not (like.isdigit() and len(like) == 1):
                like, title = "1", rest
            workdays.append({"date": when, "like": like, "title": title.strip()})
    return {"name": form.get("name", ""), "title": form.get("title", ""), "timezone": form.get("timezone", ""),
            "weekly": {str(d): form.get(f"day{d}", "") for d in schedules.WEEKDAYS},
            "holidays": holidays, "workdays": workdays}


def field_of(exc: ConfigError) -> str:
    if exc.field.startswith("weekly."):
        return "day" + exc.field.split(".", 1)[1]
    return exc.field if exc.field in ("name", "title", "timezone", "holidays", "workdays") else "form"


# ------------------------------------------------------------ pages

def targets(db) -> list[tuple[str, str]]:
    """Choices for a binding target: ('scenario:NAME', label), ('group:NAME', label)."""
    out = []
    for s in scenarios.all_scenarios(db):
        label = gettext("scenario {name}", name=s["name"])
        if not s["published_version"]:
            label += " " + gettext("(not published)")
        out.append(("scenario:" + s["name"], label))
    out += [("group:" + gr.name, gettext("straight to group {name}", name=gr.name)) for gr in render_config.load(db).groups]
    return out


def render_index(db, number_form=None, number_errors=None, status=200):
    now, names = datetime.now(timezone.utc), day_names()
    rows = [{"s": s, "open": schedules.is_open(s, now), "holiday": schedules.is_holiday(s, now),
             "used_by": schedules.used_by(db, s.name),
             "hours": [(names[d - 1], ", ".join(schedules.format_interval(i) for i in s.weekly.get(d, ())))
                       for d in schedules.WEEKDAYS]}
            for s in schedules.load_all(db)]
    return render_template("schedules.html", rows=rows, bindings=scenarios.bindings(db), targets=targets(db),
                           schedule_names=[r["s"].name for r in rows], form=number_form or {},
                           errors=number_errors or {}), status


@bp.get("/")
@security.roles(*EDITORS)
def index():
    return render_index(get_db())


@bp.route("/new", methods=["GET", "POST"])
@bp.route("/<name>", methods=["GET", "POST"])
@security.roles(*EDITORS)
def edit(name=None):
    db = get_db()
    current = schedules.load(db, name) if name else None
    if name and current is None:
        abort(404)
    if request.method == "POST":
        form = request.form.to_dict()
        if current:
            form["name"] = current.name
    elif current:
        form = form_of(current)
    else:
        form = {"timezone": schedules.default_timezone(db),
                **{f"day{d}": "09:00-18:00" for d in range(1, 6)}}
    errors = {}
    if request.method == "POST":
        try:
            with db.atomic():
                if request.form.get("action") == "delete" and current:
                    schedules.delete(db, current.name)
                    audit.record(db, g.user.username, "schedule deleted", current.name)
                else:
                    s = schedules.save(db, data_of(form), create=current is None)
                    audit.record(db, g.user.username, "schedule changed" if current else "schedule added",
                                 s.name, schedules.to_json(s))
        except ConfigError as exc:
            where = field_of(exc)
            errors["form" if current and where == "name" else where] = error_text(exc)
        else:
            flash(gettext("Saved. It applies from the next call."))
            return redirect(url_for("schedules.index"))
    days = list(zip(schedules.WEEKDAYS, day_names()))
    return render_template("schedule_form.html", current=current, form=form, errors=errors, days=days), \
        (400 if errors else 200)


def split_target(value: str, field: str) -> tuple[str | None, str | None]:
    kind, _, name = (value or "").partition(":")
    if kind == "scenario" and name:
        return name, None
    if kind == "group" and name:
        return None, name
    if value:
        raise ConfigError(field, "'{value}' is not a scenario or a group", value=value)
    return None, None


@bp.post("/numbers")
@security.roles(*EDITORS)
def bind_number():
    db = get_db()
    form = request.form.to_dict()
    try:
        scenario, group = split_target(form.get("target", ""), "target")
        else_scenario, else_group = split_target(form.get("otherwise", ""), "otherwise")
        dnis = form.get("dnis", "").strip()
        with db.atomic():
            scenarios.bind(db, dnis, scenario=scenario, group=group, schedule=form.get("schedule") or None,
                           otherwise_scenario=else_scenario, otherwise_group=else_group)
            audit.record(db, g.user.username, "number bound", dnis,
                         {k: v for k, v in form.items() if k != "csrf_token" and v})
    except ConfigError as exc:
        field = {"scenario": "target", "group": "target"}.get(exc.field, exc.field)
        return render_index(db, form, {field: error_text(exc)}, 400)
    flash(gettext("Saved. It applies from the next call."))
    return redirect(url_for("schedules.index"))


@bp.post("/numbers/delete")
@security.roles(*EDITORS)
def unbind_number():
    db = get_db()
    dnis = request.form.get("dnis", "")
    with db.atomic():
        if not scenarios.unbind(db, dnis):
            abort(404)
        audit.record(db, g.user.username, "number unbound", dnis)
    flash(gettext("The number {dnis} no longer has a binding of its own.", dnis=dnis))
    return redirect(url_for("schedules.index"))


# ------------------------------------------------------------ API

def schedule_json(db, s: schedules.Schedule, now: datetime | None = None) -> dict:
    now = now or datetime.now(timezone.utc)
    return {**schedules.to_json(s), "open_now": schedules.is_open(s, now),
            "holiday_today": schedules.is_holiday(s, now), "used_by": schedules.used_by(db, s.name)}


def found(db, name: str) -> schedules.Schedule:
    s = schedules.load(db, name)
    if s is None:
        abort(404)
    return s


@api_bp.get("/schedules")
@security.roles(*EDITORS)
def api_schedules():
    db = get_db()
    return jsonify([schedule_json(db, s) for s in schedules.load_all(db)])


@api_bp.post("/schedules")
@security.roles(*EDITORS)
def api_create():
    d, db = body(), get_db()
    with db.atomic():
        s = schedules.save(db, d, create=True)
        audit.record(db, g.user.username, "schedule added", s.name, schedules.to_json(s))
    return jsonify(schedule_json(db, s)), 201


@api_bp.route("/schedules/<name>", methods=["GET", "PUT", "DELETE"])
@security.roles(*EDITORS)
def api_schedule(name):
    db = get_db()
    current = found(db, name)
    if request.method == "PUT":
        d = {**schedules.to_json(current), **body(), "name": name}
        with db.atomic():
            current = schedules.save(db, d, create=False)
            audit.record(db, g.user.username, "schedule changed", name, schedules.to_json(current))
    elif request.method == "DELETE":
        with db.atomic():
            schedules.delete(db, name)
            audit.record(db, g.user.username, "schedule deleted", name)
        return "", 204
    return jsonify(schedule_json(db, current))
