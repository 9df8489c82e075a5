"""The outbound routes page and API: administrators add, change and delete
trunk groups and routes and set operators' classes of service; supervisors
and technicians read them and test numbers; operators are refused. Each bad
input (a pattern that cannot match, overlapping routes, a route with no
trunk group, a rewriting that empties a number, an unknown line) is a clear
error next to the form or a 422 naming the field, and nothing is saved.
Nothing is applied to Asterisk: the routes are read at each call out."""
from __future__ import annotations

from dataclasses import asdict

import pytest

from appliance import apply as applier
from appliance.lines import store as lines, trunks as sip_trunks
from appliance.outbound import routes
from appliance.users import store as users
from tests.web.conftest import as_role
from web import outbound_routes as page_module

PAGE = "/outbound-routes/"


def _db(panel):
    return panel.config["KORUND_INSTANCE"].open_store()


def snapshot(panel) -> tuple:
    db = _db(panel)
    try:
        return ([asdict(g) for g in routes.trunk_groups(db)], [asdict(r) for r in routes.routes(db)],
                db.execute("SELECT extension, outbound_class FROM operators ORDER BY extension").fetchall())
    finally:
        db.close()


def bearer(panel, username: str) -> dict:
    db = _db(panel)
    user = next(u for u in users.all_users(db) if u.username == username)
    return {"Authorization": f"Bearer {users.create_token(db, user.id, 'test')}"}


def e1_span(panel, number: int = 1, signalling: str = "pri_cpe") -> None:
    """A PRI (or MFC/R2) span in the trunk role, as the Lines page stores one."""
    db = _db(panel)
    raw = {"span": number, "name": f"E1 {number}", "signalling": signalling, "channels": "1-15,17-31"}
    if signalling == "mfcr2":
        raw.update(framing="cas", mfcr2_variant="ITU")
    with db.atomic():
        lines.save(db, lines.validate(raw), create=True)
    db.close()


TRUNK_GROUP_FORM = {"name": "e1", "kind": "dahdi", "members": ["1"], "hunting": "descending", "reserve": "4",
                    "max_calls": "20", "number_format": "national_8", "strip": "0", "prepend": "",
                    "pri_ton": "national", "pri_npi": "isdn", "caller_id": "4951110000", "r2_category": "",
                    "enabled": "1"}


# --- roles ------------------------------------------------------------------------------------

def test_operators_are_refused_everything_and_readers_only_read(panel):
    before = snapshot(panel)
    anna = as_role(panel, "anna")
    for path in (PAGE, PAGE + "trunk-groups/new", PAGE + "routes/national"):
        assert anna.client.get(path).status_code == 403, path
    for path in ("/api/v1/trunk-groups", "/api/v1/outbound-routes", "/api/v1/outbound-routes/plan?number=112",
                 "/api/v1/outbound-classes"):
        assert anna.client.get(path).status_code == 403, path
        assert panel.test_client().get(path, headers=bearer(panel, "anna")).status_code == 403, path
        assert panel.test_client().get(path).status_code == 401, path
    assert "nav-outbound-routes" not in anna.client.get("/profile").get_data(as_text=True)

    for login in ("super", "tech"):
        b = as_role(panel, login)
        page = b.client.get(PAGE)
        assert page.status_code == 200, login
        text = page.get_data(as_text=True)
        assert 'id="nav-outbound-routes"' in text and 'id="route-national"' in text and 'id="tg-pstn"' in text
        assert 'id="add-route"' not in text and 'id="class-1001-save"' not in text
        for path in (PAGE + "trunk-groups/new", PAGE + "trunk-groups/pstn", PAGE + "routes/new"):
            assert b.client.get(path).status_code == 403, (login, path)
        token = b.token(PAGE)
        assert b.post(PAGE + "routes/national", {"action": "delete"}, token_from=PAGE).status_code == 403
        assert b.post(PAGE + "classes/1001", {"outbound_class": "international"}, token_from=PAGE).status_code == 403
        headers = {"X-CSRF-Token": token}
        assert b.client.get("/api/v1/outbound-routes").status_code == 200
        assert b.client.get("/api/v1/trunk-groups/pstn").get_json()["members"] == ["pstn"]
        assert b.client.delete("/api/v1/outbound-routes/national", headers=headers).status_code == 403
        assert b.client.post("/api/v1/trunk-groups", json={"name": "x", "members": ["pstn"]},
                             headers=headers).status_code == 403
        assert b.client.put("/api/v1/outbound-classes/1001", json={"outbound_class": "local"},
                            headers=headers).status_code == 403
        assert b.client.patch("/api/v1/trunk-groups/pstn", json={"max_calls": 1},
                              headers=headers).status_code == 403
    assert snapshot(panel) == before


