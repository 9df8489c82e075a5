"""The status page and its JSON report the live appliance, to logged-in
staff only."""
from __future__ import annotations

import http.cookiejar
import json
import re
import urllib.error
import urllib.parse
import urllib.request

import pytest

from tests.conftest import CARRIER_ADDR

PASSWORD = "Status-Check-2026"


@pytest.fixture(scope="module")
def staff(pbx):
    """An admin and a technician made with the korund command, and an API
    token of each."""
    appliance, _ = pbx
    appliance.add_user("boss", "admin", PASSWORD)
    appliance.add_user("tech", "technician", PASSWORD, "--language", "en")
    return (appliance.panel_url(), appliance.api_token("tech", "status test"),
            appliance.api_token("boss", "status test"))


def get(url, token=None, opener=None):
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    with (opener or urllib.request.build_opener()).open(req, timeout=10) as r:
        return r.status, r.headers.get_content_type(), r.read().decode()


def test_status_json_shows_services_asterisk_trunk_operators_and_calls(appliance, carrier, staff):
    site, token, admin_token = staff
    before = appliance.last_call_id()
    call = carrier.call(ani="4956667788", hold=7)
    call.answered_by_phone()
    call.ended()
    appliance.call_row(ani="4956667788", since_id=before)

    with pytest.raises(urllib.error.HTTPError) as anonymous:
        get(site + "/api/v1/status")
    assert anonymous.value.code == 401
    status, ctype, body = get(site + "/api/v1/status", token)
    assert status == 200 and ctype == "application/json"
    data = json.loads(body)
    assert {name: s["state"] for name, s in data["services"].items()} == {
        "asterisk": "RUNNING", "agi": "RUNNING", "events": "RUNNING", "web": "RUNNING",
        "dialer": "RUNNING", "health": "RUNNING", "archive": "RUNNING", "root-helper": "RUNNING"}
    assert data["asterisk"]["up"] and data["asterisk"]["version"].startswith("Asterisk 22")
    assert data["trunks"] == [{"name": "pstn", "kind": "sip", "host": CARRIER_ADDR, "port": 5060,
                               "state": "Not in use"}]
    assert {o["extension"]: o["state"] for o in data["operators"]} == {
        "1001": "Not in use", "1002": "Not in use"}
    # a technician sees the appliance, not the callers' numbers; an admin sees the calls
    assert data["recent_calls"] == [] and "4956667788" not in body
    _status, _ctype, body = get(site + "/api/v1/status", admin_token)
    data = json.loads(body)
    assert data["recent_calls"][0]["ani"] == "4956667788"
    assert data["recent_calls"][0]["outcome"] == "answered"


def test_status_page_after_login(appliance, carrier, staff):
    site, _token, _admin_token = staff
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    _, _, page = get(site + "/login", opener=opener)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode({"csrf_token": token, "username": "tech", "password": PASSWORD}).encode()
    with opener.open(site + "/login", data=form, timeout=10) as r:
        assert r.status == 200 and r.url.rstrip("/") == site
        page = r.read().decode()
    assert "Services" in page and "RUNNING" in page
    assert "4956667788" not in page and 'id="recent-calls"' not in page   # a technician sees no calls
