"""Записи разговоров → Политика: admin only, CSRF, policies saved and
deleted (and audit-logged), bad input refused with the field and nothing
saved, the disk guard's floors, disk usage; the on-demand API's roles."""
from __future__ import annotations

import re

from appliance.recordings import store as recordings
from appliance.base import store

from .conftest import as_role


def db_of(panel):
    return store.open_store(panel.config["KORUND_INSTANCE"].db_path)


def test_only_admins_see_the_page_and_the_nav_link(panel):
    admin = as_role(panel, "admin")
    page = admin.client.get("/recording-policy")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="policies"' in html and 'id="policy-default-"' in html and 'id="usage"' in html
    assert 'id="nav-recording-policy"' in html
    assert 'id="nav-recording-policy"' not in as_role(panel, "super").client.get("/recordings").get_data(as_text=True)
    for user in ("super", "tech", "anna"):
        b = as_role(panel, user)
        assert b.client.get("/recording-policy").status_code == 403
        assert b.post("/recording-policy", {"scope": "default", "mode": "none"},
                      token_from="/profile").status_code == 403
    assert panel.test_client().get("/recording-policy").status_code == 302


def test_a_policy_is_saved_changed_and_deleted(panel):
    admin = as_role(panel, "admin")
    r = admin.post("/recording-policy", {"scope": "group", "target": "support", "mode": "sampled",
                                         "sample_percent": "25", "two_channel": "1", "retention_days": "90"})
    assert r.status_code == 302
    html = admin.client.get("/recording-policy").get_data(as_text=True)
    row = re.search(r'<tr id="policy-group-support">(.*?)</tr>', html, re.S).group(1)
    assert "25 %" in row and "90" in row
    db = db_of(panel)
    p = next(p for p in recordings.policies(db) if p["scope"] == "group")
    assert p == {**p, "mode": "sampled", "sample_percent": 25, "two_channel": True, "retention_days": 90}
    # the configuration now differs from what Asterisk runs: the Apply bar says so
    assert "extensions.conf" in html
    r = admin.post("/recording-policy/delete", {"scope": "group", "target": "support"},
                   token_from="/recording-policy")
    assert r.status_code == 302
    assert [p["scope"] for p in recordings.policies(db)] == ["default"]
    actions = [a[0] for a in db.execute("SELECT action FROM audit WHERE action LIKE 'recording policy%'")]
    assert actions == ["recording policy set", "recording policy deleted"]


def test_bad_input_names_the_field_and_saves_nothing(panel):
    admin = as_role(panel, "admin")
    for form, field in (({"scope": "group", "target": "nosuch", "mode": "all"}, "target"),
                        ({"scope": "number", "target": "1;x", "mode": "all"}, "target"),
                        ({"scope": "group", "target": "support", "mode": "sampled",
                          "sample_percent": "150"}, "sample_percent")):
        r = admin.post("/recording-policy", form)
        assert r.status_code == 422
        assert f'id="error-{field}"' in r.get_data(as_text=True)
    assert [p["scope"] for p in recordings.policies(db_of(panel))] == ["default"]
    # the default policy cannot be deleted
    admin.post("/recording-policy/delete", {"scope": "default", "target": ""}, token_from="/recording-policy")
    assert [p["scope"] for p in recordings.policies(db_of(panel))] == ["default"]
    # no CSRF token, no change
    r = admin.client.post("/recording-policy", data={"scope": "default", "mode": "none"})
    assert r.status_code == 400
    assert recordings.policies(db_of(panel))[0]["mode"] == "all"


def test_disk_guard_floors(panel):
    admin = as_role(panel, "admin")
    r = admin.post("/recording-policy/guard", {"warn_free_percent": "5", "delete_free_percent": "10"},
                   token_from="/recording-policy")
    assert r.status_code == 422 and 'id="error-delete_free_percent"' in r.get_data(as_text=True)
    r = admin.post("/recording-policy/guard", {"warn_free_percent": "25", "delete_free_percent": "10"},
                   token_from="/recording-policy")
    assert r.status_code == 302
    assert recordings.guard_settings(db_of(panel)) == {"warn_free_percent": 25, "delete_free_percent": 10}


def test_on_demand_api_roles_and_a_call_not_in_progress(panel):
    for user in ("admin", "super", "anna"):
        b = as_role(panel, user)
        token = b.token("/profile")
        r = b.client.post("/api/v1/calls/1700000000.1/recording", json={"action": "start"},
                          headers={"X-CSRF-Token": token})
        assert r.status_code == 422 and r.get_json()["field"] == "action", (user, r.get_json())
        r = b.client.post("/api/v1/calls/1700000000.1/recording", json={"action": "erase"},
                          headers={"X-CSRF-Token": token})
        assert r.status_code == 422
        assert b.client.get("/api/v1/calls/1700000000.1/recording").get_json()["live"] is False
    tech = as_role(panel, "tech")
    assert tech.client.get("/api/v1/calls/1700000000.1/recording").status_code == 403


def test_the_status_page_lists_live_calls_with_their_recording_buttons(panel):
    db = db_of(panel)
    with db.atomic():
        db.execute("INSERT INTO offers (uniqueid, linkedid, extension, ani, grp, channel, dest_channel, at, state) "
                   "VALUES ('1700000009.2', '1700000009.1', '1001', '4951234567', 'support', "
                   "'PJSIP/pstn-00000001', 'PJSIP/1001-00000002', '2027-03-10T12:00:00+00:00', 'answered')")
    sup = as_role(panel, "super")
    html = sup.client.get("/").get_data(as_text=True)
    row = re.search(r'<tr id="live-1700000009.1">(.*?)</tr>', html, re.S).group(1)
    assert "1001" in row and "4951234567" in row and 'value="start"' in row
    assert 'id="live-calls"' not in as_role(panel, "tech").client.get("/").get_data(as_text=True)
    assert as_role(panel, "anna").post("/recording-policy/live/1700000009.1", {"action": "start"},
                                       token_from="/profile").status_code == 403