def test_a_form_without_its_csrf_token_is_refused_and_saves_nothing(panel):
    before = snapshot(panel)
    admin = as_role(panel, "admin")
    r = admin.client.post(PAGE + "routes/new", data={"name": "x", "patterns": "05X", "trunk_groups": "pstn"})
    assert r.status_code == 400
    r = admin.client.post(PAGE + "classes/1001", data={"outbound_class": "local", "csrf_token": "forged"})
    assert r.status_code == 400
    # a session's API call needs the header too
    assert admin.client.delete("/api/v1/outbound-routes/national").status_code == 400
    assert snapshot(panel) == before


# --- the panel --------------------------------------------------------------------------------

def test_an_admin_adds_changes_and_deletes_a_trunk_group_and_a_route_without_apply(panel):
    e1_span(panel)
    inst = panel.config["KORUND_INSTANCE"]
    pending = applier.pending(inst, _db(panel))
    admin = as_role(panel, "admin")
    form = admin.client.get(PAGE + "trunk-groups/new").get_data(as_text=True)
    assert 'id="member-span-1"' in form and 'id="member-sip-pstn"' in form

    r = admin.post(PAGE + "trunk-groups/new", TRUNK_GROUP_FORM)
    assert r.status_code == 302, r.get_data(as_text=True)
    assert "no Apply is needed" in admin.client.get(r.headers["Location"]).get_data(as_text=True)
    e1 = next(g for g in routes.trunk_groups(_db(panel)) if g.name == "e1")
    assert (e1.kind, e1.members, e1.hunting, e1.reserve, e1.max_calls, e1.number_format, e1.pri_ton, e1.pri_npi,
            e1.caller_id, e1.enabled) == ("dahdi", [1], "descending", 4, 20, "national_8", "national", "isdn",
                                          "4951110000", True)

    r = admin.post(PAGE + "routes/new", {"name": "service", "patterns": "05X\n06X", "trunk_groups": ["e1", "pstn"],
                                         "level": "local", "caller_id": "+74952220000", "max_calls": "3",
                                         "enabled": "1"})
    assert r.status_code == 302, r.get_data(as_text=True)
    service = next(r for r in routes.routes(_db(panel)) if r.name == "service")
    assert (service.patterns, service.trunk_groups, service.level, service.caller_id, service.max_calls) == (
        ["05X", "06X"], ["e1", "pstn"], "local", "+74952220000", 3)
    page = admin.client.get(PAGE).get_data(as_text=True)
    assert 'id="route-service"' in page and "e1 → pstn" in page and 'id="tg-e1"' in page

    # the edit form shows the route as stored; a change renames it and swaps the groups
    form = admin.client.get(PAGE + "routes/service").get_data(as_text=True)
    assert "05X\n06X</textarea>" in form and '<option value="e1" selected>' in form
    r = admin.post(PAGE + "routes/service", {"name": "short", "patterns": "05X", "trunk_groups": ["pstn", "e1"],
                                             "level": "national", "caller_id": "", "max_calls": "0"})
    assert r.status_code == 302
    short = next(r for r in routes.routes(_db(panel)) if r.name == "short")
    assert (short.trunk_groups, short.level, short.enabled) == (["pstn", "e1"], "national", False)
    assert "service" not in [r.name for r in routes.routes(_db(panel))]
    # a trunk group in use cannot go; the route first
    r = admin.post(PAGE + "trunk-groups/e1", {"action": "delete"})
    assert r.status_code == 422 and "is used by the routes short" in r.get_data(as_text=True)
    assert admin.post(PAGE + "routes/short", {"action": "delete"}).status_code == 302
    assert admin.post(PAGE + "trunk-groups/e1", {"action": "delete"}).status_code == 302
    assert "e1" not in [g.name for g in routes.trunk_groups(_db(panel))]
    # nothing was rendered for Asterisk: the routes are read at each call out
    assert applier.pending(inst, _db(panel)) == pending
    db = _db(panel)
    assert db.execute("SELECT COUNT(*) FROM audit WHERE action = 'outbound routes changed' "
                      "AND username = 'admin'").fetchone()[0] == 5


