"""Schedules on real calls (F5): a number runs the day scenario while its
schedule is open and the night scenario otherwise — "outside working hours
the night scenario runs"."""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from appliance.schedules import store as schedules
from appliance.base import store
from appliance.scenarios import store as scenarios
from tests import audio
from tests.conftest import TONES

TZ = "Europe/Moscow"
DAY_TONE, NIGHT_TONE = 600, 1700   # far from the operators' phones (700, 1300)


def flow(prompt: str) -> dict:
    return {"start": f"{prompt}-hello", "nodes": {
        f"{prompt}-hello": {"type": "play", "prompts": [prompt], "next": {"next": "ops"}},
        "ops": {"type": "route", "to": "group", "group": "support"}}}


def hhmm(moment: datetime) -> str:
    return moment.strftime("%H:%M")


def set_hours(appliance, weekly: dict) -> None:
    db = store.open_store(appliance.host_base / "korund.db", migrate=False)
    try:
        with db.atomic():
            schedules.save(db, {"name": "office", "title": "Office", "timezone": TZ, "weekly": weekly},
                           create=schedules.load(db, "office") is None)
    finally:
        db.close()


@pytest.fixture(scope="module")
def line(pbx):
    appliance, _ = pbx
    for name, freq in (("t-day", DAY_TONE), ("t-night", NIGHT_TONE)):
        appliance.tone_prompt(name, freq)
    set_hours(appliance, {str(d): ["00:00-24:00"] for d in range(1, 8)})
    db = store.open_store(appliance.host_base / "korund.db", migrate=False)
    try:
        for name in ("day", "night"):
            scenarios.create(db, name, name.title(), flow(f"t-{name}"))
            scenarios.publish(db, name, "test")
        scenarios.bind(db, "100", scenario="day", schedule="office", otherwise_scenario="night")
    finally:
        db.close()
    return appliance


def path_of(appliance, uniqueid: str) -> list[str]:
    with appliance.db() as conn:
        return [json.loads(r[0]).get("node") for r in conn.execute(
            "SELECT step FROM call_steps WHERE uniqueid = ? ORDER BY seq", [uniqueid])
            if "type" in json.loads(r[0])]


def call_and_listen(appliance, carrier, ani: str) -> tuple[list[str], object, str]:
    before = appliance.last_call_id()
    call = carrier.call(ani=ani, dnis="100", hold=12)
    operator = call.answered_by_phone(timeout=40)["Phone"]
    call.ended()
    heard = audio.samples(call.recording())
    row = appliance.call_row(ani=ani, since_id=before)
    assert row["route_source"] == "scenario" and row["grp"] == "support" and row["outcome"] == "answered"
    return path_of(appliance, row["uniqueid"]), heard, operator


def test_outside_working_hours_the_night_scenario_runs(line, carrier):
    # Working hours every day from 3 to 5 hours from now (Moscow time): closed now.
    now = datetime.now(ZoneInfo(TZ))
    hours = f"{hhmm(now + timedelta(hours=3))}-{hhmm(now + timedelta(hours=5))}"
    set_hours(line, {str(d): [hours] for d in range(1, 8)})
    path, heard, operator = call_and_listen(line, carrier, "4951239001")
    assert path == ["t-night-hello", "ops"]
    assert audio.first_tone_at(heard, NIGHT_TONE) is not None
    assert audio.first_tone_at(heard, DAY_TONE) is None
    assert audio.first_tone_at(heard, NIGHT_TONE) < audio.first_tone_at(heard, TONES[operator])


def test_during_working_hours_the_day_scenario_runs(line, carrier):
    # Working hours every day from an hour ago to 2 hours from now: open now.
    now = datetime.now(ZoneInfo(TZ))
    hours = f"{hhmm(now - timedelta(hours=1))}-{hhmm(now + timedelta(hours=2))}"
    set_hours(line, {str(d): [hours] for d in range(1, 8)})
    path, heard, operator = call_and_listen(line, carrier, "4951239002")
    assert path == ["t-day-hello", "ops"]
    assert audio.first_tone_at(heard, DAY_TONE) is not None
    assert audio.first_tone_at(heard, NIGHT_TONE) is None
    assert audio.first_tone_at(heard, DAY_TONE) < audio.first_tone_at(heard, TONES[operator])


def test_a_holiday_closes_a_working_day(line, carrier):
    now = datetime.now(ZoneInfo(TZ))
    db = store.open_store(line.host_base / "korund.db", migrate=False)
    try:
        with db.atomic():
            schedules.save(db, {"name": "office", "title": "Office", "timezone": TZ,
                                "weekly": {str(d): ["00:00-24:00"] for d in range(1, 8)},
                                # yesterday, today and tomorrow: no midnight race
                                "holidays": [(now + timedelta(days=k)).date().isoformat() for k in (-1, 0, 1)]},
                           create=False)
    finally:
        db.close()
    path, heard, _operator = call_and_listen(line, carrier, "4951239003")
    assert path == ["t-night-hello", "ops"]
    assert audio.first_tone_at(heard, DAY_TONE) is None
