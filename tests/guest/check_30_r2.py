"""MFC/R2 across the looped spans reconfigured as CAS: openr2's
ITU variant (it has no Russian one) on both spans; the test carrier
(span 1) calls the appliance's span 2 with a 10-digit ANI, a 4-digit DNIS
and the caller category "national priority subscriber". Glare: channel k
of span 1 is the same circuit as channel k of span 2, so the carrier hunts
downward (DAHDI/G1) while the appliance would hunt upward. Checked: the
R2 channels go idle both ways, and the call reaches the IVR with ANI, DNIS
and category as Korund's call history and the dialplan variables show
them, then the operator answers.
"""
from __future__ import annotations

import loop as L
from appliance.render import config as render_config

TIMEOUT = 300

GROUP, EXT, NAME = "loop_r2", "1092", "Loop R2 Operator"
DNIS, SCENARIO = "7200", "loop-r2"
ANI = "4957654321"
CATEGORY = "national_priority_subscriber"


def check_r2_channels_idle_both_ways():
    # The call's group, operator and scenario are stored first, so that one
    # configure puts everything into service: chan_dahdi is not unloaded or
    # reloaded again while its MFC/R2 links are up (Asterisk 22 crashes on
    # the next R2 call after that).
    L.simulator_phones()
    db = L.instance().open_store()
    try:
        L.group_with(db, GROUP, EXT, NAME, contact=f"sip:{EXT}@127.0.0.2:5060")
        L.test_scenario(db, SCENARIO, GROUP, DNIS, with_input=False)
    finally:
        db.close()
    lp = L.configure("r2", category=CATEGORY)
    db = L.instance().open_store()
    mgr = L.manager(db)
    try:
        shown = L.asterisk(mgr, "mfcr2 show channels")
        assert "ITU" in shown and "IDLE" in shown, shown[:600]
        assert set(lp.trunk_channels) <= L.dahdi_channels(mgr)
    finally:
        L.ami.close(mgr)
        db.close()


def check_r2_call_delivers_ani_dnis_and_category_to_the_ivr():
    db = L.instance().open_store()
    try:
        lp = L.current("r2")
        L.ready(db, [EXT])
        assert lp.carrier_dial(DNIS) == f"DAHDI/G1/{DNIS}"     # downward: no glare with the appliance
        # MF tones are audio in real time: on a starved machine (software
        # emulation, other VMs) a compelled sequence can break ("Broken MF
        # Sequence"), and a carrier then seizes again -- so does the check,
        # up to twice, and says what broke (_r2_call_answered).
        try:
            call = _r2_call_answered(db, lp, ANI, "r2")
        finally:
            _hang_up_carrier_first(db)
        assert call["dnis"] == DNIS, call
        assert call["caller_category"] == "National Priority Subscriber", call
        assert call["span"] == "2" and int(call["dahdi_channel"]) in lp.trunk_channels, call
        nodes = [s.get("node") for s in L.steps(db, call["uniqueid"])]
        assert nodes[:1] == ["menu"] and "operators" in nodes, nodes
        cdr = L.wait_for(lambda: [ln for ln in L.cdr_lines(call["uniqueid"]) if "ANSWERED" in ln],
                         timeout=60, what="CDR line of the call")
        assert any("DAHDI/" in ln for ln in cdr), cdr
    finally:
        db.close()


ANI_KEYS, DNIS_KEYS, SCENARIO_KEYS = "4957650005", "7201", "loop-r2-keys"
DTMF_KEYS = "wwww1ww1wwwwww4242#ww1"     # keys during the menu prompt, a code, and more


