"""Reports (F14): the ready and custom forms, a form's view (period and
filters, table, SVG chart, CSV / XLSX export, printable view), the custom
form editor (admin), and the same under /api/v1/reports."""
from __future__ import annotations

from flask import Blueprint, Response, abort, flash, g, jsonify, redirect, render_template, request, url_for

from appliance.base import audit
from appliance.base.errors import ConfigError
from appliance.clients import desktop
from appliance.render import config as render_config
from appliance.reports import chart, engine, export, forms, measures as M, period as P
from appliance.reports.spec import CHARTS, MAX_DIMENSIONS, Spec, check_filters, check_spec
from web import api_common, security
from web.api_common import body
from web.context import error_text, get_db, gettext
from web.i18n import _

bp = Blueprint("reports", __name__)
api_bp = api_common.blueprint("reports_api", __name__)
READERS = ("admin", "supervisor", "operator")
EDITORS = ("admin",)
# An operator sees these ready reports, of their own calls and time only.
OPERATOR_FORMS = ("operators", "operator_states", "quality")
FORMATS = ("json", "csv", "xlsx")


AUDIT_ADDED, AUDIT_CHANGED, AUDIT_DELETED = _("report form added"), _("report form changed"), \
    _("report form deleted")
VALUE_NAMES = (_("inbound"), _("outbound"), _("answered"), _("abandoned"))   # shown through gettext
NONE = "—"
PERIOD_TITLES = {"day": _("Day"), "week": _("Week"), "month": _("Month"), "year": _("Year"),
                 "custom": _("Custom (from – to)")}
CHART_TITLES = {"bar": _("Bars (categories)"), "line": _("Line (time series)"), "none": _("No chart")}


@bp.context_processor
def titles():
    return {"dimension_titles": M.DIMENSIONS, "measure_titles": {k: m.title for k, m in M.MEASURES.items()},
            "filter_titles": {f: M.DIMENSIONS[f] for f in M.FILTERS}, "period_titles": PERIOD_TITLES,
            "chart_titles": CHART_TITLES}


# --- reading a view's request --------------------------------------------------

def _form_or_404(db, key: str) -> tuple[Spec, bool]:
    found = forms.get(db, key)
    if found is None:
        abort(404)
    if g.user.role == "operator":
        if key not in OPERATOR_FORMS:
            abort(403)
        if not desktop.extension_of(db, g.user):
            abort(403)
    return found


def _own(db) -> dict:
    """The filter an operator's reports are held to (their extension)."""
    return {"operator": desktop.extension_of(db, g.user)} if g.user.role == "operator" else {}


def allowed_filters(spec: Spec) -> list[str]:
    """The filters the view offers: those every figure of the form can take
    (an operator's view offers none: it is theirs)."""
    if g.get("user") is not None and g.user.role == "operator":
        return []
    out = []
    for name in M.FILTERS:
        try:
            check_filters({name: "x"}, spec.families(), spec.dimensions)
        except ConfigError:
            continue
        out.append(name)
    return out


def view_request(db, spec: Spec, args) -> tuple[Spec, P.Period, str]:
    """The form as asked for: its filters overlaid with the request's, its
    service-level threshold, and the period (kind, from, to)."""
    kind = args.get("period") or (spec.period if not args.get("from") else "custom")
    per = P.resolve(kind, args.get("from"), args.get("to"), engine.today(db))
    filters = dict(spec.filters)
    for name in allowed_filters(spec):
        if name in args:
            filters[name] = args.get(name, "").strip()
    filters = check_filters(filters | _own(db), spec.families(), spec.dimensions)
    data = spec.as_dict() | {"filters": filters}
    if args.get("sl"):
        data["sl_seconds"] = args.get("sl")
    return check_spec(data), per, kind


def label(dim: str, value) -> str:
    if value in (None, ""):
        return NONE
    if dim == "hour":
        return f"{int(value):02d}:00"
    if dim in ("direction", "outcome"):
        return gettext(str(value))
    return str(value)


def column_title(col: dict) -> str:
    title = gettext(col["title"])
    return f"{title}: {col['reason']}" if col.get("reason") is not None else title


def shown(kind: str, value) -> str:
    if value is None:
        return NONE
    if kind in ("dimension", "count"):
        return str(value)
    if kind == "duration":
        seconds = int(round(value))
        return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
    return f"{value:.1f}"


