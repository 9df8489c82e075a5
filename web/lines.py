"""Lines and trunks: the SIP trunk that stands in for the E1 today, and the
E1 span settings (stored now, generated into DAHDI by the hardware issue)."""
from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from appliance import audit, model, spans

from . import error_text, get_db, gettext, security

bp = Blueprint("lines", __name__, url_prefix="/lines")
EDITORS = ("admin", "technician")


@bp.get("/")
@security.roles(*EDITORS, "supervisor")
def index():
    db = get_db()
    return render_template("lines.html", trunks=model.load(db).trunks, spans=spans.load_all(db),
                           can_edit=g.user.role in EDITORS)


@bp.route("/trunk/new", methods=["GET", "POST"])
@bp.route("/trunk/<name>", methods=["GET", "POST"])
@security.roles(*EDITORS)
def trunk(name=None):
    db = get_db()
    current = next((t for t in model.load(db).trunks if t.name == name), None)
    if name and not current:
        abort(404)
    form = request.form if request.method == "POST" else (
        {"name": current.name, "host": current.host, "port": current.port} if current else {"port": 5060})
    errors = {}
    if request.method == "POST":
        try:
            with db.atomic():
                if request.form.get("action") == "delete" and current:
                    model.delete_trunk(db, name)
                    audit.record(db, g.user.username, "trunk deleted", name)
                elif current:
                    model.update_sip_trunk(db, name, form.get("host", ""), form.get("port", ""))
                    audit.record(db, g.user.username, "trunk changed", name,
                                 {"host": form.get("host"), "port": form.get("port")})
                else:
                    model.add_sip_trunk(db, form.get("name", ""), form.get("host", ""), form.get("port", ""))
                    audit.record(db, g.user.username, "trunk added", form.get("name"),
                                 {"host": form.get("host"), "port": form.get("port")})
        except model.ConfigError as exc:
            errors[exc.field] = error_text(exc)
        else:
            flash(gettext("Saved. Apply the changes to put them into service."))
            return redirect(url_for("lines.index"))
    return render_template("trunk_form.html", current=current, form=form, errors=errors), (400 if errors else 200)


@bp.route("/span/new", methods=["GET", "POST"])
@bp.route("/span/<int:number>", methods=["GET", "POST"])
@security.roles(*EDITORS)
def span(number=None):
    db = get_db()
    current = next((s for s in spans.load_all(db) if s.span == number), None)
    if number and not current:
        abort(404)
    if request.method == "POST":
        form = request.form.to_dict()
        if current:
            form["span"] = str(current.span)
        form.setdefault("crc4", "0")
        form.setdefault("enabled", "0")
    else:
        form = vars(current) if current else vars(spans.Span(span=len(spans.load_all(db)) + 1, name=""))
    errors = {}
    if request.method == "POST":
        try:
            with db.atomic():
                if request.form.get("action") == "delete" and current:
                    spans.delete(db, current.span)
                    audit.record(db, g.user.username, "span deleted", str(current.span))
                else:
                    s = spans.validate(form)
                    spans.save(db, s, create=current is None)
                    audit.record(db, g.user.username, "span changed" if current else "span added",
                                 str(s.span), vars(s))
        except model.ConfigError as exc:
            errors[exc.field] = error_text(exc)
        else:
            flash(gettext("Saved. Apply the changes to put them into service."))
            return redirect(url_for("lines.index"))
    return render_template("span_form.html", current=current, form=form, errors=errors,
                           choices={"framing": spans.FRAMINGS, "coding": spans.CODINGS,
                                    "signalling": spans.SIGNALLINGS, "switchtype": spans.SWITCHTYPES,
                                    "mfcr2_variant": spans.MFCR2_VARIANTS}), (400 if errors else 200)