def check_an_r2_callers_keys_neither_crash_asterisk_nor_hold_up_the_ivr():
    """The R2 caller presses keys while the menu plays (and later).
    Debian's chan_dahdi (Asterisk 22.10.1) crashes on every DTMF digit it
    detects on an MFC/R2 channel (a null read of the analog dial mode in
    dahdi_read: the whole appliance restarts). The image's chan_dahdi is
    rebuilt with Korund's patch (image-build/chan_dahdi/), and Korund's
    dialplan keeps digit detection off on R2 channels (with it on, only a
    circuit's first call after Asterisk starts hears keys); the
    IVR takes the menu's 'fail' way at once instead of waiting for keys.
    Asserted: same Asterisk (PID and start time), no segfault in the
    kernel log, the menu's 'keys not heard' step and no code taken."""
    db = L.instance().open_store()
    try:
        lp = _r2_ready(db)
        L.test_scenario(db, SCENARIO_KEYS, GROUP, DNIS_KEYS, with_input=True)   # menu: 1 -> a code
        L.ready(db, [EXT])
        before = _asterisk_identity(db)
        crashes = _segfaults()
        call = _r2_call_answered(db, lp, ANI_KEYS, "r2-keys", dnis=DNIS_KEYS, dtmf=DTMF_KEYS)
        assert _asterisk_identity(db) == before, f"Asterisk restarted under the R2 caller's keys: {before}"
        assert _segfaults() == crashes, _segfaults()
        path = L.steps(db, call["uniqueid"])
        assert {"node": "menu", "set": "keys", "value": "not heard (MFC/R2)"} in path, path
        assert "code" not in [s.get("node") for s in path], path     # key 1 was not taken
        assert call["dnis"] == DNIS_KEYS and call["operator"] == EXT, call
    finally:
        db.close()


def _segfaults() -> list[str]:
    import subprocess
    out = subprocess.run(["dmesg"], capture_output=True, text=True).stdout
    return [ln for ln in out.splitlines() if "segfault" in ln]


check_an_r2_callers_keys_neither_crash_asterisk_nor_hold_up_the_ivr.timeout = 420


ANI_DROPPED, ANI_AFTER_DROP = "4957650003", "4957650004"


def check_a_circuit_left_half_released_is_returned_to_idle_and_takes_the_next_call():
    """The appliance's end of a call is dropped without a clear back (its
    circuit forced idle under the call, then hung up): the carrier's end of
    the circuit is left sending "clear forward" with no call on it -- the
    state CI's VM run once found after a normal call, which no new call
    could seize. The events service's watchdog (appliance.lines.r2_circuits)
    forces it idle with a warning in events.log, and the carrier's next
    call seizes that same circuit again."""
    from appliance.lines import r2_circuits
    db = L.instance().open_store()
    try:
        lp = _r2_ready(db)
        mark = len(_events_log())
        # Any call will do here (a starved machine may mishear an ANI digit):
        # this check is about the circuit, not about what the MF carried.
        since, errors = _seized(db, lp, ANI_DROPPED, exact=False)
        try:
            app, car = L.wait_for(lambda: _r2_legs(db), timeout=60, what=f"the R2 call's two ends ({errors})")
            L.wait_for(lambda: _any_call_since(db, since), timeout=60, what=f"the call in the IVR ({errors})")
        except AssertionError:
            _hang_up_carrier_first(db)
            raise
        mgr = L.manager(db)
        try:
            # answered: the appliance's end sends ANSWER and the carrier's end has seen it
            L.wait_for(lambda: (cas := r2_circuits.circuits(L.ami.command(mgr, "mfcr2 show channels")))
                       and cas.get(app, ("",))[0] == "ANSWER" and cas.get(car, ("", ""))[1] == "ANSWER",
                       timeout=30, what=f"circuit {car}/{app} answered")
            L.asterisk(mgr, f"mfcr2 set idle {app}")      # our end lets go without a clear back
            mgr.send_action({"Action": "Hangup", "Channel": f"/^DAHDI\\/{app}-/"})
            stuck = L.wait_for(lambda: (cas := r2_circuits.circuits(
                L.ami.command(mgr, "mfcr2 show channels")).get(car)) and r2_circuits.released(*cas) and cas,
                timeout=20, what=f"circuit {car} left half-released")
            L.wait_for(lambda: not any(ln.startswith(f"DAHDI/{car}-")
                                       for ln in L.ami.command(mgr, "core show channels concise")),
                       timeout=30, what=f"no call left on circuit {car}")
        finally:
            L.ami.close(mgr)
        # CHECK_EVERY + STUCK_AFTER (+ a round): forced idle, said in the events log
        warned = L.wait_for(lambda: [ln for ln in _events_log()[mark:]
                                     if f"MFC/R2 channel {car} stayed half-released" in ln],
                            timeout=60, what=f"the watchdog's warning for circuit {car} (was {stuck})")
        assert warned
        # ... and in the hardware alarm log the Hardware health page shows, already cleared
        logged = db.execute("SELECT severity, message, cleared_at FROM health_alarms WHERE source = ? "
                            "AND kind = 'circuit_stuck' ORDER BY id DESC", [f"r2:{car}"]).fetchall()
        assert logged and logged[0][0] == "warning" and logged[0][2], logged
        L.wait_for(lambda: _r2_up(db, lp), timeout=30, what="every circuit idle again")
        try:
            # a broken seizure is retried on the same top circuit (_r2_back_to_idle)
            since, errors = _seized(db, lp, ANI_AFTER_DROP, exact=False)
            again = L.wait_for(lambda: (r := _any_call_since(db, since)) and r.get("dahdi_channel") and r,
                               timeout=60, what=f"the next R2 call in the IVR ({errors})")
            # the carrier hunts downward from its top circuit: the one just mended
            assert int(again["dahdi_channel"]) == app, (again, app, car)
        finally:
            _hang_up_carrier_first(db)
    finally:
        db.close()


