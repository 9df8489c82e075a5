"""Система → Outbound policy: which numbers Korund may dial out to, and how
many callbacks one caller may order (appliance.outbound). Administrators
change it, supervisors read it; both may try a number against it and see
the latest refusals. It applies at once, without Apply: every check reads
the store. The same under /api/v1/outbound-policy."""
from __future__ import annotations

from flask import Blueprint, flash, g, jsonify, redirect, render_template, request, url_for

from appliance.base.errors import ConfigError
from appliance.outbound import policy as outbound, store as outbound_store
from web import api_common, security
from web.api_common import body
from web.context import error_text, get_db, gettext
from web.i18n import _

bp = Blueprint("outbound", __name__)
api_bp = api_common.blueprint("outbound_api", __name__)
EDITORS = ("admin",)
READERS = ("admin", "supervisor")

SCOPE_NAMES = {"local": _("Local numbers only"),
               "national": _("National numbers of Russia (local ones included)"),
               "international": _("Any number, international included")}
PURPOSE_NAMES = {"callback": _("callback order"), "callback-attempt": _("callback attempt"),
                 "route": _("scenario route"), "operator": _("operator's call"), "test": _("test dial")}
KIND_NAMES = {"national": _("national"), "local": _("local"), "international": _("international"),
              "service": _("short or service"), "unknown": _("not a known form"), "invalid": _("not a number")}
# appliance.outbound.policy.MESSAGES, marked for the catalogs (a unit test keeps the two the same)
REFUSAL_MESSAGES = (
    _("'{number}' is not a phone number"),
    _("{number}: international numbers are not allowed by the outbound policy"),
    _("{number}: only local numbers are allowed by the outbound policy"),
    _("{number}: short, service and emergency numbers are not dialled out"),
    _("{number} is not a Russian national number (8XXXXXXXXXX, +7XXXXXXXXXX, 7XXXXXXXXXX "
      "or 10 digits) or a local one (5 to 7 digits)"),
    _("{number}: numbers beginning with {prefix} are refused by the outbound policy"),
    _("{number} is not the caller's own number: callbacks go only to the number the caller calls from"),
    _("{count} callback orders are already open for this caller or this number (at most {limit})"),
    _("this caller ordered {count} callbacks in the last 24 hours (at most {limit})"),
    _("{number}: no outbound route matches this number"),
)
AUDIT_ACTIONS = (_("outbound policy changed"), _("outbound refused"))   # outbound_store.AUDIT_*, as the audit page shows them


def policy_json(p: dict) -> dict:
    return {k: p[k] for k in (*outbound_store.FIELDS, "changed_at", "changed_by")}


def decision_json(d: outbound.Decision) -> dict:
    """A decision with its reason in the user's language."""
    return {**d.as_dict(), "message": gettext(d.message, **d.params) if d.message else ""}


def _check_from(values) -> tuple[dict, outbound.Decision | None]:
    """The 'try a number' form (number, purpose, caller) and its decision, if asked."""
    form = {"number": str(values.get("number") or "").strip()[:40],
            "purpose": values.get("purpose") if values.get("purpose") in outbound.PURPOSES else "callback",
            "caller": str(values.get("caller") or "").strip()[:40]}
    if not form["number"]:
        return form, None
    return form, outbound.check(get_db(), form["number"], form["purpose"], form["caller"])


# --- the page -----------------------------------------------------------------------

@bp.get("/outbound-policy")
@security.roles(*READERS)
def page(form=None, errors=None, status=200):
    db = get_db()
    current = outbound_store.load(db)
    if form is None:
        form = {**current, "allowed": "\n".join(current["allowed"]), "denied": "\n".join(current["denied"])}
    check_form, decision = _check_from(request.args)
    return render_template("outbound_policy.html", policy=current, form=form, errors=errors or {},
                           editable=g.user.role in EDITORS, scopes=SCOPE_NAMES, purposes=PURPOSE_NAMES,
                           kinds=KIND_NAMES, check=check_form, decision=decision,
                           refusals=outbound_store.recent_refusals(db), caps=outbound_store.CAPS), status


@bp.post("/outbound-policy")
@security.roles(*EDITORS)
def save():
    f = request.form
    form = {k: f.get(k, "") for k in ("scope", "allowed", "denied", "max_open", "max_day")}
    form["own_number_only"] = f.get("own_number_only", "")
    try:
        outbound_store.save(get_db(), form, g.user.username)
    except ConfigError as exc:
        return page(form=form, errors={exc.field: error_text(exc)}, status=422)
    flash(gettext("Outbound policy saved. It applies to the next number dialled; no Apply is needed."))
    return redirect(url_for("outbound.page"))


# --- the API ---------------------------------------------------------------------------

@api_bp.get("/outbound-policy")
@security.roles(*READERS)
def api_policy():
    return jsonify(policy_json(outbound_store.load(get_db())))


@api_bp.put("/outbound-policy")
@security.roles(*EDITORS)
def api_set_policy():
    d = body()
    return jsonify(policy_json(outbound_store.save(get_db(), {k: d[k] for k in outbound_store.FIELDS if k in d},
                                                   g.user.username)))


@api_bp.post("/outbound-policy/check")
@security.roles(*READERS)
def api_check():
    d = body()
    if d.get("purpose", "callback") not in outbound.PURPOSES:
        raise ConfigError("purpose", "one of {choices}", choices=", ".join(outbound.PURPOSES))
    _form, decision = _check_from(d)
    if decision is None:
        raise ConfigError("number", "a number to check is required")
    return jsonify(decision_json(decision))


@api_bp.get("/outbound-policy/refusals")
@security.roles(*READERS)
def api_refusals():
    limit = api_common.whole_number("limit", 20, 1, 200)
    return jsonify(outbound_store.recent_refusals(get_db(), limit))
