"""The LAN web boundary: accounts and transport. Each test is an attack on
the panel -- guessing passwords in parallel, draining CPU with unknown
names, claiming a fresh appliance, replaying a cookie or a token, reading
traffic in the clear, installing a broken certificate -- and sees it
refused. The panel answers in Russian, its default. The account logic runs through Flask's test client; setup codes,
HTTPS, the redirect and certificates against the panel served by cheroot,
as `korund web` serves it."""
from __future__ import annotations

import http.cookiejar
import io
import json
import re
import socket
import ssl
import subprocess
import threading
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest

from appliance.base import clock, instance, store, tls
from appliance.base.instance import Instance
from appliance.users import passwords, setup_code, store as users, throttle
from drivers.frontpanel import FrontPanel
from korund import cli
from tests.web.conftest import PASSWORD, Browser, as_role
from web import create_app, servers

WRONG = "Not-The-Password-1"


def _db(app):
    return app.config["KORUND_INSTANCE"].open_store()


@pytest.fixture
def count_hashes(monkeypatch):
    """Every scrypt run in this process: how many, and the most at once."""
    seen = SimpleNamespace(calls=0, running=0, most=0)
    lock = threading.Lock()
    real = passwords.hashlib.scrypt

    def counted(*args, **kwargs):
        with lock:
            seen.calls += 1
            seen.running += 1
            seen.most = max(seen.most, seen.running)
        try:
            return real(*args, **kwargs)
        finally:
            with lock:
                seen.running -= 1

    monkeypatch.setattr(passwords.hashlib, "scrypt", counted)
    return seen


def _parallel(clients, fn):
    """fn(client) in one thread per client, released together."""
    gate = threading.Barrier(len(clients))
    results = [None] * len(clients)

    def run(i):
        gate.wait()
        results[i] = fn(clients[i])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(clients))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results


# --- finding 2: the lock-out ---------------------------------------------------

def test_twelve_parallel_wrong_passwords_lock_the_account_and_each_counts(panel, count_hashes):
    clients = [Browser(panel) for _ in range(12)]
    tokens = [b.token() for b in clients]
    for b, t in zip(clients, tokens):
        b.csrf = t
    replies = _parallel(clients, lambda b: b.client.post("/login", data={
        "csrf_token": b.csrf, "username": "super", "password": WRONG}).status_code)
    assert replies == [401] * 12
    db = _db(panel)
    failed, locked_until = db.execute(
        "SELECT failed_logins, locked_until FROM users WHERE username = 'super'").fetchone()
    assert failed == 12
    assert locked_until and datetime.fromisoformat(locked_until) > clock.now()
    # never more than MAX_HASHING 32 MiB checks at once, whatever the parallelism
    assert 1 <= count_hashes.most <= passwords.MAX_HASHING
    r = Browser(panel).login("super")
    assert r.status_code == 401 and "заблокирована" in r.get_data(as_text=True)


def test_a_later_failure_does_not_unlock_the_account(panel):
    db = _db(panel)
    for _ in range(users.MAX_FAILED_LOGINS):
        with pytest.raises(users.LoginError):
            users.authenticate(db, "super", WRONG)
    locked_until = db.execute("SELECT locked_until FROM users WHERE username = 'super'").fetchone()[0]
    assert locked_until
    for _ in range(3):
        with pytest.raises(users.LoginError) as refused:
            users.authenticate(db, "super", WRONG)
        assert refused.value.reason == "locked"
    assert db.execute("SELECT locked_until FROM users WHERE username = 'super'").fetchone()[0] == locked_until
    with pytest.raises(users.LoginError) as refused:
        users.authenticate(db, "super", PASSWORD)
    assert refused.value.reason == "locked"
    # the lock runs out by itself; then the right password works
    later = clock.now() + users.LOCKOUT + timedelta(seconds=1)
    assert users.authenticate(db, "super", PASSWORD, now=later).username == "super"


