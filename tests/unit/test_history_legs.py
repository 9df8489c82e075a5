"""The legs of a call (F14) from recorded event sequences: the AMI events
and the CEL/CDR lines of a real call on the test pair (IVR, queue, 1001 rang
out, 1002 answered, 1002 hung up), replayed whole, twice, cut off mid-call
and completed from the logs."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from appliance.history import legs as call_legs
from appliance.callbacks import store as callbacks
from appliance.history.store import CallHistory
from appliance.base.errors import ConfigError
from appliance.render import config as render_config

DATA = Path(__file__).parent / "data"
EVENTS = json.loads((DATA / "history_ivr_queue_call.json").read_text())
CALL = next(e["Linkedid"] for e in EVENTS if e["Event"] == "QueueCallerJoin")
FULL_KINDS = ["trunk", "ivr", "queue", "offer", "offer", "operator", "hangup"]


def snapshot(db):
    return (db.execute("SELECT * FROM calls ORDER BY id").fetchall(),
            db.execute("SELECT linkedid, leg_key, kind, at, ended_at, party, result, detail FROM call_legs "
                       "ORDER BY id").fetchall())


def kinds(db, linkedid=CALL):
    return [l["kind"] for l in call_legs.legs(db, linkedid)]


def replay(db, events):
    h = CallHistory(db)
    for e in events:
        h.handle(e)
    return h


def call(db, linkedid=CALL):
    return call_legs.find(db, linkedid)


def test_the_recorded_call_has_its_legs_in_order(demo_db):
    replay(demo_db, EVENTS)
    legs = call_legs.legs(demo_db, CALL)
    assert [l["kind"] for l in legs] == FULL_KINDS
    offers = [(l["party"], l["result"]) for l in legs if l["kind"] == "offer"]
    assert offers == [("1001", "no-answer"), ("1002", "answered")]
    assert legs[2]["result"] == "answered" and legs[2]["party"] == "support"
    assert legs[5]["party"] == "1002" and legs[-1]["result"] == "operator"
    assert legs[0]["offset"] == 0 and all(l["offset"] >= 0 for l in legs)
    row = call(demo_db)
    assert (row["outcome"], row["operator"], row["hangup_by"], row["transfers"], row["ivr_only"]) == \
        ("answered", "1002", "operator", 0, 0)
    assert row["queued_at"] == legs[2]["at"]
    # queue entry to 1002's answer: 5 s at 1001, about a second to the next try
    assert 5 < row["wait_seconds"] < 8
    assert row["talk_seconds"] == pytest.approx(legs[5]["duration"])
    assert row["hold_seconds"] == 0


def test_replaying_the_same_events_changes_nothing(demo_db):
    replay(demo_db, EVENTS)
    once = snapshot(demo_db)
    replay(demo_db, EVENTS)
    assert snapshot(demo_db) == once


def test_events_lost_mid_call_are_rebuilt_from_the_cel_and_cdr_logs(demo_db, tmp_path):
    # The events service died right after the operator answered.
    cut = next(i for i, e in enumerate(EVENTS) if e["Event"] == "AgentConnect") + 1
    h = replay(demo_db, EVENTS[:cut])
    assert call(demo_db)["ended_at"] is None
    cel, cdr = tmp_path / "cel.csv", tmp_path / "cdr.csv"
    cel.write_bytes((DATA / "history_ivr_queue_call.cel.csv").read_bytes())
    cdr.write_bytes((DATA / "history_ivr_queue_call.cdr.csv").read_bytes())
    assert h.catch_up_cel(cel) == 1
    h.catch_up(cdr)
    assert kinds(demo_db) == FULL_KINDS
    row = call(demo_db)
    assert (row["outcome"], row["operator"], row["hangup_by"]) == ("answered", "1002", "operator")
    assert row["talk_seconds"] > 2
    rebuilt = snapshot(demo_db)
    # A restart reads the logs from the start again (position lost): nothing doubles.
    demo_db.execute("DELETE FROM settings WHERE key LIKE 'events.c%_offset'")
    h.catch_up_cel(cel)
    h.catch_up(cdr)
    assert snapshot(demo_db) == rebuilt
    # and the rest of the live events arriving late change nothing either
    replay(demo_db, EVENTS[cut:])
    assert kinds(demo_db) == FULL_KINDS


def test_a_call_missed_whole_is_rebuilt_from_the_logs(demo_db, tmp_path):
    cel, cdr = tmp_path / "cel.csv", tmp_path / "cdr.csv"
    cel.write_bytes((DATA / "history_ivr_queue_call.cel.csv").read_bytes())
    cdr.write_bytes((DATA / "history_ivr_queue_call.cdr.csv").read_bytes())
    h = CallHistory(demo_db)
    h.catch_up_cel(cel)
    h.catch_up(cdr)
    legs = call_legs.legs(demo_db, CALL)
    assert [l["kind"] for l in legs] == FULL_KINDS
    assert [(l["party"], l["result"]) for l in legs if l["kind"] == "offer"] == \
        [("1001", "no-answer"), ("1002", "answered")]
    row = call(demo_db)
    assert (row["direction"], row["ani"], row["grp"], row["operator"], row["outcome"], row["hangup_by"]) == \
        ("inbound", "4956100001", "support", "1002", "answered", "operator")
    assert 5 < row["wait_seconds"] < 8


def test_a_call_still_up_is_read_again_once_it_ended(demo_db, tmp_path):
    lines = (DATA / "history_ivr_queue_call.cel.csv").read_text().splitlines(keepends=True)
    cel = tmp_path / "cel.csv"
    cel.write_text("".join(lines[:8]) + lines[8][:20])   # half a line at the end, too
    h = CallHistory(demo_db)
    assert h.catch_up_cel(cel) == 0
    assert call(demo_db) is None
    cel.write_text("".join(lines))
    assert h.catch_up_cel(cel) == 1
    assert kinds(demo_db)[:4] == ["trunk", "ivr", "queue", "offer"]
    assert h.catch_up_cel(cel) == 0   # read, applied: not again


def test_calls_after_a_long_call_are_applied_once(demo_db, tmp_path):
    """A call still up keeps the read position at its first line; the calls
    that end meanwhile are applied once, not at every round."""
    lines = (DATA / "history_ivr_queue_call.cel.csv").read_text().splitlines(keepends=True)
    long_call = '"CHAN_START","1795675700.000001","4950000000","100","korund-inbound","PJSIP/pstn-000000ff","","","1795675700.9","1795675700.9","",""\n'
    cel = tmp_path / "cel.csv"
    cel.write_text(long_call + "".join(lines))
    h = CallHistory(demo_db)
    assert h.catch_up_cel(cel) == 1
    assert h.catch_up_cel(cel) == 0
    with open(cel, "a") as f:
        f.write(long_call.replace("CHAN_START", "LINKEDID_END").replace("700.000001", "800.5"))
    assert h.catch_up_cel(cel) == 1   # the long call, at last
    assert h.catch_up_cel(cel) == 0


def ev(kind, uid, linkedid, ts, **headers):
    return {"Event": kind, "Uniqueid": uid, "Linkedid": linkedid, "Timestamp": str(ts), **headers}


def test_the_last_to_hang_up_before_the_end_is_who_hung_up(demo_db):
    """An attended transfer: 1001 hangs up to complete it; later the caller."""
    c = "1800000000.1"
    h = replay(demo_db, [
        ev("Newchannel", c, c, 1800000000, Context="korund-inbound", CallerIDNum="111", Exten="100",
           Channel="PJSIP/pstn-1"),
        ev("DialBegin", c, c, 1800000001, DestChannel="PJSIP/1001-2", DestUniqueid="1800000000.2"),
        ev("DialEnd", c, c, 1800000002, DestChannel="PJSIP/1001-2", DestUniqueid="1800000000.2",
           DialStatus="ANSWER"),
        {"Event": "AttendedTransfer", "Result": "Success", "OrigTransfererLinkedid": c,
         "OrigTransfererUniqueid": "1800000000.2", "OrigTransfererChannel": "PJSIP/1001-2",
         "TransferTargetChannel": "PJSIP/1002-4", "Timestamp": "1800000010"},
        ev("HangupRequest", "1800000000.2", c, 1800000010, Channel="PJSIP/1001-2"),
        ev("Hangup", "1800000000.2", c, 1800000010, Channel="PJSIP/1001-2"),
        ev("Hold", c, c, 1800000012, Channel="PJSIP/pstn-1"),
        ev("Unhold", c, c, 1800000015, Channel="PJSIP/pstn-1"),
        ev("HangupRequest", c, c, 1800000020, Channel="PJSIP/pstn-1"),
        ev("Hangup", c, c, 1800000020, Channel="PJSIP/pstn-1", Cause="16"),
    ])
    row = call(demo_db, c)
    assert (row["hangup_by"], row["transfers"], row["hold_seconds"]) == ("caller", 1, 3.0)
    assert kinds(demo_db, c) == ["trunk", "offer", "operator", "transfer", "hold", "hangup"]
    transfer = next(l for l in call_legs.legs(demo_db, c) if l["kind"] == "transfer")
    assert (transfer["party"], transfer["detail"]["kind"]) == ("1002", "attended")
    # a HangupRequest replayed after the end does not move it
    h.handle(ev("HangupRequest", "1800000000.2", c, 1800000010, Channel="PJSIP/1001-2"))
    assert call(demo_db, c)["hangup_by"] == "caller"


def test_a_call_that_ended_in_the_ivr_is_ivr_only(demo_db):
    c = "1800000100.1"
    replay(demo_db, [
        ev("Newchannel", c, c, 1800000100, Context="korund-inbound", CallerIDNum="222", Exten="100",
           Channel="PJSIP/pstn-9"),
        ev("Newexten", c, c, 1800000100.2, Context="korund-inbound", Application="AGI"),
        ev("Hangup", c, c, 1800000130, Channel="PJSIP/pstn-9", Cause="16"),
    ])
    row = call(demo_db, c)
    assert (row["ivr_only"], row["outcome"], row["hangup_by"], row["wait_seconds"]) == (1, "abandoned", "system", None)
    assert kinds(demo_db, c) == ["trunk", "ivr", "hangup"]


def test_a_callback_the_dialer_places_is_an_outbound_call(demo_db):
    order = callbacks.add(demo_db, "support", "+74951112233", "74951112233", "",
                          datetime.now(timezone.utc), None, asap=True)
    uid = f"korund-cb-{order}-abc123"
    demo_db.execute("INSERT INTO callback_attempts (callback_id, at, operator, result, uniqueid) "
                    "VALUES (?, '2027-01-01T00:00:00+00:00', '1001', NULL, ?)", [order, uid])
    replay(demo_db, [
        ev("Newchannel", uid, uid, 1800000200, Context="", Channel="PJSIP/1001-10"),
        ev("Newstate", uid, uid, 1800000203, ChannelState="6", Channel="PJSIP/1001-10"),
        ev("DialBegin", uid, uid, 1800000204, Channel="PJSIP/1001-10", DestChannel="PJSIP/pstn-11",
           DestUniqueid="1800000204.5", DestExten="74951112233"),
        ev("DialEnd", uid, uid, 1800000210, Channel="PJSIP/1001-10", DestChannel="PJSIP/pstn-11",
           DestUniqueid="1800000204.5", DialStatus="ANSWER"),
        ev("HangupRequest", "1800000204.5", uid, 1800000250, Channel="PJSIP/pstn-11"),
        ev("Hangup", "1800000204.5", uid, 1800000250, Channel="PJSIP/pstn-11", Cause="16"),
        ev("Hangup", uid, uid, 1800000250.1, Channel="PJSIP/1001-10", Cause="16"),
    ])
    row = call(demo_db, uid)
    assert (row["direction"], row["ani"], row["operator"], row["grp"], row["outcome"], row["hangup_by"]) == \
        ("outbound", "+74951112233", "1001", "support", "answered", "caller")
    legs = call_legs.legs(demo_db, uid)
    assert [(l["kind"], l["result"]) for l in legs] == [
        ("offer", "answered"), ("trunk", "answered"), ("operator", ""), ("hangup", "caller")]
    assert row["talk_seconds"] == pytest.approx(40.1)


def test_an_operators_call_out_over_an_e1_span_is_one_outbound_row_with_its_route(demo_db):
    """The events of an operator's call out through korund-outbound: the
    caller's leg sets the purpose and what the route decided, the DAHDI leg
    its span and circuit, the subroutine the status and the cause."""
    uid, out = "1800000300.1", "1800000301.2"

    def var(u, ts, name, value, channel="PJSIP/1001-20"):
        return ev("VarSet", u, uid, ts, Channel=channel, Variable=name, Value=value)
    replay(demo_db, [
        ev("Newchannel", uid, uid, 1800000300, Context="korund-operators", Channel="PJSIP/1001-20",
           Exten="84951234567"),
        var(uid, 1800000300.1, "KORUND_OUT_PURPOSE", "operator"),
        var(uid, 1800000300.2, "KORUND_OUT_DIALLED", "84951234567"),
        var(uid, 1800000300.3, "KORUND_OUT_ROUTE", "national"),
        var(uid, 1800000300.4, "KORUND_OUT_TRUNK_GROUP", "e1"),
        var(uid, 1800000300.5, "KORUND_OUT_SENT", "4951234567"),
        ev("DialBegin", uid, uid, 1800000301, Channel="PJSIP/1001-20", DestChannel="DAHDI/i1/4951234567-1",
           DestUniqueid=out, DialString="G1/Nn4951234567"),
        var(out, 1800000301.1, "KORUND_OUT_SPAN", "1", channel="DAHDI/i1/4951234567-1"),
        var(out, 1800000301.2, "KORUND_OUT_CIRCUIT", "31", channel="DAHDI/i1/4951234567-1"),
        ev("DialEnd", uid, uid, 1800000305, Channel="PJSIP/1001-20", DestChannel="DAHDI/i1/4951234567-1",
           DestUniqueid=out, DialStatus="BUSY"),
        ev("Hangup", out, uid, 1800000305.1, Channel="DAHDI/i1/4951234567-1", Cause="17"),
        var(uid, 1800000305.2, "KORUND_OUT_CAUSE", "17"),
        var(uid, 1800000305.3, "KORUND_OUT_STATUS", "BUSY"),
        ev("Hangup", uid, uid, 1800000306, Channel="PJSIP/1001-20", Cause="17"),
    ])
    row = call(demo_db, uid)
    assert (row["direction"], row["ani"], row["operator"], row["out_purpose"]) == (
        "outbound", "84951234567", "1001", "operator")
    assert (row["out_route"], row["out_trunk_group"], row["out_span"], row["out_circuit"]) == ("national", "e1", 1, 31)
    assert (row["out_dialled"], row["out_sent"], row["out_status"], row["out_cause"]) == (
        "84951234567", "4951234567", "BUSY", 17)
    rec = call_legs.record(demo_db, uid)
    assert (rec["out_outcome"], rec["out_cause_text"]) == ("busy", "user busy")
    dial = next(leg for leg in rec["legs"] if leg["kind"] == "trunk")
    assert dial["detail"]["number"] == "4951234567" and dial["result"] == "busy"
    # a value that is not what the dialplan writes is filtered, never stored as given
    replay(demo_db, [var(uid, 1800000307, "KORUND_OUT_ROUTE", "x'; DROP TABLE calls;--")])
    assert call(demo_db, uid)["out_route"] == "xcalls--"


def test_search_filters_pages_and_refuses_bad_filters(demo_db):
    replay(demo_db, EVENTS)
    found = call_legs.search(demo_db, {"operator": "1001", "direction": "inbound", "ani": "61000"})
    assert [c["uniqueid"] for c in found["calls"]] == [CALL]   # 1001 was offered the call
    assert call_legs.search(demo_db, {"outcome": "abandoned"})["total"] == 0
    assert call_legs.search(demo_db, {"start": "2026-11-26", "end": "2026-11-26", "line": "pstn"})["total"] == 1
    assert call_legs.search(demo_db, {"group": "sales"})["total"] == 0
    assert call_legs.search(demo_db, {}, extension="1001")["total"] == 1
    assert call_legs.search(demo_db, {}, extension="1003")["total"] == 0
    for bad in ({"start": "yesterday"}, {"direction": "sideways"}, {"ani": "12%"}, {"colour": "red"}):
        with pytest.raises(ConfigError) as err:
            call_legs.search(demo_db, bad)
        assert err.value.field == next(iter(bad))
    with pytest.raises(ConfigError):
        call_legs.search(demo_db, {}, page=0)
    rec = call_legs.record(demo_db, str(call(demo_db)["id"]))
    assert rec["uniqueid"] == CALL and len(rec["legs"]) == len(FULL_KINDS)
    assert call_legs.record(demo_db, "999") is None


def test_the_ivr_leg_carries_the_path_and_the_inputs(demo_db):
    from appliance.scenarios.store import record_path
    replay(demo_db, EVENTS)
    record_path(demo_db, CALL, [{"node": "menu", "type": "menu"}, {"node": "menu", "set": "choice", "value": "1"},
                                {"node": "account", "type": "input"}, {"node": "account", "set": "account",
                                                                        "value": "4242"}])
    ivr = next(l for l in call_legs.legs(demo_db, CALL) if l["kind"] == "ivr")
    assert ivr["detail"]["path"] == [
        {"kind": "node", "node": "menu", "type": "menu"}, {"kind": "value", "node": "menu", "name": "choice", "value": "1"},
        {"kind": "node", "node": "account", "type": "input"},
        {"kind": "value", "node": "account", "name": "account", "value": "4242"}]
    assert 4 < ivr["duration"] < 8   # from the AGI's start to the queue


def test_asterisk_logs_the_channel_events_the_catch_up_reads(demo_db, inst):
    from appliance.history.store import CEL_FIELDS
    from appliance.render import core
    files = core.render(render_config.load(demo_db), inst)
    assert "enable = yes" in files["cel.conf"]
    for event in ("CHAN_START", "ANSWER", "HANGUP", "APP_START", "APP_END", "BLINDTRANSFER", "ATTENDEDTRANSFER",
                  "LINKEDID_END"):
        assert event in files["cel.conf"]
    mapping = files["cel_custom.conf"].split("=>", 1)[1].strip()
    assert mapping.count("CSV_QUOTE") == len(CEL_FIELDS)
    assert inst.cel_log.parent in inst.asterisk_dirs()


def test_a_dialer_call_missed_whole_is_rebuilt_from_the_cel_log(demo_db, tmp_path):
    """The CEL lines of a real callback (operator 1001 rung, answered, the
    client dialed through the trunk, the client hung up)."""
    order = callbacks.add(demo_db, "support", "74956100007", "74956100007", "",
                          datetime.now(timezone.utc), None, asap=True)
    uid = "korund-cb-1-4d3add7c2b36"
    demo_db.execute("INSERT INTO callback_attempts (callback_id, at, operator, result, uniqueid) "
                    "VALUES (?, '2026-11-26T07:21:30+00:00', '1001', NULL, ?)", [order, uid])
    op, client = "PJSIP/1001-00000003", "PJSIP/pstn-00000004"
    dial = "PJSIP/74956100007@pstn,40,g"

    def line(kind, t, exten, ctx, chan, app, data, u, extra=""):
        fields = [kind, t, "", exten, ctx, chan, app, data, u, uid, "", extra]
        return ",".join('"' + f.replace('"', '""') + '"' for f in fields) + "\n"
    cel = tmp_path / "cel.csv"
    cel.write_text("".join([
        line("CHAN_START", "1795677690.603616", "s", "korund-operators", op, "", "", uid),
        line("ANSWER", "1795677690.620265", "s", "korund-operators", op, "AppDial2", "(Outgoing Line)", uid),
        line("APP_START", "1795677690.623338", "s", "korund-callback", op, "Dial", dial, uid),
        line("CHAN_START", "1795677690.623755", "s", "korund-inbound", client, "", "", "1795677690.6"),
        line("ANSWER", "1795677690.635204", "s", "korund-inbound", client, "AppDial", "(Outgoing Line)",
             "1795677690.6"),
        line("HANGUP", "1795677693.249341", "s", "korund-inbound", client, "AppDial", "(Outgoing Line)",
             "1795677690.6", json.dumps({"hangupcause": 16, "hangupsource": client, "dialstatus": ""})),
        line("APP_END", "1795677693.250026", "s", "korund-callback", op, "Dial", dial, uid),
        line("HANGUP", "1795677693.251742", "h", "korund-callback", op, "AppDial2", "(Outgoing Line)", uid,
             json.dumps({"hangupcause": 16, "hangupsource": client, "dialstatus": "ANSWER"})),
        line("LINKEDID_END", "1795677693.251742", "h", "korund-callback", op, "AppDial2", "(Outgoing Line)", uid),
    ]))
    assert CallHistory(demo_db).catch_up_cel(cel) == 1
    row = call(demo_db, uid)
    assert (row["direction"], row["ani"], row["operator"], row["outcome"], row["hangup_by"]) == \
        ("outbound", "74956100007", "1001", "answered", "caller")
    assert [(l["kind"], l["result"]) for l in call_legs.legs(demo_db, uid)] == [
        ("offer", "answered"), ("trunk", "answered"), ("operator", ""), ("hangup", "caller")]
    assert row["talk_seconds"] == pytest.approx(2.62, abs=0.05)


def test_an_attended_transfer_asterisk_could_not_name_takes_its_target_from_the_desktop(demo_db):
    from appliance.clients import desktop
    end = max(i for i, e in enumerate(EVENTS) if e["Event"] == "Hangup" and e.get("Uniqueid") == CALL)
    done = {"Event": "AttendedTransfer", "Result": "Success", "OrigTransfererLinkedid": CALL,
            "OrigTransfererUniqueid": "1.77", "OrigTransfererChannel": "PJSIP/1001-00000010",
            "TransfereeLinkedid": CALL, "DestType": "Link", "Timestamp": EVENTS[end]["Timestamp"]}
    h = CallHistory(demo_db)
    for e in EVENTS[:end]:
        h.handle(e)
    h.handle(done)   # as Asterisk sent it under load: no TransferTargetChannel, no DestExtension
    desktop.record_edit(demo_db, CALL, "anna", "transferred", {"kind": "attended", "to": "operator", "target": "1002"})
    for e in EVENTS[end:]:
        h.handle(e)
    transfer = next(l for l in call_legs.legs(demo_db, CALL) if l["kind"] == "transfer")
    assert (transfer["party"], transfer["detail"]["kind"], transfer["detail"]["by"]) == ("1002", "attended", "1001")
