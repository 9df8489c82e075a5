"""Data tables in the panel (Flask test client): roles, CSRF, upload →
preview → confirm, a malformed file changes nothing, oversized uploads,
row edits, delete refused while a scenario uses the table, export, API."""
from __future__ import annotations

import io
import re

import pytest

from appliance.tables import store as datatables
from tests.web.conftest import as_role

CSV = "account;name;balance\r\n1001;Иван Петров;4200\r\n1002;Анна Смирнова;15\r\n".encode("cp1251")


def db_of(panel):
    return panel.config["KORUND_INSTANCE"].open_store()


def upload(b, raw, name="accounts", key="", mode="replace", filename="accounts.csv"):
    return b.client.post("/tables/upload", data={
        "csrf_token": b.token("/tables/"), "name": name, "key": key, "mode": mode,
        "file": (io.BytesIO(raw), filename)}, content_type="multipart/form-data")


def import_file(b, raw, **kw):
    r = upload(b, raw, **kw)
    assert r.status_code == 302, r.get_data(as_text=True)
    review = r.headers["Location"]
    page = b.client.get(review).get_data(as_text=True)
    r = b.post(review, {"action": "confirm"}, token_from=review)
    assert r.status_code == 302
    return page


@pytest.mark.parametrize("login,code", [("admin", 200), ("super", 200), ("tech", 403), ("anna", 403)])
def test_roles(panel, login, code):
    b = as_role(panel, login)
    assert b.client.get("/tables/").status_code == code
    assert b.client.get("/api/v1/tables").status_code == code
    if code == 403:
        r = b.client.post("/tables/upload", data={"csrf_token": b.token("/profile"), "name": "x",
                                                   "file": (io.BytesIO(CSV), "a.csv")})
        assert r.status_code == 403
    assert panel.test_client().get("/tables/").status_code == 302


def test_upload_preview_confirm_in_russian_by_default(panel):
    b = as_role(panel, "admin")
    b.client.post("/language", data={"csrf_token": b.token("/profile"), "lang": "ru", "next": "/"})
    page = import_file(b, CSV)
    assert "Windows-1251" in page and "Иван Петров" in page and "точка с запятой" in page
    assert 'id="confirm"' in page and "Ошибок нет" in page
    db = db_of(panel)
    assert datatables.lookup(db, "accounts", "1001")["name"] == "Иван Петров"
    listing = b.client.get("/tables/").get_data(as_text=True)
    assert "accounts" in listing and "account" in listing
    assert b.client.get("/api/v1/tables").get_json() == [
        {"name": "accounts", "key": "account", "columns": ["account", "name", "balance"]}]
    actions = [r[0] for r in db.execute("SELECT action FROM audit WHERE target = 'accounts'")]
    assert "table imported" in actions


def test_a_malformed_csv_changes_nothing_and_shows_the_report(panel):
    b = as_role(panel, "admin")
    import_file(b, CSV)
    bad = "account;name;balance\n1001;X;1\n1001;Y;2\n1003;Z\n".encode()
    r = upload(b, bad)
    page = r.get_data(as_text=True)
    assert r.status_code == 400
    assert re.search(r"<td>3</td><td>the key &#39;1001&#39; is repeated</td>", page)
    assert re.search(r"<td>4</td><td>2 fields, expected 3</td>", page)
    assert 'id="confirm"' not in page
    db = db_of(panel)
    assert datatables.lookup(db, "accounts", "1001")["name"] == "Иван Петров"
    assert db.execute("SELECT COUNT(*) FROM data_uploads").fetchone()[0] == 0
    r = upload(b, b"\x00\x01\x02binary")
    assert "binary" in r.get_data(as_text=True) and r.status_code == 400


def test_bad_form_input_is_explained(panel):
    b = as_role(panel, "admin")
    r = upload(b, CSV, name="Bad Name!")
    assert r.status_code == 400 and 'id="error-name"' in r.get_data(as_text=True)
    r = b.client.post("/tables/upload", data={"csrf_token": b.token("/tables/"), "name": "t"},
                      content_type="multipart/form-data")
    assert r.status_code == 400 and 'id="error-file"' in r.get_data(as_text=True)
    assert datatables.tables(db_of(panel)) == []