def table(result) -> tuple[list[str], list[list]]:
    """Header and rows for export: dimension labels, raw numbers."""
    header = [column_title(c) for c in result.columns]
    dims = [c["key"] for c in result.columns if c["dimension"]]
    rows = [[label(d, v) for d, v in zip(dims, row)] + row[len(dims):] for row in result.rows]
    total = [gettext("Total")] + [""] * (len(dims) - 1) + result.total[len(dims):] if dims else result.total
    return header, rows + [total]


def chart_svg(result) -> str:
    spec = result.spec
    if spec.chart == "none" or len(spec.dimensions) != 1 or not result.rows:
        return ""
    dim = spec.dimensions[0]
    first = next(c for c in result.columns if not c["dimension"])
    values = [row[1] for row in result.rows]
    return chart.svg([label(dim, row[0]) for row in result.rows], values, spec.chart, column_title(first))


def _export(result, fmt: str, key: str):
    header, rows = table(result)
    start, end = result.period.iso()
    name = f"report-{key}-{start}-{end}"
    if fmt == "csv":
        return Response(export.to_csv(header, rows), mimetype="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})
    return Response(export.to_xlsx(header, rows, gettext(result.spec.title)),
                    mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'})


def _choices(db) -> dict:
    groups = sorted({gr.name for gr in render_config.load(db).groups} |
                    {r[0] for r in db.execute("SELECT DISTINCT grp FROM report_calls_line") if r[0]})
    operators = [r[0] for r in db.execute("SELECT extension FROM operators ORDER BY extension")]
    lines = sorted({r[0] for r in db.execute("SELECT name FROM trunks")} |
                   {r[0] for r in db.execute("SELECT DISTINCT trunk FROM report_calls_line") if r[0]})
    return {"group": groups, "operator": operators, "line": lines, "direction": ["inbound", "outbound"]}


# --- panel ---------------------------------------------------------------------

@bp.get("/reports/")
@security.roles(*READERS)
def index():
    db = get_db()
    if g.user.role == "operator":
        return render_template("reports.html", ready={k: forms.READY[k] for k in OPERATOR_FORMS}, custom=[],
                               can_edit=False, own=desktop.extension_of(db, g.user))
    return render_template("reports.html", ready=forms.READY, custom=forms.custom_forms(db),
                           can_edit=g.user.role in EDITORS)


@bp.get("/reports/<key>")
@security.roles(*READERS)
def view(key):
    db = get_db()
    spec, custom = _form_or_404(db, key)
    fmt = request.args.get("format", "html")
    try:
        asked, per, kind = view_request(db, spec, request.args)
    except ConfigError as exc:
        flash(error_text(exc), "error")
        asked, per, kind = check_spec(spec.as_dict() | {"filters": spec.filters | _own(db)}), \
            P.resolve(spec.period, today=engine.today(db)), spec.period
    result = engine.run(db, asked, per)
    if fmt in ("csv", "xlsx"):
        return _export(result, fmt, key)
    header, _rows = table(result)
    dims = [c["key"] for c in result.columns if c["dimension"]]
    return render_template("report_view.html", key=key, spec=asked, custom=custom, result=result,
                           header=header, dims=dims, label=label, shown=shown, svg=chart_svg(result),
                           kind=kind, filters=allowed_filters(spec), choices=_choices(db),
                           printable=request.args.get("print") == "1", can_edit=g.user.role in EDITORS,
                           uses_sl="service_level" in spec.measures,
                           query={k: v for k, v in request.args.items() if k not in ("format", "print")})


def _form_data(form) -> dict:
    return {"title": form.get("title", ""),
            "dimensions": [d for d in (form.get(f"dimension{i}", "") for i in range(1, MAX_DIMENSIONS + 1)) if d],
            "measures": form.getlist("measures"),
            "filters": {f: form.get(f"filter_{f}", "") for f in M.FILTERS},
            "period": form.get("period", "month"), "chart": form.get("chart", "none"),
            "sl_seconds": form.get("sl_seconds", "") or M.SL_DEFAULT}


def _editor(data: dict, errors: dict, form_id=None, status=200):
    choices = _choices(get_db())
    for name, value in (data.get("filters") or {}).items():   # keep a value no longer offered
        if value and name in choices and value not in choices[name]:
            choices[name] = [value] + choices[name]
    return render_template("report_form.html", data=data, errors=errors, form_id=form_id, choices=choices,
                           label=label,
                           dimensions=M.DIMENSIONS, measures=M.MEASURES, filters=M.FILTERS,
                           periods=P.KINDS, charts=CHARTS, max_dimensions=MAX_DIMENSIONS), status


@bp.route("/reports/new", methods=["GET", "POST"])
@security.roles(*EDITORS)
def new():
    if request.method == "GET":
        return _editor({"title": "", "dimensions": ["day"], "measures": ["calls", "answered", "abandoned"],
                        "filters": {}, "period": "month", "chart": "line", "sl_seconds": M.SL_DEFAULT}, {})
    db = get_db()
    data = _form_data(request.form)
    try:
        key = forms.save(db, data, g.user.username)
    except ConfigError as exc:
        return _editor(data, {exc.field.split(".")[0]: error_text(exc)}, status=422)
    audit.record(db, g.user.username, AUDIT_ADDED, key, {"title": data["title"]})
    flash(gettext("Report “{title}” saved.", title=data["title"]))
    return redirect(url_for("reports.view", key=key))


def _custom_id(key: str) -> int:
    if not (key[:1] == "c" and key[1:].isdigit()):
        abort(404)
    return int(key[1:])


@bp.route("/reports/<key>/edit", methods=["GET", "POST"])
@security.roles(*EDITORS)
def edit(key):
    db = get_db()
    form_id = _custom_id(key)
    spec, _custom = _form_or_404(db, key)
    if request.method == "GET":
        return _editor(spec.as_dict(), {}, form_id)
    if request.form.get("action") == "delete":
        forms.delete(db, form_id)
        audit.record(db, g.user.username, AUDIT_DELETED, key, {"title": spec.title})
        flash(gettext("Report “{title}” deleted.", title=spec.title))
        return redirect(url_for("reports.index"))
    data = _form_data(request.form)
    try:
        forms.save(db, data, g.user.username, form_id)
    except ConfigError as exc:
        return _editor(data, {exc.field.split(".")[0]: error_text(exc)}, form_id, 422)
    audit.record(db, g.user.username, AUDIT_CHANGED, key, {"title": data["title"]})
    flash(gettext("Report “{title}” saved.", title=data["title"]))
    return redirect(url_for("reports.view", key=key))


# --- API -----------------------------------------------------------------------

def _form_json(key: str, spec: Spec, custom: bool) -> dict:
    return {"key": key, "custom": custom, "title": gettext(spec.title), **{
        k: v for k, v in spec.as_dict().items() if k != "title"}}


@api_bp.get("/reports")
@security.roles(*READERS)
def api_list():
    db = get_db()
    if g.user.role == "operator":
        return jsonify([_form_json(k, forms.READY[k], False) for k in OPERATOR_FORMS])
    return jsonify([_form_json(k, s, False) for k, s in forms.READY.items()] +
                   [_form_json(f["key"], f["spec"], True) for f in forms.custom_forms(db)])


@api_bp.get("/reports/<key>")
@security.roles(*READERS)
def api_report(key):
    db = get_db()
    spec, _custom = _form_or_404(db, key)
    fmt = request.args.get("format", "json")
    if fmt not in FORMATS:
        raise ConfigError("format", "'{value}' is not one of: {choices}", value=fmt[:10],
                          choices=", ".join(FORMATS))
    asked, per, _kind = view_request(db, spec, request.args)
    result = engine.run(db, asked, per)
    if fmt != "json":
        return _export(result, fmt, key)
    out = result.as_dict()
    out["title"] = gettext(asked.title)
    for col in out["columns"]:
        col["title"] = column_title(col)
    return jsonify(out)


@api_bp.post("/reports")
@security.roles(*EDITORS)
def api_add():
    db = get_db()
    data = body()
    key = forms.save(db, data, g.user.username)
    audit.record(db, g.user.username, AUDIT_ADDED, key, {"title": data.get("title")})
    spec, _custom = forms.get(db, key)
    return jsonify(_form_json(key, spec, True)), 201


@api_bp.put("/reports/<key>")
@security.roles(*EDITORS)
def api_change(key):
    db = get_db()
    form_id = _custom_id(key)
    _form_or_404(db, key)
    data = body()
    forms.save(db, data, g.user.username, form_id)
    audit.record(db, g.user.username, AUDIT_CHANGED, key, {"title": data.get("title")})
    spec, _custom = forms.get(db, key)
    return jsonify(_form_json(key, spec, True))


@api_bp.delete("/reports/<key>")
@security.roles(*EDITORS)
def api_delete(key):
    db = get_db()
    form_id = _custom_id(key)
    spec, _custom = _form_or_404(db, key)
    forms.delete(db, form_id)
    audit.record(db, g.user.username, AUDIT_DELETED, key, {"title": spec.title})
    return "", 204
