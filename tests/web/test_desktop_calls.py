"""Calling out from the operator's desktop without Asterisk: who may call
(operators only, their own phone, CSRF), numbers refused before anything
rings (the outbound policy, the class of service, bad input), what the
originate asks of Asterisk, the card popped by the call's own DialBegin,
and transfers to an outside number. Real calls: tests/telephony/test_desktop_calls.py."""
from __future__ import annotations

import pytest

from appliance.base import store
from appliance.clients import desktop, store as clients
from appliance.history.store import CallHistory
from appliance.outbound import routes, store as outbound_store
from appliance.users import store as users
from tests.web.conftest import as_role

CALL = "1764130000.20"


def _db(panel):
    return store.open_store(panel.config["KORUND_INSTANCE"].db_path)


def _call(b, number, token=True, path="/api/v1/desktop/call"):
    headers = {"X-CSRF-Token": b.token("/desktop")} if token else {}
    return b.client.post(path, json={"number": number}, headers=headers)


class FakeAmi:
    """Answers every action with Success (or *refuse* the named actions);
    Getvar gives *values*."""

    def __init__(self, values=None, refuse=()):
        self.sent, self.values, self.refuse = [], values or {}, refuse

    def send_action(self, action):
        self.sent.append(action)
        ok = action["Action"] not in self.refuse
        value = self.values.get(action["Variable"], "") if action["Action"] == "Getvar" else ""

        class Response:
            def get_header(self, key):
                return {"Response": "Success" if ok else "Error", "Value": value,
                        "Message": "" if ok else "Extension does not exist."}.get(key, "")
        return Response()


def refusals(panel) -> list[dict]:
    db = _db(panel)
    try:
        return outbound_store.recent_refusals(db)
    finally:
        db.close()


def test_only_an_operator_calls_and_only_with_the_csrf_token(panel):
    for role in ("admin", "super", "tech"):
        assert _call(as_role(panel, role), "84951234567").status_code == 403, role
    client = panel.test_client()
    assert client.post("/api/v1/desktop/call", json={"number": "84951234567"},
                       headers={"Authorization": "Bearer not-a-token"}).status_code == 401
    anna = as_role(panel, "anna")
    assert _call(anna, "84951234567", token=False).status_code == 400          # no CSRF token: refused
    # an operator's API token (a CRM's click-to-call) needs none; the number passed, no Asterisk here
    db = _db(panel)
    token = users.create_token(db, db.execute("SELECT id FROM users WHERE username = 'anna'").fetchone()[0], "crm")
    db.close()
    assert client.post("/api/v1/desktop/call", json={"number": "84951234567"},
                       headers={"Authorization": f"Bearer {token}"}).status_code == 503
    # a disabled operator's phone places no calls
    db = _db(panel)
    db.execute("UPDATE operators SET enabled = 0 WHERE extension = '1001'")
    db.close()
    r = _call(anna, "84951234567")
    assert r.status_code == 422 and "is disabled" in r.get_json()["message"]
    db = _db(panel)
    db.execute("UPDATE operators SET enabled = 1 WHERE extension = '1001'")
    db.close()
    # the desktop page hands the address to its script
    assert "/api/v1/desktop/call" in anna.client.get("/desktop").get_data(as_text=True)


@pytest.mark.parametrize("number, field_text", [
    ("", "is not a number to call"), ("12; drop", "is not a number to call"), ("+12", "is not a number to call"),
    ("PJSIP/1002&Local/1@x", "is not a number to call"), ("1" * 21, "is not a number to call"),
    ("1001", "your own phone"),
])
def test_bad_numbers_are_refused_before_asterisk_is_asked(panel, number, field_text):
    r = _call(as_role(panel, "anna"), number)
    assert r.status_code == 422 and r.get_json()["field"] == "number", r.get_data(as_text=True)
    assert field_text in r.get_json()["message"]


def test_a_number_the_policy_or_the_class_refuses_is_a_clear_error_and_audited(panel):
    anna = as_role(panel, "anna")
    r = _call(anna, "+441234567890")
    assert r.status_code == 422 and r.get_json()["field"] == "number"
    assert r.get_json()["message"] == "+441234567890: international numbers are not allowed by the outbound policy"
    [refusal] = refusals(panel)
    assert (refusal["by"], refusal["purpose"], refusal["reason"], refusal["caller"], refusal["for"]) == (
        "desktop anna", "operator", "international", "1001", "desktop call")
    # the policy allows it, but Anna's class of service is local only
    db = _db(panel)
    routes.set_operator_class(db, "1001", "local", "test")
    db.close()
    r = _call(anna, "8 (916) 123-45-67")
    assert r.status_code == 422
    assert r.get_json()["message"] == ("89161234567: the route 'national' is outside operator 1001's class of "
                                       "service (local)")
    assert refusals(panel)[0]["reason"] == "class"


def test_an_allowed_number_needs_asterisk(panel):
    # nothing listens for AMI in a Flask test: the number passed, Asterisk is not there
    r = _call(as_role(panel, "anna"), "8 495 123-45-67")
    assert r.status_code == 503 and r.get_json()["message"]
    assert refusals(panel) == []


