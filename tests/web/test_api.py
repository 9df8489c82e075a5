"""Every operation in the OpenAPI description answers as described: status
code and response schema, with a bearer token."""
from __future__ import annotations

from appliance.operators import sip_guard
from appliance.users import store as users
from tests.web.conftest import as_role
from tests.web.test_calls_page import seed_calls
from tests.web.test_inbox import seed_inbox
from tests.web.test_recordings_page import seed_recordings
from web.openapi import OPERATIONS, SCHEMAS, spec

# Valid requests, in an order where each finds what it needs.
EXAMPLES = [
    ("get", "/me", None), ("get", "/status", None), ("get", "/calls", None),
    ("get", "/trunks", None),
    ("post", "/trunks", {"name": "backup", "host": "192.0.2.10", "port": 5062}),
    ("get", "/trunks/backup", None),
    ("put", "/trunks/backup", {"name": "backup", "host": "192.0.2.11", "port": 5060}),
    ("get", "/spans", None),
    ("post", "/spans", {"span": 1, "name": "Rostelecom", "signalling": "mfcr2", "framing": "cas",
                        "coding": "hdb3", "crc4": False, "mfcr2_variant": "ITU", "channels": "1-15,17-31"}),
    ("get", "/spans/1", None),
    ("put", "/spans/1", {"name": "Rostelecom main"}),
    # a test dial needs Asterisk (tests/telephony/test_test_dial.py): here a bad target, and none to read
    ("post", "/test-dials", {"number": "84951234567", "span": 9}, 422),
    ("get", "/test-dials/{dial_id}", None, 404),
    ("get", "/operators", None),
    ("post", "/operators", {"extension": "1005", "name": "Vera Sokolova"}),
    ("get", "/operators/1005", None),
    ("put", "/operators/1005", {"name": "Vera S.", "contact": None, "secure": True}),
    ("post", "/operators/1005/sip-secret", None),
    ("get", "/groups", None),
    ("post", "/groups", {"name": "sales", "title": "Sales", "members": ["1005"]}),
    ("get", "/groups/sales", None),
    ("put", "/groups/sales", {"title": "Sales team", "members": ["1001", "1005"]}),
    ("get", "/agents", None),
    ("get", "/pause-reasons", None),
    ("post", "/agents/1005/state", {"state": "paused", "reason": "lunch"}),
    ("get", "/users", None),
    ("post", "/users", {"username": "ivan", "password": "Long-Enough-Pw1", "role": "technician"}),
    ("get", "/users/{ivan}", None),
    ("put", "/users/{ivan}", {"language": "en"}),
    ("get", "/settings", None),
    ("put", "/settings", {"web.language": "en"}),
    ("get", "/audit", None),
    ("get", "/changes", None),
    ("post", "/apply", None),
    ("get", "/scenario-node-types", None),
    ("get", "/scenarios", None),
    ("post", "/scenarios", {"name": "ivr1", "title": "IVR", "graph": {"start": "a", "nodes": {}}}),
    ("get", "/scenarios/ivr1", None),
    ("put", "/scenarios/ivr1", {"graph": {"start": "a", "nodes": {
        "a": {"type": "route", "to": "group", "group": "support"}}}}),
    ("post", "/scenarios/ivr1/simulate", {"keys": "1"}),
    ("post", "/scenarios/ivr1/publish", None),
    ("post", "/scenarios/ivr1/rollback", {"version": 1}),
    ("get", "/bindings", None),
    ("get", "/tables", None),
    ("get", "/prompts", None),
    ("put", "/bindings", {"dnis": "300", "scenario": "ivr1"}),
    ("get", "/schedules", None),
    ("post", "/schedules", {"name": "backup", "title": "Office", "weekly": {"1": ["09:00-18:00"]}}),
    ("get", "/schedules/backup", None),
    ("put", "/schedules/backup", {"holidays": ["01-01"], "workdays": [{"date": "2027-01-09"}]}),
    ("put", "/bindings", {"dnis": "301", "group": "support", "schedule": "backup", "otherwise_scenario": "ivr1"}),
    ("delete", "/bindings/301", None),
    ("delete", "/schedules/backup", None),
    ("get", "/messages", None),
    ("post", "/messages/{message_id}/handled", None),
    ("get", "/callbacks", None),
    ("post", "/callbacks/{callback_id}/retry", None),
    ("post", "/callbacks/{callback_id}/status", {"status": "done"}),
    ("post", "/clients", {"name": "Иван Петров", "phones": ["8 916 123-45-67"], "vip": True}),
    ("get", "/clients", None),
    ("get", "/clients/{client_id}", None),
    ("put", "/clients/{client_id}", {"company": "ООО Ромашка"}),
    ("get", "/clients/by-number/+79161234567", None),
    ("get", "/health", None),
    ("get", "/outbound-policy", None),
    ("put", "/outbound-policy", {"scope": "national", "denied": ["+7809", "8803"], "max_open": 2}),
    ("post", "/outbound-policy/check", {"number": "88091234567", "purpose": "callback", "caller": "74951234567"}),
    ("get", "/outbound-policy/refusals", None),
    ("get", "/trunk-groups", None),
    ("post", "/trunk-groups", {"name": "backup", "kind": "sip", "members": ["backup"], "number_format": "e164"}),
    ("get", "/trunk-groups/backup", None),
    ("put", "/trunk-groups/backup", {"caller_id": "+74951110000"}),
    ("patch", "/trunk-groups/backup", {"max_calls": 4}),
    ("get", "/outbound-routes", None),
    ("post", "/outbound-routes", {"name": "backup", "patterns": ["05X"], "trunk_groups": ["backup", "pstn"]}),
    ("get", "/outbound-routes/backup", None),
    ("put", "/outbound-routes/backup", {"patterns": ["05X", "06X"], "level": "local"}),
    ("patch", "/outbound-routes/backup", {"max_calls": 2}),
    ("get", "/outbound-routes/plan?number=84951234567&purpose=operator&operator=1005", None),
    ("get", "/outbound-classes", None),
    ("put", "/outbound-classes/1005", {"outbound_class": "local"}),
    ("delete", "/outbound-routes/backup", None),
    ("delete", "/trunk-groups/backup", None),
    ("get", "/recordings", None),
    ("get", "/recordings/{recording_id}", None),
    ("get", "/recordings/{recording_id}/audio", None),
    ("post", "/recordings/{recording_id}/hold", {"on": True}),
    ("post", "/quality/forms", {"name": "Standard", "criteria": [{"name": "Greeting", "weight": 2, "max_points": 5}]}),
    ("get", "/quality/forms", None),
    ("get", "/quality/forms/{form_id}", None),
    ("put", "/quality/forms/{form_id}", {"active": True}),
    ("post", "/recordings/{recording_id}/scores", {"form_id": 1, "points": {"1": 4}}),   # the first form, criterion
    ("get", "/quality/scores", None),
    ("get", "/quality/averages", None),
    ("post", "/quality/forms", {"name": "Spare", "criteria": [{"name": "Tone", "weight": 1, "max_points": 3}]}),
    ("delete", "/quality/forms/{form_id}", None),
    ("get", "/recording-policies", None),
    ("put", "/recording-policies", {"scope": "callbacks", "mode": "sampled", "sample_percent": 30,
                                    "retention_days": 90}),
    ("delete", "/recording-policies/{scope}", None),
    ("get", "/recording-guard", None),
    ("put", "/recording-guard", {"warn_free_percent": 20, "delete_free_percent": 5}),
    ("get", "/calls", None),
    ("get", "/calls/{call_id}", None),
    ("get", "/sip-guard", None),
    ("put", "/sip-guard", {"failures": 8, "allow": ["192.168.1.0/24"]}),
    ("get", "/sip-bans", None),
    ("post", "/sip-bans/{ban_id}/lift", None),
    ("get", "/calls/{linkedid}/recording", None),
    # only an operator calls from their phone (tests/web/test_desktop_calls.py, tests/telephony/test_desktop_calls.py)
    ("post", "/desktop/call", {"number": "84951234567"}, 403),
    # no live call in a Flask test: refused with the reason (real calls: tests/telephony/test_recording.py)
    ("post", "/calls/{linkedid}/recording", {"action": "start"}, 422),
    ("get", "/reports", None),
    ("post", "/reports", {"title": "Calls by group", "dimensions": ["group"], "measures": ["calls", "asa"],
                          "chart": "bar"}),
    ("get", "/reports/{form}", None),
    ("put", "/reports/{form}", {"title": "Calls by group and day", "dimensions": ["group", "day"],
                                "measures": ["calls"]}),
    ("delete", "/reports/{form}", None),
    ("delete", "/users/{ivan}", None),
    ("delete", "/groups/sales", None),
    ("delete", "/operators/1005", None),
    ("delete", "/spans/1", None),
    ("delete", "/trunks/backup", None),
]


