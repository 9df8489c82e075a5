"""Lines and trunks: SIP trunks, and the E1/T1 spans and analog ports
(settings generated into DAHDI's and chan_dahdi's files by
appliance/lines/render.py, put into service by appliance/lines/apply.py)
with their live status read through drivers/; the same under
/api/v1/trunks and /api/v1/spans."""
from __future__ import annotations

from dataclasses import asdict

from flask import Blueprint, abort, current_app, flash, g, jsonify, redirect, render_template, request, url_for

from appliance.base import ami, audit
from appliance.base.errors import ConfigError
from appliance.lines import apply as dahdi_apply, render as dahdi, store as spans, trunks as sip_trunks
from appliance.render import config as render_config
from web import api_common, security
from web.api_common import body, changed, find
from web.context import error_text, get_db, gettext

bp = Blueprint("lines", __name__, url_prefix="/lines")
api_bp = api_common.blueprint("lines_api", __name__)
EDITORS = ("admin", "technician")


@bp.get("/")
@security.roles(*EDITORS, "supervisor")
def index():
    db = get_db()
    return render_template("lines.html", trunks=render_config.load(db).trunks, spans=spans.load_all(db),
                           status=live_status(), can_edit=g.user.role in EDITORS,
                           dahdi_pending=dahdi_apply.not_in_service(db, hardware()))


def live_status() -> dict | None:
    """{span number: drivers.spans.Span} read now; None when DAHDI cannot be
    read here (no drivers or no DAHDI on this machine)."""
    try:
        from drivers import spans as hw_spans
        return {s.number: s for s in hw_spans.spans(current_app.config.get("KORUND_HW_ROOT"))}
    except (ImportError, OSError):
        return None


def hardware() -> dahdi.Hardware:
    return dahdi.hardware(current_app.config.get("KORUND_HW_ROOT"))


@bp.get("/dahdi")
@security.roles(*EDITORS)
def dahdi_files():
    """The files the settings generate, for a technician to read before applying."""
    db = get_db()
    try:
        files, error = dahdi.render(spans.load_all(db), hardware()), None
    except ConfigError as exc:
        files, error = {}, error_text(exc)
    return render_template("dahdi_files.html", files=files, error=error), (400 if error else 200)


@bp.post("/dahdi/apply")
@security.roles(*EDITORS)
def dahdi_apply_now():
    db = get_db()
    inst = current_app.config["KORUND_INSTANCE"]
    mgr = ami.connect_if_running(inst, db, timeout=5)
    try:
        result = dahdi_apply.apply(inst, db, mgr, hw=hardware())
    except ConfigError as exc:
        flash(gettext("The span settings cannot be generated: {error}", error=error_text(exc)), "error")
        return redirect(url_for("lines.index"))
    except dahdi_apply.DahdiApplyError as exc:
        audit.record(db, g.user.username, "dahdi apply refused", details={"error": str(exc)})
        flash(gettext("DAHDI did not take the new configuration; the previous one is back. "
                      "What the tools said: {error}", error=str(exc)), "error")
        return redirect(url_for("lines.index"))
    finally:
        ami.close(mgr)
    audit.record(db, g.user.username, "dahdi apply", details={"files": result.files,
                                                              "reloaded": result.reloaded})
    flash(gettext("DAHDI configuration applied.") if result.reloaded else
          gettext("DAHDI configuration written; Asterisk is not running and will read it when it starts."))
    return redirect(url_for("lines.index"))


@bp.route("/trunk/new", methods=["GET", "POST"])
@bp.route("/trunk/<name>", methods=["GET", "POST"])
@security.roles(*EDITORS)
def trunk(name=None):
    db = get_db()
    current = next((t for t in render_config.load(db).trunks if t.name == name), None)
    if name and not current:
        abort(404)
    form = request.form if request.method == "POST" else (
        {"name": current.name, "host": current.host, "port": current.port} if current else {"port": 5060})
    errors = {}
    if request.method == "POST":
        try:
            with db.atomic():
                if request.form.get("action") == "delete" and current:
                    sip_trunks.delete_trunk(db, name)
                    audit.record(db, g.user.username, "trunk deleted", name)
                elif current:
                    sip_trunks.update_sip_trunk(db, name, form.get("host", ""), form.get("port", ""))
                    audit.record(db, g.user.username, "trunk changed", name,
                                 {"host": form.get("host"), "port": form.get("port")})
                else:
                    sip_trunks.add_sip_trunk(db, form.get("name", ""), form.get("host", ""), form.get("port", ""))
                    audit.record(db, g.user.username, "trunk added", form.get("name"),
                                 {"host": form.get("host"), "port": form.get("port")})
        except ConfigError as exc:
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
        for flag in spans.BOOLS:
            form.setdefault(flag, "0")
    else:
        form = dict(vars(current) if current else vars(spans.Span(span=len(spans.load_all(db)) + 1, name="")))
        # What the R2 fields take when R2 is chosen (blank fields mean these too).
        form.update({k: v for k, v in (("mfcr2_variant", "ITU"), ("mfcr2_max_ani", 10),
                                       ("mfcr2_max_dnis", 4)) if form.get(k) is None})
    errors = {}
    if request.method == "POST":
        try:
            with db.atomic():
                if request.form.get("action") == "delete" and current:
                    spans.delete(db, current.span)
                    audit.record(db, g.user.username, "span deleted", str(current.span))
                else:
                    s = spans.validate(form)
                    others = [o for o in spans.load_all(db) if o.span != s.span]
                    spans.check_all(sorted(others + [s], key=lambda o: o.span), hardware().spans)
                    spans.save(db, s, create=current is None)
                    audit.record(db, g.user.username, "span changed" if current else "span added",
                                 str(s.span), vars(s))
        except ConfigError as exc:
            errors[exc.field] = error_text(exc)
        else:
            flash(gettext("Saved. Apply the changes to put them into service."))
            return redirect(url_for("lines.index"))
    return render_template("span_form.html", current=current, form=form, errors=errors,
                           choices=CHOICES, status=(live_status() or {}).get(number)), (400 if errors else 200)


