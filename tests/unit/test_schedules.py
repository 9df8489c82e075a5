"""Schedules (F5): is_open/is_holiday at the edges, validation, the store,
bindings that switch target by schedule, and the condition node's tests."""
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from appliance.schedules import store as schedules
from appliance.base.errors import ConfigError
from appliance.scenarios import graph as graphs
from appliance.scenarios import simulate
from appliance.scenarios import store as scenarios

MSK = ZoneInfo("Europe/Moscow")
WEEKDAYS_9_18 = {str(d): ["09:00-18:00"] for d in range(1, 6)}


def sched(weekly=None, holidays=(), workdays=(), tz="Europe/Moscow"):
    return schedules.parse({"name": "office", "title": "Office", "timezone": tz,
                            "weekly": WEEKDAYS_9_18 if weekly is None else weekly,
                            "holidays": list(holidays), "workdays": list(workdays)})


def at(text, tz=MSK):
    return datetime.fromisoformat(text).replace(tzinfo=tz)


# 2026-11-23 is a Monday.
@pytest.mark.parametrize("moment, expected", [
    ("2026-11-23 08:59", False), ("2026-11-23 09:00", True), ("2026-11-23 12:00", True),
    ("2026-11-23 17:59", True), ("2026-11-23 18:00", False), ("2026-11-27 17:30", True),
    ("2026-11-28 12:00", False), ("2026-11-29 12:00", False),
])
def test_weekly_hours_edges(moment, expected):
    assert schedules.is_open(sched(), at(moment)) is expected


def test_several_intervals_a_day_lunch_break():
    s = sched({"1": ["09:00-13:00", "14:00-18:00"]})
    assert schedules.is_open(s, at("2026-11-23 12:59"))
    assert not schedules.is_open(s, at("2026-11-23 13:00"))
    assert not schedules.is_open(s, at("2026-11-23 13:59"))
    assert schedules.is_open(s, at("2026-11-23 14:00"))


def test_overnight_interval_runs_into_the_next_day():
    s = sched({"5": ["22:00-06:00"]})  # Friday night
    assert not schedules.is_open(s, at("2026-11-27 21:59"))
    assert schedules.is_open(s, at("2026-11-27 22:00"))
    assert schedules.is_open(s, at("2026-11-27 23:59"))
    assert schedules.is_open(s, at("2026-11-28 00:00"))
    assert schedules.is_open(s, at("2026-11-28 05:59"))
    assert not schedules.is_open(s, at("2026-11-28 06:00"))
    # Sunday into Monday wraps the week
    s = sched({"7": ["20:00-02:00"]})
    assert schedules.is_open(s, at("2026-11-30 01:00"))
    assert not schedules.is_open(s, at("2026-11-23 21:00"))


def test_until_midnight_and_whole_day():
    s = sched({"1": ["18:00-00:00"], "2": ["00:00-24:00"]})
    assert schedules.is_open(s, at("2026-11-23 23:59"))
    assert schedules.is_open(s, at("2026-11-24 00:00"))
    assert schedules.is_open(s, at("2026-11-24 23:59"))
    assert not schedules.is_open(s, at("2026-11-25 00:00"))


def test_holiday_overrides_the_weekday():
    s = sched(holidays=[{"date": "2026-11-04", "title": "Unity Day"}])  # a Wednesday
    assert not schedules.is_open(s, at("2026-11-04 12:00"))
    assert schedules.is_holiday(s, at("2026-11-04 12:00"))
    assert schedules.is_open(s, at("2026-11-05 12:00"))
    assert not schedules.is_holiday(s, at("2026-11-05 12:00"))


def test_yearly_holiday_matches_every_year():
    s = sched(holidays=[{"date": "01-07"}, {"date": "2026-03-09", "yearly": True}])
    assert [h.date for h in s.holidays] == ["01-07", "03-09"]
    for year in (2027, 2031):
        day = datetime(year, 1, 7, 12, tzinfo=MSK)
        if day.isoweekday() <= 5:
            assert not schedules.is_open(s, day)
        assert schedules.is_holiday(s, day)
    assert schedules.is_holiday(s, at("2027-03-09 10:00"))


def test_holiday_closes_the_night_that_starts_on_it_not_the_one_ending_on_it():
    s = sched({d: ["20:00-08:00"] for d in "1234567"}, holidays=["2026-11-04"])
    assert schedules.is_open(s, at("2026-11-04 07:00"))      # Tuesday's night
    assert not schedules.is_open(s, at("2026-11-04 21:00"))  # the holiday's night
    assert not schedules.is_open(s, at("2026-11-05 07:00"))


