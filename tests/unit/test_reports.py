"""Reports (F14) on a fixed, hand-written history (tests/reports_fixture.py):
every figure below was worked out by hand from that history, not by the code.

The history, in Moscow time (UTC+3, no DST since 2014), March 2026:
  H  Mar 1 01:00 support   abandoned after 3 s   (UTC: Feb 28 22:00 — a March call in Moscow)
  A  Mar 2 09:00 support   1001 answered, wait 15, talk 120, hold 10
  B  Mar 2 09:30 support   1002 answered, wait 25, talk 200, one transfer
  C  Mar 2 10:10 support   abandoned after 8 s
  D  Mar 3 23:30 sales     abandoned after 45 s  (line e1a, DNIS 200)
  E  Mar 4 00:30 sales     1001 answered, wait 5, talk 60 (UTC: Mar 3 — a Mar 4 call in Moscow)
  F  Mar 4 12:00 —         ended in the IVR
  G  Mar 5 13:00 support   outbound, 1002 answered; wait 13 and talk 90 only from the row's times
  I  Apr 1 00:30           outside March (UTC: Mar 31)
  J  Mar 5 13:20           still going on: not counted
"""
from __future__ import annotations

import json

import pytest

from appliance.base import store
from appliance.base.errors import ConfigError
from appliance.reports import engine
from appliance.reports import forms
from appliance.reports import rollup
from appliance.reports import period as P
from appliance.reports.spec import check_spec
from tests import reports_fixture as fx

MARCH = P.Period(P.date(2026, 3, 1), P.date(2026, 3, 31))


@pytest.fixture
def hist(demo_db):
    fx.seed(demo_db)
    return demo_db


def run(db, spec, per=MARCH, **kw):
    if isinstance(spec, str):
        spec = forms.READY[spec]
    return engine.run(db, spec, per, now=fx.NOW, **kw)


def col(result, key):
    i = [c["key"] for c in result.columns].index(key)
    return {tuple(r[:len(result.spec.dimensions)]): r[i] for r in result.rows}, result.total[i]


def custom(**kw):
    return check_spec({"title": "t", "chart": "none", **kw})


def test_month_totals_match_the_hand_computed_figures(hist):
    r = run(hist, custom(measures=["calls", "answered", "abandoned", "ivr_only", "answered_share",
                                   "abandoned_share", "ivr_only_share", "service_level", "asa", "aht",
                                   "avg_talk", "talk_total", "hold_total", "handle_total", "transferred",
                                   "transfers", "avg_abandon_wait", "abandoned_0_10", "abandoned_10_30",
                                   "abandoned_30_60", "abandoned_60_180", "abandoned_180_plus"]))
    got = dict(zip([c["key"] for c in r.columns], r.total))
    assert got == {
        "calls": 8,                     # H A B C D E F G
        "answered": 4,                  # A B E G
        "abandoned": 3,                 # H C D (F ended in the IVR)
        "ivr_only": 1,
        "answered_share": 50.0, "abandoned_share": 37.5, "ivr_only_share": 12.5,
        "service_level": 42.9,          # within 20 s: A 15, E 5, G 13 = 3 of 7 offered
        "asa": 14.5,                    # (15 + 25 + 5 + 13) / 4
        "aht": 120.0,                   # (130 + 200 + 60 + 90) / 4
        "avg_talk": 117.5, "talk_total": 470.0, "hold_total": 10.0, "handle_total": 480.0,
        "transferred": 1, "transfers": 1,
        "avg_abandon_wait": 18.7,       # (3 + 8 + 45) / 3
        "abandoned_0_10": 2, "abandoned_10_30": 0, "abandoned_30_60": 1,
        "abandoned_60_180": 0, "abandoned_180_plus": 0,
    }


def test_service_level_threshold_is_a_parameter(hist):
    def sl(n):
        return run(hist, custom(measures=["service_level"], sl_seconds=n)).total[0]
    assert sl(10) == 14.3      # E only: 1 of 7
    assert sl(13) == 28.6      # E, G: 2 of 7 (13 is no bucket edge: answered from raw rows)
    assert sl(30) == 57.1      # A B E G: 4 of 7
    assert run(hist, custom(measures=["service_level"], sl_seconds=13)).sources == {"calls": "raw"}


def test_days_are_local_moscow_days(hist):
    per_day, total = col(run(hist, "days"), "calls")
    assert len(per_day) == 31 and total == 8
    assert {d: n for (d,), n in per_day.items() if n} == {
        "2026-03-01": 1, "2026-03-02": 3, "2026-03-03": 1, "2026-03-04": 2, "2026-03-05": 1}


