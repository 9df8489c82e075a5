"""Operators, groups and pause reasons in the panel; operators' states (ACD)
set from the status page. The same under /api/v1: /operators, /groups,
/pause-reasons and the states at /agents. Supervisors and admins see and set
everyone's state; an operator sees everyone's and sets their own (the user's
operator_id).

An operator's SIP secret is the phone's password: only an admin gets it,
once, when the operator is created or when the admin generates a new one
(audit-logged); no page or API shows it again."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, g, jsonify, redirect, render_template, request, url_for

from appliance.base import ami, audit, instance, store
from appliance.base.errors import ConfigError
from appliance.callbacks import overflow_offer
from appliance.operators import devices, states as operator_states, store as operator_store
from appliance.render import config as render_config
from appliance.routing import store as routing
from web import api_common, security
from web.api_common import body, changed, find
from web.context import error_text, get_db, gettext
from web.i18n import _

bp = Blueprint("operators", __name__)
api_bp = api_common.blueprint("operators_api", __name__)
EDITORS = ("admin", "supervisor")
# Who is given an operator's SIP secret (on creation and regeneration).
SECRET_KEEPERS = ("admin",)
# Who may see operators' states (and set their own, an operator).
STATE_VIEWERS = ("admin", "supervisor", "operator")
# Group settings of the ACD (operator_store.set_group_acd); overflow comes as one field.
ACD_FIELDS = ("wrapup", "max_wait", "overflow_kind", "overflow_target", "announce_position",
              "announce_holdtime", "noanswer_pause", "noanswer_after", "moh")


@bp.get("/operators")
@security.roles(*EDITORS)
def operators():
    db = get_db()
    cfg = render_config.load(db)
    groups_of = {op.extension: [g_.name for g_ in cfg.groups if any(m.extension == op.extension for m, _ in g_.members)]
                 for op in cfg.operators}
    return render_template("operators.html", operators=cfg.operators, groups_of=groups_of)


@bp.route("/operators/new", methods=["GET", "POST"])
@bp.route("/operators/<extension>", methods=["GET", "POST"])
@security.roles(*EDITORS)
def operator(extension=None):
    db = get_db()
    current = next((o for o in render_config.load(db).operators if o.extension == extension), None)
    if extension and not current:
        abort(404)
    form = request.form if request.method == "POST" else (
        operator_form(db, current) if current else {"enabled": "1"})
    errors = {}
    if request.method == "POST" and request.form.get("action") == "new_secret":
        if not current or g.user.role not in SECRET_KEEPERS:
            abort(403)
        return operator_page(db, current, form, {}, new_secret=regenerate_secret(db, extension, g.user.username))
    if request.method == "POST":
        try:
            with db.atomic():
                if request.form.get("action") == "delete" and current:
                    operator_store.delete_operator(db, extension)
                    audit.record(db, g.user.username, "operator deleted", extension)
                elif current:
                    operator_store.update_operator(db, extension, form.get("name", ""), form.get("contact"),
                                          enabled=bool(form.get("enabled")), device=form.get("device"))
                    secure = devices.set_secure(db, extension, form.get("secure"))   # TLS and SRTP only
                    skills = (routing.set_skills(db, extension, form["skills"]) if "skills" in form
                              else routing.skills(db, extension))
                    audit.record(db, g.user.username, "operator changed", extension,
                                 {"name": form.get("name"), "contact": form.get("contact"), "skills": skills,
                                  "device": form.get("device"), "secure": secure})
                else:
                    operator_store.add_operator(db, form.get("extension", ""), form.get("name", ""),
                                       form.get("contact") or None, device=form.get("device"))
                    secure = devices.set_secure(db, form.get("extension", "").strip(), form.get("secure"))
                    skills = routing.set_skills(db, form.get("extension", "").strip(), form.get("skills", ""))
                    audit.record(db, g.user.username, "operator added", form.get("extension"),
                                 {"name": form.get("name"), "skills": skills, "secure": secure})
        except ConfigError as exc:
            errors[exc.field] = error_text(exc)
        else:
            flash(gettext("Saved. Apply the changes to put them into service."))
            if not current and g.user.role in SECRET_KEEPERS:
                added = find(render_config.load(db).operators, "extension", form.get("extension", "").strip())
                if not added.device:   # an IP phone: the one time its password is shown
                    return operator_page(db, added, form, {}, new_secret=added.sip_secret)
            return redirect(url_for("operators.operators"))
    return operator_page(db, current, form, errors)


def operator_page(db, current, form, errors, new_secret: str | None = None):
    """The operator's form; *new_secret* is the SIP secret shown this once."""
    if new_secret:
        form = operator_form(db, current)
    return render_template("operator_form.html", current=current, form=form, errors=errors,
                           new_secret=new_secret, may_regenerate=g.user.role in SECRET_KEEPERS,
                           devices=device_choices(db, form.get("device"))), (400 if errors else 200)


