"""The prompt library in the panel: list with a player per language, upload
a WAV/MP3/OGG file, speak a text, delete; the WAV route the players use; and
/api/v1/prompts for the scenario editor."""
from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)

from appliance.base import audit
from appliance.base.errors import ConfigError
from appliance.prompts import store as prompt_library
from web import api_common, security
from web.context import error_text, get_db, gettext
from web.i18n import _

bp = Blueprint("prompts", __name__)
api_bp = api_common.blueprint("prompts_api", __name__)
EDITORS = ("admin", "supervisor")


UPLOADED, SPOKEN, DELETED = _("prompt uploaded"), _("prompt spoken"), _("prompt deleted")


def sounds():
    return current_app.config["KORUND_INSTANCE"].sounds


def tools() -> prompt_library.Tools:
    # Tests hand in their own tools; the appliance uses sox and espeak-ng.
    return current_app.config.get("KORUND_PROMPT_TOOLS") or prompt_library.SYSTEM


def render_page(form=None, errors=None, which=None, code=200):
    return render_template("prompts.html", prompts=prompt_library.all_prompts(get_db(), sounds()),
                           prompt_languages=prompt_library.LANGUAGES, form=form or {}, errors=errors or {},
                           which=which, max_mb=round(prompt_library.MAX_BYTES / 2**20, 1),
                           max_seconds=prompt_library.MAX_SECONDS), code


@bp.get("/prompts")
@security.roles(*EDITORS)
def page():
    return render_page()


def saved(which: str, action: str, make):
    """Make a prompt from the form *which* ("upload" or "say") with
    ``make(db, form)``, which returns the audit entry's details beyond the
    language; the form again with the refusal, or the list with the news."""
    form, db = request.form, get_db()
    name, language = form.get("name", "").strip(), form.get("language")
    try:
        with db.atomic():
            details = make(db, form)
            audit.record(db, g.user.username, action, name, {"language": language, **details})
    except ConfigError as exc:
        return render_page(form, {exc.field: error_text(exc)}, which, 400)
    flash(gettext("The prompt {name} ({language}) is saved.", name=name, language=language))
    return redirect(url_for("prompts.page"))


@bp.post("/prompts/upload")
@security.roles(*EDITORS)
def upload():
    def add(db, form):
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            raise ConfigError("file", "choose a WAV, MP3 or OGG file")
        data = upload.stream.read(prompt_library.MAX_BYTES + 1)
        prompt_library.add_file(db, sounds(), form.get("name"), form.get("language"), data,
                                upload.filename, g.user.username, tools())
        return {"file": upload.filename}

    return saved("upload", UPLOADED, add)


@bp.post("/prompts/say")
@security.roles(*EDITORS)
def say():
    def speak(db, form):
        prompt_library.say(db, sounds(), form.get("name"), form.get("language"), form.get("text"),
                           g.user.username, tools())
        return {"text": form.get("text")}

    return saved("say", SPOKEN, speak)


@bp.post("/prompts/<name>/delete")
@security.roles(*EDITORS)
def delete(name):
    db = get_db()
    language = request.form.get("language") or None
    try:
        with db.atomic():
            gone = prompt_library.delete(db, sounds(), name, language)
            audit.record(db, g.user.username, DELETED, name, {"languages": gone})
    except ConfigError as exc:
        flash(error_text(exc), "error")
    else:
        flash(gettext("Deleted: {name} ({languages}).", name=name, languages=", ".join(gone)))
    return redirect(url_for("prompts.page"))


@bp.get("/prompts/<name>/<language>.wav")
@security.roles(*EDITORS)
def wav(name, language):
    path = prompt_library.wav_file(sounds(), name, language)
    if path is None:
        abort(404)
    resp = send_file(path, mimetype="audio/wav", conditional=True, max_age=0)
    resp.headers["Cache-Control"] = "no-cache"
    return resp


@api_bp.get("/prompts")
@security.roles(*EDITORS)
def api_list():
    return jsonify([{"name": p["name"], "languages": p["languages"], "source": p["source"],
                     "text": p["text"], "fallback": p["fallback"], "used_by": p["used_by"],
                     "variants": [{k: v[k] for k in ("language", "source", "text", "duration")}
                                  for v in p["variants"]]}
                    for p in prompt_library.all_prompts(get_db(), sounds())])
