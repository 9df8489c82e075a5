"""Messages (F2) and callback orders (F3) on real calls: the caller speaks
(a test tone) after the beep and the message appears with its audio; a
silent caller leaves nothing; a callback order is stored with the chosen slot
and the caller's own or an entered number."""
from __future__ import annotations

import base64
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests import audio
from tests.harness import wait_for
from tests.telephony.test_scenarios import publish_and_bind

PROMPT_TONES = {"t-msg": 500, "t-cb-offer": 600, "t-cb-number": 900, "t-cb-confirm": 1100,
                "t-cb-enter": 1500, "t-cb-done": 1700}
VOICE = 1000   # what the caller "says"

MESSAGE = {"start": "leave", "nodes": {
    "leave": {"type": "message", "prompts": ["t-msg"], "group": "support", "max_seconds": 20,
              "beep": True, "silence": 5, "next": {"next": "bye", "empty": "bye"}},
    "bye": {"type": "hangup"},
}}

CALLBACK = {"start": "order", "nodes": {
    "order": {"type": "callback", "prompts": ["t-cb-offer"], "group": "support",
              "slots": ["10:00-12:00", "tomorrow 09:00-12:00"],
              "number_prompts": ["t-cb-number"], "confirm_prompts": ["t-cb-confirm"],
              "enter_prompts": ["t-cb-enter"], "done_prompts": ["t-cb-done"],
              "timeout": 8, "retries": 1, "next": {"next": "bye", "fail": "bye"}},
    "bye": {"type": "hangup"},
}}

SPEAKER = "korund-test-speaker"


@pytest.fixture(scope="module")
def lines(pbx):
    appliance, carrier = pbx
    for name, freq in PROMPT_TONES.items():
        appliance.tone_prompt(name, freq, seconds=2 if name == "t-cb-offer" else 1)
    publish_and_bind(appliance, "voicemail", MESSAGE, "400")
    publish_and_bind(appliance, "callme", CALLBACK, "500")
    # A caller that talks: silent for a while, then a tone, then it hangs up.
    for step in ("talk,1,Wait(${SPEAK_AFTER})", "talk,2,ExecIf($[${SPEAK_FREQ}>0]?Playtones(${SPEAK_FREQ}))",
                 "talk,3,Wait(${SPEAK_SECONDS})", "talk,4,StopPlaytones()", "talk,5,Wait(1)",
                 "talk,6,Hangup()"):
        carrier.cli(f"dialplan add extension {step} into {SPEAKER} replace")
    assert any("talk" in line for line in carrier.cli(f"dialplan show {SPEAKER}"))
    # These tests are about the orders the IVR takes; placing them is the
    # dialer's (test_callback_dialer.py). Stopped here, an order due now (ASAP,
    # or a slot that is open at this time of day) is not dialled mid-test.
    appliance.stop_service("dialer")
    yield appliance
    appliance.start_service("dialer")


def speak(carrier, ani: str, dnis: str, after: float, seconds: float, freq: int = VOICE) -> None:
    """Call *dnis* from *ani*; after *after* s send *freq* Hz for *seconds* s, then hang up."""
    b64 = lambda s: base64.b64encode(s.encode()).decode()  # noqa: E731
    variables = {"__SIM_CALL": uuid.uuid4().hex[:12], "__SIM_ANI_B64": b64(ani), "__SIM_NAME_B64": b64(""),
                 "__SIM_DNIS": dnis, "SPEAK_AFTER": str(after), "SPEAK_FREQ": str(freq),
                 "SPEAK_SECONDS": str(seconds)}
    resp = carrier.mgr.send_action({
        "Action": "Originate", "Channel": "Local/dial@sim-out/n", "Context": SPEAKER, "Exten": "talk",
        "Priority": "1", "Async": "true", "Timeout": "60000",
        "Variable": [f"{k}={v}" for k, v in variables.items()]})
    assert resp.get_header("Response") == "Success"


def rows(appliance, table: str, ani: str) -> list[dict]:
    with appliance.db() as conn:
        return [dict(r) for r in conn.execute(f"SELECT * FROM {table} WHERE ani = ? ORDER BY id", [ani])]


def test_a_message_is_stored_with_the_caller_number_and_its_audio(lines, carrier):
    speak(carrier, "4951230031", "400", after=3, seconds=4)
    row = wait_for(lambda: (rows(lines, "messages", "4951230031") or [None])[0], 40, what="the message row")
    assert row["grp"] == "support" and row["handled_at"] is None and row["uniqueid"]
    assert 3 <= row["duration"] <= 12, row
    wav = lines.host_base / "messages" / row["file"]
    heard = audio.samples(wav)   # a valid 16-bit mono WAV with its sizes written
    assert audio.tone_seconds(heard, VOICE) > 2.5
    assert abs(len(heard) / 8000 - row["duration"]) < 0.2
    wait_for(lambda: lines.calls() and rows(lines, "calls", "4951230031")
             and rows(lines, "calls", "4951230031")[0]["ended_at"], 30, what="the call to end")
    assert rows(lines, "calls", "4951230031")[0]["uniqueid"] == row["uniqueid"]


def test_a_silent_caller_leaves_no_message_and_no_file(lines, carrier):
    before = set((lines.host_base / "messages").glob("*.wav")) if (lines.host_base / "messages").exists() else set()
    speak(carrier, "4951230032", "400", after=4, seconds=0.1, freq=0)
    wait_for(lambda: rows(lines, "calls", "4951230032") and rows(lines, "calls", "4951230032")[0]["ended_at"],
             40, what="the silent call to end")
    assert rows(lines, "messages", "4951230032") == []
    assert set((lines.host_base / "messages").glob("*.wav")) == before


def test_a_callback_order_on_the_callers_own_number(lines, carrier):
    # 2 = the first slot (10:00-12:00); the own number is read back, 1 = right.
    call = carrier.call(ani="4951230021", dnis="500", hold=4, dtmf="2" + "w" * 19 + "1", dtmf_delay=1.2)
    order = wait_for(lambda: (rows(lines, "callbacks", "4951230021") or [None])[0], 60, what="the order")
    call.ended()
    assert order["number"] == "4951230021" and order["grp"] == "support" and order["status"] == "new"
    assert not order["asap"] and order["uniqueid"]
    moscow = ZoneInfo("Europe/Moscow")   # slots are on the call center's clock (the default timezone)
    start = datetime.fromisoformat(order["slot_from"]).astimezone(moscow)
    until = datetime.fromisoformat(order["slot_until"]).astimezone(moscow)
    assert until.strftime("%H:%M") == "12:00" and until - start <= timedelta(hours=2)
    assert start >= datetime.now(moscow) - timedelta(minutes=5)
    heard = audio.samples(call.recording())
    assert audio.first_tone_at(heard, 600) < audio.first_tone_at(heard, 1100) < audio.first_tone_at(heard, 1700)


def test_a_callback_order_on_an_entered_number(lines, carrier):
    # 1 = as soon as possible; 2 = another number, entered and confirmed with 1.
    dtmf = "1" + "w" * 19 + "2" + "w" * 4 + "79161234567#" + "w" * 21 + "1"
    call = carrier.call(ani="4951230022", dnis="500", hold=4, dtmf=dtmf, dtmf_delay=1.2)
    order = wait_for(lambda: (rows(lines, "callbacks", "4951230022") or [None])[0], 90, what="the order")
    call.ended()
    assert order["number"] == "79161234567" and order["ani"] == "4951230022"
    assert order["asap"] and order["slot_until"] is None
    heard = audio.samples(call.recording())
    assert audio.first_tone_at(heard, 1500) is not None   # asked for the number
