"""The Schedules page and API (F5): roles, CSRF, bad input refused with a
clear message and nothing lost, delete refused while in use, numbers bound
by schedule."""
from __future__ import annotations

import re

from appliance.schedules import store as schedules
from appliance.scenarios import store as scenarios
from tests.web.conftest import as_role

FORM = {"name": "office", "title": "Office hours", "timezone": "Europe/Moscow",
        "day1": "09:00-13:00, 14:00-18:00", "day2": "09:00-18:00", "day3": "09:00-18:00",
        "day4": "09:00-18:00", "day5": "09:00-16:45", "day6": "", "day7": "",
        "holidays": "01-01 New Year\n2027-05-10", "workdays": "2027-11-06 5 transferred"}
GRAPH = {"start": "p", "nodes": {"p": {"type": "play", "prompts": ["x"], "next": {"next": "h"}},
                                "h": {"type": "hangup"}}}


def store(panel):
    return panel.config["KORUND_INSTANCE"].open_store()


def test_roles(panel):
    for who in ("admin", "super"):
        b = as_role(panel, who)
        assert b.client.get("/schedules/").status_code == 200
        assert b.client.get("/schedules/new").status_code == 200
        assert b.client.get("/api/v1/schedules").status_code == 200
    for who in ("tech", "anna"):
        b = as_role(panel, who)
        assert b.client.get("/schedules/").status_code == 403
        assert b.post("/schedules/new", FORM, token_from="/profile").status_code == 403
        assert b.client.get("/api/v1/schedules").status_code == 403
    anonymous = panel.test_client()
    assert anonymous.get("/schedules/").status_code == 302
    assert anonymous.get("/api/v1/schedules").status_code == 401


def test_nav_link_only_for_editors(panel):
    assert 'id="nav-schedules"' in as_role(panel, "super").client.get("/profile").get_data(as_text=True)
    assert 'id="nav-schedules"' not in as_role(panel, "tech").client.get("/profile").get_data(as_text=True)


def test_csrf_is_required(panel):
    b = as_role(panel, "admin")
    assert b.client.post("/schedules/new", data=FORM).status_code == 400
    assert b.client.post("/schedules/numbers", data={"dnis": "100", "target": "group:support"}).status_code == 400
    assert b.client.post("/api/v1/schedules", json={**FORM}).status_code == 400
    assert schedules.load_all(store(panel)) == []


def test_create_edit_and_see_it(panel):
    b = as_role(panel, "admin")
    r = b.post("/schedules/new", FORM)
    assert r.status_code == 302, r.get_data(as_text=True)
    s = schedules.load(store(panel), "office")
    assert s.weekly[1] == ((540, 780), (840, 1080)) and 6 not in s.weekly
    assert [h.date for h in s.holidays] == ["01-01", "2027-05-10"] and s.holidays[0].title == "New Year"
    assert s.workdays[0].date == "2027-11-06" and s.workdays[0].like == 5
    page = b.client.get("/schedules/").get_data(as_text=True)
    assert "Office hours" in page and "09:00-13:00, 14:00-18:00" in page
    form = b.client.get("/schedules/office").get_data(as_text=True)
    assert 'value="09:00-13:00, 14:00-18:00"' in form and "2027-11-06 5 transferred" in form
    r = b.post("/schedules/office", {**FORM, "name": "ignored", "day6": "10:00-14:00"})
    assert r.status_code == 302
    assert schedules.load(store(panel), "office").weekly[6] == ((600, 840),)
    db = store(panel)
    assert db.execute("SELECT COUNT(*) FROM audit WHERE action LIKE 'schedule%'").fetchone()[0] == 2


def test_bad_input_is_refused_clearly_and_nothing_is_lost(panel):
    b = as_role(panel, "admin")
    b.post("/schedules/new", FORM)
    for change, field, words in (
            ({"day3": "09:00-13:00, 12:00-18:00"}, "day3", "overlap"),
            ({"day2": "9 to 6"}, "day2", "is not a time interval"),
            ({"timezone": "Moon/Base"}, "timezone", "is not a known timezone"),
            ({"holidays": "2027-02-30"}, "holidays", "is not a date"),
            ({"workdays": "2027-11-07 6"}, "workdays", "which has none"),
            ({"workdays": "2027-01-01"}, "workdays", "both a holiday and a working day")):
        r = b.post("/schedules/office", {**FORM, **change})
        assert r.status_code == 400
        page = r.get_data(as_text=True)
        error = re.search(rf'id="error-{field}">([^<]+)<', page)
        assert error and words in error.group(1), (change, page[-3000:])
        value = next(iter(change.values()))
        assert value.split("\n")[0] in page  # what was typed is still there
    assert schedules.load(store(panel), "office").weekly[3] == ((540, 1080),)
    r = b.post("/schedules/new", {**FORM, "name": "Office!"})
    assert r.status_code == 400 and 'id="error-name"' in r.get_data(as_text=True)


