"""The callback dialer (F3) on real calls: a due order rings a ready
operator's phone first (with the order id on the channel for the screen
pop), then the client through the trunk; results, retries and limits are
stored; orders not yet due, or without a ready operator, wait."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from appliance.base import dialplan_names as dn
from appliance.base.instance import Instance
from tests.harness import in_root, wait_for


def utc(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")


@pytest.fixture(scope="module")
def dialing(pbx):
    appliance, _ = pbx
    with appliance.db() as conn:   # short rings and a quick retry, read by the dialer every pass
        for key, value in (("dialer.client_ring", "6"), ("dialer.retry_seconds", "5"),
                           ("dialer.max_attempts", "2"), ("dialer.operator_ring", "6")):
            conn.execute("INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)", [key, value])
    return appliance


def add_order(appliance, number: str, start: datetime, until: datetime | None = None) -> int:
    with appliance.db() as conn:
        return conn.execute(
            "INSERT INTO callbacks (grp, number, ani, asap, slot_from, slot_until, status, uniqueid, created_at) "
            "VALUES ('support', ?, ?, 0, ?, ?, 'new', '', ?)",
            [number, number, utc(start), utc(until) if until else None, utc(datetime.now(timezone.utc))]).lastrowid


def order(appliance, order_id: int) -> dict:
    with appliance.db() as conn:
        return dict(conn.execute("SELECT * FROM callbacks WHERE id = ?", [order_id]).fetchone())


def attempts(appliance, order_id: int) -> list[dict]:
    with appliance.db() as conn:
        return [dict(r) for r in conn.execute("SELECT * FROM callback_attempts WHERE callback_id = ? ORDER BY id",
                                              [order_id])]


def finished(appliance, order_id: int, n: int) -> list[dict] | None:
    rows = attempts(appliance, order_id)
    return rows if len(rows) >= n and all(r["result"] for r in rows[:n]) else None


def channels(appliance, prefix: str) -> list[str]:
    return [line.split("!", 1)[0] for line in appliance.cli("core show channels concise")
            if line.startswith(prefix)]


def set_states(appliance, state: str | None) -> None:
    with appliance.db() as conn:
        ids = [r[0] for r in conn.execute("SELECT id FROM operators")]
        for op in ids:
            if state is None:
                conn.execute("UPDATE operator_states SET state = 'ready', reason = NULL WHERE operator_id = ?", [op])
            else:
                conn.execute("INSERT OR REPLACE INTO operator_states (operator_id, state, reason, since) "
                             "VALUES (?, ?, 'lunch', ?)", [op, state, utc(datetime.now(timezone.utc))])


def test_a_due_order_rings_the_operator_then_the_client_and_is_done(dialing, carrier):
    mark = carrier.events.mark()
    oid = add_order(dialing, "74957770001", datetime.now(timezone.utc) - timedelta(minutes=1))
    rang = carrier.events.wait(mark, 30, Event="UserEvent", UserEvent="SimPhoneRang")
    operator = rang["Phone"]
    assert operator in ("1001", "1002") and rang["CallerNum"] == "74957770001"
    # The operator's leg carries the order id for the desktop's screen pop.
    leg = wait_for(lambda: channels(dialing, f"PJSIP/{operator}-"), 10, what="the operator's channel")[0]
    resp = dialing.mgr.send_action({"Action": "Getvar", "Channel": leg, "Variable": dn.VAR_CALLBACK_ORDER})
    assert resp.get_header("Value") == str(oid)
    try:
        assert carrier.events.wait(mark, 30, Event="UserEvent", UserEvent="SimPhoneAnswered", Phone="74957770001")
        assert carrier.events.wait(mark, 5, Event="UserEvent", UserEvent="SimPhoneAnswered", Phone=operator)
        running = attempts(dialing, oid)
        assert len(running) == 1 and running[0]["result"] is None and running[0]["operator"] == operator
        assert order(dialing, oid)["locked_by"] == "dialer"
        # The attempt knows its call: the operator's leg has the stored unique id.
        live = {line.rsplit("!", 1)[-1] for line in dialing.cli("core show channels concise")}
        assert running[0]["uniqueid"] in live
        time.sleep(1)   # a moment of talk before the operator hangs up
    finally:
        dialing.mgr.send_action({"Action": "Hangup", "Channel": leg})   # the operator ends the talk
    done = wait_for(lambda: finished(dialing, oid, 1), 20, what="the attempt's result")
    assert done[0]["result"] == "answered" and done[0]["uniqueid"]
    row = order(dialing, oid)
    assert row["status"] == "done" and row["changed_by"] == "dialer" and row["locked_by"] is None


def test_a_ready_operator_talking_on_another_call_is_not_rung(dialing, carrier):
    # 1001 comes first for the dialer; here its phone is on a call no queue
    # placed (ringinuse does not cover it), while the store still says "ready".
    dialing.mgr.send_action({"Action": "Originate", "Channel": "PJSIP/1001", "Application": "Wait",
                             "Data": "60", "Async": "true", "CallerID": "Direct <4950000001>"})
    busy = wait_for(lambda: [ln for ln in dialing.cli("core show channels concise")
                             if ln.startswith("PJSIP/1001-") and "!Up!" in ln], 20, what="1001 on its direct call")
    mark = carrier.events.mark()
    oid = add_order(dialing, "74957770008", datetime.now(timezone.utc) - timedelta(seconds=5))
    try:
        try:
            # (the direct call's own SimPhoneRang on 1001 may be reported after the mark)
            rang = carrier.events.wait(mark, 30, Event="UserEvent", UserEvent="SimPhoneRang",
                                       CallerNum="74957770008")
            assert rang["Phone"] == "1002", rang
            assert not carrier.events.find(mark, Event="UserEvent", UserEvent="SimPhoneRang", Phone="1001",
                                           CallerNum="74957770008")
            done = wait_for(lambda: (rows := attempts(dialing, oid)) and rows, 10, what="the attempt")
            assert [a["operator"] for a in done] == ["1002"]
        finally:
            for leg in channels(dialing, "PJSIP/100"):
                dialing.mgr.send_action({"Action": "Hangup", "Channel": leg})
            wait_for(lambda: not channels(dialing, "PJSIP/"), 20, what="the calls to end")
        assert busy
        wait_for(lambda: finished(dialing, oid, 1), 20, what="the attempt's result")
    finally:
        # whatever happened, the order must not go on ringing into the next tests
        with dialing.db() as conn:
            conn.execute("UPDATE callbacks SET status = 'cancelled' WHERE id = ? AND status = 'new'", [oid])


def test_a_client_who_does_not_answer_is_retried_then_the_order_fails(dialing, carrier):
    carrier.phone("74957770002", "noanswer")
    oid = add_order(dialing, "74957770002", datetime.now(timezone.utc) - timedelta(seconds=5))
    first = wait_for(lambda: finished(dialing, oid, 1), 45, what="the first attempt")[0]
    assert first["result"] == "no_answer"
    row = order(dialing, oid)
    assert row["status"] == "new" and row["tries"] == 1
    assert row["next_at"] >= utc(datetime.fromisoformat(first["ended_at"]) + timedelta(seconds=5))
    both = wait_for(lambda: finished(dialing, oid, 2), 60, what="the second attempt")
    assert [a["result"] for a in both] == ["no_answer", "no_answer"]
    assert both[1]["at"] >= row["next_at"]
    wait_for(lambda: order(dialing, oid)["status"] == "failed", 10, what="the order to fail")
    assert order(dialing, oid)["tries"] == 2
    time.sleep(8)   # the limit holds: no third attempt
    assert len(attempts(dialing, oid)) == 2


def test_a_busy_client_counts_as_a_try(dialing, carrier):
    carrier.phone("74957770005", "busy")
    oid = add_order(dialing, "74957770005", datetime.now(timezone.utc) - timedelta(seconds=5))
    first = wait_for(lambda: finished(dialing, oid, 1), 45, what="the attempt")[0]
    assert first["result"] == "busy" and order(dialing, oid)["tries"] == 1
    with dialing.db() as conn:
        conn.execute("UPDATE callbacks SET status = 'cancelled' WHERE id = ?", [oid])


def test_an_operator_who_does_not_answer_is_passed_over_without_counting_a_try(dialing, carrier):
    carrier.phone("1001", "noanswer")
    carrier.phone("74957770006", "busy")
    oid = add_order(dialing, "74957770006", datetime.now(timezone.utc) - timedelta(seconds=5))
    both = wait_for(lambda: finished(dialing, oid, 2), 60, what="two attempts")
    assert [(a["operator"], a["result"]) for a in both[:2]] == [("1001", "operator_no_answer"), ("1002", "busy")]
    assert order(dialing, oid)["tries"] == 1
    with dialing.db() as conn:
        conn.execute("UPDATE callbacks SET status = 'cancelled' WHERE id = ?", [oid])


def test_an_order_not_yet_due_and_one_without_a_ready_operator_wait(dialing, carrier):
    carrier.phone("74957770004", "busy")
    later = add_order(dialing, "74957770003", datetime.now(timezone.utc) + timedelta(hours=1))
    set_states(dialing, "paused")
    try:
        due = add_order(dialing, "74957770004", datetime.now(timezone.utc) - timedelta(minutes=1))
        time.sleep(8)   # more than two passes of the dialer
        assert attempts(dialing, due) == [] and attempts(dialing, later) == []
    finally:
        set_states(dialing, None)
    # Once an operator is ready the due order is placed; the later one still waits.
    placed = wait_for(lambda: finished(dialing, due, 1), 45, what="the order placed")
    assert placed[0]["result"] == "busy"
    assert attempts(dialing, later) == []
    with dialing.db() as conn:
        conn.execute("UPDATE callbacks SET status = 'cancelled' WHERE id IN (?, ?)", [due, later])


def supervisorctl(appliance, *args: str) -> None:
    # The socket's path from the host is too long for AF_UNIX; ask from inside.
    in_root("/opt/korund/venv/bin/supervisorctl", "-c", str(Instance(Path(appliance.base)).supervisord_conf), *args)


def test_a_call_that_ends_while_the_dialer_is_down_keeps_its_result(dialing, carrier):
    mark = carrier.events.mark()
    oid = add_order(dialing, "74957770007", datetime.now(timezone.utc) - timedelta(seconds=5))
    carrier.events.wait(mark, 30, Event="UserEvent", UserEvent="SimPhoneAnswered", Phone="74957770007")
    supervisorctl(dialing, "stop", "dialer")
    try:
        legs = [c for c in channels(dialing, "PJSIP/100")]
        assert legs
        for leg in legs:
            dialing.mgr.send_action({"Action": "Hangup", "Channel": leg})
        wait_for(lambda: not channels(dialing, "PJSIP/"), 20, what="the call to end")
        assert attempts(dialing, oid)[0]["result"] is None
    finally:
        supervisorctl(dialing, "start", "dialer")
    done = wait_for(lambda: finished(dialing, oid, 1), 40, what="the result after the restart")
    assert done[0]["result"] == "answered" and order(dialing, oid)["status"] == "done"
    time.sleep(4)   # more than a dialer pass (3 s): not placed again
    assert len(attempts(dialing, oid)) == 1   # placed once, never again
