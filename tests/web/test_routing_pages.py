"""Routing (F7) in the panel and the API: operators' skills, a group's
routing settings, refusals that keep what was stored (Flask test client)."""
from __future__ import annotations

from appliance.routing import store as routing
from tests.web.conftest import as_role
from tests.web.test_agents import bearer


def store(panel):
    return panel.config["KORUND_INSTANCE"].open_store()


def test_operator_form_saves_skills_and_refuses_bad_levels(panel):
    admin = as_role(panel, "admin")
    form = {"name": "Anna Ivanova", "contact": "", "enabled": "1", "skills": "billing:8, en:5"}
    assert admin.post("/operators/1001", form).status_code == 302
    assert routing.skills(store(panel), "1001") == {"billing": 8, "en": 5}
    page = admin.client.get("/operators/1001").get_data(as_text=True)
    assert 'value="billing:8, en:5"' in page
    r = admin.post("/operators/1001", {**form, "skills": "billing:12"})
    assert r.status_code == 400 and 'id="error-skills"' in r.get_data(as_text=True)
    assert routing.skills(store(panel), "1001") == {"billing": 8, "en": 5}


def test_group_form_routing_settings(panel):
    routing.set_skills(store(panel), "1002", "billing:9")
    admin = as_role(panel, "admin")
    form = {"title": "Support", "strategy": "linear", "ring_timeout": "10", "is_default": "1",
            "members": ["1001", "1002"], "wrapup": "0", "max_wait": "600", "overflow": "",
            "noanswer_after": "1", "moh": "default",
            "skill": "billing", "skill_widen": "15", "skill_all": "45", "last_days": "7"}
    assert admin.post("/groups/support", form).status_code == 302
    assert routing.group_settings(store(panel), "support") == {
        "skill": "billing", "skill_widen": 15, "skill_all": 45, "last_days": 7}
    r = admin.post("/groups/support", {**form, "skill_all": "5"})
    assert r.status_code == 400 and 'id="error-skill_all"' in r.get_data(as_text=True)
    assert routing.group_settings(store(panel), "support")["skill_all"] == 45


def test_api_groups_carry_acd_and_routing_settings(panel):
    c, h = panel.test_client(), bearer(panel, "super")
    g = c.get("/api/v1/groups/support", headers=h).get_json()
    assert {"wrapup", "max_wait", "overflow_kind", "skill", "skill_widen", "skill_all", "last_days"} <= set(g)
    r = c.put("/api/v1/operators/1002", json={"skills": {"tech": 6}}, headers=h)
    assert r.status_code == 200 and r.get_json()["skills"] == {"tech": 6}
    r = c.put("/api/v1/groups/support", json={"skill": "tech", "skill_widen": 10, "skill_all": 30,
                                              "wrapup": 3}, headers=h)
    assert r.status_code == 200, r.get_data(as_text=True)
    assert (r.get_json()["skill"], r.get_json()["skill_all"], r.get_json()["wrapup"]) == ("tech", 30, 3)
    r = c.put("/api/v1/groups/support", json={"skill": "astrology"}, headers=h)
    assert r.status_code == 422 and r.get_json()["field"] == "skill"
