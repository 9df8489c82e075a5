"""Data tables (F4) in the panel: upload a CSV, check its preview and report,
confirm; browse, search and edit rows; export; delete. Plus /api/v1/tables
for the scenario editor's look-up node."""
from __future__ import annotations

from flask import Blueprint, Response, abort, flash, g, jsonify, redirect, render_template, request, url_for

from appliance.base import audit
from appliance.base.errors import ConfigError
from appliance.tables import store as datatables
from web import api_common, csv_upload, security
from web.context import error_text, get_db, gettext, page_args
from web.i18n import _

bp = Blueprint("tables", __name__, url_prefix="/tables")
api_bp = api_common.blueprint("tables_api", __name__)
EDITORS = ("admin", "supervisor")
PAGE_SIZE = 50


def existing(db, name: str) -> datatables.TableInfo:
    info = datatables.table(db, name)
    if info is None:
        abort(404)
    return info


@bp.get("/")
@security.roles(*EDITORS)
def index(form=None, errors=None, status=200):
    return render_template("tables.html", tables=datatables.tables(get_db()),
                           form=form or {"mode": "replace"}, errors=errors or {}), status


@bp.post("/upload")
@security.roles(*EDITORS)
def upload():
    form = request.form

    def stage(db, raw, username, filename):
        return datatables.stage(db, form.get("name", ""), raw, form.get("key", ""), form.get("mode", "replace"),
                                username, filename)

    def refused(filename, preview):
        return preview_page(form.get("name", "").strip(), form.get("mode"), filename, preview, None)

    return csv_upload.receive(stage, lambda errors: index(form, errors, 400), "tables.review", refused)


def preview_page(name, mode, filename, preview, token):
    return csv_upload.preview_page("tables_preview.html", filename, preview, token, name=name, mode=mode,
                                   current=datatables.table(get_db(), name))


def imported(db, s: datatables.Staged) -> tuple[str, str]:
    audit.record(db, g.user.username, _("table imported"), s.name,
                 {"rows": len(s.preview.rows), "mode": s.mode, "file": s.filename, "encoding": s.preview.encoding})
    return (gettext("Imported {rows} rows into the table {name}.", rows=len(s.preview.rows), name=s.name),
            url_for("tables.show", name=s.name))


@bp.route("/upload/<token>", methods=["GET", "POST"])
@security.roles(*EDITORS)
def review(token):
    return csv_upload.review(token, datatables, url_for("tables.index"), imported,
                             lambda s: preview_page(s.name, s.mode, s.filename, s.preview, token))


def render_table(info, failed=None, status=200):
    q, page = page_args()
    total, rows = datatables.rows(get_db(), info.name, q, (page - 1) * PAGE_SIZE, PAGE_SIZE)
    pages = max(1, (total + PAGE_SIZE - 1) // PAGE_SIZE)
    return render_template("tables_rows.html", table=info, rows=rows, total=total, q=q, page=page,
                           pages=pages, failed=failed,
                           used_by=datatables.used_by(get_db(), info.name)), status


@bp.get("/<name>")
@security.roles(*EDITORS)
def show(name):
    return render_table(existing(get_db(), name))


@bp.post("/<name>/rows")
@security.roles(*EDITORS)
def edit_row(name):
    db = get_db()
    info = existing(db, name)
    form = request.form
    action = form.get("action")
    original = form.get("original_key")
    values = {c: form.get("v_" + c, "") for c in info.columns}
    try:
        with db.atomic():
            if action == "delete" and original is not None:
                datatables.delete_row(db, name, original)
                audit.record(db, g.user.username, _("table row deleted"), name, {"key": original})
                message = gettext("The row {key} was deleted.", key=original)
            elif action == "save" and original is not None:
                row = datatables.put_row(db, name, values, original)
                audit.record(db, g.user.username, _("table row changed"), name,
                             {"key": original, "row": row})
                message = gettext("The row {key} was saved.", key=row[info.key_column])
            elif action == "add":
                row = datatables.put_row(db, name, values)
                audit.record(db, g.user.username, _("table row added"), name, {"row": row})
                message = gettext("The row {key} was added.", key=row[info.key_column])
            else:
                abort(400)
    except ConfigError as exc:
        failed = {"key": original if action != "add" else None, "values": values,
                  "field": exc.field, "message": error_text(exc)}
        return render_table(info, failed, 400)
    flash(message, "ok")
    q, page = page_args()
    return redirect(url_for("tables.show", name=name, q=q or None, page=page if page > 1 else None))


@bp.post("/<name>/delete")
@security.roles(*EDITORS)
def delete(name):
    db = get_db()
    existing(db, name)
    try:
        with db.atomic():
            datatables.delete_table(db, name)
            audit.record(db, g.user.username, _("table deleted"), name)
    except ConfigError as exc:
        flash(error_text(exc), "error")
        return redirect(url_for("tables.show", name=name))
    flash(gettext("The table {name} was deleted.", name=name), "ok")
    return redirect(url_for("tables.index"))


@bp.get("/<name>/export.csv")
@security.roles(*EDITORS)
def export(name):
    db = get_db()
    existing(db, name)
    return Response(datatables.export_csv(db, name), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})


@api_bp.get("/tables")
@security.roles(*EDITORS)
def api_tables():
    """What a look-up node may use: each table's name, key column and columns."""
    return jsonify([{"name": t.name, "key": t.key_column, "columns": t.columns}
                    for t in datatables.tables(get_db())])
