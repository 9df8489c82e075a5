"""The operator's desktop without Asterisk: offers from AMI events, roles,
CSRF on note saves, who may read which session, card edits, callback
orders, bad transfer targets, the event stream, today's figures."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from appliance.clients import desktop
from appliance.base import store
from appliance.users import store as users
from appliance.history.store import CallHistory
from tests.web.conftest import PASSWORD, Browser, as_role

CALL = "1764130000.10"


def _db(panel):
    return store.open_store(panel.config["KORUND_INSTANCE"].db_path)


def _offer(db, ext, linkedid=CALL, dest_uid=None, queue="support", ani="+79161234567"):
    desktop.on_event(db, {"Event": "AgentCalled", "Channel": "PJSIP/pstn-00000001", "Uniqueid": linkedid,
                          "Linkedid": linkedid, "CallerIDNum": ani, "DestChannel": f"PJSIP/{ext}-0000000a",
                          "DestUniqueid": dest_uid or f"{linkedid}-{ext}", "Queue": queue})


@pytest.fixture
def call(panel):
    """An inbound call that went through the IVR and is ringing on 1001."""
    db = _db(panel)
    CallHistory(db).handle({"Event": "Newchannel", "Context": "korund-inbound", "Uniqueid": CALL,
                            "Linkedid": CALL, "CallerIDNum": "+79161234567", "Exten": "100",
                            "Channel": "PJSIP/pstn-00000001"})
    db.execute("INSERT INTO call_steps (uniqueid, seq, step) VALUES (?, 0, ?), (?, 1, ?)",
               [CALL, json.dumps({"node": "ask", "type": "input"}),
                CALL, json.dumps({"node": "ask", "set": "contract", "value": "4711"})])
    _offer(db, "1001")
    op2 = db.execute("SELECT id FROM operators WHERE extension = '1002'").fetchone()[0]
    users.create(db, "boris", PASSWORD, "operator", language="en", operator_id=op2)
    db.close()
    return CALL


def _put_note(b: Browser, linkedid, text, token=True):
    headers = {"X-CSRF-Token": b.token("/desktop")} if token else {}
    return b.client.put(f"/desktop/sessions/{linkedid}/note", json={"text": text}, headers=headers)


def _post(b: Browser, path, body):
    return b.client.post(path, json=body, headers={"X-CSRF-Token": b.token("/desktop")})


def test_offers_follow_the_ami_events(panel):
    db = _db(panel)
    _offer(db, "1001", dest_uid="d1")
    # app_queue also reports the same leg as DialBegin: still one offer
    desktop.on_event(db, {"Event": "DialBegin", "Channel": "PJSIP/pstn-00000001", "Linkedid": CALL,
                          "DestChannel": "PJSIP/1001-0000000a", "DestUniqueid": "d1"})
    # a dial to the trunk or to an unknown endpoint is no offer
    desktop.on_event(db, {"Event": "DialBegin", "Linkedid": CALL, "DestChannel": "PJSIP/pstn-0000000b",
                          "DestUniqueid": "d2"})
    desktop.on_event(db, {"Event": "DialBegin", "Linkedid": CALL, "DestChannel": "PJSIP/9999-0000000c",
                          "DestUniqueid": "d3"})
    assert [o["state"] for o in desktop.offers_after(db, "1001", 0)] == ["ringing"]
    assert desktop.offers_after(db, "9999", 0) == []
    desktop.on_event(db, {"Event": "DialEnd", "DestUniqueid": "d1", "DialStatus": "ANSWER"})
    assert desktop.current_offer(db, "1001")["state"] == "answered"
    desktop.on_event(db, {"Event": "Hangup", "Uniqueid": "d1"})
    assert desktop.current_offer(db, "1001") is None
    assert desktop.offers_after(db, "1001", 0)[0]["state"] == "ended"
    # a call that rang out is 'missed'
    _offer(db, "1002", dest_uid="d4")
    desktop.on_event(db, {"Event": "DialEnd", "DestUniqueid": "d4", "DialStatus": "NOANSWER"})
    assert desktop.offers_after(db, "1002", 0)[0]["state"] == "missed"
    db.close()


def test_roles(panel, call):
    assert Browser(panel).client.get("/desktop").status_code == 302
    assert as_role(panel, "tech").client.get("/desktop").status_code == 403
    anna = as_role(panel, "anna")
    page = anna.client.get("/desktop").get_data(as_text=True)
    assert 'id="state-ready"' in page and 'id="note"' in page
    sup = as_role(panel, "super")
    chooser = sup.client.get("/desktop").get_data(as_text=True)
    assert 'id="open-1001"' in chooser
    ro = sup.client.get("/desktop?operator=1001").get_data(as_text=True)
    assert 'id="readonly"' in ro and 'id="note"' not in ro and 'id="transfer"' not in ro
    assert sup.client.get("/desktop?operator=0000").status_code == 404
    # supervisors read, but do not write
    assert sup.client.get(f"/desktop/sessions/{call}").status_code == 200
    assert _put_note(sup, call, "x").status_code == 403
    assert _post(sup, "/desktop/state", {"state": "ready"}).status_code == 403
    # the operator's own desktop only: ?operator is ignored for them
    assert 'id="readonly"' not in anna.client.get("/desktop?operator=1002").get_data(as_text=True)


def test_an_operator_cannot_read_another_operators_session(panel, call):
    boris = as_role(panel, "boris")
    assert boris.client.get(f"/desktop/sessions/{call}").status_code == 404
    assert _put_note(boris, call, "mine now").status_code == 404
    assert _post(boris, f"/desktop/sessions/{call}/client", {"name": "X", "phones": "+79161234567"}).status_code == 404
    anna = as_role(panel, "anna")
    s = anna.client.get(f"/desktop/sessions/{call}").get_json()
    assert s["ani"] == "+79161234567" and s["group"] == "support" and s["dnis"] == "100"
    assert {"kind": "value", "node": "ask", "name": "contract", "value": "4711"} in s["path"]
    assert anna.client.get("/desktop/sessions/nope;drop").status_code == 404


def test_notes_need_the_csrf_token_and_travel_with_a_transfer(panel, call):
    anna = as_role(panel, "anna")
    assert _put_note(anna, call, "forged", token=False).status_code == 400
    r = _put_note(anna, call, "wants a new contract")
    assert r.status_code == 200 and r.get_json()["saved_at"]
    assert _put_note(anna, call, "wants a new contract, urgent").status_code == 200   # replaced as typed
    bad = anna.client.put(f"/desktop/sessions/{call}/note", data="not json",
                          headers={"X-CSRF-Token": anna.token("/desktop"), "Content-Type": "application/json"})
    assert bad.status_code == 422
    too_long = _put_note(anna, call, "x" * (desktop.MAX_NOTE + 1))
    assert too_long.status_code == 422 and too_long.get_json()["field"] == "text"
    # the call is transferred to 1002: Boris now sees the same session
    db = _db(panel)
    desktop.on_event(db, {"Event": "DialBegin", "Channel": "PJSIP/pstn-00000001", "Linkedid": call,
                          "DestChannel": "PJSIP/1002-0000000f", "DestUniqueid": "t1", "CallerIDNum": "+79161234567"})
    db.close()
    boris = as_role(panel, "boris")
    s = boris.client.get(f"/desktop/sessions/{call}").get_json()
    assert [(n["author"], n["text"]) for n in s["notes"]] == [("anna", "wants a new contract, urgent")]
    assert [o["extension"] for o in s["offers"]] == ["1001", "1002"]
    assert _put_note(boris, call, "called back the branch").status_code == 200
    s = anna.client.get(f"/desktop/sessions/{call}").get_json()
    assert len(s["notes"]) == 2


def test_card_for_a_first_time_caller_then_edits_recorded(panel, call):
    anna = as_role(panel, "anna")
    s = anna.client.get(f"/desktop/sessions/{call}").get_json()
    assert s["client"] is None and s["crm"] is True
    bad = _post(anna, f"/desktop/sessions/{call}/client", {"name": "", "phones": "+79161234567"})
    assert bad.status_code == 422 and bad.get_json()["field"] == "name"
    r = _post(anna, f"/desktop/sessions/{call}/client",
              {"name": "Ivan Petrov", "phones": "+79161234567", "company": "Roga"})
    assert r.status_code == 200
    client = r.get_json()["client"]
    r = _post(anna, f"/desktop/sessions/{call}/client", {"id": client["id"], "name": "Ivan Petrov",
                                                         "phones": "+79161234567", "company": "Roga i Kopyta"})
    edits = r.get_json()["edits"]
    assert [e["what"] for e in edits] == ["client created", "client changed"]
    assert edits[1]["author"] == "anna" and edits[1]["details"]["changes"]["company"] == ["Roga", "Roga i Kopyta"]
    s = anna.client.get(f"/desktop/sessions/{call}").get_json()
    assert s["client"]["name"] == "Ivan Petrov"


def test_callback_order_and_bad_transfer_targets(panel, call):
    anna = as_role(panel, "anna")
    r = _post(anna, f"/desktop/sessions/{call}/callback", {"number": "", "slot": ""})
    assert r.status_code == 201
    db = _db(panel)
    row = db.execute("SELECT grp, number, uniqueid, asap FROM callbacks WHERE id = ?", [r.get_json()["order"]]).fetchone()
    db.close()
    assert tuple(row) == ("support", "+79161234567", call, 1)
    assert _post(anna, f"/desktop/sessions/{call}/callback", {"number": "12; drop"}).get_json()["field"] == "number"
    assert _post(anna, f"/desktop/sessions/{call}/callback", {"slot": "25:00-26:00"}).get_json()["field"] == "slot"
    for target in ("", "9999", "PJSIP/1002&Local/x", "nosuchgroup"):
        r = _post(anna, f"/desktop/sessions/{call}/transfer", {"target": target, "kind": "blind"})
        assert r.status_code == 422 and r.get_json()["field"] == "target", target


def test_transfer_needs_the_call_in_progress(panel, call):
    class FakeAmi:
        def __init__(self):
            self.sent = []

        def send_action(self, action):
            self.sent.append(action)
            return type("R", (), {"get_header": lambda self, k: "Success" if k == "Response" else ""})()

    db = _db(panel)
    mgr = FakeAmi()
    with pytest.raises(desktop.ConfigError):   # still ringing
        desktop.transfer(db, mgr, call, "blind", "1002", "anna", "1001")
    desktop.on_event(db, {"Event": "DialEnd", "DestUniqueid": f"{call}-1001", "DialStatus": "ANSWER"})
    desktop.transfer(db, mgr, call, "blind", "1002", "anna", "1001")
    assert mgr.sent[-1] == {"Action": "Redirect", "Channel": "PJSIP/pstn-00000001", "Context": "korund-route",
                            "Exten": "s", "Priority": "1"}
    assert mgr.sent[0]["Variable"] == "KORUND_TARGET_OPERATOR" and mgr.sent[0]["Value"] == "1002"
    mgr.sent.clear()
    desktop.transfer(db, mgr, call, "blind", "support", "anna", "1001")
    assert [a.get("Variable") for a in mgr.sent[:2]] == ["KORUND_TARGET_OPERATOR", "__KORUND_GROUP"]
    mgr.sent.clear()
    desktop.transfer(db, mgr, call, "attended", "1002", "anna", "1001")
    assert mgr.sent == [{"Action": "Atxfer", "Channel": "PJSIP/1001-0000000a", "Exten": "1002",
                         "Context": "korund-operators-local"}]
    assert [e["what"] for e in desktop.edits(db, call)] == ["transferred", "transferred", "consulting"]
    db.close()


def test_event_stream_pushes_the_offer_with_its_session(panel, call):
    anna = as_role(panel, "anna")
    r = anna.client.get("/desktop/events?after=0", buffered=False)
    assert r.mimetype == "text/event-stream"
    chunks = iter(r.response)
    text = ""
    while "event: offer" not in text:
        text += _next(chunks)
    data = json.loads(text.split("data: ", 1)[1].split("\n", 1)[0])
    assert data["offer"]["linkedid"] == call and data["session"]["ani"] == "+79161234567"
    assert data["session"]["path"][1]["value"] == "4711"
    # the operator picks up: the card's state follows
    db = _db(panel)
    desktop.on_event(db, {"Event": "DialEnd", "DestUniqueid": f"{call}-1001", "DialStatus": "ANSWER"})
    db.close()
    text = ""
    while "event: state" not in text:
        text += _next(chunks)
    r.close()
    state = json.loads(text.split("event: state\ndata: ", 1)[1].split("\n", 1)[0])
    assert state["linkedid"] == call and state["state"] == "answered"


def _next(chunks) -> str:
    chunk = next(chunks)
    return chunk.decode() if isinstance(chunk, bytes) else chunk


def test_today_figures(panel):
    db = _db(panel)
    now = datetime.now(timezone.utc)
    for i, talk in enumerate((60, 120)):
        start = now - timedelta(minutes=5 + i)
        db.execute("INSERT INTO calls (uniqueid, linkedid, started_at, connected_at, ended_at, operator, outcome) "
                   "VALUES (?, ?, ?, ?, ?, '1001', 'answered')",
                   [f"f{i}", f"f{i}", start.isoformat(), start.isoformat(),
                    (start + timedelta(seconds=talk)).isoformat()])
    figures = desktop.today_figures(db, "1001", now=now)
    db.close()
    assert figures == {"answered": 2, "talk_seconds": 180, "average_seconds": 90}
    anna = as_role(panel, "anna")
    assert anna.client.get("/desktop/figures").get_json()["figures"]["answered"] == 2


def test_attended_transfer_is_offered_only_when_asterisk_has_a_feature_code(panel, call):
    anna = as_role(panel, "anna")
    etc = panel.config["KORUND_INSTANCE"].etc
    etc.mkdir(parents=True, exist_ok=True)
    (etc / "features.conf").write_text("[general]\n")
    assert 'value="attended"' not in anna.client.get("/desktop").get_data(as_text=True)
    r = _post(anna, f"/desktop/sessions/{call}/transfer", {"target": "1002", "kind": "attended"})
    assert r.status_code == 422 and r.get_json()["field"] == "kind"
    (etc / "features.conf").write_text("[general]\n\n[featuremap]\natxfer => *2\n")
    assert 'value="attended"' in anna.client.get("/desktop").get_data(as_text=True)