def test_working_saturday_keeps_a_weekdays_hours():
    s = sched({"1": ["09:00-18:00"], "5": ["09:00-16:45"]},
              workdays=[{"date": "2026-11-28"}, {"date": "2026-12-05", "like": 5}])
    assert schedules.is_open(s, at("2026-11-28 17:30"))       # like Monday
    assert not schedules.is_open(s, at("2026-11-29 12:00"))   # Sunday stays closed
    assert schedules.is_open(s, at("2026-12-05 16:00"))
    assert not schedules.is_open(s, at("2026-12-05 17:00"))   # like Friday


def test_working_day_exception_beats_a_yearly_holiday_of_another_year_only_if_listed():
    with pytest.raises(ConfigError) as e:
        sched(holidays=[{"date": "11-04"}], workdays=["2026-11-04"])
    assert e.value.field == "workdays"


def test_timezone_is_the_schedules_own():
    s = sched(tz="Asia/Vladivostok")  # UTC+10
    assert schedules.is_open(s, datetime(2026, 11, 23, 0, 0, tzinfo=timezone.utc))      # 10:00 there
    assert not schedules.is_open(s, datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc))  # 19:00 there
    moscow = sched()
    assert schedules.is_open(moscow, datetime(2026, 11, 23, 6, 0, tzinfo=timezone.utc))  # 09:00 MSK
    assert not schedules.is_open(moscow, datetime(2026, 11, 23, 5, 59, tzinfo=timezone.utc))


def test_naive_time_is_the_systems_local_time():
    s = sched({d: ["00:00-24:00"] for d in "1234567"})
    assert schedules.is_open(s, datetime.now())


@pytest.mark.parametrize("weekly, field, words", [
    ({"1": ["9-18"]}, "weekly.1", "not a time interval"),
    ({"1": ["25:00-26:00"]}, "weekly.1", "not a time interval"),
    ({"1": ["09:00-09:60"]}, "weekly.1", "not a time interval"),
    ({"1": ["10:00-10:00"]}, "weekly.1", "empty"),
    ({"8": ["09:00-18:00"]}, "weekly", "weekday"),
    ({"1": ["09:00-13:00", "12:00-18:00"]}, "weekly.1", "overlap"),
    ({"1": ["22:00-06:00"], "2": ["05:00-09:00"]}, "weekly.2", "overlap"),
    ({"7": ["22:00-06:00"], "1": ["05:00-09:00"]}, "weekly.1", "overlap"),
    (["09:00-18:00"], "weekly", "weekday"),
])
def test_bad_hours_are_refused(weekly, field, words):
    with pytest.raises(ConfigError) as e:
        sched(weekly)
    assert e.value.field == field and words in e.value.text


@pytest.mark.parametrize("data, field", [
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"timezone": "../../etc/passwd"}, "timezone"),
    ({"name": "Bad Name"}, "name"),
    ({"title": ""}, "title"),
    ({"holidays": ["2026-02-30"]}, "holidays"),
    ({"holidays": ["13-01"]}, "holidays"),
    ({"holidays": ["2026-01-01", "2026-01-01"]}, "holidays"),
    ({"workdays": ["11-28"]}, "workdays"),
    ({"workdays": [{"date": "2026-11-28", "like": 9}]}, "workdays"),
    ({"workdays": [{"date": "2026-11-28", "like": 6}]}, "workdays"),  # Saturday has no hours
])
def test_bad_schedules_are_refused(data, field):
    base = {"name": "office", "title": "Office", "weekly": WEEKDAYS_9_18}
    with pytest.raises(ConfigError) as e:
        schedules.parse({**base, **data})
    assert e.value.field == field


def test_json_round_trip_and_store(db):
    data = {"name": "office", "title": "Office", "weekly": {"1": "09:00-13:00, 14:00-18:00", "5": ["22:00-06:00"]},
            "holidays": [{"date": "01-01", "title": "New Year"}], "workdays": [{"date": "2026-11-28", "like": 1}]}
    s = schedules.save(db, data, create=True)
    assert s.timezone == "Europe/Moscow"
    assert schedules.load(db, "office") == s
    j = schedules.to_json(s)
    assert j["weekly"]["1"] == ["09:00-13:00", "14:00-18:00"] and j["weekly"]["6"] == []
    assert j["holidays"] == [{"date": "01-01", "yearly": True, "title": "New Year"}]
    assert schedules.parse(j) == s
    with pytest.raises(ConfigError):
        schedules.save(db, data, create=True)
    with pytest.raises(ConfigError):
        schedules.save(db, {**data, "name": "nope"}, create=False)
    db.execute("INSERT INTO settings (key, value) VALUES ('timezone', 'Asia/Yekaterinburg')")
    assert schedules.save(db, {**data, "name": "ural"}, create=True).timezone == "Asia/Yekaterinburg"