def operator_form(db, op) -> dict:
    return {"extension": op.extension, "name": op.name, "contact": op.contact or "", "device": op.device,
            "enabled": "1" if op.enabled else "", "secure": "1" if devices.is_secure(db, op.extension) else "",
            "skills": routing.format_skills(routing.skills(db, op.extension))}


def regenerate_secret(db, extension: str, username: str) -> str:
    """A new SIP secret for the operator's phone (Apply puts it into
    pjsip.conf); audit-logged, the secret itself not."""
    secret = instance.generate_sip_secret()
    with db.atomic():
        if not db.execute("UPDATE operators SET sip_secret = ? WHERE extension = ?", [secret, extension]).rowcount:
            abort(404)
        audit.record(db, username, _("SIP secret regenerated"), extension)
    return secret


def device_choices(db, chosen: str | None) -> list[tuple[str, str]]:
    """The operator form's Phone: an IP phone, or one of the FXS ports (and
    a refused value, so that its error shows against what was chosen)."""
    ports = devices.fxs_ports(db)
    out = [("", gettext("IP phone (SIP)"))]
    out += [(p, gettext("analog port {port}", port=p.split("/")[1])) for p in ports]
    if chosen and chosen not in ports:
        out.append((chosen, chosen))
    return out


@bp.get("/groups")
@security.roles(*EDITORS)
def groups():
    return render_template("groups.html", groups=render_config.load(get_db()).groups)