BAD_ROUTES = [
    ({"patterns": "8+9XXXXXXXXX"}, "patterns", "can never match"),
    ({"patterns": "8[]XXXXXXXXX"}, "patterns", "[] is an empty set"),
    ({"patterns": "8XXXXXXXXXX"}, "patterns", "routes &#39;national&#39;"),          # overlaps the national route
    ({"patterns": "05X\n05[0-5]"}, "patterns", "both match 050"),                  # overlaps itself
    ({"trunk_groups": []}, "trunk_groups", "a route needs at least one trunk group"),
    ({"trunk_groups": ["strip9"]}, "trunk_groups", "rewrites 050 (pattern &#39;05X&#39;) to an empty number"),
    ({"trunk_groups": ["nowhere"]}, "trunk_groups", "no trunk group named &#39;nowhere&#39;"),
    ({"level": "galactic"}, "level", "one of emergency"),
    ({"name": "National"}, "name", "is not a valid route name"),
]


@pytest.mark.parametrize("change,field,said", BAD_ROUTES, ids=[b[2][:24] for b in BAD_ROUTES])
def test_a_bad_route_is_shown_next_to_its_field_and_nothing_is_saved(panel, change, field, said):
    db = _db(panel)
    routes.save_trunk_group(db, {"name": "strip9", "members": ["pstn"], "strip": 9}, "test")
    before = snapshot(panel)
    admin = as_role(panel, "admin")
    form = {"name": "service", "patterns": "05X", "trunk_groups": ["pstn"], "level": "local", **change}
    r = admin.post(PAGE + "routes/new", form)
    text = r.get_data(as_text=True)
    assert r.status_code == 422
    assert f'id="error-{field}"' in text and said in text, text[text.find('class="error"'):][:300]
    assert snapshot(panel) == before
    # the API refuses the same, naming the field
    data = {**form, "patterns": form["patterns"].split("\n")}
    r = panel.test_client().post("/api/v1/outbound-routes", json=data, headers=bearer(panel, "admin"))
    assert r.status_code == 422 and r.get_json()["field"] == field, r.get_json()
    assert snapshot(panel) == before


BAD_TRUNK_GROUPS = [
    ({"members": ["7"]}, "members", "&#39;7&#39; is not a span of the appliance&#39;s lines"),
    ({"kind": "sip", "members": ["nowhere"], "pri_ton": "", "pri_npi": "", "reserve": "0"}, "members",
     "&#39;nowhere&#39; is not a SIP trunk"),
    ({"members": []}, "members", "a trunk group needs at least one line"),
    ({"reserve": "30"}, "reserve", "leaves no channel of this group for calls out"),
    ({"r2_category": "collect_call"}, "r2_category", "the caller category is for MFC/R2 spans only"),
    ({"prepend": "0#"}, "prepend", "is not digits"),
    ({"strip": "11"}, "strip", "11 is outside 0-10"),
]


