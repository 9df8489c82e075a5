"""The audit log page."""
from __future__ import annotations

from flask import Blueprint, render_template, request

from appliance.base import audit

from . import get_db, security

bp = Blueprint("audit", __name__, url_prefix="/audit")
PAGE = 100


@bp.get("/")
@security.roles("admin")
def page():
    offset = max(0, request.args.get("offset", 0, type=int))
    return render_template("audit.html", entries=audit.entries(get_db(), PAGE, offset),
                           offset=offset, page=PAGE)