def test_an_admin_sees_the_lock_and_a_new_password_lifts_it(panel):
    db = _db(panel)
    for _ in range(users.MAX_FAILED_LOGINS):
        with pytest.raises(users.LoginError):
            users.authenticate(db, "super", WRONG)
    admin = as_role(panel, "admin")
    until = db.execute("SELECT locked_until FROM users WHERE username = 'super'").fetchone()[0]
    assert until in admin.client.get("/users/").get_data(as_text=True)
    uid = db.execute("SELECT id FROM users WHERE username = 'super'").fetchone()[0]
    assert admin.post(f"/users/{uid}", {"role": "supervisor", "language": "en", "active": "1",
                                        "password": "Fresh-Start-2026"}).status_code == 302
    assert Browser(panel).login("super", "Fresh-Start-2026").status_code == 302


def test_an_unknown_user_name_costs_exactly_one_hash(panel, count_hashes):
    b = Browser(panel)
    token = b.token()
    before = count_hashes.calls
    r = b.client.post("/login", data={"csrf_token": token, "username": "nobody-here", "password": WRONG})
    assert r.status_code == 401
    assert count_hashes.calls - before == 1
    before = count_hashes.calls
    b.client.post("/login", data={"csrf_token": token, "username": "super", "password": WRONG})
    assert count_hashes.calls - before == 1   # the same work as for a real name


def test_too_many_failures_from_one_address_get_429_for_every_process(panel, count_hashes):
    b = Browser(panel)
    token = b.token()
    for i in range(throttle.MAX_FAILURES):
        r = b.client.post("/login", data={"csrf_token": token, "username": f"guess{i}", "password": WRONG})
        assert r.status_code == 401
    before = count_hashes.calls
    r = b.client.post("/login", data={"csrf_token": token, "username": "admin", "password": PASSWORD})
    assert r.status_code == 429
    assert 0 < int(r.headers["Retry-After"]) <= throttle.WINDOW.total_seconds()
    assert "Слишком много неудачных попыток с вашего адреса" in r.get_data(as_text=True)
    assert count_hashes.calls == before   # refused before any password is checked
    # Another panel process reads the same count from the store ...
    other = Browser(create_app(panel.config["KORUND_INSTANCE"]))
    r = other.client.post("/login", data={"csrf_token": other.token(), "username": "admin", "password": PASSWORD})
    assert r.status_code == 429
    # ... and another address is not punished for it.
    elsewhere = panel.test_client()
    page = elsewhere.get("/login", environ_base={"REMOTE_ADDR": "192.0.2.7"}).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    r = elsewhere.post("/login", data={"csrf_token": token, "username": "admin", "password": PASSWORD},
                       environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert r.status_code == 302


# --- sessions and tokens -------------------------------------------------------

def test_a_copied_cookie_is_dead_after_logout(panel):
    b = as_role(panel, "super")
    stolen = b.client.get_cookie("korund_session").value
    thief = panel.test_client()
    thief.set_cookie("korund_session", stolen)
    assert thief.get("/").status_code == 200
    b.post("/logout", {}, token_from="/")
    assert thief.get("/").status_code == 302
    assert thief.get("/api/v1/me").status_code == 401


def test_a_copied_cookie_is_dead_after_a_password_change(panel):
    b = as_role(panel, "super")
    thief = panel.test_client()
    thief.set_cookie("korund_session", b.client.get_cookie("korund_session").value)
    r = b.post("/profile", {"action": "password", "current": PASSWORD,
                            "password": "Another-Pass-77", "password2": "Another-Pass-77"})
    assert r.status_code == 200
    assert thief.get("/").status_code == 302
    assert b.client.get("/").status_code == 200   # the changer's own new session lives


def test_a_token_past_its_expiry_is_refused(panel, monkeypatch):
    db = _db(panel)
    uid = db.execute("SELECT id FROM users WHERE username = 'super'").fetchone()[0]
    token = users.create_token(db, uid, "ci", days=7)
    auth = {"Authorization": f"Bearer {token}"}
    client = panel.test_client()
    assert client.get("/api/v1/me", headers=auth).status_code == 200
    later = clock.now() + timedelta(days=7, seconds=1)
    monkeypatch.setattr(clock, "now", lambda: later)
    assert client.get("/api/v1/me", headers=auth).status_code == 401
    with pytest.raises(Exception, match="days"):
        users.create_token(db, uid, "forever", days=100000)


def test_a_token_is_refused_after_its_owners_password_changes(panel):
    db = _db(panel)
    uid = db.execute("SELECT id FROM users WHERE username = 'super'").fetchone()[0]
    auth = {"Authorization": f"Bearer {users.create_token(db, uid, 'script')}"}
    client = panel.test_client()
    assert client.get("/api/v1/me", headers=auth).status_code == 200
    admin = as_role(panel, "admin")
    r = admin.post(f"/users/{uid}", {"role": "supervisor", "language": "en", "active": "1",
                                     "password": "Reset-By-Admin-5"})
    assert r.status_code == 302
    assert client.get("/api/v1/me", headers=auth).status_code == 401


def test_the_profile_shows_when_each_token_ends(panel):
    b = as_role(panel, "super")
    r = b.post("/profile", {"action": "token", "name": "monthly", "days": "30"})
    assert r.status_code == 200
    db = _db(panel)
    expires = db.execute("SELECT expires_at FROM api_tokens WHERE name = 'monthly'").fetchone()[0]
    assert abs(datetime.fromisoformat(expires) - (clock.now() + timedelta(days=30))) < timedelta(minutes=1)
    assert expires in b.client.get("/profile").get_data(as_text=True)


# --- finding 3: the first administrator and HTTPS, on the served panel ---------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Site:
    """A client of the served panel: cookies kept, the instance's own
    certificate trusted, redirects not followed."""

    def __init__(self, inst: Instance, base: str):
        self.inst, self.base = inst, base
        self.jar = http.cookiejar.CookieJar()
        self.context = ssl.create_default_context(cafile=str(tls.paths(inst.base)[0]))

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kwargs):
                return None

        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), urllib.request.HTTPSHandler(context=self.context),
            NoRedirect())

    def request(self, url: str, data: dict | None = None, files: dict | None = None, headers=None):
        body, hdrs = None, dict(headers or {})
        if files is not None:
            boundary = "korundtestboundary"
            parts = io.BytesIO()
            for name, value in (data or {}).items():
                parts.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
                            .encode())
            for name, content in files.items():
                parts.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                            f'filename="{name}.pem"\r\nContent-Type: application/x-pem-file\r\n\r\n'.encode())
                parts.write(content + b"\r\n")
            parts.write(f"--{boundary}--\r\n".encode())
            body = parts.getvalue()
            hdrs["Content-Type"] = f"multipart/form-data; boundary={boundary}"
        elif data is not None:
            body = urllib.parse.urlencode(data).encode()
        req = urllib.request.Request(url if "://" in url else self.base + url, data=body, headers=hdrs)
        try:
            with self.opener.open(req, timeout=30) as resp:
                return resp.status, resp.headers, resp.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers, exc.read().decode("utf-8", "replace")

    def token(self, path: str) -> str:
        return re.search(r'name="csrf_token" value="([^"]+)"', self.request(path)[2]).group(1)

    def post(self, path: str, data: dict, files: dict | None = None):
        return self.request(path, dict(data, csrf_token=self.token(path)), files)

    def served_fingerprint(self, port: int) -> str:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            plain = ssl.create_default_context()
            plain.check_hostname, plain.verify_mode = False, ssl.CERT_NONE
            with plain.wrap_socket(raw, server_hostname="127.0.0.1") as s:
                der = s.getpeercert(binary_form=True)
        pem = ssl.DER_cert_to_PEM_cert(der).encode()
        return tls.read_info(pem).fingerprint


