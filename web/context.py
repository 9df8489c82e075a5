"""What a request handler needs from the running panel: the request's
database connection, the visitor's language, translation, and a paged
list's arguments."""
from __future__ import annotations

from flask import current_app, g, request, session

from appliance.base import store
from web import i18n


def get_db():
    if "db" not in g:
        g.db = current_app.config["KORUND_INSTANCE"].open_store()
    return g.db


def pick_language() -> str:
    user = g.get("user")
    if user is not None:
        return user.language
    lang = session.get("lang")
    if lang in i18n.LANGUAGES:
        return lang
    lang = store.get_setting(get_db(), "web.language", i18n.DEFAULT)
    return lang if lang in i18n.LANGUAGES else i18n.DEFAULT


def gettext(message: str, **params) -> str:
    return current_app.extensions["korund.i18n"].gettext(g.get("lang", i18n.DEFAULT), message, **params)


def error_text(exc) -> str:
    return current_app.extensions["korund.i18n"].config_error(g.get("lang", i18n.DEFAULT), exc)


def page_args() -> tuple[str, int]:
    """A paged list's search text (``q``, at most 100 characters) and page (``page``, from 1)."""
    q = (request.values.get("q") or "").strip()[:100]
    try:
        page = max(1, int(request.values.get("page") or 1))
    except ValueError:
        page = 1
    return q, page
