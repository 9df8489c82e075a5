"""ISDN PRI across the looped spans: the test carrier (span 1,
network side) calls a DNIS bound to an IVR scenario on the appliance's span
(span 2, CPE) with a caller number; the carrier side answers the menu with
DTMF (1, then the code 4242#); the scenario routes to a group whose
operator's IP phone (the PSTN simulator's Asterisk in the guest) answers.
What is checked is what Korund shows: the call-history row (ANI, DNIS, the
E1 span and channel, operator, answered), the IVR path with the entered
code, the operator's desktop offer, and Asterisk's own CDR and channels.
"""
from __future__ import annotations

import loop as L

TIMEOUT = 300

GROUP, EXT, NAME = "loop_pri", "1091", "Loop PRI Operator"
DNIS, SCENARIO = "7100", "loop-pri"
DTMF = "wwwwwwww1wwwwwwww4242#"       # after the menu prompt starts, then after the code prompt


def check_pri_spans_up_and_active():
    lp = L.configure("pri")
    db = L.instance().open_store()
    mgr = L.manager(db)
    try:
        shown = L.asterisk(mgr, "pri show spans")
        assert shown.count("Up, Active") >= 2, shown
        present = L.dahdi_channels(mgr)
        missing = sorted(set(lp.trunk_channels) - present)
        assert not missing and 1 in present, f"chan_dahdi lacks channels {missing}"
    finally:
        L.ami.close(mgr)
        db.close()


def check_pri_call_runs_the_ivr_and_reaches_an_operator():
    L.simulator_phones()
    db = L.instance().open_store()
    try:
        L.group_with(db, GROUP, EXT, NAME, contact=f"sip:{EXT}@127.0.0.2:5060")
        L.test_scenario(db, SCENARIO, GROUP, DNIS)
        lp = L.apply_and_ready(db, [EXT], "pri")
        since = L.now_iso()
        mgr = L.manager(db)
        try:
            L.originate(mgr, lp.carrier_dial(DNIS), dtmf=DTMF)
            call = L.wait_call(db, L.ANI, since, "pri", lambda: (r := L.call_row(db, L.ANI, since))
                               and r.get("operator") == EXT and r.get("answered_at") and r,
                               what="PRI call answered by " + EXT)
            live = L.asterisk(mgr, "core show channels concise")
            assert "DAHDI/" in live and f"PJSIP/{EXT}" in live, live
        finally:
            L.ami.close(mgr)
            L.hangup_all_dahdi(db)
        assert call["dnis"] == DNIS, call
        assert call["span"] == "2", f"the call history's span is {call['span']!r}: {call}"
        assert int(call["dahdi_channel"]) in lp.trunk_channels, call
        assert call["trunk"] == "span2", call
        path = L.steps(db, call["uniqueid"])
        nodes = [s.get("node") for s in path]
        assert "menu" in nodes and "code" in nodes and "operators" in nodes, path
        assert {"node": "code", "set": "code", "value": "4242"} in path, path
        offer = L.wait_for(lambda: db.execute(
            "SELECT extension, state, dest_channel FROM offers WHERE linkedid = ? AND extension = ?",
            [call["linkedid"], EXT]).fetchone(), timeout=30, what="desktop offer")
        assert offer[1] in ("answered", "ended"), offer
        cdr = L.wait_for(lambda: [ln for ln in L.cdr_lines(call["uniqueid"]) if "ANSWERED" in ln],
                         timeout=60, what="CDR line of the call")
        assert any("DAHDI/" in ln for ln in cdr), cdr
    finally:
        db.close()


PRI_OUT_ROUTE, PRI_OUT_GROUP = "loop_pri_out", "pri_loop"
PRI_OUT_NUMBER, PRI_OUT_CALLER = "2346123", "4951112244"


