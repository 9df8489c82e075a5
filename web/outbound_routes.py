"""Система → Outbound routes: trunk groups (the spans and SIP trunks a call
out goes through), the outbound routes that pick them by the number, and
each operator's class of service (appliance.outbound.routes); a "test a
number" box shows the plan a number would get, without dialling it.

Administrators change them; supervisors and technicians read them and test
numbers; operators are refused. Routes are read by the FastAGI script at
each call out (appliance.agi.outbound_route) and the dialplan does not
change with them (appliance.outbound.render), so a change applies to the
next call without Apply and nothing is reloaded. The same under
/api/v1/trunk-groups, /api/v1/outbound-routes and /api/v1/outbound-classes.
"""
from __future__ import annotations

from dataclasses import asdict

from flask import Blueprint, abort, flash, g, jsonify, redirect, render_template, request, url_for

from appliance.base.errors import ConfigError
from appliance.lines import store as lines, trunks as sip_trunks
from appliance.outbound import policy, routes
from web import api_common, security
from web.api_common import body
from web.context import error_text, get_db, gettext
from web.i18n import _

bp = Blueprint("outbound_routes", __name__, url_prefix="/outbound-routes")
api_bp = api_common.blueprint("outbound_routes_api", __name__)
EDITORS = ("admin",)
READERS = ("admin", "supervisor", "technician")

KIND_NAMES = {"dahdi": _("E1 or analog spans (DAHDI)"), "sip": _("SIP trunks")}
HUNTING_NAMES = {"ascending": _("ascending: the lowest free channel first"),
                 "descending": _("descending: the highest free channel first"),
                 "round_robin": _("round robin: after the channel used last"),
                 "reverse_round_robin": _("reverse round robin: before the channel used last")}
FORMAT_NAMES = {"as_dialled": _("as dialled"), "national_8": _("national numbers as 8XXXXXXXXXX"),
                "e164": _("as +7XXXXXXXXXX (international numbers as +…)"),
                "nsn": _("national numbers as the 10 digits alone")}
TON_NAMES = {"": _("the span's setting"), "unknown": _("unknown type"), "international": _("international number"),
             "national": _("national number"), "network": _("network specific"),
             "subscriber": _("subscriber number"), "abbreviated": _("abbreviated number")}
NPI_NAMES = {"": _("the span's setting"), "unknown": _("unknown plan"), "isdn": _("ISDN/telephony (E.164)"),
             "national": _("national plan"), "private": _("private plan")}
LEVEL_NAMES = {"emergency": _("emergency: every operator"), "local": _("local calls"),
               "national": _("long-distance calls in Russia"), "international": _("international calls")}
CLASS_NAMES = {"internal": _("internal only: no calls out but emergency ones"),
               "local": _("local numbers"), "national": _("national and local numbers"),
               "international": _("any number, international included")}
PURPOSE_NAMES = {"route": _("a scenario's route to a number"), "operator": _("an operator's call")}
# appliance.outbound.routes.REFUSALS (but the policy's "no-route"), marked for the catalogs
ROUTE_REFUSALS = (
    _("{number}: the route '{route}' is outside operator {operator}'s class of service ({cls})"),
    _("{number}: only an operator's phone may dial out"),
    _("{number}: no trunk group of the route '{route}' can take a call now"),
)
# why plan() skipped a trunk group of the route, as it says it
SKIPPED = (_("empty number"), _("no SIP trunk"), _("no span in service"), _("channels kept for inbound calls"),
           _("disabled"))
AUDIT_ACTIONS = (_("outbound routes changed"),)   # routes.AUDIT_ROUTES, as the audit page shows it
NO_APPLY = _("Saved. It applies to the next call out; no Apply is needed.")

TG_FIELDS = ("name", "kind", "hunting", "reserve", "max_calls", "number_format", "strip", "prepend", "pri_ton",
             "pri_npi", "caller_id", "r2_category")
ROUTE_FIELDS = ("name", "patterns", "level", "caller_id", "max_calls")


# --- what the forms offer ------------------------------------------------------------

def span_choices(db) -> list[tuple[str, str]]:
    """(value, label) of the spans in the trunk role that can call out."""
    out = []
    for number, s in sorted(routes.spans_for_trunks(lines.load_all(db)).items()):
        if s.signalling in routes.DAHDI_SIGNALLINGS and routes.capacity(s):
            label = gettext("span {span} {name} ({signalling}, {channels} channels)").format(
                span=number, name=s.name, signalling=s.signalling, channels=routes.capacity(s))
            out.append((str(number), label + ("" if s.enabled else " — " + gettext("disabled"))))
    return out


def sip_choices(db) -> list[str]:
    return [t.name for t in sip_trunks.load_all(db) if t.kind == "sip"]


def operator_classes(db) -> list[dict]:
    """Every operator with the class of service of their calls out (a
    disabled operator's too, which routes.operator_class leaves out)."""
    return [{"extension": r[0], "name": r[1], "enabled": bool(r[2]), "outbound_class": r[3]}
            for r in db.execute("SELECT extension, name, enabled, outbound_class FROM operators ORDER BY extension")]


