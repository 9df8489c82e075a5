"""Appliance-wide settings an administrator may change; the same under
/api/v1/settings."""
from __future__ import annotations

from flask import Blueprint, flash, g, jsonify, redirect, render_template, request, url_for

from appliance.base import audit, store
from appliance.base.errors import ConfigError
from appliance.prompts import builtin as prompts
from web import api_common, i18n, security
from web.api_common import body
from web.context import error_text, get_db, gettext

bp = Blueprint("settings", __name__, url_prefix="/settings")
api_bp = api_common.blueprint("settings_api", __name__)

# key: (label, allowed values or None for free text)
EDITABLE = {
    "language": ("Language of callers' prompts", prompts.LANGUAGES),
    "web.language": ("Default language of the panel", tuple(i18n.LANGUAGES)),
    "web.secure_cookies": ("Session cookie only over HTTPS (1 = yes, 0 = no)", ("0", "1")),
}
# local.address: AMI and FastAGI, always a loopback address (korund init sets it).
READ_ONLY = ("net.address", "local.address", "sip.port", "ami.port", "agi.port", "web.port", "rtp.start",
             "rtp.end")


def validate(key: str, value: str) -> str:
    allowed = EDITABLE[key][1]
    if allowed and value not in allowed:
        raise ConfigError(key, "one of {choices}", choices=", ".join(allowed))
    return value


def save(db, values: dict, username: str) -> None:
    """Validate every value first; write all or nothing."""
    checked = {k: validate(k, str(v)) for k, v in values.items() if k in EDITABLE}
    unknown = [k for k in values if k not in EDITABLE]
    if unknown:
        raise ConfigError(unknown[0], "not a setting that can be changed here")
    with db.atomic():
        for k, v in checked.items():
            store.set_setting(db, k, v)
        audit.record(db, username, "settings changed", details=checked)


@bp.route("/", methods=["GET", "POST"])
@security.roles("admin")
def page():
    db = get_db()
    errors = {}
    if request.method == "POST":
        try:
            save(db, {k: request.form.get(k, "") for k in EDITABLE}, g.user.username)
        except ConfigError as exc:
            errors[exc.field] = error_text(exc)
        else:
            flash(gettext("Saved. Apply the changes to put them into service."))
            return redirect(url_for("settings.page"))
    current = store.settings(db)
    return render_template("settings.html", editable=EDITABLE, read_only=READ_ONLY, current=current,
                           form=request.form if errors else current, errors=errors), (400 if errors else 200)


@api_bp.route("/settings", methods=["GET", "PUT"])
@security.roles("admin")
def api_settings():
    db = get_db()
    if request.method == "PUT":
        save(db, body(), g.user.username)
    current = dict(db.execute("SELECT key, value FROM settings"))
    return jsonify({k: current.get(k) for k in (*EDITABLE, *READ_ONLY)})
