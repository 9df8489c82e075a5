"""Calling out from the operator's desktop on real Asterisk: click-to-call
rings the operator's own phone first (showing the number), then the carrier
sees the number and the desktop's card pops for the call; a number the
outbound policy refuses is a clear error and nothing rings; a caller is
transferred to an outside number, blind and attended, and then hears that
number's phone. Driven over the panel's HTTP interface as the operator's
browser or a CRM would (the API token, or the desktop's session and CSRF
token); observed on the carrier (what the phones were shown, what the
caller heard) and in the appliance's store."""
from __future__ import annotations

import http.cookiejar
import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from appliance.base import store
from appliance.clients import store as clients
from appliance.outbound import routes, store as outbound_store
from appliance.scenarios import store as scenarios
from tests import audio
from tests.harness import configure, wait_for

PASSWORD = "Operat0r-Calls-2026"
CLIENT = "84951112233"          # a client's number, national, on the default routes
OUTSIDE_TONE = 1700             # the outside number's phone answers with this tone
ANNA_TONE = 700
GRAPH = {"start": "ops", "nodes": {"ops": {"type": "route", "to": "operator", "operator": "1001"}}}


@pytest.fixture(scope="module")
def site(pbx):
    """Anna (1001) as a panel user with an API token; a client card; number
    200 routes a caller straight to Anna."""
    appliance, _carrier = pbx
    appliance.add_user("admin", "admin", PASSWORD)   # else the panel asks for the first administrator
    appliance.add_user("anna", "operator", PASSWORD, "--extension", "1001", "--language", "en")

    def change(db):
        db.execute("DELETE FROM outbound_routes")
        db.execute("DELETE FROM trunk_groups")
        routes.save_trunk_group(db, {"name": "pstn", "kind": "sip", "members": ["pstn"]}, "test")
        routes.add_defaults(db, ["pstn"], "test")
        outbound_store.save(db, {**outbound_store.DEFAULTS}, "test")
        clients.save(db, {"name": "Ivan Sidorov", "phones": CLIENT}, by="test")
    configure(appliance, change)
    db = store.open_store(appliance.host_base / "korund.db", migrate=False)
    try:
        scenarios.create(db, "to-anna", "To Anna", GRAPH)
        scenarios.publish(db, "to-anna", "test")
        scenarios.bind(db, "200", scenario="to-anna")
    finally:
        db.close()
    return appliance.panel_url(), appliance.api_token("anna", "click-to-call test")


