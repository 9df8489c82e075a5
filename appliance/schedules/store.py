"""Schedules: working hours per weekday, holidays and transferred working days
(F5). A number's binding can run one target while its schedule is open and
another otherwise; the Condition node can test a schedule too.

A schedule's hours are kept in its own timezone (the appliance's local time,
Europe/Moscow unless the ``timezone`` setting says otherwise). An interval
``22:00-06:00`` runs overnight; it belongs to the day it starts on, so a
holiday closes the night that starts on it, not the one that ends on it.
A date can be a holiday (closed; once, or every year on the same day) or a
working day by exception — the "working Saturday" of Russian calendars —
which keeps the hours of another weekday (Monday unless told).

``is_open`` and ``is_holiday`` are pure: they take a schedule and a moment.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from appliance.base.errors import DISPLAY_NAME, GROUP_NAME, ConfigError, check_match

DEFAULT_TIMEZONE = "Europe/Moscow"
TIMEZONE_SETTING = "timezone"
DAY = 24 * 60
WEEKDAYS = range(1, 8)  # ISO: 1 Monday … 7 Sunday
INTERVAL = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
FULL_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MONTH_DAY = re.compile(r"^\d{2}-\d{2}$")
TZ_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+){0,2}$")
MAX_INTERVALS = 12
MAX_DATES = 400


@dataclass(frozen=True)
class Holiday:
    date: str            # YYYY-MM-DD once, or MM-DD every year
    title: str = ""

    @property
    def yearly(self) -> bool:
        return len(self.date) == 5

    def matches(self, day: date) -> bool:
        return self.date == (day.strftime("%m-%d") if self.yearly else day.isoformat())


@dataclass(frozen=True)
class Workday:
    date: str            # YYYY-MM-DD
    like: int = 1        # the weekday whose hours it keeps
    title: str = ""


@dataclass(frozen=True)
class Schedule:
    name: str
    title: str
    timezone: str = DEFAULT_TIMEZONE
    # weekday (1-7) → ((start minute, end minute), …); end <= start runs overnight,
    # end 1440 is midnight at the end of the day.
    weekly: dict = field(default_factory=dict)
    holidays: tuple = ()
    workdays: tuple = ()


# ---------------------------------------------------------------- the rules

def hours_of(schedule: Schedule, day: date) -> tuple:
    """The intervals that start on *day*: a working-day exception keeps another
    weekday's hours, a holiday has none, any other day its weekday's."""
    iso = day.isoformat()
    for w in schedule.workdays:
        if w.date == iso:
            return tuple(schedule.weekly.get(w.like, ()))
    if any(h.matches(day) for h in schedule.holidays):
        return ()
    return tuple(schedule.weekly.get(day.isoweekday(), ()))


def local(schedule: Schedule, when: datetime) -> datetime:
    """*when* in the schedule's timezone (a naive time is the system's local time)."""
    return when.astimezone(ZoneInfo(schedule.timezone))


def is_open(schedule: Schedule, when: datetime) -> bool:
    now = local(schedule, when)
    today, minute = now.date(), now.hour * 60 + now.minute
    for start, end in hours_of(schedule, today):
        if start < end and start <= minute < end:
            return True
        if end <= start and minute >= start:
            return True
    for start, end in hours_of(schedule, today - timedelta(days=1)):
        if end <= start and minute < end:
            return True
    return False


def is_holiday(schedule: Schedule, when: datetime) -> bool:
    """Whether the schedule's local date of *when* is a holiday (and not
    turned into a working day)."""
    day = local(schedule, when).date()
    if any(w.date == day.isoformat() for w in schedule.workdays):
        return False
    return any(h.matches(day) for h in schedule.holidays)


# ---------------------------------------------------------------- validation

def _minutes(h: str, m: str, end: bool) -> int | None:
    h, m = int(h), int(m)
    if end and h == 24 and m == 0:
        return DAY
    if h > 23 or m > 59:
        return None
    return h * 60 + m


def parse_interval(text: str, field: str) -> tuple[int, int]:
    m = INTERVAL.fullmatch(str(text))
    start = _minutes(m.group(1), m.group(2), False) if m else None
    end = _minutes(m.group(3), m.group(4), True) if m else None
    if start is None or end is None:
        raise ConfigError(field, "'{value}' is not a time interval like 09:00-18:00", value=text)
    if start == end:
        raise ConfigError(field, "the interval '{value}' is empty", value=text)
    return start, end


def format_interval(interval: tuple[int, int]) -> str:
    start, end = interval
    return f"{start // 60:02d}:{start % 60:02d}-{end // 60:02d}:{end % 60:02d}"


def _check_overlaps(weekly: dict) -> None:
    """Intervals of one day must not overlap, counting the part of the
    previous day's overnight interval that runs into it."""
    for day in WEEKDAYS:
        previous = 7 if day == 1 else day - 1
        pieces = [(s, e if s < e else DAY, format_interval((s, e))) for s, e in weekly.get(day, ())]
        pieces += [(0, e, format_interval((s, e))) for s, e in weekly.get(previous, ()) if e <= s and e > 0]
        pieces.sort()
        for (s1, e1, t1), (s2, e2, t2) in zip(pieces, pieces[1:]):
            if s2 < e1:
                raise ConfigError(f"weekly.{day}", "the intervals {first} and {second} overlap",
                                  first=t1, second=t2)