def test_hours_of_day_are_local(hist):
    per_hour, total = col(run(hist, "hours"), "calls")
    assert len(per_hour) == 24
    assert {h: n for (h,), n in per_hour.items() if n} == {0: 1, 1: 1, 9: 2, 10: 1, 12: 1, 13: 1, 23: 1}


def test_weeks_and_months(hist):
    weeks, _ = col(run(hist, custom(dimensions=["week"], measures=["calls"])), "calls")
    assert {w: n for (w,), n in weeks.items() if n} == {"2026-W09": 1, "2026-W10": 7}
    months, _ = col(run(hist, custom(dimensions=["month"], measures=["calls"]),
                        P.Period(P.date(2026, 2, 1), P.date(2026, 4, 30))), "calls")
    assert months == {("2026-02",): 0, ("2026-03",): 8, ("2026-04",): 1}


def test_per_group_operator_line(hist):
    calls, _ = col(run(hist, "groups"), "calls")
    assert calls == {("",): 1, ("sales",): 2, ("support",): 5}
    sl, _ = col(run(hist, "groups"), "service_level")
    assert sl == {("",): None, ("sales",): 50.0, ("support",): 40.0}   # support: A, G of A B G H C
    talk, _ = col(run(hist, "operators"), "talk_total")
    assert talk == {("",): 0, ("1001",): 180.0, ("1002",): 290.0}
    aht, _ = col(run(hist, "operators"), "aht")
    assert aht == {("",): None, ("1001",): 95.0, ("1002",): 145.0}
    lines, _ = col(run(hist, "lines"), "calls")                          # inbound only: not G
    assert lines == {("e1a", "200"): 2, ("pstn", "100"): 5}


def test_filters(hist):
    r = run(hist, "inbound")                                              # direction inbound: not G
    got = dict(zip([c["key"] for c in r.columns], r.total))
    assert (got["calls"], got["answered"], got["service_level"], got["asa"]) == (7, 3, 33.3, 15.0)
    out = dict(zip([c["key"] for c in run(hist, "outbound").columns], run(hist, "outbound").total))
    assert (out["calls"], out["answered"], out["talk_total"]) == (1, 1, 90.0)
    r = run(hist, custom(measures=["calls", "answered"], filters={"group": "support", "operator": "1002"}))
    assert r.total == [2, 2]                                             # B, G
    r = run(hist, custom(measures=["calls"], filters={"line": "e1a", "dnis": "200"}))
    assert r.total == [2]


def test_callbacks_messages_states_and_quality(hist):
    r = run(hist, "callbacks_messages")
    assert r.total[1:] == [2, 2, 1, 2, 1]      # ordered, placed, done, messages left, handled
    r = run(hist, "operator_states")
    assert [c["key"] for c in r.columns] == ["operator", "state_ready", "state_talk", "state_wrapup", "state_pause",
                                             "state_pause_reasons:lunch", "state_pause_reasons:training"]
    # 1002's lunch is still open: 10:00 to NOW (10:30 UTC)
    assert r.rows == [["1001", 3600.0, 130.0, 60.0, 10800.0, 3600.0, 7200.0],
                      ["1002", 0, 0, 0, 1800.0, 1800.0, 0]]
    days, _ = col(run(hist, custom(dimensions=["day"], measures=["state_pause"])), "state_pause")
    # 1001's training 23:00 Mar 2 - 01:00 Mar 3 Moscow is split at local midnight
    assert days[("2026-03-02",)] == 3600 + 3600 and days[("2026-03-03",)] == 3600
    q, total = col(run(hist, "quality"), "quality")
    assert q[("1001",)] == 85.0 and q[("1002",)] == 70.0 and total == 80.0


def test_every_ready_report_answers_the_same_from_the_rollups_and_from_raw_rows(hist):
    for name, spec in forms.READY.items():
        fast, raw = run(hist, spec), run(hist, spec, raw=True)
        assert (fast.rows, fast.total) == (raw.rows, raw.total), name
    assert run(hist, "hours").sources == {"calls": "report_calls_hour"}
    assert run(hist, "operators").sources == {"calls": "report_calls_operator"}
    assert run(hist, "lines").sources == {"calls": "report_calls_line"}


def _rollups(db):
    return {t: sorted(db.execute(f"SELECT * FROM {t}").fetchall()) for t in (*rollup.TABLES, "report_states")}


