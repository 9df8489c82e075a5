"""The Clients pages and API through Flask's test client: roles (an operator
edits cards but cannot import, export or define fields), CSRF, a malformed
CSV changes nothing, a duplicate number is refused, the external CRM hook."""
from __future__ import annotations

import io
import re

from appliance.clients import store as clients
from appliance.clients import webhooks
from tests.web.conftest import as_role

CSV = "name;phones;company;tariff\r\nИван Петров;8 916 123-45-67;Ромашка;Премиум\r\n".encode("cp1251")


def db_of(panel):
    return panel.config["KORUND_INSTANCE"].open_store()


def add_field(panel):
    db = db_of(panel)
    clients.save_field(db, {"name": "tariff", "title": "Тариф", "kind": "choice", "choices": "Базовый\nПремиум"})
    db.close()


def upload(b, raw, name="c.csv"):
    token = b.token("/clients/import")
    return b.client.post("/clients/import", data={"csrf_token": token, "file": (io.BytesIO(raw), name)},
                         content_type="multipart/form-data")


def test_roles_on_pages(panel):
    for login in ("admin", "super", "anna"):
        assert as_role(panel, login).client.get("/clients/").status_code == 200
    tech = as_role(panel, "tech")
    assert tech.client.get("/clients/").status_code == 403
    assert tech.client.get("/api/v1/clients").status_code == 403
    anna = as_role(panel, "anna")
    for path in ("/clients/import", "/clients/export.csv", "/clients/fields", "/clients/integration"):
        assert anna.client.get(path).status_code == 403, path
        assert as_role(panel, "super").client.get(path).status_code == 403, path
    page = anna.client.get("/clients/").get_data(as_text=True)
    assert 'id="nav-clients"' in page and 'id="import"' not in page
    r = anna.client.post("/clients/import", data={"csrf_token": anna.token("/clients/"),
                                                  "file": (io.BytesIO(CSV), "c.csv")},
                         content_type="multipart/form-data")
    assert r.status_code == 403
    assert db_of(panel).execute("SELECT COUNT(*) FROM clients").fetchone()[0] == 0


def test_an_operator_adds_and_edits_a_card_with_a_custom_field(panel):
    add_field(panel)
    anna = as_role(panel, "anna")
    form = anna.client.get("/clients/new?phone=89161234567").get_data(as_text=True)
    assert 'value="Базовый"' in form and "89161234567" in form
    # the VIP mark and the personal operator steer the routing: not on an operator's form
    assert 'id="f-vip"' not in form and 'id="f-personal_operator"' not in form
    r = anna.post("/clients/new", {"name": "Иван Петров", "phones": "89161234567", "personal_operator": "1001",
                                   "cf_tariff": "Премиум"}, token_from="/clients/new")
    assert r.status_code == 302
    # an operator's card opens by one of its numbers
    card = r.headers["Location"]
    cid = int(re.search(r"/clients/(\d+)\?number=79161234567$", card).group(1))
    r = anna.post(card, {"name": "Иван Петров", "phones": "89161234567\n+7 495 111-22-33",
                         "cf_tariff": "Базовый", "vip": "1"})
    assert r.status_code == 302
    c = clients.get(db_of(panel), cid)
    assert c["phones"] == ["79161234567", "74951112233"] and c["fields"] == {"tariff": "Базовый"}
    assert c["updated_by"] == "anna" and c["personal_operator"] is None and not c["vip"]
    # An operator cannot delete a card.
    assert anna.post(card, {"action": "delete"}).status_code == 403
    # A bad value is shown next to its field and nothing changes.
    r = anna.post(card, {"name": "Иван", "phones": "89161234567", "cf_tariff": "Золото"})
    assert r.status_code == 400 and 'id="error-cf_tariff"' in r.get_data(as_text=True)
    assert clients.get(db_of(panel), cid)["fields"] == {"tariff": "Базовый"}


def test_csrf_is_required(panel):
    anna = as_role(panel, "anna")
    r = anna.client.post("/clients/new", data={"name": "X", "phones": "1234"})
    assert r.status_code == 400
    assert db_of(panel).execute("SELECT COUNT(*) FROM clients").fetchone()[0] == 0


def test_a_duplicate_number_is_refused(panel):
    db = db_of(panel)
    clients.save(db, {"name": "Первый", "phones": "+79161234567"})
    db.close()
    b = as_role(panel, "super")
    r = b.post("/clients/new", {"name": "Второй", "phones": "8 (916) 123-45-67"}, token_from="/clients/new")
    assert r.status_code == 400
    text = r.get_data(as_text=True)
    assert 'id="error-phones"' in text and "Первый" in text
    assert db_of(panel).execute("SELECT COUNT(*) FROM clients").fetchone()[0] == 1


