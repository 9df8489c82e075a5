"""The scenario list and editor pages, and the node types the editor is built
from: roles, CSRF, creating a scenario, translated labels, node positions."""
from __future__ import annotations

import json
import re

from appliance.scenarios import graph as graphs
from appliance.scenarios import simulate
from appliance.scenarios.nodes import TYPES
from tests.web.conftest import as_role

KINDS = {"text", "int", "bool", "prompts", "choice", "list", "days", "variable", "table", "scenario",
         "group", "operator"}
# The node types this editor's change gave fields to.
OURS = ("play", "menu", "input", "say", "set", "route", "hangup", "lookup", "goto")


def editor_data(page: str) -> dict:
    return json.loads(re.search(r'<script type="application/json" id="editor-data">(.*?)</script>',
                                page, re.S).group(1))


def test_admin_creates_a_scenario_and_opens_the_editor(panel):
    b = as_role(panel, "admin")
    r = b.post("/scenarios/", {"name": "sales", "title": "Sales line"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/scenarios/sales")
    page = b.client.get("/scenarios/sales").get_data(as_text=True)
    data = editor_data(page)
    assert data["name"] == "sales" and data["csrf"] and data["strings"]["save"] == "Save draft"
    assert "/static/editor.js" in page and "<script>" not in page   # no inline script (CSP)
    listing = b.client.get("/scenarios/").get_data(as_text=True)
    assert "sales" in listing and "Sales line" in listing and "not published" in listing


def test_a_bad_name_is_explained_and_nothing_is_saved(panel):
    b = as_role(panel, "super")
    r = b.post("/scenarios/", {"name": "Bad Name;", "title": "x"})
    assert r.status_code == 400
    assert 'id="error-name"' in r.get_data(as_text=True)
    assert b.client.get("/api/v1/scenarios").get_json() == []


def test_forms_and_api_calls_need_the_csrf_token(panel):
    b = as_role(panel, "admin")
    r = b.client.post("/scenarios/", data={"name": "forged", "title": "Forged"})
    assert r.status_code == 400
    assert b.client.post("/api/v1/scenarios", json={"name": "forged", "title": "Forged"}).status_code == 400
    token = editor_data(b.client.get(_new(b, "real")).get_data(as_text=True))["csrf"]
    r = b.client.put("/api/v1/scenarios/real", json={"graph": {"start": "", "nodes": {}}},
                     headers={"X-CSRF-Token": token})
    assert r.status_code == 200
    assert [s["name"] for s in b.client.get("/api/v1/scenarios").get_json()] == ["real"]


def _new(b, name) -> str:
    assert b.post("/scenarios/", {"name": name, "title": name.title()}).status_code == 302
    return "/scenarios/" + name


def test_operators_and_technicians_cannot_open_the_editor(panel):
    admin = as_role(panel, "admin")
    _new(admin, "main")
    for login in ("anna", "tech"):
        b = as_role(panel, login)
        for path in ("/scenarios/", "/scenarios/main", "/api/v1/scenario-node-types"):
            assert b.client.get(path).status_code == 403, (login, path)
    assert panel.test_client().get("/scenarios/main").headers["Location"].startswith("/login")
    assert as_role(panel, "super").client.get("/scenarios/main").status_code == 200
    assert admin.client.get("/scenarios/nothing").status_code == 404


def test_node_types_describe_fields_and_outputs(panel):
    b = as_role(panel, "admin")
    types = {t["type"]: t for t in b.client.get("/api/v1/scenario-node-types").get_json()}
    assert set(types) == set(TYPES)
    for name in OURS:
        t = types[name]
        assert t["fields"], name
        assert all(f["kind"] in KINDS and f["label"] for f in t["fields"]), name
    assert types["menu"]["options"] is True and types["menu"]["outputs"] == ["fail"]
    assert types["input"]["outputs"] == ["next", "fail"] and types["input"]["options"] is False
    assert types["route"]["outputs"] == []
    to = next(f for f in types["route"]["fields"] if f["name"] == "to")
    assert to["choices"] == [["group", "group"], ["operator", "operator"], ["number", "number"]]   # English
    assert types["play"]["label"] == "Play prompts" and types["input"]["output_labels"] == {"next": "next", "fail": "fail"}
    group = next(f for f in types["route"]["fields"] if f["name"] == "group")
    assert group["when"] == {"to": "group"} and group["kind"] == "group"


def test_the_editor_speaks_russian(panel):
    b = as_role(panel, "admin")
    token = b.token("/profile")
    b.client.post("/language", data={"csrf_token": token, "lang": "ru", "next": "/profile"})
    _new(b, "ru")
    data = editor_data(b.client.get("/scenarios/ru").get_data(as_text=True))
    assert data["strings"]["save"] == "Сохранить черновик"
    types = {t["type"]: t for t in b.client.get("/api/v1/scenario-node-types").get_json()}
    for name in TYPES:   # a new node type's words go into web/scenarios.py WORDS
        t = types[name]
        assert re.search("[а-я]", t["label"]), t["label"]
        for f in t["fields"]:
            assert re.search("[а-яА-Я]", f["label"]), (name, f["label"])
            for value, label in f.get("choices", []):
                assert label, (name, value)
        for out, label in t["output_labels"].items():
            assert re.search("[а-я]", label), (name, out)


def test_node_positions_are_kept_and_ignored_by_checks_and_the_engine(panel):
    graph = {"start": "hello", "nodes": {
        "hello": {"type": "play", "prompts": ["welcome"], "next": {"next": "ops"}, "pos": [40, 60]},
        "ops": {"type": "route", "to": "group", "group": "support", "pos": [300, 60]}}}
    assert graphs.check(graph) == []
    walk = simulate.simulate(graph, "", "495")
    assert walk["error"] is None and walk["events"][-1]["route"] == "group"
    sounds = panel.config["KORUND_INSTANCE"].sounds / "ru"
    sounds.mkdir(parents=True, exist_ok=True)
    (sounds / "welcome.wav").write_bytes(b"RIFF")
    b = as_role(panel, "admin")
    token = editor_data(b.client.get(_new(b, "kept")).get_data(as_text=True))["csrf"]
    r = b.client.put("/api/v1/scenarios/kept", json={"graph": graph}, headers={"X-CSRF-Token": token})
    assert r.get_json()["problems"] == []
    assert b.client.get("/api/v1/scenarios/kept").get_json()["draft"]["nodes"]["ops"]["pos"] == [300, 60]


def test_problems_point_at_the_node_with_the_dangling_output(panel):
    b = as_role(panel, "admin")
    token = editor_data(b.client.get(_new(b, "dangling")).get_data(as_text=True))["csrf"]
    graph = {"start": "hello", "nodes": {"hello": {"type": "play", "prompts": ["welcome"], "next": {}}}}
    r = b.client.put("/api/v1/scenarios/dangling", json={"graph": graph}, headers={"X-CSRF-Token": token})
    assert {"node": "hello", "message": "output 'next' leads nowhere"} in r.get_json()["problems"]


def test_problems_and_refusals_are_in_the_users_language(panel):
    b = as_role(panel, "admin")
    b.client.post("/language", data={"csrf_token": b.token("/profile"), "lang": "ru", "next": "/profile"})
    token = editor_data(b.client.get(_new(b, "ru2")).get_data(as_text=True))["csrf"]
    graph = {"start": "m", "nodes": {"m": {"type": "menu", "prompts": [], "options": {"1": None}},
                                     "lost": {"type": "hangup"}}}
    h = {"X-CSRF-Token": token}
    problems = b.client.put("/api/v1/scenarios/ru2", json={"graph": graph}, headers=h).get_json()["problems"]
    assert {"node": "m", "message": "выход «клавиша 1» никуда не ведёт"} in problems
    assert {"node": "m", "message": "меню нужна фраза"} in problems
    assert {"node": "lost", "message": "до узла нельзя дойти от начала"} in problems
    r = b.client.post("/api/v1/scenarios/ru2/publish", headers=h)
    assert r.status_code == 422
    assert "в сценарии есть ошибки" in r.get_json()["message"] and "m: меню нужна фраза" in r.get_json()["message"]
