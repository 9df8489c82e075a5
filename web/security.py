"""Who is asking: session login or API token; roles; CSRF.

Every state-changing request that comes with the session cookie must carry
the session's CSRF token (form field ``csrf_token`` or header
``X-CSRF-Token``). API requests with a bearer token carry no cookie, so a
forged cross-site request cannot use them, and need none.
"""
from __future__ import annotations

import functools
import hmac
import secrets

from flask import abort, g, redirect, request, session, url_for

from appliance.users import store as users

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def check_csrf() -> None:
    if request.method not in UNSAFE or g.get("via_token"):
        return
    sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token") or ""
    if not session.get("csrf") or not hmac.compare_digest(sent, session["csrf"]):
        abort(400, description="csrf")


def load_user(db) -> None:
    g.user = None
    g.via_token = False
    auth = request.headers.get("Authorization", "")
    if auth.startswith("Bearer "):
        g.user = users.user_for_token(db, auth[len("Bearer "):].strip())
        g.via_token = True
        if g.user is None:
            abort(401)
        return
    uid = session.get("uid")
    if uid is not None:
        user = users.get(db, uid)
        if user and user.active and session.get("pw") == _pw_marker(db, uid):
            g.user = user
        else:
            session.clear()


def _pw_marker(db, uid: int) -> str:
    """Changes when the password changes, ending other sessions."""
    row = db.execute("SELECT password_hash FROM users WHERE id = ?", [uid]).fetchone()
    return row[0][-12:] if row else ""


def login(db, user) -> None:
    session.clear()
    session["uid"] = user.id
    session["pw"] = _pw_marker(db, user.id)
    session.permanent = True
    csrf_token()


def roles(*allowed: str):
    """Only these roles may use the view; others get 403, anonymous users the
    login page (or 401 on the API)."""
    def decorate(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            if g.user is None:
                if request.path.startswith("/api/"):
                    abort(401)
                return redirect(url_for("auth.login", next=request.path))
            if g.user.role not in allowed:
                abort(403)
            return view(*args, **kwargs)
        wrapped.roles = allowed
        return wrapped
    return decorate


ALL_ROLES = users.ROLES
STAFF = ("admin", "supervisor", "technician")