@pytest.fixture
def served(tmp_path):
    """A fresh appliance panel as the image serves it: no administrator yet,
    HTTPS on (its certificate generated on start), HTTP redirecting."""
    inst = Instance(tmp_path / "appliance")
    inst.create_dirs()
    db = store.open_store(inst.db_path)
    http_port, https_port = _free_port(), _free_port()
    instance.initialise(db, {"net.address": "127.0.0.1", "web.port": str(http_port)})
    store.set_setting(db, "web.tls", "1")
    store.set_setting(db, "web.https_port", str(https_port))
    db.close()
    running = servers(inst)
    for server in running:
        server.prepare()
    threads = [threading.Thread(target=s.serve, daemon=True) for s in running]
    for t in threads:
        t.start()
    site = Site(inst, f"https://127.0.0.1:{https_port}")
    site.http_port, site.https_port = http_port, https_port
    try:
        yield site
    finally:
        for server in running:
            server.stop()
        for t in threads:
            t.join(10)


def _setup_code_from_the_console(inst: Instance, capsys) -> str:
    """What `korund setup-code` prints on the appliance."""
    capsys.readouterr()
    assert cli.main(["-i", str(inst.base), "setup-code"]) == 0
    return capsys.readouterr().out.strip()


def _setup(site: Site, code: str, username: str = "boss"):
    return site.post("/setup", {"code": code, "username": username, "password": PASSWORD,
                                "password2": PASSWORD})


