"""The audit log: its page and /api/v1/audit."""
from __future__ import annotations

from flask import Blueprint, jsonify, render_template, request

from appliance.base import audit
from web import api_common, security
from web.context import get_db

bp = Blueprint("audit", __name__, url_prefix="/audit")
api_bp = api_common.blueprint("audit_api", __name__)
PAGE = 100


@bp.get("/")
@security.roles("admin")
def page():
    offset = max(0, request.args.get("offset", 0, type=int))
    return render_template("audit.html", entries=audit.entries(get_db(), PAGE, offset),
                           offset=offset, page=PAGE)


@api_bp.get("/audit")
@security.roles("admin")
def api_entries():
    limit = min(max(request.args.get("limit", 100, type=int), 1), 1000)
    return jsonify(audit.entries(get_db(), limit, max(0, request.args.get("offset", 0, type=int))))
