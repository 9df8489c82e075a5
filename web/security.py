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

from flask import Response, abort, g, jsonify, make_response, redirect, render_template, request, session, url_for

from appliance.users import sessions, store as users, throttle
from web.context import gettext

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
    sid = session.get("sid")
    if sid is not None:
        # The store decides whether the session lives: a cookie copied
        # before a logout or a password change finds nothing there.
        uid = sessions.user_id(db, sid)
        user = users.get(db, uid) if uid is not None else None
        if user and user.active and session.get("uid") == uid:
            g.user = user
        else:
            session.clear()


def login(db, user) -> None:
    session.clear()
    session["sid"] = sessions.start(db, user.id)
    session["uid"] = user.id
    session.permanent = True
    csrf_token()


def logout(db) -> None:
    sessions.end(db, session.get("sid"))
    session.clear()


def throttled(db) -> Response | None:
    """A 429 page when the client's address has failed too often lately
    (logins and setup codes alike), else None."""
    wait = throttle.retry_after(db, request.remote_addr or "-")
    if not wait:
        return None
    minutes = max(1, (wait + 59) // 60)
    message = gettext("Too many failed attempts from your address. Try again in {minutes} min.",
                      minutes=minutes)
    if request.path.startswith("/api/"):
        resp = jsonify({"error": message})
    else:
        resp = make_response(render_template("error.html", code=429, message=message))
    resp.status_code = 429
    resp.headers["Retry-After"] = str(wait)
    return resp


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