def check_timezone(value) -> str:
    value = str(value or "").strip()
    if not TZ_NAME.fullmatch(value):
        raise ConfigError("timezone", "'{value}' is not a known timezone", value=value)
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ConfigError("timezone", "'{value}' is not a known timezone", value=value) from None
    return value


def _check_date(value, field: str, yearly_ok: bool) -> str:
    value = str(value or "").strip()
    try:
        if FULL_DATE.fullmatch(value):
            date.fromisoformat(value)
            return value
        if yearly_ok and MONTH_DAY.fullmatch(value):
            date.fromisoformat("2000-" + value)  # a leap year: 02-29 is allowed
            return value
    except ValueError:
        pass
    if yearly_ok:
        raise ConfigError(field, "'{value}' is not a date (YYYY-MM-DD, or MM-DD every year)", value=value)
    raise ConfigError(field, "'{value}' is not a date (YYYY-MM-DD)", value=value)


def _title(value, field: str) -> str:
    value = str(value or "").strip()
    if value and not DISPLAY_NAME.fullmatch(value):
        raise ConfigError(field, "'{value}' is not a valid {what}", value=value, what="title")
    return value


def parse(data: dict, default_timezone: str = DEFAULT_TIMEZONE) -> Schedule:
    """A Schedule from its JSON form; refuses anything doubtful with ConfigError.

    {"name", "title", "timezone", "weekly": {"1": ["09:00-18:00"], …},
     "holidays": [{"date": "01-07" | "2027-05-10", "title": …}],
     "workdays": [{"date": "2027-11-06", "like": 1, "title": …}]}
    """
    if not isinstance(data, dict):
        raise ConfigError("schedule", "a schedule is an object")
    name = check_match(GROUP_NAME, data.get("name"), "name", "schedule name (a-z, 0-9, _ and -)")
    title = check_match(DISPLAY_NAME, data.get("title"), "title", "title")
    tz = check_timezone(data.get("timezone") or default_timezone)
    raw_weekly = data.get("weekly") if data.get("weekly") is not None else {}
    if not isinstance(raw_weekly, dict):
        raise ConfigError("weekly", "the weekly hours are an object of weekday (1-7) → intervals")
    weekly = {}
    for key, intervals in raw_weekly.items():
        if str(key) not in {str(d) for d in WEEKDAYS}:
            raise ConfigError("weekly", "'{value}' is not a weekday 1 (Monday) to 7", value=key)
        if isinstance(intervals, str):
            intervals = [i for i in intervals.split(",") if i.strip()]
        if not isinstance(intervals, list) or len(intervals) > MAX_INTERVALS:
            raise ConfigError(f"weekly.{key}", "list up to {n} intervals like 09:00-18:00", n=MAX_INTERVALS)
        parsed = sorted(parse_interval(i, f"weekly.{key}") for i in intervals)
        if parsed:
            weekly[int(key)] = tuple(parsed)
    _check_overlaps(weekly)
    holidays, workdays = _dates(data.get("holidays"), "holidays"), _dates(data.get("workdays"), "workdays")
    hol = []
    for i, h in enumerate(holidays):
        d = _check_date(h.get("date"), "holidays", yearly_ok=True)
        if h.get("yearly") is True and len(d) == 10:
            d = d[5:]
        if any(x.date == d for x in hol):
            raise ConfigError("holidays", "the holiday {value} is listed twice", value=d)
        hol.append(Holiday(d, _title(h.get("title"), "holidays")))
    work = []
    for w in workdays:
        d = _check_date(w.get("date"), "workdays", yearly_ok=False)
        like = w.get("like", 1)
        if isinstance(like, str) and like.strip().isdigit():
            like = int(like)
        if not isinstance(like, int) or isinstance(like, bool) or like not in WEEKDAYS:
            raise ConfigError("workdays", "'{value}' is not a weekday 1 (Monday) to 7", value=like)
        if any(x.date == d for x in work):
            raise ConfigError("workdays", "the working day {value} is listed twice", value=d)
        day = date.fromisoformat(d)
        if any(h.matches(day) for h in hol):
            raise ConfigError("workdays", "{value} is both a holiday and a working day", value=d)
        if not weekly.get(like):
            raise ConfigError("workdays", "{value} keeps the hours of weekday {like}, which has none",
                              value=d, like=like)
        work.append(Workday(d, like, _title(w.get("title"), "workdays")))
    return Schedule(name, title, tz, weekly, tuple(sorted(hol, key=lambda h: h.date)),
                    tuple(sorted(work, key=lambda w: w.date)))