def _enabled(value) -> bool:
    return str(value or "").lower() in ("1", "true", "on", "yes")


# --- the plan of a number, for the page and the API ----------------------------------------

def plan_message(db, p: routes.Plan, operator: str) -> str:
    """Why nothing would be dialled, in the user's language. Names (routes,
    operators) are filled in as they are: gettext() would translate a route
    named 'national' like the word."""
    if p.refused == "no-route":
        template = policy.MESSAGES[p.refused]
        return gettext(template).format(number=p.number)
    if p.refused in policy.MESSAGES:
        decision = policy.check(db, p.number, p.purpose, operator)
        return gettext(decision.message).format(**decision.params) if decision.message else p.message
    if p.refused in routes.REFUSALS:
        cls = routes.operator_class(db, operator) or ""
        return gettext(routes.REFUSALS[p.refused]).format(number=p.number, route=p.route, operator=operator,
                                                          cls=gettext(CLASS_NAMES.get(cls, cls)))
    return p.message


def plan_json(db, p: routes.Plan, operator: str = "") -> dict:
    return {"number": p.number, "purpose": p.purpose, "route": p.route, "route_cap": p.route_cap,
            "tries": [{**asdict(t), "dial": t.dial} for t in p.tries],
            "skipped": [{"trunk_group": name, "why": why, "text": gettext(why)} for name, why in p.skipped],
            "refused": p.refused, "message": plan_message(db, p, operator) if p.refused else ""}


def _plan_from(values) -> tuple[dict, dict | None]:
    """The test box's form (number, purpose, operator) and its plan, if asked."""
    form = {"number": str(values.get("number") or "").strip()[:40],
            "purpose": values.get("purpose") if values.get("purpose") in PURPOSE_NAMES else "route",
            "operator": str(values.get("operator") or "").strip()[:8]}
    if not form["number"]:
        return form, None
    db = get_db()
    operator = form["operator"] if form["purpose"] == "operator" else ""
    return form, plan_json(db, routes.plan(db, form["number"], form["purpose"], operator=operator), operator)


# --- the page ------------------------------------------------------------------------------

@bp.get("/")
@security.roles(*READERS)
def index():
    db = get_db()
    test, plan = _plan_from(request.args)
    spans = dict(span_choices(db))
    return render_template("outbound_routes.html", mode="index", editable=g.user.role in EDITORS,
                           groups=routes.trunk_groups(db), routes=routes.routes(db), spans=spans,
                           operators=operator_classes(db), test=test, plan=plan, names=names())


def names() -> dict:
    return {"kind": KIND_NAMES, "hunting": HUNTING_NAMES, "format": FORMAT_NAMES, "ton": TON_NAMES,
            "npi": NPI_NAMES, "level": LEVEL_NAMES, "class": CLASS_NAMES, "purpose": PURPOSE_NAMES}


def _field(exc: ConfigError, fields) -> str:
    """Where on the form an error shows: its field, else above the form."""
    return exc.field if exc.field in fields else "form"


@bp.route("/trunk-groups/new", methods=["GET", "POST"])
@bp.route("/trunk-groups/<name>", methods=["GET", "POST"])
@security.roles(*EDITORS)
def trunk_group(name=None):
    db = get_db()
    current = next((tg for tg in routes.trunk_groups(db) if tg.name == name), None)
    if name and current is None:
        abort(404)
    errors = {}
    if request.method == "POST":
        f = request.form
        form = {k: f.get(k, "") for k in TG_FIELDS}
        form["members"] = f.getlist("members")
        form["enabled"] = _enabled(f.get("enabled"))
        try:
            if f.get("action") == "delete" and current:
                routes.delete_trunk_group(db, current.name, g.user.username)
                flash(gettext("Trunk group {name} deleted.").format(name=current.name))
            else:
                routes.save_trunk_group(db, form, g.user.username, original=current.name if current else None)
                flash(gettext(NO_APPLY))
        except ConfigError as exc:
            errors[_field(exc, (*TG_FIELDS, "members"))] = error_text(exc)
        else:
            return redirect(url_for("outbound_routes.index"))
    else:
        form = asdict(current) if current else asdict(routes.TrunkGroup(name=""))
    form["members"] = [str(m) for m in form["members"]]
    return render_template("outbound_routes.html", mode="trunk_group", current=current, form=form,
                           errors=errors, spans=span_choices(db), sip=sip_choices(db),
                           categories=lines.MFCR2_CATEGORIES, names=names()), (422 if errors else 200)