check_a_circuit_left_half_released_is_returned_to_idle_and_takes_the_next_call.timeout = 420


def _events_log() -> list[str]:
    path = L.instance().log / "events.log"
    return path.read_text(encoding="utf-8", errors="replace").splitlines() if path.exists() else []


def _r2_legs(db) -> tuple[int, int] | None:
    """(appliance's circuit, carrier's circuit) of the one R2 call up, once both ends exist."""
    chans = [int(ln.split("-")[0].split("/")[1]) for ln in L.asterisk_once(db, "core show channels concise").splitlines()
             if ln.startswith("DAHDI/") and ln.split("/")[1].split("-")[0].isdigit()]
    app = [c for c in chans if c > 31]
    car = [c for c in chans if c <= 31]
    return (app[0], car[0]) if app and car else None


def _hang_up_carrier_first(db) -> None:
    """End the calls as a caller does: the carrier's end first, then whatever is left."""
    try:
        mgr = L.manager(db)
        try:
            mgr.send_action({"Action": "Hangup", "Channel": "/^DAHDI\\/([1-9]|[12][0-9]|3[01])-/"})
        finally:
            L.ami.close(mgr)
        L.wait_for(lambda: "DAHDI/" not in L.asterisk_once(db, "core show channels concise"), timeout=20,
                   what="the calls gone")
    except Exception:   # noqa: BLE001 - cleaning up must not hide the check's own failure
        pass
    L.hangup_all_dahdi(db)


ANI_AFTER_APPLY = "4957650002"


def check_an_apply_under_live_r2_links_keeps_asterisk_and_r2_calls():
    """An admin's Apply (an operator renamed, the group's ring time changed)
    while the R2 links are up and idle, applied the way the panel does:
    only res_pjsip and app_queue are reloaded -- never chan_dahdi, never
    `core reload` (Asterisk 22 crashes on the next R2 call after chan_dahdi
    is reloaded under live R2 links) -- Asterisk keeps running (same PID,
    same start time) and the next R2 call reaches the operator."""
    from appliance import apply
    from devtools import dahdi_loop
    from appliance.operators import store as operators
    inst = L.instance()
    db = inst.open_store()
    try:
        lp = _r2_ready(db)
        mgr = L.manager(db)
        reloads = []
        mgr.register_event("Reload", lambda event, _m: reloads.append(event.headers.get("Module")))
        try:
            dahdi_loop.wait_up(mgr, lp, timeout=60)          # up, every R2 channel IDLE both ways
            before = _asterisk_identity(db)
            group = next(g for g in render_config.load(db).groups if g.name == GROUP)
            renamed = f"{NAME} B" if not _operator_name(db).endswith(" B") else NAME
            with db.atomic():
                operators.update_operator(db, EXT, renamed, f"sip:{EXT}@127.0.0.2:5060", True)
                operators.update_group(db, GROUP, group.title, group.strategy,
                                   25 if group.ring_timeout != 25 else 30, group.is_default)
            result = apply.apply(inst, db, mgr)              # what the panel's Apply runs
            L.wait_for(lambda: "app_queue.so" in reloads, timeout=10, what="app_queue's Reload event")
        finally:
            L.ami.close(mgr)
        assert {"res_pjsip.so", "app_queue.so"} <= set(result.modules), result.modules
        assert not any("dahdi" in m for m in result.modules), result.modules
        assert not {"chan_dahdi.so", "All"} & set(reloads), reloads
        assert _asterisk_identity(db) == before, f"Asterisk restarted during the apply: {before}"
        call, failure = None, None
        try:
            L.ready(db, [EXT])
            mgr = L.manager(db)
            try:
                dahdi_loop.wait_up(mgr, lp, timeout=30)      # the links stayed up and idle
            finally:
                L.ami.close(mgr)
            call = _r2_call_answered(db, lp, ANI_AFTER_APPLY, "r2-after-apply")
        except (AssertionError, TimeoutError) as exc:
            failure = exc
        after = _asterisk_identity(db)
        assert after == before, f"Asterisk restarted after the apply ({before} -> {after})" + (
            f"; the R2 call: {failure}" if failure else "")
        if failure:
            raise failure
        assert call["span"] == "2" and call["dnis"] == DNIS, call
        assert renamed in L.asterisk_once(db, f"queue show {GROUP}")
    finally:
        db.close()