@pytest.mark.parametrize("change,field,said", BAD_TRUNK_GROUPS, ids=[b[2][:24] for b in BAD_TRUNK_GROUPS])
def test_a_bad_trunk_group_is_shown_next_to_its_field_and_nothing_is_saved(panel, change, field, said):
    e1_span(panel)
    before = snapshot(panel)
    admin = as_role(panel, "admin")
    r = admin.post(PAGE + "trunk-groups/new", {**TRUNK_GROUP_FORM, **change})
    text = r.get_data(as_text=True)
    assert r.status_code == 422
    assert f'id="error-{field}"' in text and said in text, text[text.find('class="error"'):][:300]
    assert snapshot(panel) == before
    data = {k: v for k, v in {**TRUNK_GROUP_FORM, **change}.items() if k != "enabled"}
    r = panel.test_client().post("/api/v1/trunk-groups", json=data, headers=bearer(panel, "admin"))
    assert r.status_code == 422 and r.get_json()["field"] == field, r.get_json()
    assert snapshot(panel) == before


def test_a_trunk_group_change_that_would_empty_a_routes_number_is_refused(panel):
    before = snapshot(panel)
    admin = as_role(panel, "admin")
    r = admin.post(PAGE + "trunk-groups/pstn", {"name": "pstn", "kind": "sip", "members": ["pstn"], "strip": "3",
                                                "enabled": "1"})
    text = r.get_data(as_text=True)
    assert r.status_code == 422 and 'id="error-form"' in text
    assert "trunk group &#39;pstn&#39; rewrites 112 (pattern &#39;112&#39;) to an empty number" in text
    r = panel.test_client().patch("/api/v1/trunk-groups/pstn", json={"strip": 3}, headers=bearer(panel, "admin"))
    assert r.status_code == 422 and r.get_json()["field"] == "trunk_groups"
    assert snapshot(panel) == before


def test_the_test_box_shows_the_plan_and_the_class_of_service_applies(panel):
    e1_span(panel)
    db = _db(panel)
    routes.save_trunk_group(db, {**TRUNK_GROUP_FORM, "members": ["1"]}, "test")
    routes.save_route(db, {"name": "national", "patterns": routes.DEFAULT_ROUTES[2][1],
                           "trunk_groups": ["e1", "pstn"], "level": "national", "caller_id": "4952220000"},
                      "test", original="national")
    b = as_role(panel, "tech")
    page = b.client.get(PAGE + "?number=%2B74951234567&purpose=route").get_data(as_text=True)
    assert 'id="plan-route"' in page and "+74951234567: route national" in page
    # the E1 group sends 8NSN over PRI (descending hunt: G), the SIP trunk the number as dialled
    assert "<code>DAHDI/G1/Ne84951234567</code>" in page and "<code>PJSIP/+74951234567@pstn</code>" in page
    assert "4951110000" in page and "4952220000" in page

    admin = as_role(panel, "admin")
    r = admin.post(PAGE + "classes/1001", {"outbound_class": "local"}, token_from=PAGE)
    assert r.status_code == 302 and routes.operator_class(_db(panel), "1001") == "local"
    page = b.client.get(PAGE + "?number=84951234567&purpose=operator&operator=1001").get_data(as_text=True)
    assert 'id="plan-refused"' in page
    assert "the route &#39;national&#39; is outside operator 1001&#39;s class of service (local numbers)" in page
    page = b.client.get(PAGE + "?number=112&purpose=operator&operator=1001").get_data(as_text=True)
    assert "112: route emergency" in page          # emergency numbers whatever the class

    # in Russian, with the route's name as it is
    db = _db(panel)
    db.execute("UPDATE users SET language = 'ru' WHERE username = 'tech'")
    db.conn.commit()
    page = b.client.get(PAGE + "?number=84951234567&purpose=operator&operator=1001").get_data(as_text=True)
    assert "Исходящие маршруты" in page and "Ничего не набирается" in page and "national" in page
    page = b.client.get(PAGE + "?number=810441234567&purpose=route").get_data(as_text=True)
    assert "международные" in page and 'id="plan-refused"' in page
    page = b.client.get(PAGE + "?number=84951234567&purpose=route").get_data(as_text=True)
    assert "84951234567: маршрут national" in page and "SIP-транк pstn" in page