@bp.route("/groups/new", methods=["GET", "POST"])
@bp.route("/groups/<name>", methods=["GET", "POST"])
@security.roles(*EDITORS)
def group(name=None):
    db = get_db()
    cfg = render_config.load(db)
    current = next((g_ for g_ in cfg.groups if g_.name == name), None)
    if name and not current:
        abort(404)
    if request.method == "POST":
        form = request.form
        members = request.form.getlist("members")
    elif current:
        form = {"name": current.name, "title": current.title, "strategy": current.strategy,
                "ring_timeout": current.ring_timeout, "is_default": "1" if current.is_default else "",
                **{k: getattr(current, k) for k in ACD_FIELDS}}
        for k in ("announce_position", "announce_holdtime", "noanswer_pause"):
            form[k] = "1" if form[k] else ""
        form["overflow"] = f"{current.overflow_kind}:{current.overflow_target}" if current.overflow_kind else ""
        form.update({k: ("" if v is None else v) for k, v in routing.group_settings(db, current.name).items()})
        members = [op.extension for op, _ in current.members]
    else:
        form, members = {"strategy": "rrmemory", "ring_timeout": 15, "wrapup": 0, "max_wait": 600,
                         "noanswer_after": 1, "moh": "default",
                         "skill": "", "skill_widen": 20, "skill_all": 60, "last_days": ""}, []
    errors = {}
    if request.method == "POST":
        try:
            with db.atomic():
                if request.form.get("action") == "delete" and current:
                    operator_store.delete_group(db, name)
                    audit.record(db, g.user.username, "group deleted", name)
                else:
                    if current:
                        operator_store.update_group(db, name, form.get("title", ""), form.get("strategy", ""),
                                           form.get("ring_timeout", ""), bool(form.get("is_default")))
                    else:
                        operator_store.add_group(db, form.get("name", ""), form.get("title", ""),
                                        form.get("strategy", ""), form.get("ring_timeout", ""),
                                        bool(form.get("is_default")))
                    gname = current.name if current else form.get("name", "").strip()
                    operator_store.set_members(db, gname, members)
                    acd = acd_settings(form)
                    if acd["overflow_kind"] == overflow_offer.CHOICE:   # a generated scenario offers it
                        acd["overflow_kind"], acd["overflow_target"] = "scenario", overflow_offer.ensure(
                            db, current_app.config["KORUND_INSTANCE"].sounds, gname, g.user.username)
                    operator_store.set_group_acd(db, gname, acd)
                    routes = routing.set_group_settings(
                        db, gname, {k: form[k] for k in routing.GROUP_KEYS if k in form})
                    audit.record(db, g.user.username, "group changed" if current else "group added",
                                 gname, {"title": form.get("title"), "strategy": form.get("strategy"),
                                         "members": members, **acd, **routes})
        except ConfigError as exc:
            errors[exc.field] = error_text(exc)
        else:
            flash(gettext("Saved. Apply the changes to put them into service."))
            return redirect(url_for("operators.groups"))
    others = [g_.name for g_ in cfg.groups if not current or g_.name != current.name]
    scenarios = [r[0] for r in db.execute("SELECT name FROM scenarios ORDER BY name")]
    return render_template("group_form.html", current=current, form=form, members=members,
                           operators=cfg.operators,
                           skill_options=[("", gettext("none"))] + [(s, s) for s in routing.known_skills(db)],
                           strategy_options=strategy_options(),
                           overflow_options=[("", gettext("no overflow: the caller is cut off after the wait"))]
                           + [(f"group:{n}", gettext("to group {name}", name=n)) for n in others]
                           + [(f"scenario:{n}", gettext("to scenario {name}", name=n)) for n in scenarios]
                           + [(f"{overflow_offer.CHOICE}:", gettext("offer a callback (a scenario callback-<group> is made)"))],
                           moh_options=[("default", gettext("music (Korund's chords)")),
                                        ("ringing", gettext("ringing tone"))],
                           errors=errors), (400 if errors else 200)


def strategy_options() -> list[tuple[str, str]]:
    """app_queue's strategies under the names the call center uses."""
    titles = {"ringall": gettext("ring all"), "leastrecent": gettext("longest idle"),
              "fewestcalls": gettext("fewest calls"), "rrmemory": gettext("round robin"),
              "linear": gettext("linear (in the members' order)"), "random": gettext("random")}
    return [(s, titles[s]) for s in operator_store.STRATEGIES]


def acd_settings(form) -> dict:
    """The group form's ACD fields for operator_store.set_group_acd; the overflow
    select sends "group:NAME" or "scenario:NAME"."""
    kind, _, target = (form.get("overflow") or "").partition(":")
    acd = {k: form.get(k, "") for k in ACD_FIELDS if not k.startswith("overflow")}
    if not acd["moh"]:
        del acd["moh"]   # not sent: the group keeps its music on hold
    return {**acd, "overflow_kind": kind, "overflow_target": target}


# --- pause reasons ------------------------------------------------------------

@bp.route("/pause-reasons", methods=["GET", "POST"])
@security.roles(*EDITORS)
def pause_reasons():
    db = get_db()
    errors, form = {}, {}
    if request.method == "POST":
        form = request.form
        try:
            with db.atomic():
                if form.get("action") == "delete":
                    operator_states.delete_reason(db, form.get("code", ""))
                    audit.record(db, g.user.username, "pause reason deleted", form.get("code"))
                else:
                    operator_states.add_reason(db, form.get("code", ""), form.get("name", ""))
                    audit.record(db, g.user.username, "pause reason added", form.get("code"),
                                 {"name": form.get("name")})
        except ConfigError as exc:
            errors[exc.field] = error_text(exc)
        else:
            flash(gettext("Saved."))
            return redirect(url_for("operators.pause_reasons"))
    return render_template("pause_reasons.html", reasons=operator_states.reasons(db), form=form,
                           errors=errors), (400 if errors else 200)


