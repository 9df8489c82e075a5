"""MFC/R2 circuits left half-released are returned to idle (appliance.lines.r2_circuits),
from `mfcr2 show channels` as Asterisk 22's chan_dahdi prints it (the stuck
circuit 62 is the one CI's VM run saw)."""
from __future__ import annotations

from appliance.lines import r2_circuits

HEADER = "Chan Link# Variant Max ANI Max DNIS ANI First Immediate Accept Tx CAS   Rx CAS "
STUCK = f"""\
{HEADER}
   1    1 ITU     10      4        No        No               IDLE     IDLE    
   2    1 ITU     10      4        No        No               IDLE     IDLE    
  61    2 ITU     10      4        No        No               SEIZE AC SEIZE   
  62    2 ITU     10      4        No        No               CLEAR BA CLEAR FO
""".splitlines()
ALL_IDLE = [ln.replace("CLEAR BA CLEAR FO", "IDLE     IDLE    ").replace("SEIZE AC SEIZE   ", "IDLE     IDLE    ")
            for ln in STUCK]
# 61 is in call set-up (no Asterisk channel yet during MF signalling); 62 has none
NO_CALLS: list[str] = []
CALL_ON_62 = ["DAHDI/62-1!korund-inbound!7200!3!Up!Queue!loop_r2!4957654321!!!3!12!(None)!1764160000.12"]


def test_the_cas_columns_are_read_with_their_spaces():
    assert r2_circuits.circuits(STUCK) == {
        1: ("IDLE", "IDLE"), 2: ("IDLE", "IDLE"), 61: ("SEIZE AC", "SEIZE"), 62: ("CLEAR BA", "CLEAR FO")}
    assert r2_circuits.circuits(["No such command 'mfcr2 show channels' (type 'core show help mfcr2 show' for other possible commands)"]) == {}


def test_only_a_release_both_ends_finished_counts():
    assert r2_circuits.released("CLEAR BA", "CLEAR FO")
    assert r2_circuits.released("CLEAR FO", "CLEAR FO")      # the carrier's end, seen in the VM
    assert r2_circuits.released("CLEAR FO", "IDLE")
    assert not r2_circuits.released("IDLE", "CLEAR FO")      # forced idle: openr2 keeps the old name
    assert not r2_circuits.released("IDLE", "IDLE")
    assert not r2_circuits.released("CLEAR BA", "SEIZE")     # we cleared, the caller still holds: legal
    assert not r2_circuits.released("BLOCK", "CLEAR FO")
    assert not r2_circuits.released("SEIZE AC", "SEIZE")


def test_asterisk_channels_are_matched_to_circuits():
    assert r2_circuits.owned(CALL_ON_62 + ["DAHDI/i2/4951234567-3!x", "PJSIP/1001-0000001!y"]) == {62}


class _Cli:
    def __init__(self, circuits, channels):
        self.circuits, self.channels, self.ran = circuits, channels, []

    def __call__(self, mgr, cli):
        self.ran.append(cli)
        if cli == "mfcr2 show channels":
            return self.circuits
        if cli == "core show channels concise":
            return self.channels
        if cli.startswith("mfcr2 set idle"):
            self.circuits = ALL_IDLE
            return []
        raise AssertionError(cli)


def test_a_circuit_stuck_half_released_is_forced_idle_once_it_stayed_so(monkeypatch):
    now = [1000.0]
    cli = _Cli(STUCK, NO_CALLS)
    monkeypatch.setattr(r2_circuits.ami, "command", cli)
    mended = []
    dog = r2_circuits.Watchdog(clock=lambda: now[0], on_forced=lambda ch, cas: mended.append((ch, cas)))
    assert dog.check(None) == []                          # first seen
    now[0] += 10
    assert dog.check(None) == []                          # not STUCK_AFTER yet
    now[0] += 10
    assert dog.check(None) == [62]                        # 20 s the same, no call on it
    assert mended == [(62, ("CLEAR BA", "CLEAR FO"))]
    assert [c for c in cli.ran if c.startswith("mfcr2 set")] == ["mfcr2 set idle 62"]   # never 61
    now[0] += 10
    assert dog.check(None) == [] and dog.since == {}      # idle again: forgotten
    assert cli.ran[-1] == "mfcr2 show channels"           # nothing more asked when all is well


def test_a_circuit_with_a_call_or_a_changing_state_is_left_alone(monkeypatch):
    now = [1000.0]
    cli = _Cli(STUCK, CALL_ON_62)
    monkeypatch.setattr(r2_circuits.ami, "command", cli)
    dog = r2_circuits.Watchdog(clock=lambda: now[0])
    for _ in range(5):
        assert dog.check(None) == []
        now[0] += 10
    cli.channels = NO_CALLS                                # the call has just gone: a fresh start
    assert dog.check(None) == []
    now[0] += 10
    cli.circuits = [ln.replace("CLEAR BA CLEAR FO", "CLEAR BA IDLE    ") for ln in STUCK]
    assert dog.check(None) == []                          # moved on: the clock starts again
    now[0] += 10
    assert dog.check(None) == []
    assert not [c for c in cli.ran if c.startswith("mfcr2 set")]


def test_a_failing_ami_session_is_not_fatal(monkeypatch):
    def broken(mgr, cli):
        raise ConnectionError("AMI went away")
    monkeypatch.setattr(r2_circuits.ami, "command", broken)
    assert r2_circuits.Watchdog().check(None) == []


def test_a_mend_is_in_the_hardware_alarm_log_already_cleared(db):
    from appliance.health import store as health
    r2_circuits.record_alarm(db, 62, ("CLEAR BA", "CLEAR FO"), at="2026-11-26T10:00:00+00:00")
    rows = health.alarms(db)
    assert [(a["source"], a["kind"], a["severity"], a["cleared_at"]) for a in rows] == [
        ("r2:62", "circuit_stuck", "warning", "2026-11-26T10:00:00+00:00")]
    assert "circuit 62 stayed half-released" in rows[0]["message"]
    assert health.alarms(db, active_only=True) == []      # nothing left to act on
    health.sweep(db, spans_reader=lambda _r: [])           # the health sweep leaves it alone
    assert len(health.alarms(db)) == 1


def test_a_failing_record_does_not_undo_the_mend(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(r2_circuits.ami, "command", _Cli(STUCK, NO_CALLS))

    def broken(ch, cas):
        raise RuntimeError("database locked")
    dog = r2_circuits.Watchdog(clock=lambda: now[0], on_forced=broken)
    dog.check(None)
    now[0] += 20
    assert dog.check(None) == [62]
