"""The status page and its JSON report the live appliance."""
from __future__ import annotations

import json
import urllib.request


def get(appliance, path):
    s = appliance.settings()
    with urllib.request.urlopen(f"http://{s['net.address']}:{s['web.port']}{path}", timeout=10) as r:
        return r.status, r.headers.get_content_type(), r.read().decode()


def test_status_json_shows_services_asterisk_trunk_operators_and_calls(appliance, carrier):
    before = appliance.last_call_id()
    call = carrier.call(ani="4956667788", hold=7)
    call.answered_by_phone()
    call.ended()
    appliance.call_row(ani="4956667788", since_id=before)

    status, ctype, body = get(appliance, "/api/v1/status")
    assert status == 200 and ctype == "application/json"
    data = json.loads(body)
    assert {name: s["state"] for name, s in data["services"].items()} == {
        "asterisk": "RUNNING", "agi": "RUNNING", "events": "RUNNING", "web": "RUNNING"}
    assert data["asterisk"]["up"] and data["asterisk"]["version"].startswith("Asterisk 22")
    assert data["trunks"] == [{"name": "pstn", "kind": "sip", "host": "127.0.0.12", "port": 5060,
                               "state": "Not in use"}]
    assert {o["extension"]: o["state"] for o in data["operators"]} == {
        "1001": "Not in use", "1002": "Not in use"}
    assert data["recent_calls"][0]["ani"] == "4956667788"
    assert data["recent_calls"][0]["outcome"] == "answered"


def test_status_page_is_html_in_russian_and_english(appliance, carrier):
    status, ctype, body = get(appliance, "/")
    assert status == 200 and ctype == "text/html"
    assert "Службы / Services" in body and "RUNNING" in body