@bp.post("/agents/<extension>/state")
@security.roles(*EDITORS)
def change_state(extension):
    """The status page's buttons: make an operator ready or log them out."""
    try:
        set_state(get_db(), extension, request.form.get("state", ""), request.form.get("reason"))
    except ConfigError as exc:
        flash(error_text(exc))
    return redirect(url_for("status.page") + "#agents")


def may_change(db, extension: str) -> bool:
    if g.user.role in EDITORS:
        return True
    if g.user.role == "operator" and g.user.operator_id:
        row = db.execute("SELECT extension FROM operators WHERE id = ?", [g.user.operator_id]).fetchone()
        return bool(row) and row[0] == extension
    return False


def connect_ami(db):
    """An AMI session to push the change at once, or None (the events
    service's sync pushes it within operator_states.SYNC_SECONDS)."""
    try:
        return ami.connect(store.settings(db), timeout=0.3)
    except ami.AmiError:
        return None


def set_state(db, extension: str, new: str, reason) -> dict:
    """Change one operator's state as the logged-in user (the status page's
    form and the API)."""
    if not db.execute("SELECT 1 FROM operators WHERE extension = ?", [extension]).fetchone():
        abort(404)
    if not may_change(db, extension):
        abort(403)
    mgr = connect_ami(db)
    try:
        with operator_states.immediate(db):
            result = operator_states.change(db, mgr, extension, new, reason, by=g.user.username)
            audit.record(db, g.user.username, "operator state", extension,
                         {"state": new, "reason": result["reason"]})
    finally:
        ami.close(mgr)
    return result


# --- API: operators and groups ----------------------------------------------------

def operator_json(o) -> dict:
    """An operator as the API shows it: never with the SIP secret."""
    return {"extension": o.extension, "name": o.name, "contact": o.contact, "enabled": o.enabled, "device": o.device,
            "secure": devices.is_secure(get_db(), o.extension), "skills": routing.skills(get_db(), o.extension)}


# A group's ACD (operator_store.set_group_acd) and routing
# (routing.set_group_settings) settings, read and written by /groups as flat keys.
GROUP_ACD_KEYS = ("wrapup", "max_wait", "overflow_kind", "overflow_target", "announce_position",
                  "announce_holdtime", "noanswer_pause", "noanswer_after", "moh")


def group_json(gr) -> dict:
    return {"name": gr.name, "title": gr.title, "strategy": gr.strategy, "ring_timeout": gr.ring_timeout,
            "is_default": gr.is_default, "members": [op.extension for op, _ in gr.members],
            **{k: getattr(gr, k) for k in GROUP_ACD_KEYS if hasattr(gr, k)},
            **routing.group_settings(get_db(), gr.name)}


def set_group_settings(db, name: str, d: dict) -> None:
    """The ACD and routing keys present in the request body (others stay)."""
    acd = {k: d[k] for k in GROUP_ACD_KEYS if k in d}
    if acd:
        operator_store.set_group_acd(db, name, acd)
    settings = {k: d[k] for k in routing.GROUP_KEYS if k in d}
    if settings:
        routing.set_group_settings(db, name, settings)


@api_bp.get("/operators")
@security.roles(*EDITORS)
def api_operators():
    return jsonify([operator_json(o) for o in render_config.load(get_db()).operators])


@api_bp.post("/operators")
@security.roles(*EDITORS)
def api_add_operator():
    d = body()
    db = get_db()
    with db.atomic():
        operator_store.add_operator(db, str(d.get("extension", "")), d.get("name", ""), d.get("contact"), device=d.get("device"))
        if "secure" in d:
            devices.set_secure(db, str(d["extension"]).strip(), d["secure"])
        if "skills" in d:
            routing.set_skills(db, str(d["extension"]).strip(), d["skills"])
        changed("operator added", str(d.get("extension")), {"name": d.get("name"), "skills": d.get("skills")})
    added = find(render_config.load(db).operators, "extension", str(d["extension"]).strip())
    data = operator_json(added)
    if g.user.role in SECRET_KEEPERS:   # the one time the new phone's password is given
        data["sip_secret"] = added.sip_secret
    return jsonify(data), 201


