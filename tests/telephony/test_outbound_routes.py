"""Calls out through the outbound routes, on real Asterisk over SIP: what the
carrier (the PSTN simulator) receives -- the number in the trunk group's
format, the route's caller ID --, failover from a trunk group answering 503
to the next, a class of service refusing an international number, a
callback placed through a route, and the history row each call out leaves."""
from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from appliance.outbound import routes, store as outbound_store
from tests.harness import configure, wait_for

NATIONAL = "84951234567"


def hang_up_phone(carrier, number: str) -> None:
    """The far end puts the receiver down."""
    def channel():   # concise: channel!context!extension!...
        return next((f[0] for f in (line.split("!") for line in carrier.cli("core show channels concise"))
                     if len(f) > 2 and f[1] == "sim-phones" and f[2] == number), None)
    carrier.cli(f"channel request hangup {wait_for(channel, 15, what=f'{number} on the carrier')}")


def operator_dials(appliance, extension: str, number: str) -> None:
    """The operator's phone rings first (the simulator answers it), then it
    dials *number* as if the operator had keyed it in."""
    resp = appliance.mgr.send_action({
        "Action": "Originate", "Channel": f"PJSIP/{extension}", "Context": "korund-operators",
        "Exten": number, "Priority": "1", "Async": "true", "Timeout": "20000"})
    assert resp.get_header("Response") == "Success"


def rang(carrier, mark: int, number: str, timeout: float = 30) -> dict:
    return carrier.events.wait(mark, timeout, Event="UserEvent", UserEvent="SimPhoneRang", Phone=number)


def reset(db) -> None:
    """The demo's routes: one SIP trunk group 'pstn', national numbers only."""
    db.execute("DELETE FROM outbound_routes")
    db.execute("DELETE FROM trunk_groups")
    routes.save_trunk_group(db, {"name": "pstn", "kind": "sip", "members": ["pstn"]}, "test")
    routes.add_defaults(db, ["pstn"], "test")
    outbound_store.save(db, {**outbound_store.DEFAULTS}, "test")
    db.execute("UPDATE operators SET outbound_class = 'national'")


def test_the_carrier_gets_the_number_in_the_trunk_groups_format_with_the_routes_caller_id(appliance, carrier):
    def change(db):
        reset(db)
        routes.save_trunk_group(db, {"name": "pstn", "kind": "sip", "members": ["pstn"],
                                     "number_format": "e164"}, "test", original="pstn")
        route = next(r for r in routes.routes(db) if r.name == "national")
        routes.save_route(db, {**vars(route), "caller_id": "74957000000"}, "test", original="national")
    configure(appliance, change)
    sent = "+7" + NATIONAL[1:]
    carrier.phone(sent, "answer")
    mark, amark = carrier.events.mark(), appliance.events.mark()
    operator_dials(appliance, "1001", NATIONAL)
    seen = rang(carrier, mark, sent)
    assert seen["CallerNum"] == "74957000000"
    carrier.events.wait(mark, 20, Event="UserEvent", UserEvent="SimPhoneAnswered", Phone=sent)
    time.sleep(1)
    hang_up_phone(carrier, sent)
    tried = appliance.events.wait(amark, 20, Event="UserEvent", UserEvent="KorundOutbound")
    assert (tried["Route"], tried["TrunkGroup"], tried["Dialled"], tried["Sent"], tried["DialStatus"]) == (
        "national", "pstn", NATIONAL, sent, "ANSWER")
    row = appliance.call_row(ani=NATIONAL, timeout=30)
    assert (row["direction"], row["operator"], row["out_route"], row["out_trunk_group"]) == (
        "outbound", "1001", "national", "pstn")
    assert (row["out_dialled"], row["out_sent"], row["out_status"], row["out_purpose"]) == (
        NATIONAL, sent, "ANSWER", "operator")
    assert row["connected_at"] is not None
    # recorded under the default policy ("all" in the demo), as a call out
    def recording():
        with appliance.db() as conn:
            return conn.execute("SELECT direction, operator, ani FROM recordings WHERE linkedid = ?",
                                [row["uniqueid"]]).fetchone()
    assert tuple(wait_for(recording, 20, what="the recording's row")) == ("outbound", "1001", NATIONAL)