def test_russian_messages(panel):
    b = as_role(panel, "admin")
    b.client.post("/language", data={"lang": "ru", "csrf_token": b.token("/profile"), "next": "/"})
    r = b.post("/schedules/new", {**FORM, "day1": "09:00-09:00"})
    assert r.status_code == 400
    assert "пуст" in r.get_data(as_text=True)


def test_numbers_bound_by_schedule_and_delete_refused_while_used(panel):
    db = store(panel)
    for name in ("day", "night"):
        scenarios.create(db, name, name, GRAPH)
        scenarios.publish(db, name)
    db.close()
    b = as_role(panel, "super")
    b.post("/schedules/new", FORM)
    r = b.post("/schedules/numbers", {"dnis": "100", "target": "scenario:day", "schedule": "office",
                                      "otherwise": "group:support"}, token_from="/schedules/")
    assert r.status_code == 302
    assert scenarios.bindings(store(panel)) == [{"dnis": "100", "scenario": "day", "group": None,
                                                 "schedule": "office", "otherwise_scenario": None,
                                                 "otherwise_group": "support"}]
    page = b.client.get("/schedules/").get_data(as_text=True)
    assert 'id="binding-100"' in page and 'id="used-office"' in page
    # a schedule without an 'otherwise' is refused, the old binding stays, the form keeps the input
    r = b.post("/schedules/numbers", {"dnis": "100", "target": "scenario:night", "schedule": "office"},
               token_from="/schedules/")
    assert r.status_code == 400
    assert re.search(r'id="error-otherwise">[^<]*closed', r.get_data(as_text=True))
    assert scenarios.bindings(store(panel))[0]["scenario"] == "day"
    r = b.post("/schedules/numbers", {"dnis": "1;00", "target": "group:support"}, token_from="/schedules/")
    assert r.status_code == 400 and 'id="error-dnis"' in r.get_data(as_text=True)
    # delete refused while bound, saying where
    r = b.post("/schedules/office", {**FORM, "action": "delete"})
    assert r.status_code == 400
    assert re.search(r'id="error-form">[^<]*numbers 100;', r.get_data(as_text=True))
    assert schedules.load(store(panel), "office")
    r = b.post("/schedules/numbers/delete", {"dnis": "100"}, token_from="/schedules/")
    assert r.status_code == 302 and scenarios.bindings(store(panel)) == []
    r = b.post("/schedules/office", {**FORM, "action": "delete"})
    assert r.status_code == 302 and schedules.load(store(panel), "office") is None


def test_api(panel):
    b = as_role(panel, "admin")
    headers = {"X-CSRF-Token": b.token("/profile")}
    body = {"name": "night", "title": "Night", "weekly": {"1": ["20:00-08:00"]}, "holidays": ["01-01"]}
    r = b.client.post("/api/v1/schedules", json=body, headers=headers)
    assert r.status_code == 201 and r.get_json()["weekly"]["1"] == ["20:00-08:00"]
    assert r.get_json()["timezone"] == "Europe/Moscow"
    r = b.client.put("/api/v1/schedules/night", json={"weekly": {"1": ["25:00-08:00"]}}, headers=headers)
    assert r.status_code == 422 and r.get_json()["field"] == "weekly.1"
    assert schedules.load(store(panel), "night").weekly[1] == ((1200, 480),)
    r = b.client.put("/api/v1/schedules/night", json={"title": "Nights"}, headers=headers)
    assert r.status_code == 200 and r.get_json()["holidays"][0]["date"] == "01-01"
    assert b.client.get("/api/v1/schedules/nope").status_code == 404
    r = b.client.put("/api/v1/bindings", json={"dnis": "200", "group": "support", "schedule": "night",
                                                "otherwise_group": "nope"}, headers=headers)
    assert r.status_code == 422 and r.get_json()["field"] == "otherwise"
    r = b.client.put("/api/v1/bindings", json={"dnis": "200", "group": ["support"]}, headers=headers)
    assert r.status_code == 422
    r = b.client.put("/api/v1/bindings", json={"dnis": "200", "group": "support", "schedule": "night",
                                                "otherwise_group": "support"}, headers=headers)
    assert r.status_code == 200 and r.get_json()[0]["schedule"] == "night"
    r = b.client.delete("/api/v1/schedules/night", headers=headers)
    assert r.status_code == 422 and "numbers 200;" in r.get_json()["message"]
    assert b.client.delete("/api/v1/bindings/200", headers=headers).status_code == 204
    assert b.client.delete("/api/v1/bindings/200", headers=headers).status_code == 404
    assert b.client.delete("/api/v1/schedules/night", headers=headers).status_code == 204