# --- the API ----------------------------------------------------------------------------------

def test_the_api_adds_changes_plans_and_deletes(panel):
    db = _db(panel)
    sip_trunks.add_sip_trunk(db, "backup", "192.0.2.20", 5060)
    admin = bearer(panel, "admin")
    c = panel.test_client()
    r = c.post("/api/v1/trunk-groups", json={"name": "spare", "members": "backup", "number_format": "e164"},
               headers=admin)
    assert r.status_code == 201 and r.get_json()["members"] == ["backup"]
    r = c.patch("/api/v1/outbound-routes/national", json={"trunk_groups": ["pstn", "spare"]}, headers=admin)
    assert r.status_code == 200 and r.get_json()["trunk_groups"] == ["pstn", "spare"]
    assert r.get_json()["patterns"] == routes.DEFAULT_ROUTES[2][1]           # fields left out stay
    r = c.put("/api/v1/trunk-groups/spare", json={"name": "reserve"}, headers=admin)
    assert r.status_code == 200 and r.get_json()["number_format"] == "e164"
    assert c.get("/api/v1/outbound-routes/national", headers=admin).get_json()["trunk_groups"] == ["pstn", "reserve"]

    tech = bearer(panel, "tech")
    plan = c.get("/api/v1/outbound-routes/plan?number=84951234567", headers=tech).get_json()
    assert (plan["route"], plan["refused"]) == ("national", "")
    assert [(t["trunk_group"], t["dial"], t["sent"]) for t in plan["tries"]] == [
        ("pstn", "PJSIP/84951234567@pstn", "84951234567"), ("reserve", "PJSIP/+74951234567@backup", "+74951234567")]
    r = c.put("/api/v1/outbound-classes/1002", json={"outbound_class": "internal"}, headers=admin)
    assert r.status_code == 200 and r.get_json()["outbound_class"] == "internal"
    plan = c.get("/api/v1/outbound-routes/plan?number=84951234567&purpose=operator&operator=1002",
                 headers=tech).get_json()
    assert plan["refused"] == "class" and "class of service" in plan["message"] and plan["tries"] == []
    assert c.get("/api/v1/outbound-routes/plan", headers=tech).get_json()["refused"] == "invalid"
    assert c.get("/api/v1/outbound-routes/plan?number=1&purpose=nothing", headers=tech).status_code == 422
    classes = {o["extension"]: o["outbound_class"] for o in c.get("/api/v1/outbound-classes", headers=tech).get_json()}
    assert classes == {"1001": "national", "1002": "internal"}
    r = c.put("/api/v1/outbound-classes/1002", json={"outbound_class": "galactic"}, headers=admin)
    assert r.status_code == 422 and r.get_json()["field"] == "outbound_class"
    assert c.put("/api/v1/outbound-classes/9999", json={"outbound_class": "local"}, headers=admin).status_code == 404

    assert c.delete("/api/v1/trunk-groups/reserve", headers=admin).status_code == 422     # the route uses it
    assert c.patch("/api/v1/outbound-routes/national", json={"trunk_groups": ["pstn"]}, headers=admin).status_code == 200
    assert c.delete("/api/v1/trunk-groups/reserve", headers=admin).status_code == 204
    assert c.delete("/api/v1/outbound-routes/international", headers=admin).status_code == 204
    assert c.get("/api/v1/outbound-routes/international", headers=admin).status_code == 404
    assert c.delete("/api/v1/trunk-groups/reserve", headers=admin).status_code == 404
    assert [r["name"] for r in c.get("/api/v1/outbound-routes", headers=tech).get_json()] == [
        "emergency", "local", "national"]


def test_every_refusal_of_a_plan_is_marked_for_translation():
    assert set(page_module.ROUTE_REFUSALS) | {routes.policy.MESSAGES["no-route"]} == set(routes.REFUSALS.values())
