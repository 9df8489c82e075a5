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
