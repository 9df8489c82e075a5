"""Lines and trunks: SIP trunks, and the E1/T1 spans and analog ports
(settings generated into DAHDI's and chan_dahdi's files by
appliance/lines/render.py, put into service by appliance/lines/apply.py)
with their live status read through drivers/; the same under
/api/v1/trunks and /api/v1/spans. Technicians and administrators also place
test dials here (appliance.lines.test_dial; /api/v1/test-dials)."""
from __future__ import annotations

from dataclasses import asdict

from flask import Blueprint, abort, current_app, flash, g, jsonify, redirect, render_template, request, url_for

from appliance.base import ami, audit
from appliance.base.errors import ConfigError
from appliance.lines import apply as dahdi_apply, render as dahdi, store as spans, test_dial, trunks as sip_trunks
from appliance.render import config as render_config
from web import api_common, security
from web.api_common import body, changed, find
from web.context import error_text, get_db, gettext
from web.i18n import _

bp = Blueprint("lines", __name__, url_prefix="/lines")
api_bp = api_common.blueprint("lines_api", __name__)
EDITORS = ("admin", "technician")


@bp.get("/")
@security.roles(*EDITORS, "supervisor")
def index(test_form: dict | None = None, test_errors: dict | None = None, status_code: int = 200):
    db = get_db()
    can_edit = g.user.role in EDITORS
    extra = test_dial_page(db, test_form or {}, test_errors or {}) if can_edit else {}
    return render_template("lines.html", trunks=render_config.load(db).trunks, spans=spans.load_all(db),
                           status=live_status(), can_edit=can_edit,
                           dahdi_pending=dahdi_apply.not_in_service(db, hardware()), **extra), status_code


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


# --- the technicians' test dial (appliance.lines.test_dial) ---------------------

# test_dial.TEXTS and the words filled into them, marked for the catalogs (a
# unit test keeps these the same as the library's).
STEP_TEXTS = (
    _("Seized {channel}"), _("Seized the SIP trunk {trunk} ({channel})"),
    _("Seized span {span}, circuit {circuit} ({channel})"), _("Route {route}, trunk group {group}"),
    _("Digits sent: {sent}"), _("Ringing"), _("Progress: early media"), _("Proceeding: the network took the number"),
    _("Answered"), _("{outcome}: cause {cause}, {cause_text}"), _("{outcome} ({status})"),
    _("Trunk group {group}: no channel could be seized ({status})"), _("Refused before dialling: {reason}"),
    _("The dialplan refused the test dial's values"), _("Asterisk could not start the test dial: {reason}"),
    _("Test dial ended"),
)
OUTCOME_TEXTS = (_("Cleared after the answer"), _("Busy"), _("No answer"), _("Congestion"), _("Number invalid"),
                 _("Rejected"), _("Failed"))
REFUSED_TEXTS = (_("no outbound route matches the number through the chosen route or span"),
                 _("no trunk group of the route can take a call now"), _("the call had no known purpose"))
ORIGINATE_REASONS = (_("no such extension or the channel failed"), _("hung up"), _("no answer"), _("busy"),
                     _("congestion"))
RESULT_TEXTS = {"": _("dialling…"), "answered": _("answered"), "busy": _("busy"), "no-answer": _("no answer"),
                "congestion": _("congestion"), "number-invalid": _("number invalid"), "rejected": _("rejected"),
                "failed": _("failed"), "refused": _("refused before dialling"),
                "invalid": _("refused by the dialplan")}
AUDIT_ACTIONS = (_("test dial"),)


def registry() -> test_dial.Registry:
    return current_app.extensions.setdefault("korund.test_dials", test_dial.Registry())


def step_json(step: dict) -> dict:
    """A step for the page: its time and its text in the user's language.
    Only the words Korund chose are translated, never a name filled in (a
    route called 'national' stays so)."""
    p = {k: "" if v is None else v for k, v in step["params"].items()}
    kind = step["kind"]
    if "outcome" in p:
        p["outcome"] = gettext(test_dial.OUTCOME_TEXTS.get(p["outcome"], p["outcome"]))
    if "cause_text" in p:
        cause_text = p["cause_text"]          # appliance.outbound.causes.TEXTS, marked in web.calls
        p["cause_text"] = gettext(cause_text)
    if kind == "refused":
        key = p["reason"]
        p["reason"] = (gettext(test_dial.REFUSED_TEXTS[key]) if key in test_dial.REFUSED_TEXTS
                       else gettext("the outbound policy or the route refused the number ({reason})").format(reason=key))
    if kind == "failed":
        reason = p["reason"]                  # test_dial.ORIGINATE_REASONS, marked above
        p["reason"] = gettext(reason)
    return {"t": step["t"], "kind": kind, "text": gettext(test_dial.TEXTS[kind]).format(**p)}


def dial_json(dial: test_dial.TestDial) -> dict:
    snap = dial.snapshot()
    return {**snap, "steps": [step_json(s) for s in snap["steps"]],
            "result": gettext(RESULT_TEXTS.get(snap["outcome"], snap["outcome"]))
            if snap["outcome"] or snap["running"] else gettext("ended without a result")}


def test_dial_page(db, form: dict, errors: dict) -> dict:
    """What the Lines page's test-dial section shows: the choices, the form,
    and the test dial asked for (?test_dial=) or this user's latest."""
    wanted = request.args.get("test_dial", "")
    dial = registry().get(wanted) if wanted else registry().latest(g.user.username)
    return {"test_routes": test_dial.route_names(db), "test_spans": test_dial.trunk_spans(db),
            "test_form": form, "test_errors": errors, "test_dial": dial_json(dial) if dial else None,
            "answer_seconds": test_dial.ANSWER_SECONDS}


def target_of(form) -> tuple[str, str]:
    """('route', 'span') from the form's one choice 'route:<name>' or 'span:<n>'."""
    kind, _sep, value = str(form.get("target", "")).partition(":")
    return (value, "") if kind == "route" else ("", value) if kind == "span" else ("", "")


def start_test_dial(number, route, span) -> test_dial.TestDial:
    db = get_db()
    return test_dial.start(db, current_app.config["KORUND_INSTANCE"], registry(), g.user.username,
                           number, route or None, span or None)


@bp.post("/test-dial")
@security.roles(*EDITORS)
def test_dial_start():
    form = request.form.to_dict()
    route, span = target_of(form)
    try:
        dial = start_test_dial(form.get("number", ""), route, span)
    except ConfigError as exc:
        return index(form, {exc.field: error_text(exc)}, 400)
    except test_dial.TestDialError as exc:
        return index(form, {"number": gettext("The test dial cannot be placed now: {error}", error=str(exc))}, 503)
    return redirect(url_for("lines.index", test_dial=dial.id, _anchor="test-dial"))


@api_bp.post("/test-dials")
@security.roles(*EDITORS)
def api_start_test_dial():
    d = body()
    span = d.get("span")
    try:
        dial = start_test_dial(d.get("number", ""), d.get("route") or "", "" if span is None else str(span))
    except test_dial.TestDialError as exc:
        return jsonify(error="unavailable", message=gettext("The test dial cannot be placed now: {error}",
                                                            error=str(exc))), 503
    return jsonify(dial_json(dial)), 201


@api_bp.get("/test-dials/<dial_id>")
@security.roles(*EDITORS)
def api_test_dial(dial_id):
    dial = registry().get(dial_id)
    if dial is None:
        abort(404)
    return jsonify(dial_json(dial))