DAY = {"start": "p", "nodes": {"p": {"type": "play", "prompts": ["day"], "next": {"next": "h"}},
                              "h": {"type": "hangup"}}}
NIGHT = {"start": "p", "nodes": {"p": {"type": "play", "prompts": ["night"], "next": {"next": "h"}},
                                "h": {"type": "hangup"}}}


def publish(db, name, graph):
    scenarios.create(db, name, name, graph)
    scenarios.publish(db, name)


def test_binding_by_schedule(demo_db):
    db = demo_db
    publish(db, "day", DAY)
    publish(db, "night", NIGHT)
    schedules.save(db, {"name": "office", "title": "Office", "weekly": WEEKDAYS_9_18}, create=True)
    scenarios.bind(db, "100", scenario="day", schedule="office", otherwise_scenario="night")
    assert scenarios.for_call(db, "100", at("2026-11-23 10:00")) == ("scenario", DAY)
    assert scenarios.for_call(db, "100", at("2026-11-23 19:00")) == ("scenario", NIGHT)
    # F5: straight to operators by day, the IVR at night
    scenarios.bind(db, "100", group="support", schedule="office", otherwise_scenario="night")
    assert scenarios.for_call(db, "100", at("2026-11-23 10:00")) == ("group", "support")
    assert scenarios.for_call(db, "100", at("2026-11-28 10:00")) == ("scenario", NIGHT)
    assert scenarios.bindings(db) == [{"dnis": "100", "scenario": None, "group": "support", "schedule": "office",
                                       "otherwise_scenario": "night", "otherwise_group": None}]
    # without a schedule: as before, and the time does not matter
    scenarios.bind(db, "100", scenario="day")
    assert scenarios.for_call(db, "100", at("2026-11-23 23:00")) == ("scenario", DAY)
    assert scenarios.for_call(db, "100") == ("scenario", DAY)


@pytest.mark.parametrize("kwargs, field", [
    ({"scenario": "day", "schedule": "nope", "otherwise_scenario": "day"}, "schedule"),
    ({"scenario": "day", "schedule": "office"}, "otherwise"),
    ({"scenario": "day", "schedule": "office", "otherwise_scenario": "x"}, "otherwise"),
    ({"scenario": "day", "schedule": "office", "otherwise_group": "nope"}, "otherwise"),
    ({"scenario": "day", "schedule": "office", "otherwise_group": "support", "otherwise_scenario": "day"},
     "otherwise"),
    ({"scenario": "day", "otherwise_group": "support"}, "schedule"),
    ({"group": "nope"}, "group"),
    ({}, "scenario"),
])
def test_bad_bindings_are_refused_and_keep_the_old_one(demo_db, kwargs, field):
    db = demo_db
    publish(db, "day", DAY)
    schedules.save(db, {"name": "office", "title": "Office", "weekly": WEEKDAYS_9_18}, create=True)
    scenarios.bind(db, "100", group="support")
    with pytest.raises(ConfigError) as e:
        scenarios.bind(db, "100", **kwargs)
    assert e.value.field == field
    assert scenarios.bindings(db)[0]["group"] == "support"


def test_delete_refused_while_used(demo_db):
    db = demo_db
    publish(db, "day", DAY)
    publish(db, "night", NIGHT)
    schedules.save(db, {"name": "office", "title": "Office", "weekly": WEEKDAYS_9_18}, create=True)
    scenarios.bind(db, "100", scenario="day", schedule="office", otherwise_scenario="night")
    cond = {"start": "c", "nodes": {"c": {"type": "condition", "test": "holiday", "schedule": "office",
                                          "next": {"true": "h", "false": "h"}}, "h": {"type": "hangup"}}}
    scenarios.create(db, "hol", "hol", cond)
    with pytest.raises(ConfigError) as e:
        schedules.delete(db, "office")
    assert "numbers 100; scenarios hol" in e.value.text
    assert schedules.used_by(db, "office") == {"numbers": ["100"], "scenarios": ["hol"]}
    assert schedules.load(db, "office")
    scenarios.bind(db, "100", scenario="day")
    scenarios.save_draft(db, "hol", DAY)
    schedules.delete(db, "office")
    assert schedules.load(db, "office") is None