def test_catch_up_is_idempotent_and_picks_up_new_and_changed_calls(hist):
    rollup.refresh(hist, now=fx.NOW)
    first = _rollups(hist)
    assert rollup.refresh(hist, now=fx.NOW)["states"] == 0
    assert _rollups(hist) == first                     # again: nothing changes
    rollup.rebuild(hist)
    assert _rollups(hist) == first                     # from scratch: the same rows
    # a new call, and a correction of a finished one (the history's CDR catch-up)
    fx.add_call(hist, "K", "inbound", "sales", "e1a", "200", "1001", "2026-03-06T07:00:00", 4, 30, 0, 0,
                "answered", 0)
    hist.execute("UPDATE calls SET outcome = 'answered', operator = '1001', wait_seconds = 8, talk_seconds = 50, "
                 "connected_at = ended_at WHERE uniqueid = 'u-C'")
    rollup.touch(hist, hist.execute("SELECT started_at FROM calls WHERE uniqueid = 'u-C'").fetchone()[0])
    r = run(hist, custom(measures=["calls", "answered", "abandoned"]))
    assert r.total == [9, 6, 2]
    assert (r.rows, r.total) == (lambda x: (x.rows, x.total))(run(hist, r.spec, raw=True))


def test_a_day_with_a_call_going_on_is_recomputed_until_it_has_settled(hist):
    rollup.refresh(hist, now=fx.NOW)
    # J is going on; I (Apr 1) ends after the fake clock's now, so it has not settled either
    assert [d for (d,) in hist.execute("SELECT day FROM report_dirty_days ORDER BY day")] == ["2026-03-05", "2026-04-01"]
    hist.execute("UPDATE calls SET ended_at = ?, outcome = 'abandoned', wait_seconds = 40 WHERE uniqueid = 'u-J'",
                 ["2026-03-05T10:21:00.000+00:00"])
    later = fx.NOW.replace(month=4, day=2)
    rollup.refresh(hist, now=later)
    assert hist.execute("SELECT COUNT(*) FROM report_dirty_days").fetchone()[0] == 0
    assert run(hist, custom(measures=["abandoned"])).total == [4]


def test_changing_the_timezone_rebuilds_the_buckets(hist):
    rollup.refresh(hist, now=fx.NOW)
    store.set_setting(hist, "timezone", "UTC")
    days, total = col(run(hist, "days"), "calls")
    assert total == 8          # H moved to February, I moved into March
    assert days[("2026-03-01",)] == 0 and days[("2026-03-31",)] == 1 and days[("2026-03-03",)] == 2


def test_custom_forms_are_validated_saved_and_listed(hist):
    with pytest.raises(ConfigError) as e:
        check_spec({"title": "x", "dimensions": ["colour"], "measures": ["calls"]})
    assert e.value.field == "dimensions" and "colour" in e.value.text
    with pytest.raises(ConfigError) as e:
        check_spec({"title": "x", "measures": ["calls", "happiness"]})
    assert e.value.field == "measures" and "happiness" in e.value.text
    for bad, field in (({"measures": []}, "measures"), ({"title": ""}, "title"),
                       ({"dimensions": ["day", "group"], "chart": "bar"}, "chart"),
                       ({"dimensions": ["group"], "chart": "line"}, "chart"),
                       ({"dimensions": ["hour"], "measures": ["state_ready"]}, "dimensions"),
                       ({"dimensions": ["day"], "measures": ["quality"]}, "dimensions"),
                       ({"filters": {"line": "pstn"}, "measures": ["messages"]}, "filters.line"),
                       ({"filters": {"shoe": "x"}}, "filters"), ({"sl_seconds": "0"}, "sl_seconds"),
                       ({"period": "decade"}, "period")):
        with pytest.raises(ConfigError) as e:
            check_spec({"title": "x", "measures": ["calls"], **bad})
        assert e.value.field == field, bad
    key = forms.save(hist, {"title": "Sales by day", "dimensions": ["day"], "measures": ["calls", "asa"],
                            "filters": {"group": "sales"}, "chart": "line"}, "admin")
    assert [f["key"] for f in forms.custom_forms(hist)] == [key]
    spec, is_custom = forms.get(hist, key)
    assert is_custom and spec.filters == {"group": "sales"}
    assert run(hist, spec).total == [None, 2, 5.0]
    with pytest.raises(ConfigError):
        forms.save(hist, {"title": "sales BY day", "measures": ["calls"]}, "admin")      # same name
    with pytest.raises(ConfigError):
        forms.save(hist, {"title": "Per group", "measures": ["calls"]}, "admin")         # a ready one's
    count = hist.execute("SELECT COUNT(*) FROM report_forms").fetchone()[0]
    with pytest.raises(ConfigError):
        forms.save(hist, {"title": "Broken", "measures": ["nope"]}, "admin")
    assert hist.execute("SELECT COUNT(*) FROM report_forms").fetchone()[0] == count   # nothing saved
    assert json.loads(hist.execute("SELECT spec FROM report_forms").fetchone()[0])["measures"] == ["calls", "asa"]
    assert forms.delete(hist, int(key[1:])) and forms.custom_forms(hist) == []