def test_the_originate_rings_the_operators_own_phone_with_the_number_shown(panel):
    db = _db(panel)
    clients.save(db, {"name": 'Ivan "Vanya", Petrov', "phones": "+79161234567"}, by="test")
    checked = desktop.call_target(db, "8 916 123-45-67", "1001", "anna")
    assert checked == ("number", "89161234567")
    mgr = FakeAmi()
    placed = desktop.call_out(db, mgr, "1001", checked)
    originate = mgr.sent[-1]
    assert originate["Action"] == "Originate" and originate["Channel"] == "PJSIP/1001"
    assert (originate["Context"], originate["Exten"], originate["Priority"]) == ("korund-operators", "89161234567", "1")
    assert originate["ChannelId"] == placed["linkedid"] and placed["linkedid"].startswith("korund-dc-1001-")
    # the phone's display: the number and the client's name, nothing that could break AMI's syntax
    assert originate["Variable"] == ["CONNECTEDLINE(num,i)=89161234567", "CONNECTEDLINE(name,i)=Ivan Vanya Petrov",
                                     "BRIDGE_FEATURES=T"]    # once connected, the operator may transfer it
    assert placed["client_id"] is not None and placed["phone"] == "PJSIP/1001"
    # an analog phone on an FXS port rings there
    db.execute("UPDATE operators SET device = 'DAHDI/49' WHERE extension = '1001'")
    desktop.call_out(db, mgr, "1001", ("operator", "1002"))
    assert mgr.sent[-1]["Channel"] == "DAHDI/49" and mgr.sent[-1]["Exten"] == "1002"
    db.close()


def test_nothing_rings_on_a_busy_or_unreachable_phone(panel):
    db = _db(panel)
    busy = FakeAmi({"CHANNELS(^PJSIP/1001-)": "PJSIP/1001-00000012"})
    with pytest.raises(desktop.ConfigError, match="on a call"):
        desktop.call_out(db, busy, "1001", ("number", "84951234567"))
    gone = FakeAmi({"DEVICE_STATE(PJSIP/1001)": "UNAVAILABLE"})
    with pytest.raises(desktop.ConfigError, match="not reachable"):
        desktop.call_out(db, gone, "1001", ("number", "84951234567"))
    assert not [a for a in busy.sent + gone.sent if a["Action"] == "Originate"]
    with pytest.raises(desktop.ConfigError, match="refused the call"):
        desktop.call_out(db, FakeAmi(refuse=("Originate",)), "1001", ("number", "84951234567"))
    db.close()


def dial_begin(db, channel, dest, dial_string, uniqueid="korund-dc-1001-0a", linkedid=None):
    event = {"Event": "DialBegin", "Channel": channel, "Uniqueid": uniqueid, "Linkedid": linkedid or uniqueid,
             "DestChannel": dest, "DestUniqueid": dest + "-u", "DialString": dial_string}
    CallHistory(db).handle(event)
    desktop.on_event(db, event)


def test_a_call_out_from_the_phone_pops_the_card_of_the_number_called(panel):
    db = _db(panel)
    client_id = clients.save(db, {"name": "Ivan Sidorov", "phones": "+74951112233"}, by="test")
    # the call history has the number as dialled from the call's own VarSet
    CallHistory(db).handle({"Event": "VarSet", "Channel": "PJSIP/1001-0000000a", "Uniqueid": "korund-dc-1001-0a",
                            "Linkedid": "korund-dc-1001-0a", "Variable": "KORUND_OUT_PURPOSE", "Value": "operator"})
    CallHistory(db).handle({"Event": "VarSet", "Channel": "PJSIP/1001-0000000a", "Uniqueid": "korund-dc-1001-0a",
                            "Linkedid": "korund-dc-1001-0a", "Variable": "KORUND_OUT_DIALLED", "Value": "84951112233"})
    dial_begin(db, "PJSIP/1001-0000000a", "PJSIP/pstn-0000000b", "84951112233@pstn")
    [offer] = desktop.offers_after(db, "1001", 0)
    assert (offer["linkedid"], offer["ani"], offer["state"]) == ("korund-dc-1001-0a", "84951112233", "ringing")
    s = desktop.session(db, "korund-dc-1001-0a", "1001")
    assert s["outbound"] is True and s["client"]["id"] == client_id and s["ani"] == "84951112233"
    # the routes fail over to another line: the same offer, the new line's channel
    dial_begin(db, "PJSIP/1001-0000000a", "DAHDI/17-1", "G1/N84951112233")
    assert len(desktop.offers_after(db, "1001", 0)) == 1
    assert desktop.live_offer(db, "korund-dc-1001-0a", "1001")["channel"] == "DAHDI/17-1"
    desktop.on_event(db, {"Event": "DialEnd", "Channel": "PJSIP/1001-0000000a", "Uniqueid": "korund-dc-1001-0a",
                          "DestUniqueid": "DAHDI/17-1-u", "DialStatus": "ANSWER"})
    assert desktop.current_offer(db, "1001")["state"] == "answered"
    # a call to a colleague is the colleague's offer, not a call out
    dial_begin(db, "PJSIP/1002-0000000c", "PJSIP/1001-0000000d", "1001", uniqueid="u-internal")
    assert [o["ani"] for o in desktop.offers_after(db, "1002", 0)] == []
    # the caller of an inbound call is no operator: no offer for a line's own dialling
    dial_begin(db, "PJSIP/pstn-0000000e", "PJSIP/pstn-0000000f", "84951112233@pstn", uniqueid="u-trunk")
    assert db.execute("SELECT COUNT(*) FROM offers WHERE uniqueid = 'u-trunk'").fetchone()[0] == 0
    db.close()