def test_a_trunk_group_answering_503_fails_over_to_the_next(appliance, carrier):
    def change(db):
        reset(db)
        routes.save_trunk_group(db, {"name": "first", "kind": "sip", "members": ["pstn"],
                                     "number_format": "national_8"}, "test")
        routes.save_trunk_group(db, {"name": "second", "kind": "sip", "members": ["pstn"],
                                     "number_format": "nsn"}, "test")
        route = next(r for r in routes.routes(db) if r.name == "national")
        routes.save_route(db, {**vars(route), "trunk_groups": ["first", "second"]}, "test", original="national")
    configure(appliance, change)
    number, nsn = "+74952223344", "4952223344"
    carrier.phone("84952223344", "congestion")
    carrier.phone(nsn, "answer")
    mark, amark = carrier.events.mark(), appliance.events.mark()
    operator_dials(appliance, "1002", number)
    rang(carrier, mark, "84952223344")
    rang(carrier, mark, nsn)
    carrier.events.wait(mark, 20, Event="UserEvent", UserEvent="SimPhoneAnswered", Phone=nsn)
    hang_up_phone(carrier, nsn)
    def two_tries():
        found = appliance.events.find(amark, Event="UserEvent", UserEvent="KorundOutbound")
        return found if len(found) >= 2 else None
    tries = wait_for(two_tries, 20, what="two tries")
    assert [(t["TrunkGroup"], t["Sent"], t["DialStatus"]) for t in tries] == [
        ("first", "84952223344", "CONGESTION"), ("second", nsn, "ANSWER")]
    assert tries[0]["Cause"] == "34"
    row = appliance.call_row(ani=number, timeout=30)
    assert (row["out_trunk_group"], row["out_sent"], row["out_status"]) == ("second", nsn, "ANSWER")


def test_a_class_of_service_refuses_an_international_number(appliance, carrier):
    number = "+441632960123"

    def change(db):
        reset(db)
        outbound_store.save(db, {**outbound_store.DEFAULTS, "scope": "international"}, "test")
    configure(appliance, change)
    carrier.phone(number, "answer")
    mark, amark = carrier.events.mark(), appliance.events.mark()
    operator_dials(appliance, "1001", number)
    refused = appliance.events.wait(amark, 30, Event="UserEvent", UserEvent="KorundOutbound")
    assert (refused["DialStatus"], refused["Refused"], refused["Route"]) == ("REFUSED", "class", "international")
    wait_for(lambda: appliance.active_channels() == 0, 30, what="the refused call to end")
    assert not carrier.events.find(mark, Event="UserEvent", UserEvent="SimPhoneRang", Phone=number)
    with appliance.db() as conn:
        audit = conn.execute("SELECT details FROM audit WHERE action = 'outbound refused' "
                             "ORDER BY id DESC LIMIT 1").fetchone()
    assert '"reason": "class"' in audit[0]
    # the same operator with the international class reaches it
    configure(appliance, lambda db: routes.set_operator_class(db, "1001", "international", "test"))
    mark = carrier.events.mark()
    operator_dials(appliance, "1001", number)
    rang(carrier, mark, number)
    carrier.events.wait(mark, 20, Event="UserEvent", UserEvent="SimPhoneAnswered", Phone=number)
    hang_up_phone(carrier, number)
    row = appliance.call_row(ani=number, timeout=30, out_status="ANSWER")
    assert row["out_route"] == "international"


def test_a_callback_is_placed_through_a_route(appliance, carrier):
    def change(db):
        reset(db)
        routes.save_trunk_group(db, {"name": "pstn", "kind": "sip", "members": ["pstn"], "prepend": "0",
                                     "number_format": "national_8"}, "test", original="pstn")
    configure(appliance, change)
    number, sent = "74956100017", "084956100017"
    carrier.phone(sent, "answer")
    start = (datetime.now(UTC) - timedelta(minutes=1)).isoformat(timespec="seconds")
    mark = carrier.events.mark()
    with appliance.db() as conn:
        conn.execute("INSERT INTO callbacks (grp, number, ani, asap, slot_from, slot_until, status, uniqueid, "
                     "created_at) VALUES ('support', ?, ?, 1, ?, NULL, 'new', '', ?)", [number, number, start, start])
    carrier.events.wait(mark, 60, Event="UserEvent", UserEvent="SimPhoneAnswered", Phone=sent)
    hang_up_phone(carrier, sent)
    row = appliance.call_row(ani=number, timeout=40, out_status="ANSWER")
    assert (row["direction"], row["out_purpose"], row["out_route"], row["out_sent"]) == (
        "outbound", "callback-attempt", "national", sent)
    def order_done():
        with appliance.db() as conn:
            return conn.execute("SELECT status FROM callbacks WHERE number = ? AND status = 'done'",
                                [number]).fetchone()
    wait_for(order_done, 30, what="the order done")
