"""What every /api/v1 blueprint shares.

Each feature module makes its API blueprint with :func:`blueprint`, so every
API answers alike: under /api/v1, a refused value (``ConfigError``) as 422
with the field and a message in the user's language, other errors as JSON
(:func:`http_error`, used by the app for every path under /api/). Who is
asking (session or ``Authorization: Bearer`` token) and the CSRF check, which
token requests skip, are web.security's, for pages and API alike.
"""
from __future__ import annotations

from flask import Blueprint, abort, g, jsonify, request
from werkzeug.exceptions import HTTPException

from appliance.base import audit
from appliance.base.errors import ConfigError
from web.context import error_text, get_db

URL_PREFIX = "/api/v1"


def blueprint(name: str, import_name: str) -> Blueprint:
    """A feature's API blueprint, named ``<feature>_api``."""
    bp = Blueprint(name, import_name, url_prefix=URL_PREFIX)
    bp.register_error_handler(ConfigError, invalid)
    return bp


def invalid(exc: ConfigError):
    return jsonify(error="invalid", field=exc.field, message=error_text(exc)), 422


def http_error(exc: HTTPException):
    return jsonify(error=exc.name, message=exc.description), exc.code


def body() -> dict:
    """The request's JSON object (400 for anything else)."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        abort(400, description="expected a JSON object")
    return data


def find(items, key, value):
    """The item whose *key* is *value*, or 404."""
    item = next((i for i in items if getattr(i, key) == value), None)
    if item is None:
        abort(404)
    return item


def whole_number(name: str, default: int, low: int, high: int) -> int:
    """The query argument *name* (``limit``, ``offset``), *default* when absent;
    422 unless it is a whole number from *low* to *high*."""
    raw = request.args.get(name, str(default))
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ConfigError(name, "'{name}' must be a whole number from {low} to {high}", name=name, low=low, high=high)
    return int(raw)


def changed(action: str, target: str | None, details: dict | None = None) -> None:
    """An audit-log entry by the calling user."""
    audit.record(get_db(), g.user.username, action, target, details)
