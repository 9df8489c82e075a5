"""The panel's side of a two-step CSV import (``appliance.base.upload``),
shared by the data tables and the clients: the upload form's POST, the
preview page (``templates/_csv_preview.html`` and what it needs) and the
review step, which imports the staged file or discards it.

The feature module keeps its routes, role checks and audit entries and hands
in what differs: its core store's stage, staged, confirm and discard, its
form page and its preview page.
"""
from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for

from appliance.base.errors import ConfigError
from web.context import error_text, get_db, gettext

SAMPLE_ROWS = 20


def delimiter_names() -> dict:
    return {",": gettext("comma"), ";": gettext("semicolon"), "\t": gettext("tab")}


def encoding_name(encoding: str) -> str:
    return {"cp1251": "Windows-1251 (cp1251)", "utf-8": "UTF-8", "utf-16": "UTF-16"}.get(encoding, encoding)


def preview_page(template: str, filename: str, preview, token: str | None, **context) -> str:
    """A feature's preview page, which imports ``_csv_preview.html`` with context."""
    return render_template(template, filename=filename, preview=preview, token=token, sample_rows=SAMPLE_ROWS,
                           delimiters=delimiter_names(), encoding_name=encoding_name,
                           problem_text=lambda p: error_text(p.error), **context)


def receive(stage, form_page, review_endpoint: str, refused):
    """The upload form's POST. No file, or a value the import refuses
    (ConfigError), shows the form again: ``form_page(errors)``, with its 400.
    A file that can be imported is kept and its review page is next; one that
    cannot shows its preview with the problems: ``refused(filename, preview)``,
    with a 400. ``stage(db, raw, username, filename)`` returns (token or
    None, preview)."""
    f = request.files.get("file")
    if f is None or not f.filename:
        return form_page({"file": gettext("Choose a CSV file.")})
    try:
        token, preview = stage(get_db(), f.read(), g.user.username, f.filename)
    except ConfigError as exc:
        return form_page({exc.field: error_text(exc)})
    if token:
        return redirect(url_for(review_endpoint, token=token))
    return refused(f.filename, preview), 400


def review(token: str, store, back: str, imported, show):
    """The review page of the upload kept under *token*: GET shows its preview
    (``show(staged)``); POST imports it, or with action=cancel discards it.
    *store* is the feature's core module, whose ``staged``, ``confirm`` and
    ``discard`` take (db, token, username). ``imported(db, confirmed)``
    writes the audit entry in the import's transaction and returns (message,
    URL to go to); an expired token, or a file that can no longer be
    imported, goes *back* to the upload form with the reason."""
    db, username = get_db(), g.user.username
    if request.method == "POST" and request.form.get("action") == "cancel":
        store.discard(db, token, username)
        flash(gettext("The upload was discarded; nothing was imported."))
        return redirect(back)
    try:
        if request.method == "POST":
            with db.atomic():
                message, url = imported(db, store.confirm(db, token, username))
            flash(message, "ok")
            return redirect(url)
        staged = store.staged(db, token, username)
    except ConfigError as exc:
        flash(error_text(exc), "error")
        return redirect(back)
    return show(staged)
