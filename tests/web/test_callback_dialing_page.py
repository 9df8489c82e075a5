"""The callback orders page's dialing additions: attempts and next attempt
time, overdue orders highlighted, "try again" for supervisors, the dialing
limits form (validated, all or nothing, audited), and the retry API."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from appliance.callbacks import store as callbacks
from appliance.callbacks import service as dialer
from appliance.users import store as users
from tests.web.conftest import as_role


def seed(inst) -> dict:
    db = inst.open_store()
    now = datetime.now(timezone.utc)
    over = callbacks.add(db, "support", "74950000001", "", "", now - timedelta(hours=3), now - timedelta(hours=1))
    failed = callbacks.add(db, "support", "74950000002", "", "", now - timedelta(minutes=30))
    for result in ("no_answer", "busy", "no_answer"):
        attempt = dialer.claim(db, failed, "1001", now)
        dialer.finish(db, attempt["id"], result, now)
    db.close()
    return {"overdue": over, "failed": failed}


def test_the_page_shows_attempts_overdue_and_retries(panel):
    inst = panel.config["KORUND_INSTANCE"]
    ids = seed(inst)
    b = as_role(panel, "super")
    page = b.client.get("/callbacks").get_data(as_text=True)
    assert f'id="overdue-{ids["overdue"]}"' in page and 'class="overdue"' in page
    assert f'id="overdue-{ids["failed"]}"' not in page          # no slot end: never overdue
    assert "no answer" in page and "busy" in page and "tries counted: 3" in page
    assert f'id="retry-{ids["failed"]}"' in page
    url = f"/callbacks/{ids['failed']}/retry"
    assert b.client.post(url).status_code == 400                # no CSRF token
    b.post(url, {}, token_from="/callbacks")
    db = inst.open_store()
    row = db.execute("SELECT status, tries, next_at FROM callbacks WHERE id = ?", [ids["failed"]]).fetchone()
    assert row[0] == "new" and row[1] == 0 and row[2]
    assert db.execute("SELECT COUNT(*) FROM audit WHERE action = 'callback retried'").fetchone()[0] == 1
    callbacks.set_status(db, ids["overdue"], "done", "super")
    r = b.post(f"/callbacks/{ids['overdue']}/retry", {}, token_from="/callbacks")
    assert "already done" in b.client.get(r.headers["Location"]).get_data(as_text=True)
    assert b.post("/callbacks/999/retry", {}, token_from="/callbacks").status_code == 404


def test_operators_and_technicians_cannot_retry(panel):
    ids = seed(panel.config["KORUND_INSTANCE"])
    for login in ("anna", "tech"):
        b = as_role(panel, login)
        assert b.client.post(f"/callbacks/{ids['failed']}/retry").status_code in (400, 403)
        assert b.client.get("/callbacks").status_code == 403


def test_the_limits_form_validates_and_saves_all_or_nothing(panel):
    inst = panel.config["KORUND_INSTANCE"]
    b = as_role(panel, "super")
    good = {"max_attempts": "4", "retry_seconds": "120", "client_ring": "30", "operator_ring": "15"}
    r = b.post("/callbacks/dialing", {**good, "retry_seconds": "2"}, token_from="/callbacks")
    page = b.client.get(r.headers["Location"]).get_data(as_text=True)
    assert "must be a whole number from 5 to 86400" in page
    db = inst.open_store()
    assert dialer.limits(db)["max_attempts"] == dialer.LIMITS["max_attempts"][0]
    b.post("/callbacks/dialing", good, token_from="/callbacks")
    assert dialer.limits(db) == {k: int(v) for k, v in good.items()}
    b.post("/callbacks/dialing", {"limits_group": "support", "max_attempts": "1", "retry_seconds": "",
                                  "client_ring": "", "operator_ring": ""}, token_from="/callbacks")
    assert dialer.limit(db, "max_attempts", "support") == 1 and dialer.limit(db, "retry_seconds", "support") == 120
    r = b.post("/callbacks/dialing", {**good, "limits_group": "nosuch"}, token_from="/callbacks")
    assert "There is no group nosuch" in b.client.get(r.headers["Location"]).get_data(as_text=True)
    page = b.client.get("/callbacks").get_data(as_text=True)
    assert 'id="dialing-limits"' in page
    assert db.execute("SELECT COUNT(*) FROM audit WHERE action = 'callback dialing limits changed'").fetchone()[0] == 2


def test_the_api_shows_dialing_and_retries(panel):
    ids = seed(panel.config["KORUND_INSTANCE"])
    db = panel.config["KORUND_INSTANCE"].open_store()
    h = {"Authorization": f"Bearer {users.create_token(db, 1, 't')}"}
    c = panel.test_client()
    listed = {o["id"]: o for o in c.get("/api/v1/callbacks", headers=h).get_json()}
    assert listed[ids["overdue"]]["overdue"] is True and listed[ids["failed"]]["status"] == "failed"
    assert [a["result"] for a in listed[ids["failed"]]["attempts"]] == ["no_answer", "busy", "no_answer"]
    r = c.post(f"/api/v1/callbacks/{ids['failed']}/retry", headers=h)
    assert r.status_code == 200 and r.get_json()["status"] == "new" and r.get_json()["tries"] == 0
    assert c.post("/api/v1/callbacks/999/retry", headers=h).status_code == 404
    callbacks.set_status(db, ids["overdue"], "cancelled", "x")
    r = c.post(f"/api/v1/callbacks/{ids['overdue']}/retry", headers=h)
    assert r.status_code == 422 and r.get_json()["field"] == "status"
