"""A call from the PSTN carrier reaches an operator of the default group, the
caller hears the welcome prompt and then the operator, and one history row
tells the story."""
from __future__ import annotations

from datetime import datetime

from tests import audio
from tests.conftest import TONES

HOLD = 16


def ts(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


def test_call_reaches_an_operator_and_is_recorded_in_history(appliance, carrier):
    before = appliance.last_call_id()
    call = carrier.call(ani="4951234567", dnis="100", name="Ivan Petrov", hold=HOLD)

    rang = call.wait("SimPhoneRang", timeout=30)
    answered = call.answered_by_phone()
    operator = answered["Phone"]
    assert operator in TONES
    # What the operator's phone was shown.
    assert rang["CallerNum"] == "4951234567"
    assert rang["CallerName"] == "Ivan Petrov"
    call.ended(timeout=HOLD + 30)

    # What the caller heard: the welcome prompt, then the operator's line.
    heard = audio.samples(call.recording())
    prompt = audio.samples(appliance.host_base / "sounds" / "ru" / "welcome.wav")
    match, offset = audio.find_prompt(heard, prompt)
    assert match > 0.9, f"the welcome prompt was not heard (envelope correlation {match:.2f})"
    tone_at = audio.first_tone_at(heard, TONES[operator])
    caller_up = float(call.wait("SimCallerAnswered", 1, Call=call.id)["Timestamp"])
    assert tone_at is not None, (
        f"the caller never heard the operator's phone: it answered "
        f"{float(answered['Timestamp']) - caller_up:.1f}s after the appliance did; "
        f"recording {len(heard) / audio.RATE:.1f}s")
    assert audio.tone_seconds(heard, TONES[operator]) > 2
    assert tone_at >= offset + len(prompt) / audio.RATE - 0.5
    other = next(t for ext, t in TONES.items() if ext != operator)
    assert audio.tone_seconds(heard, other) == 0

    row = appliance.call_row(ani="4951234567", since_id=before)
    assert row["dnis"] == "100"
    assert row["trunk"] == "pstn"
    assert row["grp"] == "support"
    assert row["route_source"] == "agi"
    assert row["operator"] == operator
    assert row["outcome"] == "answered"
    wait = ts(row["connected_at"]) - ts(row["started_at"])
    talk = ts(row["ended_at"]) - ts(row["connected_at"])
    assert len(prompt) / audio.RATE - 0.5 < wait < len(prompt) / audio.RATE + 5
    assert HOLD - wait - 1 < talk < HOLD - wait + 2 or abs(talk - (HOLD - wait)) < 2


def test_appliance_ami_reports_the_queue_connection(appliance, carrier):
    mark = appliance.events.mark()
    call = carrier.call(ani="4957654321", hold=8)
    answered = call.answered_by_phone()
    connect = appliance.events.wait(mark, 30, Event="AgentConnect")
    assert connect["Queue"] == "support"
    assert connect["Interface"] == f"PJSIP/{answered['Phone']}"
    assert connect["CallerIDNum"] == "4957654321"
    call.ended()


def test_busy_operator_is_skipped(appliance, carrier):
    carrier.phone("1001", "busy")
    carrier.phone("1002", "answer", tone=TONES["1002"])
    before = appliance.last_call_id()
    call = carrier.call(ani="4951112233", hold=12)
    assert call.answered_by_phone()["Phone"] == "1002"
    call.ended()
    assert appliance.call_row(ani="4951112233", since_id=before)["operator"] == "1002"


def test_unanswered_phones_are_rung_in_turn_and_the_call_is_abandoned(appliance, carrier):
    for ext in TONES:
        carrier.phone(ext, "noanswer")
    before = appliance.last_call_id()
    call = carrier.call(ani="4959990000", hold=30)
    rang = [call.wait("SimPhoneRang", timeout=40, Phone=ext)["Phone"] for ext in TONES]
    assert sorted(rang) == sorted(TONES)
    call.ended(timeout=60)
    heard = audio.samples(call.recording())
    assert all(audio.tone_seconds(heard, tone) == 0 for tone in TONES.values())
    row = appliance.call_row(ani="4959990000", since_id=before)
    assert row["outcome"] == "abandoned"
    assert row["operator"] is None and row["connected_at"] is None