def test_periods():
    d = P.date(2026, 3, 18)
    assert P.resolve("day", today=d) == P.Period(d, d)
    assert P.resolve("week", today=d) == P.Period(P.date(2026, 3, 16), P.date(2026, 3, 22))
    assert P.resolve("month", "2026-02-10") == P.Period(P.date(2026, 2, 1), P.date(2026, 2, 28))
    assert P.resolve("year", today=d) == P.Period(P.date(2026, 1, 1), P.date(2026, 12, 31))
    assert P.resolve("custom", "2026-03-02", "2026-03-04").days == 3
    for args, field in ((("custom", "2026-03-04", "2026-03-02"), "to"), (("custom", "x", "2026-03-02"), "from"),
                        (("custom", "2020-01-01", "2026-01-01"), "to"), (("fortnight",), "period")):
        with pytest.raises(ConfigError) as e:
            P.resolve(*args)
        assert e.value.field == field
    # Moscow has had no DST since 2014: every local day is 24 h, UTC+3
    tz = P.ZoneInfo("Europe/Moscow")
    for day in (P.date(2026, 3, 29), P.date(2026, 10, 25)):
        start, end = P.day_bounds(day, tz)
        assert start.endswith("T21:00:00") and end.endswith("T21:00:00")


def test_cli_shows_a_report_and_catches_up(hist, inst, capsys):
    from korund import cli
    base = ["-i", str(inst.base), "reports"]
    assert cli.main(base + ["refresh"]) == 0
    assert cli.main(base + ["show", "groups", "--from", "2026-03-01", "--to", "2026-03-31", "--format", "csv"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-2:] == ["support;5;3;2;40.0;17.7;140.0;0", "Total;8;4;3;42.9;14.5;120.0;1"]
    assert cli.main(base + ["show", "groups", "--period", "month", "--from", "2026-03-01", "--group", "sales"]) == 0
    assert "sales" in capsys.readouterr().out
    assert cli.main(base + ["show", "nosuch"]) == 2
    assert cli.main(base + ["show", "callbacks_messages", "--line", "pstn"]) == 2    # no such filter there
    assert "does not apply" in capsys.readouterr().err
    assert cli.main(base + ["list"]) == 0 and "operator_states" in capsys.readouterr().out


def test_a_busy_write_lock_does_not_stop_a_report(hist, inst):
    import sqlite3
    rollup.refresh(hist, now=fx.NOW)
    fx.add_call(hist, "L", "inbound", "sales", "e1a", "200", "1001", "2026-03-06T07:00:00", 4, 30, 0, 0,
                "answered", 0)
    other = sqlite3.connect(inst.db_path, timeout=0.1)
    other.execute("BEGIN IMMEDIATE")                  # someone else holds the write lock
    hist.execute("PRAGMA busy_timeout = 100")
    try:
        assert run(hist, custom(measures=["calls"])).total == [8]     # from the rollups as they were
    finally:
        other.rollback()
        other.close()
        hist.execute("PRAGMA busy_timeout = 5000")
    assert run(hist, custom(measures=["calls"])).total == [9]         # caught up once it is free


def test_xlsx_keeps_text_as_text_even_when_it_looks_like_a_formula():
    import io

    import openpyxl

    from appliance.reports import export
    data = export.to_xlsx(["Кто", "Звонки"], [["=HYPERLINK(\"http://x\")", 3], ["1001\x07", None]],
                          title="Операторы: март/апрель")
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    assert sheet.title == "Операторы  март апрель"
    assert sheet.cell(2, 1).data_type == "s" and sheet.cell(2, 1).value == "=HYPERLINK(\"http://x\")"
    assert sheet.cell(2, 2).value == 3 and sheet.cell(3, 1).value == "1001" and sheet.cell(3, 2).value is None