check_an_apply_under_live_r2_links_keeps_asterisk_and_r2_calls.timeout = 420


def _r2_ready(db):
    """The R2 pair in service with every circuit idle: configured when the
    check runs on its own; when an earlier check left a call or a stuck
    circuit behind, that is hung up and forced idle (never by reloading
    chan_dahdi under live links)."""
    lp = L.current("r2")
    if "ITU" not in L.asterisk_once(db, "mfcr2 show channels"):
        check_r2_channels_idle_both_ways()
    elif not _r2_up(db, lp):
        _r2_back_to_idle(db, lp)
    return lp


def _r2_up(db, lp) -> bool:
    try:
        mgr = L.manager(db)
    except Exception:   # noqa: BLE001 - no AMI: not up
        return False
    try:
        from devtools import dahdi_loop
        return dahdi_loop.is_up(mgr, lp)[0]
    finally:
        L.ami.close(mgr)


def _operator_name(db) -> str:
    row = db.execute("SELECT name FROM operators WHERE extension = ?", [EXT]).fetchone()
    return row[0] if row else ""


def _asterisk_identity(db) -> tuple:
    """(PID under supervisord, start date and time) of the running Asterisk."""
    from appliance.base import supervisor
    pid = supervisor.status(L.instance()).get("asterisk", {}).get("pid")
    try:
        mgr = L.manager(db)
    except Exception as exc:   # noqa: BLE001 - Asterisk down: that is the answer
        return pid, f"AMI down: {exc}"
    try:
        core = mgr.send_action({"Action": "CoreStatus"})
        return pid, f"{core.get_header('CoreStartupDate')} {core.get_header('CoreStartupTime')}"
    finally:
        L.ami.close(mgr)


def _carrier_calls(db, lp, ani: str, dnis: str = DNIS, dtmf: str = "") -> str:
    """The test carrier calls *dnis* over R2 from *ani* (sending *dtmf* once
    answered); when it did (for call_row)."""
    since = L.now_iso()
    mgr = L.manager(db)
    try:
        L.originate(mgr, lp.carrier_dial(dnis), ani=ani, dtmf=dtmf)
    finally:
        L.ami.close(mgr)
    return since


SEIZURES = 3


def _r2_call_answered(db, lp, ani: str, label: str, dnis: str = DNIS, dtmf: str = "") -> dict:
    """The test carrier calls *dnis* over R2 (_seized); the history row once EXT answered."""
    since, errors = _seized(db, lp, ani, dnis, dtmf)
    try:
        return L.wait_call(db, ani, since, label, lambda: (r := L.call_row(db, ani, since))
                           and r.get("operator") == EXT and r.get("answered_at") and r,
                           timeout=120, what=f"R2 call answered by {EXT} ({'; '.join(errors) or 'first seizure'})")
    finally:
        _hang_up_carrier_first(db)


