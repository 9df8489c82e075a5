from appliance.history.store import CallHistory

UID = "1700000000.1"


def ev(kind, **headers):
    return {"Event": kind, "Uniqueid": UID, "Linkedid": UID, **headers}


def test_one_row_per_inbound_call_from_events(demo_db):
    h = CallHistory(demo_db)
    h.handle(ev("Newchannel", Context="korund-inbound", CallerIDNum="+7(495)123;45",
                Exten="100", Channel="PJSIP/pstn-00000001", Timestamp="1700000000.0"))
    h.handle(ev("Newchannel", Uniqueid="1700000000.2", Context="korund-operators",
                Channel="PJSIP/1001-00000002", Timestamp="1700000001.0"))
    h.handle(ev("VarSet", Variable="__KORUND_GROUP", Value="support"))
    h.handle(ev("VarSet", Variable="__KORUND_ROUTE_SOURCE", Value="agi"))
    h.handle(ev("Newstate", ChannelState="6", Timestamp="1700000000.5"))
    h.handle({"Event": "AgentConnect", "Linkedid": UID, "Queue": "support",
              "DestChannel": "PJSIP/1001-00000002", "MemberName": "Anna", "Timestamp": "1700000006.0"})
    h.handle(ev("Hangup", Cause="16", Timestamp="1700000020.0"))
    rows = demo_db.execute("SELECT ani, dnis, trunk, grp, route_source, operator, outcome, "
                           "started_at, connected_at, ended_at FROM calls").fetchall()
    assert rows == [("+749512345", "100", "pstn", "support", "agi", "1001", "answered",
                     "2023-11-14T22:13:20.000+00:00", "2023-11-14T22:13:26.000+00:00",
                     "2023-11-14T22:13:40.000+00:00")]


def test_a_call_that_never_reached_an_operator_is_abandoned(demo_db):
    h = CallHistory(demo_db)
    h.handle(ev("Newchannel", Context="korund-inbound", CallerIDNum="1", Exten="100",
                Channel="PJSIP/pstn-1", Timestamp="1700000000.0"))
    h.handle(ev("Hangup", Cause="16", Timestamp="1700000009.0"))
    assert demo_db.execute("SELECT outcome FROM calls").fetchone()[0] == "abandoned"


def cdr_line(uid, linked, src, dst, chan, dstchan, start, answer, end, disp, ctx, *tags):
    return ",".join(f'"{v}"' for v in (uid, linked, src, dst, chan, dstchan, start, answer, end, disp, ctx, *tags))


def test_catch_up_completes_corrects_and_adds_calls_the_events_missed(demo_db, tmp_path):
    h = CallHistory(demo_db)
    # Seen starting, then the consumer died.
    h.handle(ev("Newchannel", Context="korund-inbound", CallerIDNum="111", Exten="100",
                Channel="PJSIP/pstn-00000001", Timestamp="1700000000.0"))
    # Seen whole, but the AgentConnect was missed: the Hangup said abandoned.
    other = "1700000050.2"
    h.handle(ev("Newchannel", Uniqueid=other, Linkedid=other, Context="korund-inbound", CallerIDNum="444",
                Exten="100", Channel="PJSIP/pstn-00000003", Timestamp="1700000050.0"))
    h.handle(ev("Hangup", Uniqueid=other, Linkedid=other, Cause="16", Timestamp="1700000070.0"))
    log = tmp_path / "cdr.csv"
    log.write_text("\n".join([
        cdr_line(UID, UID, "111", "q-support", "PJSIP/pstn-00000001", "PJSIP/1002-00000003",
                 "1700000000.0", "1700000000.1", "1700000030.0", "ANSWERED", "korund-route",
                 "100", "support", "agi"),
        cdr_line(other, other, "444", "q-support", "PJSIP/pstn-00000003", "PJSIP/1001-00000004",
                 "1700000050.0", "1700000055.0", "1700000070.0", "ANSWERED", "korund-route",
                 "100", "support", "agi"),
        # A whole call while the consumer was down; a busy attempt, then an answer.
        cdr_line("1700000100.5", "1700000100.5", "222", "q-support", "PJSIP/pstn-00000005",
                 "PJSIP/1001-00000006", "1700000100.0", "", "1700000110.0", "BUSY", "korund-route",
                 "200", "sales", "fallback"),
        cdr_line("1700000100.5", "1700000100.5", "222", "q-support", "PJSIP/pstn-00000005",
                 "PJSIP/1002-00000007", "1700000100.0", "1700000105.0", "1700000120.0", "ANSWERED",
                 "korund-route", "200", "sales", "fallback"),
        # An operator calling another: not an inbound call.
        cdr_line("1700000300.1", "1700000300.1", "1001", "1002", "PJSIP/1001-00000009",
                 "PJSIP/1002-0000000a", "1700000300.0", "1700000301.0", "1700000310.0", "ANSWERED",
                 "korund-operators-local", "", "", ""),
        "garbage line",
    ]) + "\n")
    assert h.catch_up(log) == 3
    rows = {r[0]: r[1:] for r in demo_db.execute(
        "SELECT ani, operator, outcome, ended_at, grp, route_source, dnis FROM calls ORDER BY id")}
    assert rows["111"] == ("1002", "answered", "2023-11-14T22:13:50.000+00:00", "support", "agi", "100")
    assert rows["444"][:2] == ("1001", "answered")
    assert rows["222"] == ("1002", "answered", "2023-11-14T22:15:20.000+00:00", "sales", "fallback", "200")
    assert "1001" not in rows
    # Only new lines are read the next time.
    assert h.catch_up(log) == 0
    with open(log, "a") as f:
        f.write(cdr_line("1700000400.1", "1700000400.1", "555", "q-support", "PJSIP/pstn-0000000b", "",
                         "1700000400.0", "1700000400.1", "1700000409.0", "ANSWERED", "korund-route",
                         "100", "support", "agi") + "\n")
    assert h.catch_up(log) == 1
    assert demo_db.execute("SELECT outcome FROM calls WHERE ani = '555'").fetchone()[0] == "abandoned"