def test_setup_without_or_with_a_wrong_code_is_refused_and_the_right_code_works_once(served, capsys):
    status, _h, body = served.request("/setup")
    assert status == 200 and 'id="f-code"' in body
    status, _h, body = _setup(served, "")
    assert status == 400 and "Неверный код первого запуска" in body
    status, _h, body = _setup(served, "ABCD-EFGH-JKLM")
    assert status == 400 and "Неверный код первого запуска" in body
    db = served.inst.open_store()
    assert not users.any_admin(db)
    code = _setup_code_from_the_console(served.inst, capsys)
    assert re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", code)
    assert code not in (served.inst.db_path.read_bytes().decode("latin-1"))   # stored hashed
    assert _setup_code_from_the_console(served.inst, capsys) == code         # the same until used
    status, _headers, _body = _setup(served, code.lower().replace("-", " "))
    assert status == 302, _body[:400]
    assert [u.username for u in users.all_users(db) if u.role == "admin"] == ["boss"]
    # used: the page is gone, the code is void, the command says no code is needed
    late = Site(served.inst, served.base)
    assert late.request("/setup")[0] == 404
    assert not setup_code.matches(db, code)
    assert cli.main(["-i", str(served.inst.base), "setup-code"]) == 1
    actions = [a for (a,) in db.execute("SELECT action FROM audit ORDER BY id")]
    assert actions.count("setup code refused") == 2 and "first admin created" in actions


def test_setup_code_guesses_are_throttled_like_logins(served):
    for _ in range(throttle.MAX_FAILURES):
        status, _h, _b = _setup(served, "WRNG-WRNG-WRNG")
        assert status == 400
    status, headers, body = _setup(served, "WRNG-WRNG-WRNG")
    assert status == 429 and int(headers["Retry-After"]) > 0
    assert "Слишком много неудачных попыток" in body


def test_the_front_panel_shows_a_setup_code_only_while_no_administrator_exists(served):
    db = served.inst.open_store()
    shown = setup_code.PanelCode()
    display = FrontPanel(lambda: {"ip": "192.0.2.10", "alarms": [], "sensors": [],
                                  "setup_code": shown.current(db)})
    code = display.lines()[3].strip()
    assert display.lines()[1:3] == ["192.0.2.10", "Setup code:"] and setup_code.matches(db, code)
    assert _setup(served, code)[0] == 302
    display.refresh()
    assert display.lines()[1] == "192.0.2.10" and "Setup code:" not in display.lines()


def test_http_redirects_to_https_and_the_session_cookie_is_secure(served, capsys):
    status, headers, _b = served.request(f"http://127.0.0.1:{served.http_port}/login?next=/calls")
    assert status == 301
    assert headers["Location"] == f"https://127.0.0.1:{served.https_port}/login?next=/calls"
    assert "Set-Cookie" not in headers
    # the path stays a path on this host; a malformed Host is refused, not echoed
    status, headers, _b = served.request(f"http://127.0.0.1:{served.http_port}//evil.example/x")
    assert status == 400 or headers["Location"].startswith(f"https://127.0.0.1:{served.https_port}/")
    status, headers, _b = served.request(f"http://127.0.0.1:{served.http_port}/",
                                         headers={"Host": "evil.example:80/@x"})
    assert status == 400 and "Location" not in headers
    assert _setup(served, _setup_code_from_the_console(served.inst, capsys))[0] == 302
    status, headers, _b = served.post("/login", {"username": "boss", "password": PASSWORD})
    assert status == 302
    cookie = next(c for c in served.jar if c.name == "korund_session")
    assert cookie.secure
    assert "Secure" in headers["Set-Cookie"] and "HttpOnly" in headers["Set-Cookie"]
    assert headers["Strict-Transport-Security"].startswith("max-age=")
    # the plain port carries no panel at all: not even the API answers there
    status, headers, _b = served.request(f"http://127.0.0.1:{served.http_port}/api/v1/me")
    assert status == 301


