"""The callback dialer's selection, locking and results, with a fake AMI
and a test clock (no Asterisk)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from appliance.callbacks import store as callbacks
from appliance.callbacks import service as dialer
from appliance.base import store
from appliance.base import dialplan_names as dn
from appliance.base.errors import ConfigError
from appliance.render.config import load
from appliance.render import dialplan

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


class Response:
    def __init__(self, ok=True):
        self.ok = ok

    def get_header(self, name):
        return "Success" if self.ok else "Error"


class DeviceState:
    def __init__(self, value):
        self.value = value

    def get_header(self, name, default=None):
        return self.value if name == "Value" else "Success"


class FakeAmi:
    """Keeps the actions sent; answers DEVICE_STATE from *states* (NOT_INUSE by default)."""

    def __init__(self, ok=True, states=None):
        self.actions = []
        self.asked = []
        self.ok = ok
        self.states = dict(states or {})

    def send_action(self, action):
        if action["Action"] == "Getvar" and action["Variable"].startswith("DEVICE_STATE("):
            device = action["Variable"][len("DEVICE_STATE("):-1]
            self.asked.append(device)
            return DeviceState(self.states.get(device, "NOT_INUSE"))
        self.actions.append(action)
        return Response(self.ok)


class Clock:
    def __init__(self, now=T0):
        self.now = now

    def __call__(self):
        return self.now


def order(db, start=T0, number="74951234567", group="support", until=None) -> int:
    return callbacks.add(db, group, number, "4950000000", "u1", start, until)


def make(db, ready=("1001", "1002"), ok=True, clock=None):
    return dialer.Dialer(db, FakeAmi(ok), clock=clock or Clock(), ready=lambda _db, _grp: list(ready))


def row(db, order_id):
    return db.execute("SELECT status, tries, next_at, locked_by FROM callbacks WHERE id = ?", [order_id]).fetchone()


def test_a_due_order_goes_to_a_ready_operator_with_the_card_variable(demo_db):
    oid = order(demo_db, T0 - timedelta(minutes=1))
    d = make(demo_db)
    started = d.tick()
    assert [a["operator"] for a in started] == ["1001"]
    action = d.mgr.actions[0]
    assert action["Channel"] == "PJSIP/1001" and action["Context"] == dn.CTX_CALLBACK
    assert f"{dn.VAR_CALLBACK_ORDER}={oid}" in action["Variable"]
    assert f"{dn.VAR_CALLBACK_NUMBER}=74951234567" in action["Variable"]
    assert action["ChannelId"] == started[0]["uniqueid"] == action["ActionID"]
    assert row(demo_db, oid)[3] == "dialer"
    assert dialer.attempts(demo_db, oid)[0]["result"] is None
    # Claimed: a second tick (or a second dialer) does not place it again.
    assert d.tick() == [] and make(demo_db).tick() == []


def test_future_orders_and_no_ready_operator_are_not_placed(demo_db):
    order(demo_db, T0 + timedelta(minutes=5))
    assert make(demo_db).tick() == []
    order(demo_db, T0 - timedelta(minutes=5))
    d = make(demo_db, ready=())
    assert d.tick() == [] and d.mgr.actions == []


def test_an_operator_busy_with_one_callback_does_not_get_another(demo_db):
    for _ in range(3):
        order(demo_db, T0 - timedelta(minutes=1))
    started = make(demo_db).tick()
    assert [a["operator"] for a in started] == ["1001", "1002"]
    assert make(demo_db).tick() == []      # the third waits for a free operator


def test_a_ready_operator_whose_phone_is_on_another_call_is_not_rung(demo_db):
    # 1001 talks on a direct (non-queue) call: app_queue's ringinuse=no does not
    # cover the dialer's originate, the phone's device state does
    order(demo_db, T0 - timedelta(minutes=1))
    d = dialer.Dialer(demo_db, FakeAmi(states={"PJSIP/1001": "INUSE"}), clock=Clock(),
                      ready=lambda _db, _grp: ["1001", "1002"])
    assert [a["operator"] for a in d.tick()] == ["1002"]
    assert "PJSIP/1001" in d.mgr.asked and d.mgr.actions[0]["Channel"] == "PJSIP/1002"
    # both on calls (one ringing): the order waits, unclaimed and untried
    waiting = order(demo_db, T0 - timedelta(minutes=1))
    d = dialer.Dialer(demo_db, FakeAmi(states={"PJSIP/1001": "RINGING", "PJSIP/1002": "INUSE"}), clock=Clock(),
                      ready=lambda _db, _grp: ["1001", "1002"])
    order(demo_db, T0 - timedelta(minutes=1))
    assert d.tick() == [] and d.mgr.actions == []
    # 1002 still has the first order's callback (the store says so: not asked);
    # 1001's phone is asked once for the pass, not once per waiting order
    assert d.mgr.asked == ["PJSIP/1001"]
    status, tries, _next, locked_by = row(demo_db, waiting)
    assert (status, tries, locked_by) == ("new", 0, None)


def test_claim_is_exclusive(demo_db):
    oid = order(demo_db)
    assert dialer.claim(demo_db, oid, "1001", T0) is not None
    assert dialer.claim(demo_db, oid, "1002", T0, worker="other") is None


def test_answered_is_done(demo_db):
    oid = order(demo_db)
    d = make(demo_db)
    attempt = d.tick()[0]
    d.handle({"Event": "UserEvent", "UserEvent": dialer.USER_EVENT, "Attempt": str(attempt["id"]),
              "DialStatus": "ANSWER"})
    assert row(demo_db, oid)[:1] == ("done",) and row(demo_db, oid)[3] is None
    assert dialer.attempts(demo_db, oid)[0]["result"] == "answered"
    # The same event again changes nothing.
    assert d.handle({"Event": "UserEvent", "UserEvent": dialer.USER_EVENT, "Attempt": str(attempt["id"]),
                     "DialStatus": "NOANSWER"}) is None


def test_no_answer_is_retried_after_the_interval_then_failed(demo_db):
    dialer.set_limits(demo_db, {"max_attempts": "2", "retry_seconds": "60"})
    oid = order(demo_db)
    clock = Clock()
    d = make(demo_db, clock=clock)
    first = d.tick()[0]
    d.handle({"Event": "UserEvent", "UserEvent": dialer.USER_EVENT, "Attempt": str(first["id"]),
              "DialStatus": "NOANSWER"})
    status, tries, next_at, locked = row(demo_db, oid)
    assert (status, tries, locked) == ("new", 1, None)
    assert next_at == dialer.utc(T0 + timedelta(seconds=60))
    clock.now = T0 + timedelta(seconds=59)
    assert d.tick() == []
    clock.now = T0 + timedelta(seconds=60)
    second = d.tick()[0]
    d.handle({"Event": "UserEvent", "UserEvent": dialer.USER_EVENT, "Attempt": str(second["id"]),
              "DialStatus": "BUSY"})
    assert row(demo_db, oid)[:2] == ("failed", 2)
    assert [a["result"] for a in dialer.attempts(demo_db, oid)] == ["no_answer", "busy"]
    clock.now = T0 + timedelta(hours=1)
    assert d.tick() == []
    # A supervisor tries again: due now, counted from zero.
    dialer.retry(demo_db, oid, clock.now)
    assert row(demo_db, oid)[:2] == ("new", 0)
    assert len(d.tick()) == 1


def test_a_group_limit_overrides_the_global_one(demo_db):
    dialer.set_limits(demo_db, {"max_attempts": "5"})
    dialer.set_limits(demo_db, {"max_attempts": "1"}, group="support")
    assert dialer.limit(demo_db, "max_attempts", "support") == 1
    assert dialer.limit(demo_db, "max_attempts", "sales") == 5
    assert dialer.group_overrides(demo_db) == {"support": {"max_attempts": 1}}
    dialer.set_limits(demo_db, {"max_attempts": ""}, group="support")
    assert dialer.limit(demo_db, "max_attempts", "support") == 5


def test_bad_limits_are_refused_and_nothing_is_saved(demo_db):
    with pytest.raises(ConfigError) as exc:
        dialer.set_limits(demo_db, {"max_attempts": "4", "retry_seconds": "1"})
    assert exc.value.field == "retry_seconds"
    assert store.get_setting(demo_db, "dialer.max_attempts") is None
    with pytest.raises(ConfigError):
        dialer.set_limits(demo_db, {"max_attempts": "x"})
    with pytest.raises(ConfigError):
        dialer.set_limits(demo_db, {"nonsense": "1"})


def test_an_operator_who_does_not_answer_does_not_count(demo_db):
    oid = order(demo_db)
    d = make(demo_db)
    attempt = d.tick()[0]
    d.handle({"Event": "OriginateResponse", "Response": "Failure", "Reason": "3",
              "ActionID": attempt["uniqueid"]})
    status, tries, next_at, locked = row(demo_db, oid)
    assert (status, tries, locked) == ("new", 0, None)
    assert next_at == dialer.utc(T0 + timedelta(seconds=dialer.OPERATOR_RETRY_SECONDS))
    assert dialer.attempts(demo_db, oid)[0]["result"] == "operator_no_answer"


def test_a_refused_originate_releases_the_order(demo_db):
    oid = order(demo_db)
    make(demo_db, ok=False).tick()
    assert row(demo_db, oid)[0] == "new" and row(demo_db, oid)[3] is None
    assert dialer.attempts(demo_db, oid)[0]["result"] == "operator_unreachable"


def test_a_call_that_ended_unseen_is_lost_after_a_while(demo_db):
    oid = order(demo_db)
    d = make(demo_db)
    attempt = d.tick()[0]
    assert d.close_lost({attempt["uniqueid"]}, monotonic=0) == []
    assert d.close_lost(set(), monotonic=100) == []
    assert d.close_lost(set(), monotonic=100 + dialer.LOST_AFTER_SECONDS) == [attempt["id"]]
    assert row(demo_db, oid)[:2] == ("new", 0)   # lost: the operator never answered; not counted


def test_a_closed_order_stays_closed_whatever_the_call_did(demo_db):
    oid = order(demo_db)
    d = make(demo_db)
    attempt = d.tick()[0]
    callbacks.set_status(demo_db, oid, "cancelled", "sv")
    d.handle({"Event": "UserEvent", "UserEvent": dialer.USER_EVENT, "Attempt": str(attempt["id"]),
              "DialStatus": "ANSWER"})
    assert row(demo_db, oid)[0] == "cancelled" and row(demo_db, oid)[3] is None


def test_retry_refuses_closed_and_running_orders(demo_db):
    oid = order(demo_db)
    make(demo_db).tick()
    with pytest.raises(ConfigError):
        dialer.retry(demo_db, oid, T0)
    other = order(demo_db, T0 + timedelta(hours=1))
    callbacks.set_status(demo_db, other, "done", "sv")
    with pytest.raises(ConfigError):
        dialer.retry(demo_db, other, T0)
    with pytest.raises(LookupError):
        dialer.retry(demo_db, 9999, T0)


def test_overdue(demo_db):
    past = {"status": "new", "slot_until": dialer.utc(T0 - timedelta(minutes=1))}
    assert dialer.is_overdue(past, T0)
    assert not dialer.is_overdue({**past, "status": "done"}, T0)
    assert not dialer.is_overdue({"status": "new", "slot_until": None}, T0)


def test_the_callback_context_dials_only_digits(demo_db):
    text = dialplan.render(load(demo_db))
    ctx = text.split(f"[{dn.CTX_CALLBACK}]", 1)[1]
    assert f"${{FILTER(0-9,${{{dn.VAR_CALLBACK_NUMBER}}})}}" in ctx
    # the client's number goes out only through the routes, digits only
    assert f"Set({dn.VAR_OUT_NUMBER}=${{FILTER(0-9,${{{dn.VAR_CALLBACK_NUMBER}}})}})" in ctx
    assert f"Gosub({dn.CTX_OUTBOUND},s,1(,g))" in ctx and "Dial(" not in ctx.split("\n[", 1)[0]
    assert "UserEvent(KorundCallbackEnd" in ctx


def test_the_cli_retries_a_failed_order_and_refuses_a_closed_one(inst, demo_db, capsys):
    from korund import cli
    oid = order(demo_db)
    demo_db.execute("UPDATE callbacks SET status = 'failed', tries = 3 WHERE id = ?", [oid])
    demo_db.conn.commit()
    assert cli.main(["-i", str(inst.base), "callbacks", "--retry", str(oid)]) == 0
    assert row(demo_db, oid)[:2] == ("new", 0)
    callbacks.set_status(demo_db, oid, "done", "x")
    demo_db.conn.commit()
    assert cli.main(["-i", str(inst.base), "callbacks", "--retry", str(oid)]) == 2   # refused, as every refused value is
    assert "already done" in capsys.readouterr().err
    assert cli.main(["-i", str(inst.base), "callbacks", "--retry", "999"]) == 1
    assert cli.main(["-i", str(inst.base), "callbacks", "--status", "failed"]) == 0


def test_the_next_try_goes_to_another_operator_than_the_one_who_did_not_answer(demo_db):
    oid = order(demo_db)
    clock = Clock()
    d = make(demo_db, clock=clock)
    for expected in ("1001", "1002", "1001"):
        attempt = d.tick()[0]
        assert attempt["operator"] == expected
        d.handle({"Event": "OriginateResponse", "Response": "Failure", "Reason": "3",
                  "ActionID": attempt["uniqueid"]})
        clock.now += timedelta(seconds=dialer.OPERATOR_RETRY_SECONDS)
    assert dialer.pick(["1001"], ["1001"]) == "1001"
    assert dialer.pick(["1001", "1002", "1003"], ["1003", "1001"]) == "1002"


def test_a_missed_end_takes_the_result_the_dialplan_stored(demo_db):
    oid = order(demo_db)
    d = make(demo_db)
    attempt = d.tick()[0]
    stored = {attempt["id"]: "ANSWER"}
    assert d.close_lost(set(), monotonic=0, stored=stored.get) == []
    assert d.close_lost(set(), monotonic=dialer.LOST_AFTER_SECONDS, stored=stored.get) == []
    assert row(demo_db, oid)[0] == "done"
    assert dialer.attempts(demo_db, oid)[0]["result"] == "answered"
