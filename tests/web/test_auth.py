"""Login, first-run, lock-out, CSRF, sessions."""
from __future__ import annotations

import re

from appliance.base import instance, store
from appliance.base.instance import Instance
from appliance.users import setup_code, store as users
from tests.web.conftest import PASSWORD, Browser, as_role
from web import create_app


def test_no_default_password_first_admin_only_while_none_exists(tmp_path):
    inst = Instance(tmp_path / "fresh")
    inst.create_dirs()
    db = store.open_store(inst.db_path)
    instance.initialise(db)
    code = setup_code.console_code(db, inst.base)
    db.close()
    b = Browser(create_app(inst))
    assert b.client.get("/login").headers["Location"].endswith("/setup")
    r = b.post("/setup", {"code": code, "username": "root", "password": "short", "password2": "short"})
    assert r.status_code == 400 and "не менее 10 символов" in r.get_data(as_text=True)
    r = b.post("/setup", {"code": code, "username": "root", "password": PASSWORD, "password2": PASSWORD})
    assert r.status_code == 302
    assert b.client.get("/").status_code == 200
    # Once an admin exists, the page is gone.
    assert Browser(b.client.application).client.get("/setup").status_code == 404


def test_passwords_are_hashed(panel):
    db = panel.config["KORUND_INSTANCE"].open_store()
    stored = db.execute("SELECT password_hash FROM users WHERE username = 'admin'").fetchone()[0]
    assert PASSWORD not in stored and stored.startswith(("scrypt:", "pbkdf2:"))


def test_wrong_password_locks_the_account_after_five_tries(browser):
    for _ in range(users.MAX_FAILED_LOGINS - 1):
        r = browser.login("admin", "wrong-password-1")
        assert r.status_code == 401 and "Неверное имя" in r.get_data(as_text=True)
    r = browser.login("admin", "wrong-password-1")
    assert "заблокирована" in r.get_data(as_text=True)
    # Even the right password is refused while locked.
    r = browser.login("admin")
    assert r.status_code == 401 and "заблокирована" in r.get_data(as_text=True)
    db = browser.client.application.config["KORUND_INSTANCE"].open_store()
    actions = [a for (a,) in db.execute("SELECT action FROM audit")]
    assert actions.count("login failed") == users.MAX_FAILED_LOGINS + 1


def test_forms_and_api_calls_without_the_csrf_token_are_refused(browser):
    browser.login("admin")
    r = browser.client.post("/lines/trunk/new", data={"name": "x1", "host": "10.0.0.1", "port": "5060"})
    assert r.status_code == 400
    r = browser.client.post("/lines/trunk/new", data={"csrf_token": "forged", "name": "x1", "host": "10.0.0.1"})
    assert r.status_code == 400
    r = browser.client.post("/api/v1/trunks", json={"name": "x1", "host": "10.0.0.1"})
    assert r.status_code == 400
    db = browser.client.application.config["KORUND_INSTANCE"].open_store()
    assert not db.execute("SELECT 1 FROM trunks WHERE name = 'x1'").fetchone()
    # With the token it works.
    r = browser.post("/lines/trunk/new", {"name": "x1", "host": "10.0.0.1", "port": "5060"})
    assert r.status_code == 302


def test_login_is_also_csrf_protected(browser):
    r = browser.client.post("/login", data={"username": "admin", "password": PASSWORD})
    assert r.status_code == 400


def test_session_cookie_is_httponly_and_samesite(browser):
    r = browser.login("admin")
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_changing_the_password_ends_other_sessions(panel):
    first = as_role(panel, "super")
    second = as_role(panel, "super")
    r = second.post("/profile", {"action": "password", "current": PASSWORD,
                                 "password": "Another-Pass-77", "password2": "Another-Pass-77"})
    assert r.status_code == 200
    assert first.client.get("/").status_code == 302  # back to the login page
    assert second.client.get("/").status_code == 200


def test_no_open_redirect_after_login(browser):
    r = browser.client.post("/login?next=//evil.example/", data={
        "csrf_token": browser.token(), "username": "admin", "password": PASSWORD})
    assert r.headers["Location"] == "/"


def test_language_switch_and_default(browser):
    assert 'lang="ru"' in browser.client.get("/login").get_data(as_text=True)
    r = browser.post("/language", {"lang": "en", "next": "/login"}, token_from="/login")
    assert r.status_code == 302
    page = browser.client.get("/login").get_data(as_text=True)
    assert 'lang="en"' in page and "User name" in page
    browser.login("admin")  # admin's own preference is English
    browser.post("/language", {"lang": "ru", "next": "/"}, token_from="/")
    page = browser.client.get("/").get_data(as_text=True)
    assert "Службы" in page
    db = browser.client.application.config["KORUND_INSTANCE"].open_store()
    assert db.execute("SELECT language FROM users WHERE username = 'admin'").fetchone()[0] == "ru"
    assert re.search(r"Журнал действий", page)


def test_an_oversized_upload_is_refused_with_a_message(browser):
    browser.login("admin")
    big = "x" * (3 * 1024 * 1024)
    r = browser.post("/lines/trunk/new", {"name": "big", "host": "192.0.2.1", "port": "5060", "pad": big},
                     token_from="/lines/trunk/new")
    assert r.status_code == 413
    assert "слишком большой" in r.get_data(as_text=True) or "too large" in r.get_data(as_text=True)
    db = browser.client.application.config["KORUND_INSTANCE"].open_store()
    assert not db.execute("SELECT 1 FROM trunks WHERE name = 'big'").fetchone()
