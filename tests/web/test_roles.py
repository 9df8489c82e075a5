"""Each role sees only its pages and data, in the panel and the API."""
from __future__ import annotations

import pytest

from tests.web.conftest import as_role

PAGES = {
    "/": {"admin", "supervisor", "technician"},
    "/lines/": {"admin", "supervisor", "technician"},
    "/lines/trunk/pstn": {"admin", "technician"},
    "/operators": {"admin", "supervisor"},
    "/operators/1002": {"admin", "supervisor"},
    "/groups": {"admin", "supervisor"},
    "/users/": {"admin"},
    "/settings/": {"admin"},
    "/audit/": {"admin"},
    "/profile": {"admin", "supervisor", "technician", "operator"},
}
LOGINS = {"admin": "admin", "supervisor": "super", "technician": "tech", "operator": "anna"}


@pytest.mark.parametrize("role", LOGINS)
def test_pages_by_role(panel, role):
    b = as_role(panel, LOGINS[role])
    for path, allowed in PAGES.items():
        code = b.client.get(path).status_code
        assert code == (200 if role in allowed else 403), (role, path, code)


def test_anonymous_users_are_sent_to_login_and_the_api_says_401(panel):
    c = panel.test_client()
    assert c.get("/users/").headers["Location"].startswith("/login")
    assert c.get("/api/v1/operators").status_code == 401
    assert c.get("/api/v1/me", headers={"Authorization": "Bearer krd_nonsense"}).status_code == 401


def test_an_operator_sees_only_its_own_phone_account(panel):
    b = as_role(panel, "anna")
    page = b.client.get("/profile").get_data(as_text=True)
    db = panel.config["KORUND_INSTANCE"].open_store()
    secrets = dict(db.execute("SELECT extension, sip_secret FROM operators"))
    # their own phone's account, but no SIP secret: only an admin sees one, once
    assert ">1001<" in page and secrets["1001"] not in page and secrets["1002"] not in page
    me = b.client.get("/api/v1/me").get_json()
    assert me["operator"]["extension"] == "1001"
    for path in ("/api/v1/operators", "/api/v1/operators/1002", "/api/v1/users", "/api/v1/status",
                 "/api/v1/audit", "/api/v1/settings"):
        assert b.client.get(path).status_code == 403, path
    # the call history: only the calls 1001 took part in (tests/web/test_calls_page.py)
    assert b.client.get("/api/v1/calls").get_json() == []


def test_api_roles_match_the_openapi_description(panel):
    sessions = {role: as_role(panel, login) for role, login in LOGINS.items()}
    from web.openapi import OPERATIONS
    for method, path, _s, roles, *_ in OPERATIONS:
        if method != "get":
            continue
        concrete = path.replace("{name}", "support" if "groups" in path else "pstn").replace(
            "{extension}", "1001").replace("{span}", "1").replace("{user_id}", "1")
        for role, b in sessions.items():
            code = b.client.get("/api/v1" + concrete).status_code
            if role in roles:
                assert code in (200, 404), (role, concrete, code)
            else:
                assert code == 403, (role, concrete, code)