def _dates(value, field: str) -> list[dict]:
    value = value or []
    if not isinstance(value, list) or len(value) > MAX_DATES:
        raise ConfigError(field, "list up to {n} dates", n=MAX_DATES)
    out = []
    for item in value:
        if isinstance(item, str):
            item = {"date": item}
        if not isinstance(item, dict):
            raise ConfigError(field, "'{value}' is not a date (YYYY-MM-DD)", value=item)
        out.append(item)
    return out


def to_json(s: Schedule) -> dict:
    return {"name": s.name, "title": s.title, "timezone": s.timezone,
            "weekly": {str(d): [format_interval(i) for i in s.weekly.get(d, ())] for d in WEEKDAYS},
            "holidays": [{"date": h.date, "yearly": h.yearly, "title": h.title} for h in s.holidays],
            "workdays": [{"date": w.date, "like": w.like, "title": w.title} for w in s.workdays]}


# ---------------------------------------------------------------- the store

def default_timezone(db) -> str:
    row = db.execute("SELECT value FROM settings WHERE key = ?", [TIMEZONE_SETTING]).fetchone()
    return row[0] if row and row[0] else DEFAULT_TIMEZONE


def _from_row(row) -> Schedule:
    return parse({"name": row[0], "title": row[1], "timezone": row[2], **json.loads(row[3])})


def load(db, name: str) -> Schedule | None:
    row = db.execute("SELECT name, title, timezone, rules FROM schedules WHERE name = ?", [name]).fetchone()
    return _from_row(row) if row else None


def load_all(db) -> list[Schedule]:
    return [_from_row(r) for r in db.execute(
        "SELECT name, title, timezone, rules FROM schedules ORDER BY name")]


def save(db, data: dict, create: bool) -> Schedule:
    """Add (create) or replace a schedule from its JSON form."""
    s = parse(data, default_timezone(db))
    exists = db.execute("SELECT 1 FROM schedules WHERE name = ?", [s.name]).fetchone()
    if create and exists:
        raise ConfigError("name", "a schedule named '{name}' already exists", name=s.name)
    if not create and not exists:
        raise ConfigError("name", "no schedule named '{name}'", name=s.name)
    rules = to_json(s)
    rules = json.dumps({k: rules[k] for k in ("weekly", "holidays", "workdays")}, ensure_ascii=False)
    if exists:
        db.execute("UPDATE schedules SET title = ?, timezone = ?, rules = ? WHERE name = ?",
                   [s.title, s.timezone, rules, s.name])
    else:
        db.execute("INSERT INTO schedules (name, title, timezone, rules) VALUES (?, ?, ?, ?)",
                   [s.name, s.title, s.timezone, rules])
    return s


def used_by(db, name: str) -> dict[str, list[str]]:
    """Where the schedule is used: {"numbers": bound numbers, "scenarios":
    scenarios whose draft or published version tests it in a condition node}."""
    numbers = [r[0] for r in db.execute(
        "SELECT b.dnis FROM scenario_bindings b JOIN schedules s ON s.id = b.schedule_id "
        "WHERE s.name = ? ORDER BY b.dnis", [name])]
    found = []
    for sname, draft in db.execute("SELECT name, draft FROM scenarios ORDER BY name").fetchall():
        graphs = [draft] + [r[0] for r in db.execute(
            "SELECT v.graph FROM scenario_versions v JOIN scenarios s ON s.id = v.scenario_id "
            "WHERE s.name = ? ORDER BY v.version DESC LIMIT 1", [sname])]
        if any(name in schedules_in(_json(g)) for g in graphs):
            found.append(sname)
    return {"numbers": numbers, "scenarios": found}


def _json(text: str) -> dict:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def schedules_in(graph: dict) -> set[str]:
    """The schedules a scenario graph's condition nodes test."""
    nodes = graph.get("nodes") if isinstance(graph, dict) else None
    if not isinstance(nodes, dict):
        return set()
    return {n["schedule"] for n in nodes.values() if isinstance(n, dict) and n.get("type") == "condition"
            and n.get("test") in ("schedule", "holiday") and isinstance(n.get("schedule"), str)}


def missing_in(db, graph: dict) -> list[tuple[str, str]]:
    """(node id, schedule name) for each condition node naming an unknown schedule."""
    known = {r[0] for r in db.execute("SELECT name FROM schedules")}
    nodes = graph.get("nodes") if isinstance(graph, dict) else None
    return [(nid, n["schedule"]) for nid, n in (nodes or {}).items()
            if isinstance(n, dict) and n.get("type") == "condition" and n.get("test") in ("schedule", "holiday")
            and isinstance(n.get("schedule"), str) and n["schedule"] not in known]


def delete(db, name: str) -> None:
    if not db.execute("SELECT 1 FROM schedules WHERE name = ?", [name]).fetchone():
        raise ConfigError("name", "no schedule named '{name}'", name=name)
    where = used_by(db, name)
    if where["numbers"] or where["scenarios"]:
        raise ConfigError("name", "the schedule '{name}' is in use: numbers {numbers}; scenarios {scenarios}",
                          name=name, numbers=", ".join(where["numbers"]) or "—",
                          scenarios=", ".join(where["scenarios"]) or "—")
    db.execute("DELETE FROM schedules WHERE name = ?", [name])
