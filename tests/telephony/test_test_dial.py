"""The technicians' test dial on real Asterisk, through the panel's API as a
technician places it: over the SIP trunk to the simulated carrier, the
steps come as the call goes -- the trunk seized, the digits sent, the
ringing, the answer (the carrier's phone rings, then picks up), the
clearing -- or the far end's cause in words (busy, rejected)."""
from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import pytest

from appliance.outbound import routes, store as outbound_store
from tests.harness import configure, wait_for

NATIONAL = "84951234567"
PASSWORD = "Techn1cian-Pa55"


def reset(db) -> None:
    """One SIP trunk group 'pstn' and the default routes over it; the default policy."""
    db.execute("DELETE FROM outbound_routes")
    db.execute("DELETE FROM trunk_groups")
    routes.save_trunk_group(db, {"name": "pstn", "kind": "sip", "members": ["pstn"]}, "test")
    routes.add_defaults(db, ["pstn"], "test")
    outbound_store.save(db, {**outbound_store.DEFAULTS}, "test")


@pytest.fixture(scope="module")
def token(pbx):
    appliance, _carrier = pbx
    configure(appliance, reset)
    appliance.add_user("tdtech", "technician", PASSWORD, "--language", "en")
    return appliance.api_token("tdtech", "test dial")


def api(appliance, token: str, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    req = urllib.request.Request(appliance.panel_url() + "/api/v1" + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def steps_of(appliance, token: str, dial_id: str) -> dict:
    code, dial = api(appliance, token, "GET", f"/test-dials/{dial_id}")
    assert code == 200, dial
    return dial


def when(appliance, token: str, dial_id: str, done, timeout: float, what: str) -> dict:
    """The test dial as the API shows it, once *done(dial)* holds."""
    def check():
        dial = steps_of(appliance, token, dial_id)
        return dial if done(dial) else None
    return wait_for(check, timeout, what=what)


def finished(appliance, token: str, dial_id: str, timeout: float = 120) -> dict:
    return when(appliance, token, dial_id, lambda d: not d["running"], timeout, "the test dial to end")


def kinds(dial: dict) -> list[str]:
    return [s["kind"] for s in dial["steps"]]


def audited(appliance, dial_id: str) -> list:
    with appliance.db() as conn:
        return [r for r in conn.execute("SELECT username, target, details FROM audit WHERE action = 'test dial'")
                if dial_id in (r["details"] or "")]


def test_a_test_dial_shows_seizure_digits_ringing_and_answer(appliance, carrier, token):
    carrier.phone(NATIONAL, "noanswer")       # it rings first; the test picks it up below
    mark = carrier.events.mark()
    code, dial = api(appliance, token, "POST", "/test-dials", {"number": NATIONAL, "route": "national"})
    assert code == 201, dial
    assert dial["running"] and dial["route"] == "national" and dial["by"] == "tdtech"
    rang = carrier.events.wait(mark, 40, Event="UserEvent", UserEvent="SimPhoneRang", Phone=NATIONAL)
    # the page sees the ringing while the far end still rings
    ringing = when(appliance, token, dial["id"], lambda d: "ringing" in kinds(d), 20, "the ringing step")
    assert ringing["running"] and "answer" not in kinds(ringing)
    # the far end picks up
    carrier.phone(NATIONAL, "answer")
    resp = carrier.mgr.send_action({"Action": "Redirect", "Channel": rang["Channel"], "Context": "sim-phones",
                                    "Exten": NATIONAL, "Priority": "1"})
    assert resp.get_header("Response") == "Success"
    carrier.events.wait(mark, 20, Event="UserEvent", UserEvent="SimPhoneAnswered", Phone=NATIONAL)
    done = finished(appliance, token, dial["id"])
    seen = kinds(done)
    assert seen == ["route", "seizure-trunk", "digits", "ringing", "answer", "cause", "ended"], done["steps"]
    text = {s["kind"]: s["text"] for s in done["steps"]}
    assert text["route"] == "Route national, trunk group pstn"
    assert text["seizure-trunk"].startswith("Seized the SIP trunk pstn (PJSIP/pstn-")
    assert text["digits"] == f"Digits sent: {NATIONAL}"
    assert text["cause"] == "Cleared after the answer: cause 16, normal clearing"
    times = [s["t"] for s in done["steps"]]
    assert times == sorted(times) and 0 <= times[0] < 15
    answer = next(s["t"] for s in done["steps"] if s["kind"] == "answer")
    ended = next(s["t"] for s in done["steps"] if s["kind"] == "ended")
    assert 2 <= ended - answer < 10          # held a few seconds after the answer, then hung up
    assert (done["outcome"], done["result"], done["error"]) == ("answered", "answered", "")
    assert audited(appliance, dial["id"])[0]["username"] == "tdtech"


@pytest.mark.parametrize("mode, outcome, cause", [("busy", "Busy", "cause 17, user busy"),
                                                  ("reject", "Rejected", "cause 21, call rejected")])
def test_a_test_dial_names_the_far_ends_cause(appliance, carrier, token, mode, outcome, cause):
    carrier.phone(NATIONAL, mode)
    code, dial = api(appliance, token, "POST", "/test-dials", {"number": NATIONAL, "route": "national"})
    assert code == 201, dial
    done = finished(appliance, token, dial["id"])
    assert kinds(done) == ["route", "seizure-trunk", "digits", "cause", "ended"], done["steps"]
    last = next(s for s in done["steps"] if s["kind"] == "cause")
    assert last["text"] == f"{outcome}: {cause}"
    assert done["outcome"] == {"busy": "busy", "reject": "rejected"}[mode]
    assert audited(appliance, dial["id"])


def test_a_number_the_policy_refuses_is_not_dialled(appliance, carrier, token):
    mark = carrier.events.mark()
    code, body = api(appliance, token, "POST", "/test-dials", {"number": "88091234567", "route": "national"})
    assert code == 422 and body["field"] == "number" and "outbound policy" in body["message"]
    time.sleep(2)      # proving that nothing reaches the carrier
    assert carrier.events.find(mark, Event="UserEvent", UserEvent="SimPhoneRang") == []