def api_call(site, number: str) -> tuple[int, dict]:
    url, token = site
    req = urllib.request.Request(url + "/api/v1/desktop/call", method="POST", data=json.dumps({"number": number}).encode(),
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


class Desktop:
    """Anna's desktop as her browser uses it: the session cookie and the
    page's CSRF token."""

    def __init__(self, url: str):
        self.url = url
        self.http = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        login = self.token("/login")
        self.http.open(urllib.request.Request(
            url + "/login", method="POST",
            data=urllib.parse.urlencode({"csrf_token": login, "username": "anna", "password": PASSWORD}).encode()),
            timeout=20).read()
        self.csrf = self.token("/desktop")

    def token(self, path: str) -> str:
        page = self.http.open(self.url + path, timeout=20).read().decode()
        return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)

    def post(self, path: str, body: dict) -> tuple[int, dict]:
        req = urllib.request.Request(self.url + path, method="POST", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json", "X-CSRF-Token": self.csrf})
        try:
            with self.http.open(req, timeout=20) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")


def rang(carrier, mark: int, phone: str, timeout: float = 40) -> dict:
    return carrier.events.wait(mark, timeout, Event="UserEvent", UserEvent="SimPhoneRang", Phone=phone)


def hang_up(carrier, number: str) -> None:
    """The far end *number* puts the receiver down."""
    def channel():   # concise: channel!context!extension!...
        return next((f[0] for f in (line.split("!") for line in carrier.cli("core show channels concise"))
                     if len(f) > 2 and f[1] == "sim-phones" and f[2] == number), None)
    carrier.cli(f"channel request hangup {wait_for(channel, 15, what=f'{number} on the carrier')}")


def offer(appliance, linkedid: str) -> dict | None:
    with appliance.db() as conn:
        row = conn.execute("SELECT * FROM offers WHERE linkedid = ? ORDER BY id LIMIT 1", [linkedid]).fetchone()
    return dict(row) if row else None


def test_click_to_call_rings_the_operators_phone_then_the_number_and_pops_the_card(site, appliance, carrier):
    carrier.phone(CLIENT, "answer", tone=OUTSIDE_TONE)
    mark = carrier.events.mark()
    status, placed = api_call(site, "8 (495) 111-22-33")
    assert status == 202, placed
    assert (placed["number"], placed["to"], placed["phone"]) == (CLIENT, "number", "PJSIP/1001")
    # Anna's phone rings first, showing the number she is calling
    first = rang(carrier, mark, "1001")
    assert first["CallerNum"] == CLIENT and first["CallerName"] == "Ivan Sidorov"
    # she picks up (the simulated phone answers): the carrier sees the number
    out = rang(carrier, mark, CLIENT)
    assert out["CallerNum"] != CLIENT      # the line presents the call center, not the client's own number
    carrier.events.wait(mark, 20, Event="UserEvent", UserEvent="SimPhoneAnswered", Phone=CLIENT)
    # the desktop's card is the client's, for the call out
    popped = wait_for(lambda: offer(appliance, placed["linkedid"]), 15, what="the call's offer on Anna's desktop")
    assert (popped["extension"], popped["ani"]) == ("1001", CLIENT)
    wait_for(lambda: offer(appliance, placed["linkedid"])["state"] == "answered", 15, what="the offer answered")
    time.sleep(1)   # a second of talk, so the history has one
    hang_up(carrier, CLIENT)
    row = appliance.call_row(ani=CLIENT, timeout=30)
    assert (row["uniqueid"], row["direction"], row["operator"], row["out_purpose"]) == (
        placed["linkedid"], "outbound", "1001", "operator")


def test_a_refused_number_is_a_clear_error_and_nothing_rings(site, appliance, carrier):
    number = "+441632960123"
    mark = carrier.events.mark()
    status, body = api_call(site, number)
    assert status == 422 and body["field"] == "number"
    assert body["message"] == f"{number}: international numbers are not allowed by the outbound policy"
    time.sleep(3)   # proving nothing happened: a ring would have shown by now
    assert not carrier.events.find(mark, Event="UserEvent", UserEvent="SimPhoneRang")
    with appliance.db() as conn:
        audit = conn.execute("SELECT username, target FROM audit WHERE action = 'outbound refused' "
                             "ORDER BY id DESC LIMIT 1").fetchone()
    assert tuple(audit) == ("desktop anna", number)


def answered_by_anna(appliance, carrier, ani: str):
    """A caller on number 200, answered by Anna; (the call, its linkedid)."""
    carrier.phone("1001", "answer", tone=ANNA_TONE)
    call = carrier.call(ani=ani, dnis="200", hold=40)
    call.wait("SimPhoneAnswered", timeout=40, Phone="1001")

    def answered():
        with appliance.db() as conn:
            row = conn.execute("SELECT linkedid FROM offers WHERE extension = '1001' AND state = 'answered' "
                               "ORDER BY id DESC LIMIT 1").fetchone()
        return row[0] if row else None
    return call, wait_for(answered, 15, what="Anna's offer answered")


def heard_the_outside_phone(call) -> None:
    heard = audio.samples(call.recording())
    anna_at, outside_at = audio.first_tone_at(heard, ANNA_TONE), audio.first_tone_at(heard, OUTSIDE_TONE)
    # the caller talked with Anna, then with the outside number's phone
    assert anna_at is not None and outside_at is not None and outside_at > anna_at, (anna_at, outside_at)
    assert audio.tone_seconds(heard[int(outside_at * audio.RATE):], OUTSIDE_TONE) > 3


def test_a_blind_transfer_to_an_outside_number_reaches_the_carrier(site, appliance, carrier):
    number = "84957654321"
    carrier.phone(number, "answer", tone=OUTSIDE_TONE)
    desk = Desktop(site[0])
    call, linkedid = answered_by_anna(appliance, carrier, "+74957770011")
    time.sleep(2)   # the caller hears Anna for a while
    mark = carrier.events.mark()
    status, done = desk.post(f"/desktop/sessions/{linkedid}/transfer", {"target": "8 495 765-43-21", "kind": "blind"})
    assert status == 200, done
    assert (done["to"], done["target"]) == ("number", number)
    rang(carrier, mark, number)
    carrier.events.wait(mark, 20, Event="UserEvent", UserEvent="SimPhoneAnswered", Phone=number)
    call.ended(timeout=80)
    heard_the_outside_phone(call)
    # the call's history row: it went out through the national route, for the routing's purpose
    row = appliance.call_row(ani="+74957770011", timeout=30)
    assert (row["out_dialled"], row["out_route"], row["out_purpose"], row["operator"]) == (
        number, "national", "route", "1001")


def test_an_attended_transfer_to_an_outside_number_consults_it_first(site, appliance, carrier):
    number = "84957654322"
    carrier.phone(number, "answer", tone=OUTSIDE_TONE)
    desk = Desktop(site[0])
    call, linkedid = answered_by_anna(appliance, carrier, "+74957770012")
    time.sleep(2)
    mark = carrier.events.mark()
    status, done = desk.post(f"/desktop/sessions/{linkedid}/transfer", {"target": number, "kind": "attended"})
    assert status == 200 and done["consulting"], done
    # Anna talks to the number first; the caller waits
    rang(carrier, mark, number)
    carrier.events.wait(mark, 20, Event="UserEvent", UserEvent="SimPhoneAnswered", Phone=number)
    time.sleep(2)
    status, finished = desk.post(f"/desktop/sessions/{linkedid}/transfer/complete", {})
    assert status == 200, finished
    call.ended(timeout=80)
    heard_the_outside_phone(call)


@pytest.mark.parametrize("kind", ["blind", "attended"])
def test_a_call_out_is_transferred_to_a_colleague_with_its_session(site, appliance, carrier, kind):
    """Anna called a client from the desktop; she hands the client to Boris
    (1002), whose desktop then has the same session."""
    carrier.phone(CLIENT, "answer", tone=OUTSIDE_TONE)
    carrier.phone("1002", "answer", tone=1300)
    desk = Desktop(site[0])
    mark = carrier.events.mark()
    status, placed = api_call(site, CLIENT)
    assert status == 202, placed
    carrier.events.wait(mark, 40, Event="UserEvent", UserEvent="SimPhoneAnswered", Phone=CLIENT)
    linkedid = placed["linkedid"]
    wait_for(lambda: (offer(appliance, linkedid) or {}).get("state") == "answered", 15, what="Anna's call answered")
    status, done = desk.post(f"/desktop/sessions/{linkedid}/transfer", {"target": "1002", "kind": kind})
    assert status == 200, done
    carrier.events.wait(mark, 30, Event="UserEvent", UserEvent="SimPhoneAnswered", Phone="1002")
    if kind == "attended":
        status, finished = desk.post(f"/desktop/sessions/{linkedid}/transfer/complete", {})
        assert status == 200, finished

    def boris():
        with appliance.db() as conn:
            row = conn.execute("SELECT state FROM offers WHERE linkedid = ? AND extension = '1002'",
                               [linkedid]).fetchone()
        return row and row[0] == "answered"
    wait_for(boris, 20, what="Boris's offer of the same session answered")
    # Anna is off the call; the client and Boris talk until the client hangs up
    wait_for(lambda: not [ln for ln in appliance.cli("core show channels concise") if ln.startswith("PJSIP/1001-")],
             20, what="Anna's phone off the call")
    assert [ln for ln in carrier.cli("core show channels concise") if "!sim-phones!" + CLIENT + "!" in ln]
    hang_up(carrier, CLIENT)


def test_a_call_dialled_on_the_phone_is_transferred_attended_to_a_colleague(site, appliance, carrier):
    """Anna keyed the client's number in on her phone (no desktop click): the
    desktop's attended transfer still works, since the call out gives the
    operator the transfer feature (Dial's T)."""
    carrier.phone(CLIENT, "answer", tone=OUTSIDE_TONE)
    carrier.phone("1002", "answer", tone=1300)
    desk = Desktop(site[0])
    mark = carrier.events.mark()
    linkedid = "korund-test-phone-dialled-1"
    resp = appliance.mgr.send_action({
        "Action": "Originate", "Channel": "PJSIP/1001", "Context": "korund-operators", "Exten": CLIENT,
        "Priority": "1", "Async": "true", "Timeout": "20000", "ChannelId": linkedid})
    assert resp.get_header("Response") == "Success"
    carrier.events.wait(mark, 40, Event="UserEvent", UserEvent="SimPhoneAnswered", Phone=CLIENT)
    wait_for(lambda: (offer(appliance, linkedid) or {}).get("state") == "answered", 15, what="Anna's call answered")
    status, done = desk.post(f"/desktop/sessions/{linkedid}/transfer", {"target": "1002", "kind": "attended"})
    assert status == 200, done
    carrier.events.wait(mark, 30, Event="UserEvent", UserEvent="SimPhoneAnswered", Phone="1002")
    status, finished = desk.post(f"/desktop/sessions/{linkedid}/transfer/complete", {})
    assert status == 200, finished
    wait_for(lambda: not [ln for ln in appliance.cli("core show channels concise") if ln.startswith("PJSIP/1001-")],
             20, what="Anna's phone off the call")
    assert [ln for ln in carrier.cli("core show channels concise") if "!sim-phones!" + CLIENT + "!" in ln]
    hang_up(carrier, CLIENT)
