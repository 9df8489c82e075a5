"""Operator states over the API and on the status page, group ACD settings
and pause reasons in the panel (Flask test client, no Asterisk: changes are
stored and pushed by the events service's sync later)."""
from __future__ import annotations

from appliance.operators import states as operator_states
from appliance.users import store as users
from tests.web.conftest import as_role
from appliance.render import config as render_config


def bearer(panel, username):
    db = panel.config["KORUND_INSTANCE"].open_store()
    user = next(u for u in users.all_users(db) if u.username == username)
    return {"Authorization": f"Bearer {users.create_token(db, user.id, 'test')}"}


def test_supervisor_sets_and_lists_states(panel):
    c, h = panel.test_client(), bearer(panel, "super")
    r = c.post("/api/v1/agents/1001/state", json={"state": "paused", "reason": 2}, headers=h)
    assert r.status_code == 200, r.get_data(as_text=True)
    assert (r.get_json()["state"], r.get_json()["reason"]) == ("paused", "training")
    rows = {a["extension"]: a for a in c.get("/api/v1/agents", headers=h).get_json()}
    assert rows["1001"]["state"] == "paused" and rows["1002"]["state"] == "ready"
    assert c.post("/api/v1/agents/1001/state", json={"state": "logged_out"}, headers=h).get_json()["state"] == "logged_out"
    db = panel.config["KORUND_INSTANCE"].open_store()
    log = db.execute("SELECT state, reason, ended_at IS NULL FROM operator_state_log ORDER BY id").fetchall()
    assert log == [("paused", "training", 0), ("logged_out", None, 1)]
    assert operator_states.ready_operators(db, "support") == ["1002"]


def test_bad_state_changes_are_refused_clearly(panel):
    c, h = panel.test_client(), bearer(panel, "admin")
    r = c.post("/api/v1/agents/1001/state", json={"state": "paused", "reason": "siesta"}, headers=h)
    assert r.status_code == 422 and r.get_json()["field"] == "reason"
    assert "siesta" in r.get_json()["message"]
    r = c.post("/api/v1/agents/1001/state", json={"state": "asleep"}, headers=h)
    assert r.status_code == 422 and r.get_json()["field"] == "state"
    assert c.post("/api/v1/agents/9999/state", json={"state": "ready"}, headers=h).status_code == 404
    assert c.get("/api/v1/agents", headers=h).get_json()[0]["state"] == "ready"


def test_an_operator_changes_only_their_own_state(panel):
    c, h = panel.test_client(), bearer(panel, "anna")  # anna is operator 1001
    assert c.post("/api/v1/agents/1001/state", json={"state": "paused", "reason": "lunch"},
                  headers=h).status_code == 200
    assert c.post("/api/v1/agents/1002/state", json={"state": "logged_out"}, headers=h).status_code == 403
    tech = bearer(panel, "tech")
    assert c.get("/api/v1/agents", headers=tech).status_code == 403


def test_status_page_shows_states_to_supervisors_with_buttons(panel):
    sup = as_role(panel, "super")
    db = panel.config["KORUND_INSTANCE"].open_store()
    operator_states.pause(db, None, "1002", operator_states.NO_ANSWER)
    page = sup.client.get("/").get_data(as_text=True)
    assert 'id="agent-states"' in page and "no answer" in page and "agents.js" in page
    r = sup.post("/agents/1002/state", {"state": "ready"}, token_from="/")
    assert r.status_code == 302
    assert operator_states.state(db, "1002")["state"] == "ready"
    tech = as_role(panel, "tech")
    assert 'id="agent-states"' not in tech.client.get("/").get_data(as_text=True)
    assert tech.post("/agents/1002/state", {"state": "logged_out"}, token_from="/").status_code == 403


def test_group_form_saves_acd_settings_and_refuses_bad_ones(panel):
    admin = as_role(panel, "admin")
    form = {"title": "Support", "strategy": "linear", "ring_timeout": "10", "is_default": "1",
            "members": ["1001", "1002"], "wrapup": "5", "max_wait": "60", "overflow": "",
            "announce_position": "1", "noanswer_pause": "1", "noanswer_after": "2"}
    assert admin.post("/groups/support", form).status_code == 302
    g = render_config.load(panel.config["KORUND_INSTANCE"].open_store()).default_group
    assert (g.strategy, g.wrapup, g.max_wait, g.announce_position, g.announce_holdtime,
            g.noanswer_pause, g.noanswer_after) == ("linear", 5, 60, True, False, True, 2)
    for bad, field_ in (({"wrapup": "-1"}, "wrapup"), ({"max_wait": "lots"}, "max_wait"),
                        ({"overflow": "group:support"}, "overflow"), ({"overflow": "group:nowhere"}, "overflow"),
                        ({"noanswer_after": "0"}, "noanswer_after"), ({"strategy": "loudest"}, "strategy")):
        r = admin.post("/groups/support", {**form, **bad})
        assert r.status_code == 400, bad
        assert f'id="error-{field_}"' in r.get_data(as_text=True), bad
    g = render_config.load(panel.config["KORUND_INSTANCE"].open_store()).default_group
    assert (g.wrapup, g.max_wait, g.overflow_kind) == (5, 60, "")


def test_pause_reasons_page(panel):
    sup = as_role(panel, "super")
    assert sup.post("/pause-reasons", {"code": "4", "name": "meeting"}).status_code == 302
    page = sup.client.get("/pause-reasons").get_data(as_text=True)
    assert "meeting" in page and "no answer" in page
    r = sup.post("/pause-reasons", {"code": "4", "name": "coffee"})
    assert r.status_code == 400 and "already taken" in r.get_data(as_text=True)
    r = sup.post("/pause-reasons", {"code": "9", "action": "delete"})
    assert r.status_code == 400 and "built-in" in r.get_data(as_text=True)
    assert sup.post("/pause-reasons", {"code": "4", "action": "delete"}).status_code == 302
    assert as_role(panel, "tech").client.get("/pause-reasons").status_code == 403