def test_korund_tls_on_makes_a_certificate_and_turns_https_on(tmp_path, capsys):
    """What the image's first boot runs; off goes back to plain HTTP."""
    inst = Instance(tmp_path / "fresh")
    inst.create_dirs()
    db = store.open_store(inst.db_path)
    instance.initialise(db)
    assert cli.main(["-i", str(inst.base), "tls", "on"]) == 0
    out = capsys.readouterr().out
    assert "HTTPS on port 8443" in out and "SHA-256" in out
    assert store.settings(db)["web.tls"] == "1"
    cert, key = tls.paths(inst.base)
    assert key.stat().st_mode & 0o077 == 0     # the key is readable by its owner only
    fingerprint = tls.read_info(cert.read_bytes()).fingerprint
    assert cli.main(["-i", str(inst.base), "tls", "on"]) == 0   # again: the same certificate
    assert tls.read_info(cert.read_bytes()).fingerprint == fingerprint
    assert cli.main(["-i", str(inst.base), "tls", "off"]) == 0
    assert store.settings(db)["web.tls"] == "0" and "plain HTTP" in capsys.readouterr().out


def _openssl_pair(tmp, name: str, days: int = 30) -> tuple[bytes, bytes]:
    cert, key = tmp / f"{name}.crt", tmp / f"{name}.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", str(key), "-out", str(cert), "-days", str(days),
                    "-subj", f"/CN={name}", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert.read_bytes(), key.read_bytes()


def test_a_bad_certificate_upload_is_refused_and_the_old_pair_kept(served, capsys, tmp_path, monkeypatch):
    assert _setup(served, _setup_code_from_the_console(served.inst, capsys))[0] == 302
    before = served.served_fingerprint(served.https_port)
    cert_file, key_file = tls.paths(served.inst.base)
    old = (cert_file.read_bytes(), key_file.read_bytes())
    cert_a, key_a = _openssl_pair(tmp_path, "office-a")
    cert_b, key_b = _openssl_pair(tmp_path, "office-b", days=1)
    bad = {
        "not a certificate": ({"certificate": b"hello", "key": key_a}, "не сертификат в формате PEM"),
        "a garbled certificate": ({"certificate": b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                                   "key": key_a}, "не сертификат в формате PEM"),
        "someone else's key": ({"certificate": cert_a, "key": key_b}, "ключ не от этого сертификата"),
        "no key": ({"certificate": cert_a, "key": b""}, "не закрытый ключ в формате PEM"),
    }
    for what, (files, message) in bad.items():
        status, _h, body = served.post("/certificate/", {}, files)
        assert status == 400 and message in body, what
        assert (cert_file.read_bytes(), key_file.read_bytes()) == old, what
        assert served.served_fingerprint(served.https_port) == before, what
    # a certificate that has run out (the upload checked two days later)
    monkeypatch.setattr(tls, "clock", SimpleNamespace(now=lambda: clock.now() + timedelta(days=2)))
    status, _h, body = served.post("/certificate/", {}, {"certificate": cert_b, "key": key_b})
    assert status == 400 and "срок действия сертификата истёк" in body
    assert (cert_file.read_bytes(), key_file.read_bytes()) == old
    monkeypatch.undo()
    # a good pair is installed and served from the next connection on
    status, _h, _b = served.post("/certificate/", {}, {"certificate": cert_a, "key": key_a})
    assert status == 302
    assert cert_file.read_bytes() == cert_a
    after = served.served_fingerprint(served.https_port)
    assert after != before and after == tls.read_info(cert_a).fingerprint
    db = served.inst.open_store()
    details = [json.loads(d) for (d,) in db.execute("SELECT details FROM audit WHERE action = 'certificate refused'")]
    assert len(details) == len(bad) + 1


def test_only_an_administrator_may_replace_the_certificate(panel):
    for role in ("super", "tech", "anna"):
        b = as_role(panel, role)
        assert b.client.get("/certificate/").status_code == 403, role
        r = b.post("/certificate/", {"certificate_text": "x", "key_text": "y"}, token_from="/profile")
        assert r.status_code == 403, role
    assert as_role(panel, "admin").client.get("/certificate/").status_code == 200