def cond_graph(test, schedule="office"):
    return {"start": "c", "nodes": {
        "c": {"type": "condition", "test": test, "schedule": schedule, "next": {"true": "t", "false": "f"}},
        "t": {"type": "play", "prompts": ["yes"], "next": {"next": "h"}},
        "f": {"type": "play", "prompts": ["no"], "next": {"next": "h"}},
        "h": {"type": "hangup"}}}


def played(result):
    return [p for e in result["events"] for p in e.get("play", [])]


def test_condition_node_schedule_and_holiday_tests():
    s = sched(holidays=["2026-11-04"])
    find = {"office": s}.get
    run = lambda test, when: played(simulate.simulate(cond_graph(test), "", now=when, schedule=find))  # noqa: E731
    assert run("schedule", at("2026-11-23 10:00")) == ["yes"]
    assert run("schedule", at("2026-11-23 20:00")) == ["no"]
    assert run("schedule", at("2026-11-04 10:00")) == ["no"]
    assert run("holiday", at("2026-11-04 10:00")) == ["yes"]
    assert run("holiday", at("2026-11-05 10:00")) == ["no"]
    missing = simulate.simulate(cond_graph("schedule", "gone"), "", schedule=find)
    assert "does not exist" in missing["error"]


def test_condition_node_validation_and_publish_check(db):
    assert not graphs.check(cond_graph("schedule"))
    bad = cond_graph("holiday", "")
    assert any("'schedule'" in p.message for p in graphs.check(bad))
    scenarios.create(db, "c", "c", cond_graph("schedule"))
    with pytest.raises(ConfigError) as e:
        scenarios.publish(db, "c")
    assert "schedule 'office' does not exist" in e.value.text
    schedules.save(db, {"name": "office", "title": "Office", "weekly": WEEKDAYS_9_18}, create=True)
    assert scenarios.publish(db, "c") == 1


def test_condition_node_reads_the_store_through_the_agi_callio(db):
    from appliance.agi.call_io import AgiCallIO
    from appliance.scenarios import engine
    schedules.save(db, {"name": "office", "title": "Office", "weekly": {d: ["00:00-24:00"] for d in "1234567"}},
                   create=True)
    io = AgiCallIO(agi=None, sounds=None, language="ru", db=db)
    node = cond_graph("schedule")["nodes"]["c"]
    assert engine.TYPES["condition"].run(node, io, engine.Session()) == "true"


def test_cli_schedule_set_list_rm_and_bind_by_schedule(inst, demo_db, tmp_path, capsys):
    import json
    from korund import cli
    db = demo_db
    publish(db, "day", DAY)
    publish(db, "night", NIGHT)
    base = ["-i", str(inst.base)]
    f = tmp_path / "office.json"
    f.write_text(json.dumps({"name": "office", "title": "Office", "weekly": {"1": ["09:00-13:00", "12:00-18:00"]}}))
    assert cli.main(base + ["schedule", "set", str(f)]) == 2
    assert "overlap" in capsys.readouterr().err
    f.write_text(json.dumps({"name": "office", "title": "Office", "weekly": WEEKDAYS_9_18}))
    assert cli.main(base + ["schedule", "set", str(f)]) == 0
    assert cli.main(base + ["schedule", "set", str(f)]) == 0   # again: replaces
    assert cli.main(base + ["schedule", "list"]) == 0
    assert "office" in capsys.readouterr().out
    assert cli.main(base + ["scenario", "bind", "day", "--dnis", "100", "--schedule", "office",
                            "--otherwise", "group:support"]) == 0
    assert scenarios.bindings(db)[0] == {"dnis": "100", "scenario": "day", "group": None, "schedule": "office",
                                         "otherwise_scenario": None, "otherwise_group": "support"}
    assert cli.main(base + ["scenario", "bind", "day", "--dnis", "100", "--schedule", "office",
                            "--otherwise", "night"]) == 0
    assert scenarios.bindings(db)[0]["otherwise_scenario"] == "night"
    assert cli.main(base + ["schedule", "rm", "office"]) == 2
    assert "numbers 100;" in capsys.readouterr().err
    assert cli.main(base + ["scenario", "bind", "day", "--dnis", "100"]) == 0
    assert cli.main(base + ["schedule", "rm", "office"]) == 0
    assert schedules.load(db, "office") is None