def test_import_with_preview_then_confirm_and_export(panel):
    add_field(panel)
    admin = as_role(panel, "admin")
    r = upload(admin, CSV)
    assert r.status_code == 302
    preview = admin.client.get(r.headers["Location"]).get_data(as_text=True)
    assert "Windows-1251" in preview and "Иван Петров" in preview and 'id="report-ok"' in preview
    assert db_of(panel).execute("SELECT COUNT(*) FROM clients").fetchone()[0] == 0
    r = admin.post(r.headers["Location"], {"action": "confirm"})
    assert r.status_code == 302
    c = clients.find_by_number(db_of(panel), "+79161234567")
    assert c["company"] == "Ромашка" and c["fields"] == {"tariff": "Премиум"} and c["created_by"] == "admin"
    exported = admin.client.get("/clients/export.csv")
    assert exported.status_code == 200 and exported.data.startswith(b"\xef\xbb\xbf")
    assert "Иван Петров" in exported.data.decode("utf-8-sig")


def test_a_malformed_csv_changes_nothing(panel):
    db = db_of(panel)
    clients.save(db, {"name": "Старый", "phones": "84950000000"})
    db.close()
    admin = as_role(panel, "admin")
    bad = "name,phones\nНовый,89160000001\nДубль,89160000001\n\"broken,1\nУже есть,84950000000\n".encode()
    r = upload(admin, bad)
    assert r.status_code == 400
    text = r.get_data(as_text=True)
    assert 'id="report-bad"' in text and 'id="confirm"' not in text
    for raw in (b"\x00\x01\x02", b"", b"colour\nred\n", "name,phones\n\xff\xfe".encode("latin-1")):
        assert upload(admin, raw).status_code == 400
    assert [c["name"] for c in clients.search(db_of(panel))] == ["Старый"]
    r = admin.client.post("/clients/import", data={"csrf_token": admin.token("/clients/import")},
                          content_type="multipart/form-data")
    assert r.status_code == 400


def test_custom_fields_admin_form(panel):
    admin = as_role(panel, "admin")
    r = admin.post("/clients/fields", {"action": "add", "name": "tariff", "title": "Тариф", "kind": "choice",
                                       "choices": "А\nБ"})
    assert r.status_code == 302
    r = admin.post("/clients/fields", {"action": "add", "name": "Bad name", "kind": "text"})
    assert r.status_code == 400 and 'id="error-name"' in r.get_data(as_text=True)
    r = admin.post("/clients/fields", {"action": "save", "original": "tariff", "kind": "choice",
                                       "title": "Тариф", "choices": "А\nБ\nВ", "required": "1"})
    assert r.status_code == 302
    assert clients.custom_fields(db_of(panel))[0]["choices"] == ["А", "Б", "В"]
    assert admin.post("/clients/fields", {"action": "delete", "original": "tariff"}).status_code == 302
    assert clients.custom_fields(db_of(panel)) == []


def test_external_crm_settings(panel):
    admin = as_role(panel, "admin")
    r = admin.post("/clients/integration", {"action": "screen_pop", "group": "support",
                                            "screen_pop_url": "https://crm.example/card?phone={ani}"})
    assert r.status_code == 302
    assert clients.screen_pop_url(db_of(panel), "support", {"ani": "+7"}) == "https://crm.example/card?phone=%2B7"
    r = admin.post("/clients/integration", {"action": "screen_pop", "group": "support",
                                            "screen_pop_url": "javascript:alert(1)"})
    assert r.status_code == 400 and 'id="error-pop_support"' in r.get_data(as_text=True)
    r = admin.post("/clients/integration", {"action": "webhook", "webhook_url": "https://crm.example/hook"})
    assert r.status_code == 302
    cfg = webhooks.config(db_of(panel))
    assert cfg["url"] == "https://crm.example/hook" and cfg["secret"]
    assert cfg["secret"] in admin.client.get("/clients/integration").get_data(as_text=True)
    assert admin.post("/clients/integration", {"action": "webhook", "webhook_url": "ftp://x"}).status_code == 400


def test_api_by_number_and_validation(panel):
    anna = as_role(panel, "anna")
    token = anna.token("/clients/")
    h = {"X-CSRF-Token": token}
    r = anna.client.post("/api/v1/clients", json={"name": "Иван", "phones": ["89161234567"]}, headers=h)
    assert r.status_code == 201, r.get_data(as_text=True)
    cid = r.get_json()["id"]
    r = anna.client.get("/api/v1/clients/by-number/+7%20916%20123-45-67")
    assert r.status_code == 200 and r.get_json()["id"] == cid and r.get_json()["calls"] == []
    assert anna.client.get("/api/v1/clients/by-number/84950000000").status_code == 404
    r = anna.client.post("/api/v1/clients", json={"name": "Другой", "phones": ["+79161234567"]}, headers=h)
    assert r.status_code == 422 and r.get_json()["field"] == "phones"
    r = anna.client.put(f"/api/v1/clients/{cid}?number=89161234567", json={"email": "bad"}, headers=h)
    assert r.status_code == 422 and r.get_json()["field"] == "email"
    assert anna.client.get("/api/v1/clients?q=+7 916 123 45 67").get_json()[0]["id"] == cid
    assert as_role(panel, "super").client.get("/api/v1/clients?q=иван").get_json()[0]["id"] == cid
    assert anna.client.get("/api/v1/clients/abc").status_code == 404