def _seized(db, lp, ani: str, dnis: str = DNIS, dtmf: str = "", exact: bool = True) -> tuple[str, list[str]]:
    """The test carrier calls *dnis* over R2 from *ani*, seizing again (up
    to SEIZURES times in all) when the MF sequence breaks on a starved
    machine or the call never shows; with *exact*, a call that arrives with
    another ANI (an MF digit misheard) failed too. (when the last seizure
    began, what went wrong before it)."""
    errors = []
    for attempt in range(1, SEIZURES + 1):
        mark = len(L.log_lines())
        since = _carrier_calls(db, lp, ani, dnis, dtmf)
        try:
            L.wait_for(lambda: _any_call_since(db, since) or L.protocol_errors(mark), timeout=45,
                       what="the R2 call in the IVR")
        except L.WaitTimeout:
            pass
        arrived = L.call_row(db, ani, since) if exact else _any_call_since(db, since)
        if arrived:
            break
        other = _any_call_since(db, since)
        heard = f"a call from {other['ani']!r} (MF misheard)" if other else "no call"
        errors.append(f"attempt {attempt}: " + (" / ".join(L.protocol_errors(mark)) or f"{heard}, no error")
                      + f"; circuits then: {_r2_busy(db, lp)}")
        if attempt < SEIZURES:
            _r2_back_to_idle(db, lp)
    return since, errors


def _any_call_since(db, since: str) -> dict | None:
    """The newest call at or after *since*, whoever it is from (only the
    carrier's R2 calls come in while these checks run)."""
    cur = db.execute("SELECT * FROM calls WHERE started_at >= ? ORDER BY started_at DESC LIMIT 1", [since])
    row = cur.fetchone()
    return dict(zip([c[0] for c in cur.description], row)) if row else None


def _r2_busy(db, lp) -> str:
    """The circuits that are not idle both ways, as Asterisk shows them."""
    try:
        mgr = L.manager(db)
    except Exception as exc:   # noqa: BLE001 - the evidence must not raise
        return f"no AMI ({exc})"
    try:
        from devtools import dahdi_loop
        up, said = dahdi_loop.is_up(mgr, lp)
        return "all idle" if up else said
    finally:
        L.ami.close(mgr)


def _r2_back_to_idle(db, lp) -> None:
    """After a broken seizure: every call hung up and every circuit idle both
    ways before the carrier seizes again. A protocol error can leave a
    circuit blocked or half-released with no call on it, which the events
    service's watchdog mends only after STUCK_AFTER; here the check forces
    such circuits idle at once, at both ends, as a technician would."""
    from appliance.lines import r2_circuits
    from devtools import dahdi_loop
    L.hangup_all_dahdi(db)
    L.wait_for(lambda: "DAHDI/" not in L.asterisk_once(db, "core show channels concise"), timeout=30,
               what="no DAHDI call left after the broken seizure")
    mgr = L.manager(db)
    try:
        try:
            dahdi_loop.wait_up(mgr, lp, timeout=20)
            return
        except TimeoutError:
            pass
        cas = r2_circuits.circuits(L.ami.command(mgr, "mfcr2 show channels"))
        for ch, (tx, rx) in sorted(cas.items()):
            if not (tx == "IDLE" and rx in ("IDLE", "CLEAR FO")):
                L.ami.command(mgr, f"mfcr2 set idle {ch}")
        dahdi_loop.wait_up(mgr, lp, timeout=30)
    finally:
        L.ami.close(mgr)


def check_r2_refuses_the_russian_variant_clearly():
    from appliance.lines import store as spans
    from appliance.base.errors import ConfigError
    try:
        spans.validate({"span": 2, "name": "R2", "signalling": "mfcr2", "framing": "cas", "mfcr2_variant": "ru"})
    except ConfigError as exc:
        assert exc.field == "mfcr2_variant" and "no Russian" in exc.message, exc
    else:
        raise AssertionError("variant 'ru' was accepted")


# Three seizures at most, then the operator's answer: more than the module's default.
check_r2_call_delivers_ani_dnis_and_category_to_the_ivr.timeout = 480