@api_bp.route("/operators/<extension>", methods=["GET", "PUT", "DELETE"])
@security.roles(*EDITORS)
def api_operator(extension):
    db = get_db()
    current = find(render_config.load(db).operators, "extension", extension)
    if request.method == "GET":
        return jsonify(operator_json(current))
    with db.atomic():
        if request.method == "DELETE":
            operator_store.delete_operator(db, extension)
            changed("operator deleted", extension)
            return "", 204
        d = body()
        operator_store.update_operator(db, extension, d.get("name", current.name), d.get("contact", current.contact),
                                       bool(d.get("enabled", current.enabled)), device=d.get("device"))
        if "secure" in d:
            devices.set_secure(db, extension, d["secure"])
        if "skills" in d:
            routing.set_skills(db, extension, d["skills"])
        changed("operator changed", extension, {"name": d.get("name"), "contact": d.get("contact"),
                                                "skills": d.get("skills"), "secure": d.get("secure")})
    return jsonify(operator_json(find(render_config.load(db).operators, "extension", extension)))


@api_bp.post("/operators/<extension>/sip-secret")
@security.roles(*SECRET_KEEPERS)
def api_new_secret(extension):
    """A new SIP secret for the operator's phone, given this once."""
    db = get_db()
    find(render_config.load(db).operators, "extension", extension)
    return jsonify(extension=extension, sip_secret=regenerate_secret(db, extension, g.user.username))


@api_bp.get("/groups")
@security.roles(*EDITORS)
def api_groups():
    return jsonify([group_json(gr) for gr in render_config.load(get_db()).groups])


@api_bp.post("/groups")
@security.roles(*EDITORS)
def api_add_group():
    d = body()
    db = get_db()
    with db.atomic():
        operator_store.add_group(db, d.get("name", ""), d.get("title", ""), d.get("strategy", "rrmemory"),
                                 d.get("ring_timeout", 15), bool(d.get("is_default", False)))
        operator_store.set_members(db, d["name"].strip(), [str(m) for m in d.get("members", [])])
        set_group_settings(db, d["name"].strip(), d)
        changed("group added", d.get("name"), {"members": d.get("members", [])})
    return jsonify(group_json(find(render_config.load(db).groups, "name", d["name"].strip()))), 201


@api_bp.route("/groups/<name>", methods=["GET", "PUT", "DELETE"])
@security.roles(*EDITORS)
def api_group(name):
    db = get_db()
    current = find(render_config.load(db).groups, "name", name)
    if request.method == "GET":
        return jsonify(group_json(current))
    with db.atomic():
        if request.method == "DELETE":
            operator_store.delete_group(db, name)
            changed("group deleted", name)
            return "", 204
        d = body()
        operator_store.update_group(db, name, d.get("title", current.title), d.get("strategy", current.strategy),
                                    d.get("ring_timeout", current.ring_timeout),
                                    bool(d.get("is_default", current.is_default)))
        if "members" in d:
            operator_store.set_members(db, name, [str(m) for m in d["members"]])
        set_group_settings(db, name, d)
        changed("group changed", name, d)
    return jsonify(group_json(find(render_config.load(db).groups, "name", name)))


# --- API: operators' states and pause reasons ---------------------------------------

@api_bp.get("/agents")
@security.roles(*STATE_VIEWERS)
def api_states():
    return jsonify(operator_states.states(get_db()))


@api_bp.post("/agents/<extension>/state")
@security.roles(*STATE_VIEWERS)
def api_change_state(extension):
    d = body()
    return jsonify(set_state(get_db(), extension, str(d.get("state", "")), d.get("reason")))


@api_bp.get("/pause-reasons")
@security.roles(*STATE_VIEWERS)
def api_pause_reasons():
    return jsonify(operator_states.reasons(get_db()))