CHOICES = {"line_type": spans.LINE_TYPES, "framing": spans.FRAMINGS, "coding": spans.CODINGS,
           "signalling": spans.SIGNALLINGS, "switchtype": spans.SWITCHTYPES,
           "mfcr2_variant": spans.MFCR2_VARIANTS, "mfcr2_category": spans.MFCR2_CATEGORIES,
           "pri_dialplan": spans.DIALPLANS, "pri_local_dialplan": spans.DIALPLANS,
           "overlapdial": spans.OVERLAPDIAL, "cidsignalling": spans.CID_SIGNALLINGS,
           "cidstart": spans.CID_STARTS, "echocanceller": spans.ECHO_CANCELLERS, "role": spans.ROLES}


# --- API: trunks ----------------------------------------------------------------

def trunk_json(t) -> dict:
    return {"name": t.name, "kind": t.kind, "host": t.host, "port": t.port, "enabled": t.enabled}


@api_bp.get("/trunks")
@security.roles(*security.STAFF)
def api_trunks():
    return jsonify([trunk_json(t) for t in render_config.load(get_db()).trunks])


@api_bp.post("/trunks")
@security.roles(*EDITORS)
def api_add_trunk():
    d = body()
    db = get_db()
    with db.atomic():
        sip_trunks.add_sip_trunk(db, d.get("name", ""), d.get("host", ""), d.get("port", 5060))
        changed("trunk added", d.get("name"), {"host": d.get("host"), "port": d.get("port")})
    return jsonify(trunk_json(find(render_config.load(db).trunks, "name", d["name"].strip()))), 201


@api_bp.get("/trunks/<name>")
@security.roles(*security.STAFF)
def api_trunk(name):
    return jsonify(trunk_json(find(render_config.load(get_db()).trunks, "name", name)))


@api_bp.route("/trunks/<name>", methods=["PUT", "DELETE"])
@security.roles(*EDITORS)
def api_change_trunk(name):
    db = get_db()
    current = find(render_config.load(db).trunks, "name", name)
    with db.atomic():
        if request.method == "DELETE":
            sip_trunks.delete_trunk(db, name)
            changed("trunk deleted", name)
            return "", 204
        d = body()
        sip_trunks.update_sip_trunk(db, name, d.get("host", current.host), d.get("port", current.port))
        changed("trunk changed", name, {"host": d.get("host"), "port": d.get("port")})
    return jsonify(trunk_json(find(render_config.load(db).trunks, "name", name)))


# --- API: E1 spans --------------------------------------------------------------

@api_bp.get("/spans")
@security.roles(*security.STAFF)
def api_spans():
    return jsonify([asdict(s) for s in spans.load_all(get_db())])


@api_bp.post("/spans")
@security.roles(*EDITORS)
def api_add_span():
    db = get_db()
    s = spans.validate(body())
    with db.atomic():
        spans.save(db, s, create=True)
        changed("span added", str(s.span), asdict(s))
    return jsonify(asdict(s)), 201


@api_bp.get("/spans/<int:number>")
@security.roles(*security.STAFF)
def api_span(number):
    return jsonify(asdict(find(spans.load_all(get_db()), "span", number)))


@api_bp.route("/spans/<int:number>", methods=["PUT", "DELETE"])
@security.roles(*EDITORS)
def api_change_span(number):
    db = get_db()
    current = find(spans.load_all(db), "span", number)
    with db.atomic():
        if request.method == "DELETE":
            spans.delete(db, number)
            changed("span deleted", str(number))
            return "", 204
        s = spans.validate(asdict(current) | body() | {"span": number})
        spans.save(db, s, create=False)
        changed("span changed", str(number), asdict(s))
    return jsonify(asdict(s))