@bp.route("/routes/new", methods=["GET", "POST"])
@bp.route("/routes/<name>", methods=["GET", "POST"])
@security.roles(*EDITORS)
def route(name=None):
    db = get_db()
    current = next((r for r in routes.routes(db) if r.name == name), None)
    if name and current is None:
        abort(404)
    errors = {}
    if request.method == "POST":
        f = request.form
        form = {k: f.get(k, "") for k in ROUTE_FIELDS}
        form["trunk_groups"] = [n for n in f.getlist("trunk_groups") if n]
        form["enabled"] = _enabled(f.get("enabled"))
        try:
            if f.get("action") == "delete" and current:
                routes.delete_route(db, current.name, g.user.username)
                flash(gettext("Route {name} deleted.").format(name=current.name))
            else:
                routes.save_route(db, form, g.user.username, original=current.name if current else None)
                flash(gettext(NO_APPLY))
        except ConfigError as exc:
            errors[_field(exc, (*ROUTE_FIELDS, "trunk_groups"))] = error_text(exc)
        else:
            return redirect(url_for("outbound_routes.index"))
    else:
        form = asdict(current) if current else asdict(routes.Route(name=""))
        form["patterns"] = "\n".join(form["patterns"])
    groups = [tg.name for tg in routes.trunk_groups(db)]
    # one ordered choice per trunk group: the first is tried first
    slots = form["trunk_groups"] + [""] * max(1, len(groups) - len(form["trunk_groups"]))
    return render_template("outbound_routes.html", mode="route", current=current, form=form, errors=errors,
                           group_names=groups, slots=slots, names=names()), (422 if errors else 200)


@bp.post("/classes/<extension>")
@security.roles(*EDITORS)
def operator_class(extension):
    try:
        routes.set_operator_class(get_db(), extension, request.form.get("outbound_class", ""), g.user.username)
    except ConfigError as exc:
        flash(error_text(exc), "error")
    else:
        flash(gettext("Operator {extension}: class of service saved. It applies to their next call out.",
                      extension=extension))
    return redirect(url_for("outbound_routes.index") + "#classes")


# --- the API --------------------------------------------------------------------------------

def _group(db, name: str) -> routes.TrunkGroup:
    return api_common.find(routes.trunk_groups(db), "name", name)


def _route(db, name: str) -> routes.Route:
    return api_common.find(routes.routes(db), "name", name)


@api_bp.get("/trunk-groups")
@security.roles(*READERS)
def api_trunk_groups():
    return jsonify([asdict(tg) for tg in routes.trunk_groups(get_db())])


@api_bp.post("/trunk-groups")
@security.roles(*EDITORS)
def api_add_trunk_group():
    return jsonify(asdict(routes.save_trunk_group(get_db(), body(), g.user.username))), 201


@api_bp.get("/trunk-groups/<name>")
@security.roles(*READERS)
def api_trunk_group(name):
    return jsonify(asdict(_group(get_db(), name)))


@api_bp.route("/trunk-groups/<name>", methods=["PUT", "PATCH"])
@security.roles(*EDITORS)
def api_change_trunk_group(name):
    db = get_db()
    current = _group(db, name)
    return jsonify(asdict(routes.save_trunk_group(db, {**asdict(current), **body()}, g.user.username,
                                                  original=name)))


@api_bp.delete("/trunk-groups/<name>")
@security.roles(*EDITORS)
def api_delete_trunk_group(name):
    db = get_db()
    routes.delete_trunk_group(db, _group(db, name).name, g.user.username)
    return "", 204


@api_bp.get("/outbound-routes")
@security.roles(*READERS)
def api_routes():
    return jsonify([asdict(r) for r in routes.routes(get_db())])


@api_bp.post("/outbound-routes")
@security.roles(*EDITORS)
def api_add_route():
    return jsonify(asdict(routes.save_route(get_db(), body(), g.user.username))), 201


@api_bp.get("/outbound-routes/plan")
@security.roles(*READERS)
def api_plan():
    """The plan of ?number= for ?purpose= (route, or operator with
    ?operator=EXT); a number left out is planned as '' (refused: not a number)."""
    purpose = request.args.get("purpose", "route")
    if purpose not in PURPOSE_NAMES:
        raise ConfigError("purpose", "one of {choices}", choices=", ".join(PURPOSE_NAMES))
    operator = str(request.args.get("operator") or "")[:8] if purpose == "operator" else ""
    db = get_db()
    number = str(request.args.get("number") or "")[:40]
    return jsonify(plan_json(db, routes.plan(db, number, purpose, operator=operator), operator))


@api_bp.get("/outbound-routes/<name>")
@security.roles(*READERS)
def api_route(name):
    return jsonify(asdict(_route(get_db(), name)))


@api_bp.route("/outbound-routes/<name>", methods=["PUT", "PATCH"])
@security.roles(*EDITORS)
def api_change_route(name):
    db = get_db()
    current = _route(db, name)
    return jsonify(asdict(routes.save_route(db, {**asdict(current), **body()}, g.user.username, original=name)))


@api_bp.delete("/outbound-routes/<name>")
@security.roles(*EDITORS)
def api_delete_route(name):
    db = get_db()
    routes.delete_route(db, _route(db, name).name, g.user.username)
    return "", 204


@api_bp.get("/outbound-classes")
@security.roles(*READERS)
def api_classes():
    return jsonify(operator_classes(get_db()))


@api_bp.put("/outbound-classes/<extension>")
@security.roles(*EDITORS)
def api_set_class(extension):
    db = get_db()
    if not any(o["extension"] == extension for o in operator_classes(db)):
        abort(404)
    routes.set_operator_class(db, extension, body().get("outbound_class", ""), g.user.username)
    return jsonify(next(o for o in operator_classes(db) if o["extension"] == extension))