def test_csrf_is_required(panel):
    b = as_role(panel, "admin")
    r = b.client.post("/tables/upload", data={"name": "accounts", "file": (io.BytesIO(CSV), "a.csv")},
                      content_type="multipart/form-data")
    assert r.status_code == 400
    import_file(b, CSV)
    r = b.client.post("/tables/accounts/rows", data={"action": "delete", "original_key": "1001"})
    assert r.status_code == 400
    r = b.client.post("/tables/accounts/delete", data={"csrf_token": "forged"})
    assert r.status_code == 400
    assert datatables.table(db_of(panel), "accounts").rows == 2


def test_an_oversized_upload_is_rejected(panel):
    b = as_role(panel, "admin")
    r = upload(b, b"account\n" + b"1234567\n" * 300_000)
    assert r.status_code == 413
    assert datatables.tables(db_of(panel)) == []


def test_cancel_and_a_stale_token(panel):
    b = as_role(panel, "admin")
    review = upload(b, CSV).headers["Location"]
    b.post(review, {"action": "cancel"}, token_from=review)
    r = b.client.get(review)
    assert r.status_code == 302 and datatables.tables(db_of(panel)) == []
    other = as_role(panel, "super")
    review = upload(b, CSV).headers["Location"]
    assert other.client.get(review).status_code == 302  # another user's upload is not theirs


def test_rows_are_edited_added_and_deleted(panel):
    b = as_role(panel, "admin")
    import_file(b, CSV)
    r = b.post("/tables/accounts/rows", {"action": "save", "original_key": "1001", "v_account": "1001",
                                         "v_name": "Иван Петров", "v_balance": "5000"}, token_from="/tables/accounts")
    assert r.status_code == 302
    db = db_of(panel)
    assert datatables.lookup(db, "accounts", "1001")["balance"] == "5000"
    r = b.post("/tables/accounts/rows", {"action": "save", "original_key": "1001", "v_account": "1002",
                                         "v_name": "Дубль", "v_balance": "1"}, token_from="/tables/accounts")
    page = r.get_data(as_text=True)
    assert r.status_code == 400 and 'id="row-error"' in page and "Дубль" in page
    assert datatables.lookup(db, "accounts", "1002")["name"] == "Анна Смирнова"
    r = b.post("/tables/accounts/rows", {"action": "add", "v_account": "1003", "v_name": "Олег",
                                         "v_balance": "7"}, token_from="/tables/accounts")
    assert r.status_code == 302 and datatables.lookup(db, "accounts", "1003")["name"] == "Олег"
    r = b.post("/tables/accounts/rows", {"action": "delete", "original_key": "1002"}, token_from="/tables/accounts")
    assert r.status_code == 302 and datatables.lookup(db, "accounts", "1002") is None
    page = b.client.get("/tables/accounts?q=Оле").get_data(as_text=True)
    assert 'value="Олег"' in page and "Иван" not in page
    out = b.client.get("/tables/accounts/export.csv")
    assert out.mimetype == "text/csv" and "1003;Олег;7" in out.data.decode("utf-8-sig")


def test_a_table_a_scenario_uses_is_not_deleted(panel):
    from appliance.scenarios import store as scenarios
    b = as_role(panel, "admin")
    import_file(b, CSV)
    db = db_of(panel)
    scenarios.create(db, "balance", "Balance", {"start": "f", "nodes": {
        "f": {"type": "lookup", "table": "accounts", "by": "ani", "next": {}}}})
    db.conn.commit()
    r = b.post("/tables/accounts/delete", {}, token_from="/tables/accounts")
    assert r.status_code == 302
    page = b.client.get(r.headers["Location"]).get_data(as_text=True)
    assert "balance" in page and datatables.table(db, "accounts")
    scenarios.save_draft(db, "balance", {"start": "", "nodes": {}})
    db.conn.commit()
    r = b.post("/tables/accounts/delete", {}, token_from="/tables/accounts")
    assert r.headers["Location"].endswith("/tables/") and datatables.table(db, "accounts") is None
