"""Korund's web panel (Flask application factory).

For now: the status page and its JSON; the panel issue adds login, roles and
the configuration pages as blueprints beside ``status``.
"""
from __future__ import annotations

from flask import Flask, g

from appliance.instance import Instance


def create_app(instance: Instance | None = None, test_config: dict | None = None) -> Flask:
    app = Flask(__name__)
    app.config["KORUND_INSTANCE"] = instance or Instance.at()
    app.config["MAX_CONTENT_LENGTH"] = 2 * 1024 * 1024
    if test_config:
        app.config.update(test_config)

    @app.teardown_appcontext
    def close_db(_exc):
        db = g.pop("db", None)
        if db is not None:
            db.close()

    from . import status
    app.register_blueprint(status.bp)
    return app


def get_db():
    from flask import current_app
    if "db" not in g:
        g.db = current_app.config["KORUND_INSTANCE"].open_store()
    return g.db


def serve(instance: Instance) -> None:
    """Run the panel under waitress, bound to the instance's address."""
    import waitress
    from appliance import store

    db = instance.open_store()
    settings = store.settings(db)
    db.close()
    waitress.serve(create_app(instance), host=settings["net.address"],
                   port=int(settings["web.port"]), threads=8, ident="korund")
