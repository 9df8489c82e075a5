"""Korund's web panel: a Flask application factory.

One module per feature (web/<feature>.py), each with a page blueprint ``bp``
named after the feature and, where the feature has an API, an API blueprint
``api_bp`` named ``<feature>_api`` under /api/v1 (made by
web.api_common.blueprint). Everything works offline (no CDN): the stylesheet
is the package's own.
"""
from __future__ import annotations

from datetime import timedelta

from flask import Flask, g, render_template, request
from werkzeug.exceptions import HTTPException

from appliance.base import store
from appliance.base.instance import Instance
from web import (
    api_common,
    audit_log,
    auth,
    calls,
    changes,
    clients,
    desktop,
    health,
    i18n,
    inbox,
    lines,
    openapi,
    operators,
    prompts,
    quality,
    recording_policy,
    recordings,
    reports,
    scenarios,
    schedules,
    security,
    settings,
    status,
    tables,
    users,
)
from web.context import get_db, gettext, pick_language

MAX_UPLOAD_BYTES = 2 * 1024 * 1024
# Each open desktop holds one thread with its event stream (web.desktop), so
# there are enough for a floor of operators plus the panel's other requests.
WEB_THREADS = 128


def create_app(instance: Instance | None = None, test_config: dict | None = None) -> Flask:
    app = Flask(__name__)
    inst = instance or Instance.at()
    db = inst.open_store()
    stored = store.settings(db)
    db.close()
    app.config.update(
        KORUND_INSTANCE=inst,
        SECRET_KEY=stored.get("web.secret_key"),
        MAX_CONTENT_LENGTH=MAX_UPLOAD_BYTES,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=stored.get("web.secure_cookies") == "1",
        SESSION_COOKIE_NAME="korund_session",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=10),
    )
    if test_config:
        app.config.update(test_config)
    if not app.config["SECRET_KEY"]:
        raise RuntimeError("the instance has no web.secret_key: run 'korund init' first")
    translator = i18n.Translator(i18n.load_catalogs())
    app.extensions["korund.i18n"] = translator

    @app.before_request
    def who_and_what():
        security.load_user(get_db())
        g.lang = pick_language()
        security.check_csrf()

    @app.teardown_appcontext
    def close_db(_exc):
        db = g.pop("db", None)
        if db is not None:
            db.close()

    @app.context_processor
    def template_helpers():
        return {"_": gettext, "csrf_token": security.csrf_token, "languages": i18n.LANGUAGES,
                "user": g.get("user"), "lang": g.get("lang", i18n.DEFAULT),
                "pending_changes": lambda: changes.pending(get_db())}

    @app.after_request
    def headers(resp):
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("X-Frame-Options", "DENY")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        resp.headers.setdefault("Content-Security-Policy",
                                "default-src 'self'; style-src 'self'; script-src 'self'; "
                                "frame-ancestors 'none'; form-action 'self'")
        return resp

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if request.path.startswith("/api/"):
            return api_common.http_error(exc)
        if exc.code == 400 and exc.description == "csrf":
            message = gettext("The form has expired or did not come from this panel. Reload the page and try again.")
        elif exc.code == 413:
            message = gettext("The upload is too large (limit {mb} MB).", mb=MAX_UPLOAD_BYTES // 2**20)
        elif exc.code == 403:
            message = gettext("Your role does not give access to this page.")
        else:
            message = exc.description
        return render_template("error.html", code=exc.code, message=message), exc.code

    for feature in (auth, status, lines, operators, users, settings, audit_log, changes, openapi, scenarios,
                    prompts, tables, schedules, inbox, clients, desktop, health, reports, recordings, quality,
                    calls, recording_policy):
        for bp in (getattr(feature, "bp", None), getattr(feature, "api_bp", None)):
            if bp is not None:
                app.register_blueprint(bp)
    return app


def serve(instance: Instance) -> None:
    """Run the panel under waitress, bound to the instance's address."""
    import waitress

    db = instance.open_store()
    settings = store.settings(db)
    db.close()
    # web.address (e.g. 0.0.0.0 on the appliance image) opens only the panel
    # to the LAN; SIP, AMI and FastAGI stay on net.address.
    waitress.serve(create_app(instance), host=settings.get("web.address") or settings["net.address"],
                   port=int(settings["web.port"]), threads=WEB_THREADS, ident="korund")
