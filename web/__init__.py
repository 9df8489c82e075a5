"""Korund's web panel: a Flask application factory.

One module per feature (web/<feature>.py), each with a page blueprint ``bp``
named after the feature and, where the feature has an API, an API blueprint
``api_bp`` named ``<feature>_api`` under /api/v1 (made by
web.api_common.blueprint). Everything works offline (no CDN): the stylesheet
is the package's own.
"""
from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import quote

from flask import Flask, g, render_template, request
from werkzeug.exceptions import HTTPException

from appliance.base import store, tls as tls_files
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
    outbound,
    outbound_routes,
    prompts,
    quality,
    recording_policy,
    recordings,
    reports,
    scenarios,
    schedules,
    security,
    settings,
    sip_bans,
    status,
    tables,
    tls,
    users,
)
from web.context import get_db, gettext, pick_language

MAX_UPLOAD_BYTES = 2 * 1024 * 1024
# Each open desktop holds one thread with its event stream (web.desktop), so
# there are enough for a floor of operators plus the panel's other requests.
WEB_THREADS = 128
# connections waiting to be accepted (a browser opens several at once)
BACKLOG = 128
DEFAULT_HTTPS_PORT = 8443
HSTS = "max-age=31536000"


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
        # Secure whenever the panel serves HTTPS itself, or sits behind HTTPS
        SESSION_COOKIE_SECURE="1" in (stored.get("web.tls"), stored.get("web.secure_cookies")),
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
        if request.is_secure:
            # Browsers heed it only over a certificate they trust, so a
            # self-signed panel can still be reached after its warning.
            resp.headers.setdefault("Strict-Transport-Security", HSTS)
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
                    calls, recording_policy, tls, sip_bans, outbound, outbound_routes):
        for bp in (getattr(feature, "bp", None), getattr(feature, "api_bp", None)):
            if bp is not None:
                app.register_blueprint(bp)
    return app


def servers(instance: Instance) -> list:
    """The panel's cheroot servers, not started. Plain HTTP on web.port; with
    web.tls = 1, HTTPS on web.https_port (the instance's certificate,
    generated self-signed if missing) and, on web.port, a listener that only
    redirects to it."""
    from cheroot import wsgi
    from cheroot.ssl.builtin import BuiltinSSLAdapter

    db = instance.open_store()
    settings = store.settings(db)
    db.close()
    # web.address (e.g. 0.0.0.0 on the appliance image) opens only the panel
    # to the LAN; SIP, AMI and FastAGI stay on net.address.
    host = settings.get("web.address") or settings["net.address"]
    app = create_app(instance)
    if settings.get("web.tls") != "1":
        return [wsgi.Server((host, int(settings["web.port"])), app, numthreads=WEB_THREADS,
                            server_name="korund", request_queue_size=BACKLOG)]
    tls_files.ensure(instance.base)
    cert, key = tls_files.paths(instance.base)
    https_port = int(settings.get("web.https_port") or DEFAULT_HTTPS_PORT)
    https = wsgi.Server((host, https_port), app, numthreads=WEB_THREADS, server_name="korund",
                        request_queue_size=BACKLOG)
    adapter = BuiltinSSLAdapter(str(cert), str(key))
    https.ssl_adapter = adapter
    # A certificate installed from the panel serves the next connection.
    app.extensions["korund.tls_reload"] = lambda: adapter.context.load_cert_chain(str(cert), str(key))
    plain = wsgi.Server((host, int(settings["web.port"])), redirect_to_https(https_port), numthreads=4,
                        server_name="korund")
    return [https, plain]


def serve(instance: Instance) -> None:
    """Run the panel's servers until the process is stopped."""
    import threading

    running = servers(instance)
    for server in running:
        server.prepare()   # bind now: a taken port fails the service at once
    threads = [threading.Thread(target=server.serve, daemon=True) for server in running[1:]]
    for t in threads:
        t.start()
    try:
        running[0].serve()
    finally:
        for server in running:
            server.stop()


_HOST = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]{1,253})(:[0-9]{1,5})?")


def redirect_to_https(https_port: int):
    """A WSGI app sending every request to the same host and path over HTTPS."""
    def app(environ, start_response):
        m = _HOST.fullmatch(environ.get("HTTP_HOST", ""))
        if not m:
            start_response("400 Bad Request", [("Content-Type", "text/plain"), ("Content-Length", "13")])
            return [b"bad Host name"]
        host = m.group(1)
        path = quote(environ.get("PATH_INFO", "/").encode("latin-1"), safe="/:@!$&'()*+,;=-._~%")
        query = environ.get("QUERY_STRING", "")
        location = f"https://{host}:{https_port}/{path.lstrip('/')}" + (f"?{query}" if query else "")
        start_response("301 Moved Permanently", [("Location", location), ("Content-Length", "0"),
                                                 ("Cache-Control", "no-store")])
        return [b""]
    return app
