"""The panel's HTTPS certificate (admin only): what is in use, and replacing
it with the organisation's own certificate and key. A pair that does not
parse, whose key is not the certificate's, or that has expired is refused
with the reason; the old pair stays in use."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for

from appliance.base import audit, clock, store, tls as tls_files
from appliance.base.errors import ConfigError
from web import security
from web.context import error_text, get_db, gettext

bp = Blueprint("tls", __name__, url_prefix="/certificate")


def _pem(name: str) -> bytes:
    """An uploaded file's bytes, or the same field pasted as text."""
    upload = request.files.get(name)
    if upload is not None and upload.filename:
        return upload.read(tls_files.MAX_PEM + 1)
    return (request.form.get(name + "_text") or "").encode("utf-8", "replace")


@bp.route("/", methods=["GET", "POST"])
@security.roles("admin")
def page():
    db = get_db()
    base = current_app.config["KORUND_INSTANCE"].base
    errors = {}
    if request.method == "POST":
        try:
            info = tls_files.install(base, _pem("certificate"), _pem("key"))
        except ConfigError as exc:
            errors[exc.field] = error_text(exc)
            audit.record(db, g.user.username, "certificate refused", details={"reason": exc.text})
        else:
            reload = current_app.extensions.get("korund.tls_reload")
            if reload is not None:
                reload()
            audit.record(db, g.user.username, "certificate replaced", info.subject,
                         {"until": info.not_after.isoformat(), "sha256": info.fingerprint})
            flash(gettext("The certificate is installed and serves new connections."))
            return redirect(url_for("tls.page"))
    settings = store.settings(db)
    return render_template("certificate.html", info=tls_files.current(base), errors=errors,
                           https=settings.get("web.tls") == "1", now=clock.now(),
                           port=settings.get("web.port"), https_port=settings.get("web.https_port") or "8443"
                           ), (400 if errors else 200)
