"""The Lines page's test dial through Flask (no Asterisk): technicians and
administrators get it, supervisors and operators are refused on the page
and the API; every bad value is refused with its field named, nothing is
dialled, and a number the outbound policy refuses is audit-logged. Real test
dials: tests/telephony/test_test_dial.py and tests/web/test_browser_test_dial.py."""
from __future__ import annotations

import html

import pytest

from appliance.lines import store as spans
from appliance.users import store as users
from tests.web.conftest import as_role


def _db(panel):
    return panel.config["KORUND_INSTANCE"].open_store()


def _spans(db) -> None:
    """Span 1 a trunk, span 2 disabled, span 3 a loop test's carrier end."""
    for number, extra in ((1, {}), (2, {"enabled": "0"}), (3, {"role": "test_carrier"})):
        s = spans.validate({"span": number, "name": f"E1 {number}", "signalling": "pri_cpe", "framing": "ccs",
                            "coding": "hdb3", "channels": "1-15,17-31", "timing": str(number), **extra})
        spans.save(db, s, create=True)


def _audit(db, action: str) -> list:
    return db.execute("SELECT username, target, details FROM audit WHERE action = ?", [action]).fetchall()


def test_supervisors_and_operators_are_refused(panel):
    db = _db(panel)
    _spans(db)
    sup = as_role(panel, "super")
    page = sup.client.get("/lines/").get_data(as_text=True)
    assert 'id="span-list"' in page and 'id="test-dial"' not in page
    for login in ("super", "anna"):
        b = as_role(panel, login)
        r = b.post("/lines/test-dial", {"number": "84951234567", "target": "span:1"}, token_from="/login")
        assert r.status_code == 403, login
        csrf = {"X-CSRF-Token": b.token("/login")}
        assert b.client.post("/api/v1/test-dials", json={"number": "84951234567", "span": 1},
                             headers=csrf).status_code == 403, login
        assert b.client.get("/api/v1/test-dials/0123456789").status_code == 403, login
    assert as_role(panel, "anna").client.get("/lines/").status_code == 403
    for name in ("super", "anna"):
        user = next(u for u in users.all_users(db) if u.username == name)
        bearer = {"Authorization": f"Bearer {users.create_token(db, user.id, 't')}"}
        r = panel.test_client().post("/api/v1/test-dials", json={"number": "84951234567", "span": 1},
                                     headers=bearer)
        assert r.status_code == 403, name
    assert panel.test_client().post("/api/v1/test-dials", json={"number": "1"}).status_code in (400, 401)
    assert panel.test_client().get("/api/v1/test-dials/0123456789").status_code == 401
    assert _audit(db, "test dial") == []


def test_a_technician_sees_the_routes_and_the_trunk_spans_to_choose_from(panel):
    _spans(_db(panel))
    for login in ("tech", "admin"):
        page = as_role(panel, login).client.get("/lines/").get_data(as_text=True)
        assert 'id="test-dial"' in page and 'id="test-dial-form"' in page
        for value in ("route:national", "route:local", "route:international", "route:emergency", "span:1"):
            assert f'value="{value}"' in page, value
        # a disabled span and a loop test's carrier end are not offered
        assert 'value="span:2"' not in page and 'value="span:3"' not in page
        assert 'id="test-dial-result"' not in page


BAD = [
    ({"number": "8495123456a", "target": "route:national"}, "number", "is not a phone number"),
    ({"number": "8 495 123-45-67", "target": "route:national"}, "number", "is not a phone number"),
    ({"number": "", "target": "route:national"}, "number", "is not a phone number"),
    ({"number": "84951234567", "target": ""}, "target", "either an outbound route or a span"),
    ({"number": "84951234567", "target": "route:nowhere"}, "target", "no outbound route 'nowhere'"),
    ({"number": "84951234567", "target": "route:local"}, "number", "matches none of the route local"),
    ({"number": "84951234567", "target": "span:2"}, "target", "span 2 is not an enabled trunk span"),
    ({"number": "84951234567", "target": "span:3"}, "target", "span 3 is not an enabled trunk span"),
    ({"number": "84951234567", "target": "span:1;Hangup"}, "target", "is not an enabled trunk span"),
    ({"number": "84951234567", "target": "route:national)"}, "target", "no outbound route"),
    # the outbound policy's own refusals: premium rate, abroad
    ({"number": "88091234567", "target": "route:national"}, "number", "refused by the outbound policy"),
    ({"number": "+441234567890", "target": "route:international"}, "number", "international numbers"),
]


@pytest.mark.parametrize("form, field, words", BAD)
def test_a_bad_value_is_refused_with_its_field_and_nothing_is_dialled(panel, form, field, words):
    db = _db(panel)
    _spans(db)
    b = as_role(panel, "tech")
    r = b.post("/lines/test-dial", form, token_from="/lines/")
    assert r.status_code == 400
    page = html.unescape(r.get_data(as_text=True))
    assert f'id="error-{field}"' in page and words in page
    assert f'value="{form["number"]}"' in page or not form["number"]     # what was typed stays
    r = b.client.post("/api/v1/test-dials", headers={"X-CSRF-Token": b.token("/lines/")},
                      json={"number": form["number"], **({"route": form["target"][6:]} if form["target"].startswith("route:")
                                                         else {"span": form["target"][5:]} if form["target"] else {})})
    assert r.status_code == 422 and r.get_json()["field"] == field, r.get_json()
    assert _audit(db, "test dial") == []


def test_a_number_the_policy_refuses_is_audit_logged_as_a_refusal(panel):
    db = _db(panel)
    b = as_role(panel, "tech")
    b.post("/lines/test-dial", {"number": "88091234567", "target": "route:national"}, token_from="/lines/")
    rows = db.execute("SELECT username, details FROM audit WHERE action = 'outbound refused'").fetchall()
    assert rows and "test dial" in rows[-1][1] and "88091234567" in rows[-1][1]


def test_without_asterisk_it_says_so_and_places_nothing(panel):
    db = _db(panel)
    b = as_role(panel, "admin")
    r = b.post("/lines/test-dial", {"number": "84951234567", "target": "route:national"}, token_from="/lines/")
    assert r.status_code == 503
    assert "Asterisk is not running" in r.get_data(as_text=True)
    r = b.client.post("/api/v1/test-dials", json={"number": "84951234567", "route": "national"},
                      headers={"X-CSRF-Token": b.token("/lines/")})
    assert r.status_code == 503 and "Asterisk is not running" in r.get_json()["message"]
    assert b.client.get("/api/v1/test-dials/0123456789").status_code == 404
    assert _audit(db, "test dial") == []


def test_russian_words_for_a_russian_technician(panel):
    db = _db(panel)
    tech = next(u for u in users.all_users(db) if u.username == "tech")
    users.update(db, tech.id, language="ru")
    b = as_role(panel, "tech")
    page = b.client.get("/lines/").get_data(as_text=True)
    assert "Пробный вызов" in page
    r = b.post("/lines/test-dial", {"number": "84951234567", "target": ""}, token_from="/lines/")
    assert "маршрут" in r.get_data(as_text=True)
