"""Login, logout, the first-run page, language, the user's own profile; the
calling user under /api/v1/me."""
from __future__ import annotations

from flask import Blueprint, abort, flash, g, jsonify, redirect, render_template, request, session, url_for

from appliance.base import audit, clock
from appliance.base.errors import ConfigError
from appliance.render import config as render_config
from appliance.users import passwords, setup_code, store as users, throttle
from web import api_common, i18n, security
from web.context import error_text, get_db, gettext
from web.operators import operator_json
from web.users import user_json

bp = Blueprint("auth", __name__)
api_bp = api_common.blueprint("auth_api", __name__)


def home_for(user) -> str:
    return url_for("auth.profile") if user.role == "operator" else url_for("status.page")


def safe_next(target: str | None) -> str | None:
    # Only local paths: no open redirect to another site.
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return None


@bp.route("/login", methods=["GET", "POST"])
def login():
    db = get_db()
    if not users.any_admin(db):
        return redirect(url_for("auth.setup"))
    error = None
    if request.method == "POST":
        refused = security.throttled(db)
        if refused is not None:
            return refused
        username = request.form.get("username", "")
        try:
            user = users.authenticate(db, username, request.form.get("password", ""))
        except passwords.Busy:
            error = gettext("The panel is busy checking other logins. Try again in a moment.")
            return render_template("login.html", error=error), 503
        except users.LoginError as exc:
            throttle.failed(db, request.remote_addr or "-")
            audit.record(db, username[:32], "login failed", details={"reason": exc.reason,
                                                                      "from": request.remote_addr})
            error = gettext("This account is locked after too many failed logins. Try again in 15 minutes.") \
                if exc.reason == "locked" else gettext("Wrong user name or password.")
        else:
            security.login(db, user)
            audit.record(db, user.username, "login", details={"from": request.remote_addr})
            return redirect(safe_next(request.args.get("next")) or home_for(user))
    return render_template("login.html", error=error), (401 if error else 200)


@bp.post("/logout")
def logout():
    db = get_db()
    if g.user:
        audit.record(db, g.user.username, "logout")
    security.logout(db)
    return redirect(url_for("auth.login"))


@bp.route("/setup", methods=["GET", "POST"])
def setup():
    """Create the first admin; works only while there is none, and only with
    a setup code from the appliance's console, display or korund setup-code."""
    db = get_db()
    if users.any_admin(db):
        abort(404)
    errors, form = {}, request.form
    if request.method == "POST":
        refused = security.throttled(db)
        if refused is not None:
            return refused
        if not setup_code.matches(db, form.get("code")):
            throttle.failed(db, request.remote_addr or "-")
            audit.record(db, None, "setup code refused", details={"from": request.remote_addr})
            errors["code"] = gettext("Wrong setup code. Get it with 'korund setup-code' on the appliance, "
                                     "or read it on its console or display.")
        elif form.get("password") != form.get("password2"):
            errors["password2"] = gettext("The passwords do not match.")
        else:
            try:
                with db.atomic():
                    # someone else was quicker, or the code was used meanwhile
                    if users.any_admin(db) or not setup_code.matches(db, form.get("code")):
                        abort(404)
                    user = users.create(db, form.get("username", ""), form.get("password", ""),
                                        "admin", language=g.lang)
                    setup_code.discard_all(db)
                    audit.record(db, user.username, "first admin created", details={"from": request.remote_addr})
            except ConfigError as exc:
                errors[exc.field] = error_text(exc)
            except passwords.Busy:
                errors["password"] = gettext("The panel is busy checking other logins. Try again in a moment.")
            else:
                security.login(db, user)
                return redirect(url_for("status.page"))
    return render_template("setup.html", errors=errors, form=form), (400 if errors else 200)


@bp.post("/language")
def language():
    lang = request.form.get("lang")
    if lang not in i18n.LANGUAGES:
        abort(400)
    if g.user:
        users.update(get_db(), g.user.id, language=lang)
    session["lang"] = lang
    return redirect(safe_next(request.form.get("next")) or url_for("auth.login"))


@bp.route("/profile", methods=["GET", "POST"])
@security.roles(*security.ALL_ROLES)
def profile():
    db = get_db()
    errors, new_token = {}, None
    if request.method == "POST":
        action = request.form.get("action")
        try:
            if action == "password":
                if not users.authenticate(db, g.user.username, request.form.get("current", "")):
                    raise users.LoginError("invalid")
                if request.form.get("password") != request.form.get("password2"):
                    errors["password2"] = gettext("The passwords do not match.")
                else:
                    users.update(db, g.user.id, password=request.form.get("password", ""))
                    audit.record(db, g.user.username, "password changed", g.user.username)
                    security.login(db, users.get(db, g.user.id))
                    flash(gettext("Password changed."))
            elif action == "token":
                days = request.form.get("days", "")
                new_token = users.create_token(db, g.user.id, request.form.get("name", ""),
                                               int(days) if days.isdigit() else 0)
                audit.record(db, g.user.username, "API token created", request.form.get("name", ""),
                             {"days": int(days)})
            elif action == "revoke":
                users.revoke_token(db, g.user.id, int(request.form.get("token_id", "0")))
                audit.record(db, g.user.username, "API token revoked", request.form.get("token_id", ""))
                flash(gettext("Token revoked."))
        except ConfigError as exc:
            errors[exc.field] = error_text(exc)
        except users.LoginError:
            errors["current"] = gettext("Wrong password.")
        except passwords.Busy:
            errors["current"] = gettext("The panel is busy checking other logins. Try again in a moment.")
    operator = None
    if g.user.operator_id:
        # The SIP secret is not shown here: only an admin sees it, once (web/operators.py).
        row = db.execute("SELECT extension, name FROM operators WHERE id = ?",
                         [g.user.operator_id]).fetchone()
        if row:
            operator = dict(zip(("extension", "name"), row))
    settings = dict(db.execute("SELECT key, value FROM settings WHERE key IN ('net.address', 'sip.port')"))
    return render_template("profile.html", errors=errors, new_token=new_token, operator=operator,
                           tokens=users.tokens(db, g.user.id), sip=settings, token_days=[(d, gettext("{days} days", days=d)) for d in users.TOKEN_DAY_CHOICES],
                           default_days=users.TOKEN_DAYS, now=clock.stamp()), (400 if errors else 200)


@api_bp.get("/me")
@security.roles(*security.ALL_ROLES)
def api_me():
    data = user_json(g.user)
    data["operator"] = None
    if g.user.operator_id:
        op = next((o for o in render_config.load(get_db()).operators if o.id == g.user.operator_id), None)
        data["operator"] = operator_json(op) if op else None
    return jsonify(data)