def resolve(schema):
    while "$ref" in schema:
        schema = SCHEMAS[schema["$ref"].rsplit("/", 1)[1]]
    return schema


def check(value, schema, where="$"):
    """A small JSON Schema check for the subset the description uses."""
    schema = resolve(schema)
    if "oneOf" in schema:
        errors = []
        for option in schema["oneOf"]:
            try:
                check(value, option, where)
                return
            except AssertionError as exc:
                errors.append(str(exc))
        raise AssertionError(f"{where}: matches no option: {errors}")
    types = schema.get("type")
    if types:
        types = [types] if isinstance(types, str) else types
        py = {"object": dict, "array": list, "string": str, "integer": int, "boolean": bool,
              "null": type(None), "number": (int, float)}
        ok = any(isinstance(value, py[t]) and not (t == "integer" and isinstance(value, bool)) for t in types)
        assert ok, f"{where}: {value!r} is not {types}"
    if isinstance(value, dict):
        for key in schema.get("required", []):
            assert key in value, f"{where}: missing {key}"
        for key, sub in schema.get("properties", {}).items():
            if key in value:
                check(value[key], sub, f"{where}.{key}")
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for key, v in value.items():
                check(v, extra, f"{where}.{key}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            check(item, schema["items"], f"{where}[{i}]")


def test_every_documented_operation_answers_as_described(panel):
    admin = as_role(panel, "admin")
    db = panel.config["KORUND_INSTANCE"].open_store()
    token = users.create_token(db, users.all_users(db)[0].id, "contract test")
    assert users.all_users(db)[0].username == "admin"
    headers = {"Authorization": f"Bearer {token}"}
    documented = {(m, p): (code, schema) for m, p, _s, _r, code, schema, _req in OPERATIONS}
    covered = set()
    ids = dict(seed_inbox(panel.config["KORUND_INSTANCE"]))  # a message and a callback order
    ids["recording_id"] = seed_recordings(panel.config["KORUND_INSTANCE"])["a1"]  # a good recording
    ids.update(scope="callbacks", linkedid="1700000000.1")
    ids["call_id"] = seed_calls(panel.config["KORUND_INSTANCE"])["queued"]  # a call with its legs
    ids["ban_id"] = sip_guard.ban(db, sip_guard.Crossed("192.0.2.99", 10, {}, []), 30).id   # a SIP ban
    for method, path, payload, *expect in EXAMPLES:
        concrete = path.replace("{ivan}", str(ids.get("ivan", 0)))
        for key in ("message_id", "callback_id", "client_id", "recording_id", "scope", "linkedid", "form",
                    "call_id", "form_id", "ban_id"):
            concrete = concrete.replace("{%s}" % key, str(ids.get(key, 0)))
        template = path.split("?")[0].replace("{ivan}", "{user_id}")
        for name, pattern in (("backup", "{name}"), ("sales", "{name}"), ("ivr1", "{name}"),
                              ("1005", "{extension}"), ("301", "{dnis}"), ("+79161234567", "{number}")):
            template = template.replace(f"/{name}", f"/{pattern}") if template.count("/") > 1 else template
        template = template.replace("/spans/1", "/spans/{span}")
        code, schema = documented[(method, template)]
        covered.add((method, template))
        r = getattr(admin.client, method)("/api/v1" + concrete, json=payload, headers=headers)
        assert r.status_code == (expect[0] if expect else code), (method, concrete, r.status_code,
                                                                 r.get_data(as_text=True))
        if schema and not expect:
            check(r.get_json(), schema, f"{method.upper()} {concrete}")
        if (method, path) == ("post", "/users"):
            ids["ivan"] = r.get_json()["id"]
        if (method, path) == ("post", "/clients"):
            ids["client_id"] = r.get_json()["id"]
        if (method, path) == ("post", "/reports"):
            ids["form"] = r.get_json()["key"]
        if (method, path) == ("post", "/quality/forms"):
            ids["form_id"] = r.get_json()["id"]
    assert covered == set(documented), set(documented) - covered


def test_the_description_is_served_and_names_the_security_schemes(panel):
    r = panel.test_client().get("/api/v1/openapi.json")
    assert r.status_code == 200
    doc = r.get_json()
    assert doc == spec()
    assert doc["openapi"].startswith("3.")
    assert set(doc["components"]["securitySchemes"]) == {"token", "session"}


def test_invalid_input_is_422_with_the_field_and_nothing_is_saved(panel):
    admin = as_role(panel, "admin")
    db = panel.config["KORUND_INSTANCE"].open_store()
    token = users.create_token(db, 1, "t")
    h = {"Authorization": f"Bearer {token}"}
    cases = [
        ("/api/v1/operators", {"extension": "12a", "name": "X"}, "extension"),
        ("/api/v1/trunks", {"name": "t2", "host": "bad host;", "port": 5060}, "host"),
        ("/api/v1/spans", {"span": 2, "signalling": "mfcr2", "framing": "cas", "mfcr2_variant": "ru"}, "mfcr2_variant"),
        ("/api/v1/spans", {"span": 2, "signalling": "pri_cpe", "framing": "cas"}, "framing"),
        ("/api/v1/groups", {"name": "g2", "title": "G", "members": ["9999"]}, "members"),
        ("/api/v1/users", {"username": "x", "password": "short", "role": "admin"}, "username"),
    ]
    before = {t: db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
              for t in ("operators", "trunks", "spans", "groups", "users")}
    for url, payload, field in cases:
        r = admin.client.post(url, json=payload, headers=h)
        assert r.status_code == 422, (url, r.get_data(as_text=True))
        body = r.get_json()
        assert body["field"] == field and body["message"]
    after = {t: db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in before}
    assert after == before
    assert admin.client.post("/api/v1/trunks", data="not json", headers=h).status_code == 400


def test_russian_errors_for_a_russian_user(panel):
    db = panel.config["KORUND_INSTANCE"].open_store()
    users.update(db, 1, language="ru")
    token = users.create_token(db, 1, "t")
    r = panel.test_client().post("/api/v1/spans", json={"span": 3, "signalling": "mfcr2", "framing": "cas",
                                                       "mfcr2_variant": "RU"},
                                 headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 422
    assert "нет российского варианта" in r.get_json()["message"]


def test_the_editor_api_reports_problems_by_node_and_publish_refuses_them(panel):
    admin = as_role(panel, "admin")
    db = panel.config["KORUND_INSTANCE"].open_store()
    h = {"Authorization": f"Bearer {users.create_token(db, 1, 't')}"}
    graph = {"start": "m", "nodes": {"m": {"type": "menu", "prompts": ["welcome"], "options": {"1": "r"},
                                           "next": {}},
                                     "r": {"type": "route", "to": "group", "group": "support"}}}
    r = admin.client.post("/api/v1/scenarios", json={"name": "night", "title": "Night", "graph": graph}, headers=h)
    assert r.status_code == 201
    problems = r.get_json()["problems"]
    assert {"node": "m", "message": "output 'fail' leads nowhere"} in problems
    assert {"node": "m", "message": "prompt 'welcome' does not exist"} in problems
    r = admin.client.post("/api/v1/scenarios/night/publish", headers=h)
    assert r.status_code == 422 and "m: output 'fail' leads nowhere" in r.get_json()["message"]
    assert admin.client.get("/api/v1/scenarios/night", headers=h).get_json()["versions"] == []
    r = admin.client.post("/api/v1/scenarios/night/rollback", json={"version": "1; x"}, headers=h)
    assert r.status_code == 422 and r.get_json()["field"] == "version"
    r = admin.client.put("/api/v1/bindings", json={"dnis": "1;DROP", "scenario": "night"}, headers=h)
    assert r.status_code == 422 and r.get_json()["field"] == "dnis"
