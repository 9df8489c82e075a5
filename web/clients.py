"""Clients (CRM) in the panel: search and a paged list, the client card
(phones, personal operator, VIP, custom fields, call history), custom fields,
CSV import with preview and export, the external CRM hook (screen-pop URL per
group, outgoing webhook). Plus /api/v1/clients for an external CRM and the
operator's desktop.

Supervisors and admins search, list, view and edit cards; only admins
import, export, define custom fields and set up the external CRM.

An operator works on the card in front of them, not on the register: they
find a client by a whole phone number (no listing, no search by name), open
a card only by one of its numbers or while on a call from it, see on it
only the calls offered to their own phone, and cannot set the VIP mark or
the personal operator (both feed the routing)."""
from __future__ import annotations

from flask import Blueprint, Response, abort, flash, g, jsonify, redirect, render_template, request, url_for

from appliance.base import audit
from appliance.base.errors import ConfigError
from appliance.clients import desktop, store as clients, webhooks
from web import api_common, csv_upload, security
from web.api_common import body
from web.context import error_text, get_db, gettext, page_args
from web.i18n import _

bp = Blueprint("clients", __name__, url_prefix="/clients")
api_bp = api_common.blueprint("clients_api", __name__)
USERS = ("admin", "supervisor", "operator")
ADMIN = ("admin",)
PAGE_SIZE = 50


def kind_names() -> dict:
    return {"text": gettext("Text"), "number": gettext("Numeric"), "date": gettext("Date"),
            "choice": gettext("Choice from a list")}


def own_extension(db) -> str | None:
    """None for supervisors and admins (the whole register); an operator's
    extension ('' when their user has none)."""
    if g.user.role != "operator":
        return None
    return desktop.extension_of(db, g.user) or ""


def may_open(db, client: dict) -> bool:
    """May the user open this card? An operator: by one of its numbers
    (``number`` in the request) or while a call from it is on their phone."""
    ext = own_extension(db)
    if ext is None:
        return True
    if clients.has_number(client, request.values.get("number")):
        return True
    offer = desktop.current_offer(db, ext) if ext else None
    return bool(offer) and clients.has_number(client, offer["ani"])


def card_url(c: dict) -> str:
    """The card's address; an operator's carries a number that opens it."""
    if g.user.role == "operator":
        return url_for("clients.card", client_id=c["id"], number=c["phones"][0]) if c["phones"] else \
            url_for("clients.index")
    return url_for("clients.card", client_id=c["id"])


def number_search(db, q: str) -> list[dict]:
    """An operator's search: the client whose number *q* is (any form of it)."""
    if not q:
        return []
    if not clients.PHONE_CHARS.fullmatch(q) or len(clients.normalise(q)) < 3:
        raise ConfigError("q", "an operator finds a client by a whole phone number")
    found = clients.find_by_number(db, q)
    return [found] if found else []


def operators(db) -> list[tuple[str, str]]:
    return [(r[0], f"{r[0]} — {r[1]}") for r in db.execute("SELECT extension, name FROM operators ORDER BY extension")]


# -- list and search ---------------------------------------------------------------

