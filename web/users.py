"""Users of the panel and their roles (admin only); the same under /api/v1/users."""
from __future__ import annotations

from flask import Blueprint, abort, flash, g, jsonify, redirect, render_template, request, url_for

from appliance.base import audit
from appliance.base.errors import ConfigError
from appliance.users import store as users
from web import api_common, security
from web.api_common import body, changed
from web.context import error_text, get_db, gettext

bp = Blueprint("users", __name__, url_prefix="/users")
api_bp = api_common.blueprint("users_api", __name__)


def _operator_id(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


@bp.get("/")
@security.roles("admin")
def index():
    db = get_db()
    ops = {r[0]: f"{r[1]} {r[2]}" for r in db.execute("SELECT id, extension, name FROM operators")}
    return render_template("users.html", users=users.all_users(db), operators=ops, locked=users.locked(db))


@bp.route("/new", methods=["GET", "POST"])
@bp.route("/<int:user_id>", methods=["GET", "POST"])
@security.roles("admin")
def edit(user_id=None):
    db = get_db()
    current = users.get(db, user_id) if user_id else None
    if user_id and not current:
        abort(404)
    form = request.form if request.method == "POST" else (
        {"username": current.username, "role": current.role, "language": current.language,
         "operator_id": current.operator_id or "", "active": "1" if current.active else ""}
        if current else {"role": "operator", "language": g.lang, "active": "1"})
    errors = {}
    if request.method == "POST":
        try:
            with db.atomic():
                if request.form.get("action") == "delete" and current:
                    if current.id == g.user.id:
                        raise ConfigError("username", "you cannot delete yourself")
                    users.delete(db, current.id)
                    audit.record(db, g.user.username, "user deleted", current.username)
                elif current:
                    users.update(db, current.id, role=form.get("role"), language=form.get("language"),
                                 active=bool(form.get("active")), operator_id=_operator_id(form.get("operator_id")),
                                 password=form.get("password") or None)
                    audit.record(db, g.user.username, "user changed", current.username,
                                 {"role": form.get("role"), "active": bool(form.get("active")),
                                  "password_changed": bool(form.get("password"))})
                else:
                    u = users.create(db, form.get("username", ""), form.get("password", ""),
                                     form.get("role", ""), form.get("language", "ru"),
                                     _operator_id(form.get("operator_id")))
                    audit.record(db, g.user.username, "user added", u.username, {"role": u.role})
        except ConfigError as exc:
            errors[exc.field] = error_text(exc)
        else:
            flash(gettext("Saved."))
            return redirect(url_for("users.index"))
    ops = [(r[0], f"{r[1]} {r[2]}") for r in db.execute("SELECT id, extension, name FROM operators ORDER BY extension")]
    return render_template("user_form.html", current=current, form=form, errors=errors,
                           roles=users.ROLES, operators=ops), (400 if errors else 200)


# --- API ---------------------------------------------------------------------

def user_json(u) -> dict:
    return {"id": u.id, "username": u.username, "role": u.role, "language": u.language,
            "operator_id": u.operator_id, "active": u.active}


@api_bp.get("/users")
@security.roles("admin")
def api_users():
    return jsonify([user_json(u) for u in users.all_users(get_db())])


@api_bp.post("/users")
@security.roles("admin")
def api_add_user():
    d = body()
    db = get_db()
    with db.atomic():
        u = users.create(db, d.get("username", ""), d.get("password", ""), d.get("role", ""),
                         d.get("language", "ru"), d.get("operator_id"))
        changed("user added", u.username, {"role": u.role})
    return jsonify(user_json(u)), 201


@api_bp.route("/users/<int:user_id>", methods=["GET", "PUT", "DELETE"])
@security.roles("admin")
def api_user(user_id):
    db = get_db()
    current = users.get(db, user_id) or abort(404)
    if request.method == "GET":
        return jsonify(user_json(current))
    with db.atomic():
        if request.method == "DELETE":
            if current.id == g.user.id:
                raise ConfigError("id", "you cannot delete yourself")
            users.delete(db, user_id)
            changed("user deleted", current.username)
            return "", 204
        d = body()
        u = users.update(db, user_id, role=d.get("role"), language=d.get("language"),
                         active=d.get("active"), password=d.get("password"),
                         operator_id=d.get("operator_id", "keep"))
        changed("user changed", u.username, {k: v for k, v in d.items() if k != "password"})
    return jsonify(user_json(u))
