"""The outbound policy's page and API: administrators change it, supervisors
read it and try numbers, operators and technicians are refused; a bad value
is refused whole with the field named; a refused callback order shows why
on the callback orders page, and "try again" on it is refused and audited."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from appliance.callbacks import service as dialer, store as callbacks
from appliance.outbound import policy as outbound, store as outbound_store
from appliance.users import store as users
from tests.web.conftest import as_role
from web import outbound as page_module


def _db(panel):
    return panel.config["KORUND_INSTANCE"].open_store()


def test_operators_and_technicians_are_refused(panel):
    db = _db(panel)
    for login in ("anna", "tech"):
        b = as_role(panel, login)
        assert b.client.get("/outbound-policy").status_code == 403
        assert b.client.get("/api/v1/outbound-policy").status_code == 403
        assert b.client.post("/api/v1/outbound-policy/check", json={"number": "84951234567"}).status_code in (400, 403)
        assert b.client.put("/api/v1/outbound-policy", json={"scope": "international"}).status_code in (400, 403)
    for role, name in (("operator", "anna"), ("technician", "tech")):
        user = next(u for u in users.all_users(db) if u.username == name)
        token = users.create_token(db, user.id, "t")
        bearer = {"Authorization": f"Bearer {token}"}
        r = panel.test_client().put("/api/v1/outbound-policy", json={"scope": "international"}, headers=bearer)
        assert r.status_code == 403, role
        r = panel.test_client().post("/api/v1/outbound-policy/check", json={"number": "1"}, headers=bearer)
        assert r.status_code == 403, role
    assert outbound_store.load(db)["scope"] == "national"
    assert panel.test_client().get("/api/v1/outbound-policy").status_code == 401


def test_a_supervisor_reads_and_tries_numbers_but_cannot_change_it(panel):
    b = as_role(panel, "super")
    page = b.client.get("/outbound-policy").get_data(as_text=True)
    assert 'id="policy-now"' in page and "+7809" in page and 'id="policy-form"' not in page
    assert 'id="nav-outbound"' in page
    r = b.client.get("/outbound-policy?number=810441234567890&purpose=callback&caller=74951234567")
    assert 'id="check-result"' in r.get_data(as_text=True) and "international" in r.get_data(as_text=True)
    assert b.post("/outbound-policy", {"scope": "international"}, token_from="/outbound-policy").status_code == 403
    r = b.client.post("/api/v1/outbound-policy/check", json={"number": "84951234567", "purpose": "route"},
                      headers={"X-CSRF-Token": b.token("/outbound-policy")})
    assert r.status_code == 200 and r.get_json()["allowed"] is True and r.get_json()["kind"] == "national"
    assert outbound_store.load(_db(panel))["scope"] == "national"


def test_an_admin_changes_it_and_a_bad_value_changes_nothing(panel):
    b = as_role(panel, "admin")
    r = b.post("/outbound-policy", {"scope": "national", "allowed": "+375\n8800", "denied": "8809, 8803",
                                    "max_open": "1", "max_day": "0", "own_number_only": "1"},
               token_from="/outbound-policy")
    assert r.status_code == 302
    p = outbound_store.load(_db(panel))
    assert p["allowed"] == ["+375", "+7800"] and p["denied"] == ["+7809", "+7803"]
    assert (p["max_open"], p["max_day"], p["own_number_only"], p["changed_by"]) == (1, 0, True, "admin")
    r = b.post("/outbound-policy", {"scope": "national", "allowed": "", "denied": "88x09", "max_open": "1",
                                    "max_day": "0"}, token_from="/outbound-policy")
    assert r.status_code == 422 and 'id="error-denied"' in r.get_data(as_text=True)
    r = b.client.put("/api/v1/outbound-policy", json={"max_day": 5000},
                     headers={"X-CSRF-Token": b.token("/outbound-policy")})
    assert r.status_code == 422 and r.get_json()["field"] == "max_day"
    assert outbound_store.load(_db(panel))["denied"] == ["+7809", "+7803"]     # nothing changed
    db = _db(panel)
    assert db.execute("SELECT COUNT(*) FROM audit WHERE action = 'outbound policy changed'").fetchone()[0] == 1


def test_the_russian_page_says_why_a_number_is_refused(panel):
    b = as_role(panel, "super")
    db = _db(panel)
    db.execute("UPDATE users SET language = 'ru' WHERE username = 'super'")
    db.conn.commit()
    page = b.client.get("/outbound-policy?number=88091234567&purpose=callback").get_data(as_text=True)
    assert "Политика исходящих звонков" in page and "+7809" in page


def test_a_refused_order_shows_why_and_cannot_be_retried(panel):
    db = _db(panel)
    outbound_store.save(db, {"scope": "international"}, "admin")
    now = datetime.now(UTC)
    oid = callbacks.add(db, "support", "810441234567890", "74951234567", "", now - timedelta(minutes=1))
    outbound_store.save(db, {"scope": "national"}, "admin")
    order = {"id": oid, "number": "810441234567890", "ani": "74951234567"}
    decision = outbound.check(db, order["number"], "callback-attempt", order["ani"])
    assert dialer.refuse(db, order, decision, now)
    b = as_role(panel, "super")
    page = b.client.get("/callbacks").get_data(as_text=True)
    assert f'id="refused-{oid}"' in page and "international numbers are not allowed" in page
    r = b.post(f"/callbacks/{oid}/retry", {}, token_from="/callbacks")
    assert "international numbers are not allowed" in b.client.get(r.headers["Location"]).get_data(as_text=True)
    assert db.execute("SELECT status FROM callbacks WHERE id = ?", [oid]).fetchone()[0] == "failed"
    refusals = outbound_store.recent_refusals(db)
    assert [(r["number"], r["purpose"], r["by"]) for r in refusals[:2]] == [
        ("810441234567890", "callback-attempt", "super"), ("810441234567890", "callback-attempt", "dialer")]


def test_every_refusal_message_is_marked_for_translation():
    assert set(page_module.REFUSAL_MESSAGES) == set(outbound.MESSAGES.values())