def check_the_appliance_calls_out_over_pri():
    """A trunk group over span 2 (PRI, `korund trunk-group add pri_loop
    --kind dahdi --members 2 --caller-id ...`) and a route through it: a
    technician's test dial reaches the test carrier (the network side) with
    the number and the group's caller ID, is answered, and the call history
    keeps the route, span and circuit of the call out."""
    from appliance.base import dialplan_names as dn
    db = L.instance().open_store()
    try:
        lp = L.current("pri") if "Up, Active" in L.asterisk_once(db, "pri show spans") else L.configure("pri")
        L.out_route(PRI_OUT_ROUTE, "2346XXX", PRI_OUT_GROUP, "2", hunting="ascending", caller_id=PRI_OUT_CALLER)
        since = L.now_iso()
        with L.UserEvents(db) as seen:
            shot = L.test_dial(db, PRI_OUT_NUMBER, route=PRI_OUT_ROUTE)
            far = seen.wait(timeout=10, UserEvent=dn.EVENT_TEST_CARRIER_CALL, Dialled=PRI_OUT_NUMBER)
        assert shot["outcome"] == "answered", shot
        assert far["CallerID"] == PRI_OUT_CALLER, far
        row = L.wait_for(lambda: _out_row(db, PRI_OUT_ROUTE, since), timeout=30, what="the call out's history row")
        assert (row["out_span"], row["out_status"], row["out_sent"]) == (2, "ANSWER", PRI_OUT_NUMBER), row
        assert row["out_circuit"] in lp.trunk_channels, row
    finally:
        L.hangup_all_dahdi(db)
        db.close()


CALLBACK_ROUTE, CALLBACK_NUMBER = "loop_pri_callback", "2348123"


def check_a_callback_order_is_placed_over_e1():
    """On an appliance whose only way out is its E1 (a route through the PRI
    trunk group, no SIP trunk in it), a callback order: the dialer rings the
    group's operator (the simulator's phone answers), then dials the client
    through korund-outbound over the E1; the test carrier receives the
    number and answers, and the order is done."""
    from datetime import UTC, datetime, timedelta

    from appliance.base import dialplan_names as dn
    from appliance.callbacks import store as callbacks
    from appliance.outbound import routes
    db = L.instance().open_store()
    try:
        L.simulator_phones()
        if "Up, Active" in L.asterisk_once(db, "pri show spans") and GROUP in L.asterisk_once(db, "queue show"):
            L.ready(db, [EXT])          # the PRI check before put the group in service
        else:
            L.group_with(db, GROUP, EXT, NAME, contact=f"sip:{EXT}@127.0.0.2:5060")
            L.apply_and_ready(db, [EXT], "pri")
        L.out_route(CALLBACK_ROUTE, "2348XXX", PRI_OUT_GROUP, "2", hunting="ascending", caller_id=PRI_OUT_CALLER)
        route = next(r for r in routes.routes(db) if r.name == CALLBACK_ROUTE)
        kinds = {g.name: g.kind for g in routes.trunk_groups(db)}
        assert [kinds[g] for g in route.trunk_groups] == ["dahdi"], route
        with L.UserEvents(db) as seen:
            order = callbacks.add(db, GROUP, CALLBACK_NUMBER, "4957650101", "",
                                  datetime.now(UTC) - timedelta(minutes=1), asap=True, by="vm-check")
            far = seen.wait(timeout=120, UserEvent=dn.EVENT_TEST_CARRIER_CALL, Dialled=CALLBACK_NUMBER)
            assert far["CallerID"] == PRI_OUT_CALLER, far
            L.wait_for(lambda: callbacks.get(db, order)["status"] == "done", timeout=90,
                       what=f"callback order {order} done ({callbacks.get(db, order)})")
        tries = [h for h in seen.seen if h.get("UserEvent") == dn.EVENT_OUTBOUND]
        assert tries and tries[-1]["Purpose"] == "callback-attempt" and tries[-1]["DialStatus"] == "ANSWER", tries
    finally:
        L.hangup_all_dahdi(db)
        db.close()


check_a_callback_order_is_placed_over_e1.timeout = 360


def _out_row(db, route: str, since: str) -> dict | None:
    """The newest call-history row of a call out through *route* since *since*, once it ended."""
    cur = db.execute("SELECT * FROM calls WHERE out_route = ? AND started_at >= ? AND out_status IS NOT NULL "
                     "AND out_status != '' ORDER BY started_at DESC LIMIT 1", [route, since])
    row = cur.fetchone()
    return dict(zip([c[0] for c in cur.description], row)) if row else None