def test_the_click_to_call_originate_pops_the_card_while_the_phone_rings(panel):
    db = _db(panel)
    # the originate's dial to the phone: no caller channel; the number is the phone's connected line
    ring = {"Event": "DialBegin", "DestChannel": "PJSIP/1001-00000010", "DestUniqueid": "korund-dc-1001-0b",
            "DestLinkedid": "korund-dc-1001-0b", "DestConnectedLineNum": "84951112233"}
    desktop.on_event(db, ring)
    [offer] = desktop.offers_after(db, "1001", 0)
    assert (offer["linkedid"], offer["ani"], offer["state"]) == ("korund-dc-1001-0b", "84951112233", "ringing")
    # an originate that shows no number (a feature code dialled for the phone) is no call to pop
    desktop.on_event(db, {**ring, "DestUniqueid": "u-feature", "DestLinkedid": "u-feature", "DestConnectedLineNum": ""})
    assert len(desktop.offers_after(db, "1001", 0)) == 1
    db.close()


def test_the_number_a_dial_string_sends():
    assert desktop.dialled_number("89161234567@pstn") == "89161234567"
    assert desktop.dialled_number("+79161234567@pstn") == "+79161234567"
    assert desktop.dialled_number("G1/N89161234567") == "89161234567"
    assert desktop.dialled_number("r2/84951234567") == "84951234567"
    assert desktop.dialled_number("pstn/sip:84951234567@192.0.2.1") == "84951234567"
    assert desktop.dialled_number("") == ""


@pytest.fixture
def answered(panel):
    """An inbound call answered by 1001."""
    db = _db(panel)
    CallHistory(db).handle({"Event": "Newchannel", "Context": "korund-inbound", "Uniqueid": CALL, "Linkedid": CALL,
                            "CallerIDNum": "+79161234567", "Exten": "100", "Channel": "PJSIP/pstn-00000001"})
    desktop.on_event(db, {"Event": "AgentCalled", "Channel": "PJSIP/pstn-00000001", "Uniqueid": CALL,
                          "Linkedid": CALL, "CallerIDNum": "+79161234567", "DestChannel": "PJSIP/1001-0000000a",
                          "DestUniqueid": f"{CALL}-1001", "Queue": "support"})
    desktop.on_event(db, {"Event": "DialEnd", "DestUniqueid": f"{CALL}-1001", "DialStatus": "ANSWER"})
    db.close()
    return CALL


def test_transfer_to_an_outside_number(panel, answered):
    db = _db(panel)
    mgr = FakeAmi()
    done = desktop.transfer(db, mgr, answered, "blind", "8 495 765-43-21", "anna", "1001")
    assert done == {"kind": "blind", "to": "number", "target": "84957654321", "consulting": False}
    assert [(a["Action"], a.get("Variable"), a.get("Value")) for a in mgr.sent[:2]] == [
        ("Setvar", "KORUND_TARGET_OPERATOR", ""), ("Setvar", "KORUND_XFER_NUMBER", "84957654321")]
    assert mgr.sent[-1] == {"Action": "Redirect", "Channel": "PJSIP/pstn-00000001", "Context": "korund-transfer-out",
                            "Exten": "s", "Priority": "1"}
    # attended: Atxfer keys the number in (DTMF has no +)
    mgr.sent.clear()
    desktop.transfer(db, mgr, answered, "attended", "+74957654321", "anna", "1001")
    assert mgr.sent == [{"Action": "Atxfer", "Channel": "PJSIP/1001-0000000a", "Exten": "84957654321",
                         "Context": "korund-transfer-out"}]
    assert desktop.keyed("+441234567890") == "810441234567890"
    assert [e["details"]["to"] for e in desktop.edits(db, answered)] == ["number", "number"]
    db.close()


def test_a_transfer_to_a_number_the_operator_may_not_call_is_refused(panel, answered):
    anna = as_role(panel, "anna")
    headers = {"X-CSRF-Token": anna.token("/desktop")}
    for target, reason in (("+441234567890", "international"), ("88091234567", "denied"), ("112", "service")):
        r = anna.client.post(f"/desktop/sessions/{answered}/transfer", json={"target": target, "kind": "blind"},
                             headers=headers)
        assert r.status_code == 422 and r.get_json()["field"] == "target", (target, r.get_data(as_text=True))
        assert refusals(panel)[0]["reason"] == reason
    # 112 is the operator's to call, not a caller's to be sent to
    assert refusals(panel)[0]["purpose"] == "route"
