"""Operators and groups (the ACD issue deepens routing)."""
from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from appliance import audit, model

from . import error_text, get_db, gettext, security

bp = Blueprint("people", __name__)
EDITORS = ("admin", "supervisor")


@bp.get("/operators")
@security.roles(*EDITORS)
def operators():
    db = get_db()
    cfg = model.load(db)
    groups_of = {op.extension: [g_.name for g_ in cfg.groups if any(m.extension == op.extension for m, _ in g_.members)]
                 for op in cfg.operators}
    return render_template("operators.html", operators=cfg.operators, groups_of=groups_of)


@bp.route("/operators/new", methods=["GET", "POST"])
@bp.route("/operators/<extension>", methods=["GET", "POST"])
@security.roles(*EDITORS)
def operator(extension=None):
    db = get_db()
    current = next((o for o in model.load(db).operators if o.extension == extension), None)
    if extension and not current:
        abort(404)
    form = request.form if request.method == "POST" else (
        {"extension": current.extension, "name": current.name, "contact": current.contact or "",
         "enabled": "1" if current.enabled else ""} if current else {"enabled": "1"})
    errors = {}
    if request.method == "POST":
        try:
            with db.atomic():
                if request.form.get("action") == "delete" and current:
                    model.delete_operator(db, extension)
                    audit.record(db, g.user.username, "operator deleted", extension)
                elif current:
                    model.update_operator(db, extension, form.get("name", ""), form.get("contact"),
                                          enabled=bool(form.get("enabled")))
                    audit.record(db, g.user.username, "operator changed", extension,
                                 {"name": form.get("name"), "contact": form.get("contact")})
                else:
                    model.add_operator(db, form.get("extension", ""), form.get("name", ""),
                                       form.get("contact") or None)
                    audit.record(db, g.user.username, "operator added", form.get("extension"),
                                 {"name": form.get("name")})
        except model.ConfigError as exc:
            errors[exc.field] = error_text(exc)
        else:
            flash(gettext("Saved. Apply the changes to put them into service."))
            return redirect(url_for("people.operators"))
    return render_template("operator_form.html", current=current, form=form, errors=errors), (400 if errors else 200)


@bp.get("/groups")
@security.roles(*EDITORS)
def groups():
    return render_template("groups.html", groups=model.load(get_db()).groups)


@bp.route("/groups/new", methods=["GET", "POST"])
@bp.route("/groups/<name>", methods=["GET", "POST"])
@security.roles(*EDITORS)
def group(name=None):
    db = get_db()
    cfg = model.load(db)
    current = next((g_ for g_ in cfg.groups if g_.name == name), None)
    if name and not current:
        abort(404)
    if request.method == "POST":
        form = request.form
        members = request.form.getlist("members")
    elif current:
        form = {"name": current.name, "title": current.title, "strategy": current.strategy,
                "ring_timeout": current.ring_timeout, "is_default": "1" if current.is_default else ""}
        members = [op.extension for op, _ in current.members]
    else:
        form, members = {"strategy": "rrmemory", "ring_timeout": 15}, []
    errors = {}
    if request.method == "POST":
        try:
            with db.atomic():
                if request.form.get("action") == "delete" and current:
                    model.delete_group(db, name)
                    audit.record(db, g.user.username, "group deleted", name)
                else:
                    if current:
                        model.update_group(db, name, form.get("title", ""), form.get("strategy", ""),
                                           form.get("ring_timeout", ""), bool(form.get("is_default")))
                    else:
                        model.add_group(db, form.get("name", ""), form.get("title", ""),
                                        form.get("strategy", ""), form.get("ring_timeout", ""),
                                        bool(form.get("is_default")))
                    model.set_members(db, current.name if current else form.get("name", ""), members)
                    audit.record(db, g.user.username, "group changed" if current else "group added",
                                 current.name if current else form.get("name"),
                                 {"title": form.get("title"), "members": members})
        except model.ConfigError as exc:
            errors[exc.field] = error_text(exc)
        else:
            flash(gettext("Saved. Apply the changes to put them into service."))
            return redirect(url_for("people.groups"))
    return render_template("group_form.html", current=current, form=form, members=members,
                           operators=cfg.operators, strategy_options=[(s, s) for s in model.STRATEGIES],
                           errors=errors), (400 if errors else 200)