@bp.get("/")
@security.roles(*USERS)
def index():
    db = get_db()
    q, page = page_args()
    if own_extension(db) is not None:
        try:
            found, error = number_search(db, q), None
        except ConfigError as exc:
            found, error = [], error_text(exc)
        return render_template("clients.html", clients=found, total=len(found), q=q, page=1, pages=1,
                               by_number=True, error=error, card_url=card_url), (400 if error else 200)
    total = clients.count(db, q)
    pages = max(1, (total + PAGE_SIZE - 1) // PAGE_SIZE)
    found = clients.search(db, q, PAGE_SIZE, (page - 1) * PAGE_SIZE)
    return render_template("clients.html", clients=found, total=total, q=q, page=page, pages=pages,
                           by_number=False, error=None, card_url=card_url)


# -- the card ----------------------------------------------------------------------------

def form_of(c: dict, fields: list[dict]) -> dict:
    form = {"name": c.get("name", ""), "phones": "\n".join(c.get("phones", [])), "company": c.get("company", ""),
            "email": c.get("email", ""), "personal_operator": c.get("personal_operator") or "",
            "vip": "1" if c.get("vip") else ""}
    for f in fields:
        form["cf_" + f["name"]] = (c.get("fields") or {}).get(f["name"], "")
    return form


def data_of(form, fields: list[dict]) -> dict:
    data = {"name": form.get("name", ""), "phones": form.get("phones", ""), "company": form.get("company", ""),
            "email": form.get("email", ""), "personal_operator": form.get("personal_operator", ""),
            "vip": bool(form.get("vip")),
            "fields": {f["name"]: form.get("cf_" + f["name"], "") for f in fields}}
    if g.user.role == "operator":   # not on an operator's form: the card keeps them
        for key in clients.ROUTING_FIELDS:
            del data[key]
    return data


def render_card(current, form, errors=None, status=200):
    db = get_db()
    history = clients.calls_of(db, current, extension=own_extension(db)) if current else []
    return render_template("client_form.html", current=current, form=form, errors=errors or {},
                           fields=clients.custom_fields(db), operators=operators(db), history=history,
                           can_delete=g.user.role in ("admin", "supervisor"),
                           sets_routing=g.user.role != "operator"), status


def error_key(exc: ConfigError, fields: list[dict]) -> str:
    return "cf_" + exc.field if exc.field in {f["name"] for f in fields} else exc.field


@bp.route("/new", methods=["GET", "POST"])
@security.roles(*USERS)
def new():
    db = get_db()
    fields = clients.custom_fields(db)
    if request.method == "GET":
        return render_card(None, {"phones": (request.args.get("phone") or "")[:40]})
    data = data_of(request.form, fields)
    try:
        with db.atomic():
            cid = clients.save(db, data, by=g.user.username, routing=g.user.role != "operator")
            audit.record(db, g.user.username, _("client added"), str(cid), {"name": data["name"].strip()})
    except ConfigError as exc:
        return render_card(None, request.form, {error_key(exc, fields): error_text(exc)}, 400)
    flash(gettext("The client {name} was saved.", name=data["name"].strip()), "ok")
    return redirect(card_url(clients.get(db, cid)))


@bp.route("/<int:client_id>", methods=["GET", "POST"])
@security.roles(*USERS)
def card(client_id):
    db = get_db()
    current = clients.get(db, client_id)
    if current is None or not may_open(db, current):
        abort(404)
    fields = clients.custom_fields(db)
    if request.method == "GET":
        return render_card(current, form_of(current, fields))
    if request.form.get("action") == "delete":
        if g.user.role not in ("admin", "supervisor"):
            abort(403)
        with db.atomic():
            clients.delete(db, client_id)
            audit.record(db, g.user.username, _("client deleted"), str(client_id), {"name": current["name"]})
        flash(gettext("The client {name} was deleted.", name=current["name"]), "ok")
        return redirect(url_for("clients.index"))
    data = {**data_of(request.form, fields), "id": client_id}
    try:
        with db.atomic():
            clients.save(db, data, by=g.user.username, routing=g.user.role != "operator")
            audit.record(db, g.user.username, _("client changed"), str(client_id), {"name": data["name"].strip()})
    except ConfigError as exc:
        return render_card(current, request.form, {error_key(exc, fields): error_text(exc)}, 400)
    flash(gettext("The client {name} was saved.", name=data["name"].strip()), "ok")
    return redirect(card_url(clients.get(db, client_id)))


# -- custom fields ------------------------------------------------------------------------------

def render_fields(form=None, errors=None, failed=None, status=200):
    return render_template("clients_fields.html", fields=clients.custom_fields(get_db()), kinds=kind_names(),
                           form=form or {"kind": "text"}, errors=errors or {}, failed=failed), status


@bp.get("/fields")
@security.roles(*ADMIN)
def fields_page():
    return render_fields()


@bp.post("/fields")
@security.roles(*ADMIN)
def fields_edit():
    db, form = get_db(), request.form
    action = form.get("action")
    original = form.get("original")
    d = {"name": form.get("name", ""), "title": form.get("title", ""), "kind": form.get("kind", "text"),
         "choices": form.get("choices", ""), "required": form.get("required")}
    try:
        with db.atomic():
            if action == "delete" and original:
                clients.delete_field(db, original)
                audit.record(db, g.user.username, _("client field deleted"), original)
                message = gettext("The field {name} was deleted.", name=original)
            elif action == "save" and original:
                f = clients.save_field(db, {**d, "name": original}, original)
                audit.record(db, g.user.username, _("client field changed"), original, f)
                message = gettext("The field {name} was saved.", name=original)
            elif action == "add":
                f = clients.save_field(db, d)
                audit.record(db, g.user.username, _("client field added"), f["name"], f)
                message = gettext("The field {name} was added.", name=f["name"])
            else:
                abort(400)
    except ConfigError as exc:
        if action == "add":
            return render_fields(form, {exc.field: error_text(exc)}, None, 400)
        return render_fields(None, None, {"name": original, "message": error_text(exc)}, 400)
    flash(message, "ok")
    return redirect(url_for("clients.fields_page"))


# -- import and export ---------------------------------------------------------------------------

@bp.get("/import")
@security.roles(*ADMIN)
def import_page(errors=None, status=200):
    return render_template("clients_import.html", errors=errors or {}, fields=clients.custom_fields(get_db()),
                           columns=clients._columns(clients.custom_fields(get_db()))), status


def preview_page(filename, preview, token):
    return csv_upload.preview_page("clients_preview.html", filename, preview, token,
                                   fields=clients.custom_fields(get_db()))


@bp.post("/import")
@security.roles(*ADMIN)
def upload():
    return csv_upload.receive(clients.stage, lambda errors: import_page(errors, 400), "clients.review",
                              lambda filename, p: preview_page(filename, p, None))


def imported(db, confirmed) -> tuple[str, str]:
    filename, p, added, updated = confirmed
    audit.record(db, g.user.username, _("clients imported"), filename,
                 {"added": added, "updated": updated, "encoding": p.encoding})
    return (gettext("Clients imported: {added} added, {updated} updated.", added=added, updated=updated),
            url_for("clients.index"))


@bp.route("/import/<token>", methods=["GET", "POST"])
@security.roles(*ADMIN)
def review(token):
    def show(staged):
        filename, p = staged
        return preview_page(filename, p, token)

    return csv_upload.review(token, clients, url_for("clients.import_page"), imported, show)


@bp.get("/export.csv")
@security.roles(*ADMIN)
def export():
    db = get_db()
    data = clients.export_csv(db)
    audit.record(db, g.user.username, _("clients exported"))
    return Response(data, mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="clients.csv"'})


# -- external CRM -------------------------------------------------------------------------------------

def render_integration(errors=None, form=None, status=200):
    db = get_db()
    cfg = webhooks.config(db)
    templates = clients.screen_pop_templates(db)
    return render_template("clients_integration.html", templates=templates, form=form or {}, errors=errors or {},
                           webhook=cfg, deliveries=webhooks.recent(db),
                           placeholders=clients.POP_PLACEHOLDERS), status


@bp.get("/integration")
@security.roles(*ADMIN)
def integration():
    return render_integration()


@bp.post("/integration")
@security.roles(*ADMIN)
def integration_save():
    db, form = get_db(), request.form
    action = form.get("action")
    try:
        with db.atomic():
            if action == "screen_pop":
                group = form.get("group", "")
                t = clients.set_screen_pop(db, group, form.get("screen_pop_url", ""))
                audit.record(db, g.user.username, _("screen-pop URL changed"), group, {"url": t})
                message = gettext("The screen-pop URL of the group {name} was saved.", name=group)
            elif action == "webhook":
                secret = webhooks.secrets.token_urlsafe(32) if form.get("new_secret") else None
                webhooks.set_allow_lan(db, bool(form.get("allow_lan")), g.user.username)
                cfg = webhooks.configure(db, form.get("webhook_url", ""), secret)
                audit.record(db, g.user.username, _("webhook changed"),
                             details={"url": cfg["url"], "allow_lan": cfg["allow_lan"]})
                message = gettext("The webhook settings were saved.")
            else:
                abort(400)
    except ConfigError as exc:
        key = exc.field if exc.field != "screen_pop_url" else "pop_" + form.get("group", "")
        return render_integration({key: error_text(exc)}, form, 400)
    flash(message, "ok")
    return redirect(url_for("clients.integration"))


# -- API ---------------------------------------------------------------------------------------------

def client_json(db, c: dict, history: bool = False) -> dict:
    out = dict(c)
    if history:
        out["calls"] = clients.calls_of(db, c, 20, extension=own_extension(db))
    return out


@api_bp.get("/clients")
@security.roles(*USERS)
def api_list():
    db = get_db()
    q = (request.args.get("q") or "").strip()[:100]
    if own_extension(db) is not None:   # no list: the client of one whole number, or nobody
        return jsonify(number_search(db, q))
    try:
        limit = min(max(int(request.args.get("limit") or 50), 1), 500)
        offset = max(int(request.args.get("offset") or 0), 0)
    except ValueError:
        abort(400, description="limit and offset are numbers")
    return jsonify(clients.search(db, q, limit, offset))


@api_bp.post("/clients")
@security.roles(*USERS)
def api_create():
    d, db = body(), get_db()
    d.pop("id", None)
    with db.atomic():
        cid = clients.save(db, d, by=g.user.username, routing=g.user.role != "operator")
        audit.record(db, g.user.username, "client added", str(cid), {"name": str(d.get("name", ""))[:200]})
    return jsonify(client_json(db, clients.get(db, cid))), 201


@api_bp.route("/clients/<client_id>", methods=["GET", "PUT"])
@security.roles(*USERS)
def api_client(client_id):
    db = get_db()
    current = clients.get(db, client_id) if client_id.isdigit() else None
    if current is None or not may_open(db, current):
        abort(404)
    client_id = current["id"]
    if request.method == "PUT":
        d = {**body(), "id": client_id}
        with db.atomic():
            clients.save(db, d, by=g.user.username, routing=g.user.role != "operator")
            audit.record(db, g.user.username, "client changed", str(client_id))
        current = clients.get(db, client_id)
    return jsonify(client_json(db, current, history=True))


@api_bp.get("/clients/by-number/<number>")
@security.roles(*USERS)
def api_by_number(number):
    db = get_db()
    c = clients.find_by_number(db, number)
    if c is None:
        abort(404, description="no client has this number")
    return jsonify(client_json(db, c, history=True))
