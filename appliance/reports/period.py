"""Report periods: whole local days in the call center's timezone (the
``timezone`` setting, Europe/Moscow by default), and the local day, hour,
week and month a stored UTC time falls in."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone  # noqa: F401 (date for callers)
from zoneinfo import ZoneInfo

from appliance.base.errors import ConfigError
from appliance.schedules.store import default_timezone

KINDS = ("day", "week", "month", "year", "custom")
MAX_DAYS = 731


def zone(db) -> ZoneInfo:
    return ZoneInfo(default_timezone(db))


def utc_text(moment: datetime) -> str:
    """A bound comparable as text with the stored ISO times (UTC)."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def day_bounds(day: date, tz: ZoneInfo) -> tuple[str, str]:
    """[start, end) of one local day as UTC text."""
    start = datetime.combine(day, time(0), tz)
    end = datetime.combine(day + timedelta(days=1), time(0), tz)
    return utc_text(start), utc_text(end)


def local(stamp: str, tz: ZoneInfo) -> datetime:
    moment = datetime.fromisoformat(stamp)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(tz)


def week_of(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def buckets(stamp: str, tz: ZoneInfo) -> dict:
    """The local hour, day, week and month of a stored time."""
    moment = local(stamp, tz)
    day = moment.date()
    return {"hour": moment.hour, "day": day.isoformat(), "week": week_of(day),
            "month": day.isoformat()[:7]}


@dataclass(frozen=True)
class Period:
    start: date      # first local day
    end: date        # last local day (inclusive)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def bounds(self, tz: ZoneInfo) -> tuple[str, str]:
        return day_bounds(self.start, tz)[0], day_bounds(self.end, tz)[1]

    def iso(self) -> tuple[str, str]:
        return self.start.isoformat(), self.end.isoformat()

    def each_day(self):
        for i in range(self.days):
            yield self.start + timedelta(days=i)


def _date(value, field: str) -> date:
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise ConfigError(field, "'{value}' is not a date (YYYY-MM-DD)", value=str(value)[:20]) from None


def resolve(kind: str = "month", start=None, end=None, today: date | None = None) -> Period:
    """The period of a report view: ``custom`` takes both dates; the others
    the day, week, month or year that holds ``start`` (default today)."""
    today = today or date.today()
    if start not in (None, "") and end not in (None, "") and kind in ("custom", "", None):
        first, last = _date(start, "from"), _date(end, "to")
        if last < first:
            raise ConfigError("to", "the period ends before it starts")
        if (last - first).days + 1 > MAX_DAYS:
            raise ConfigError("to", "a period is at most {n} days", n=MAX_DAYS)
        return Period(first, last)
    if kind in ("custom", "", None):
        kind = "month"
    if kind not in KINDS:
        raise ConfigError("period", "'{value}' is not one of: {choices}", value=str(kind)[:20],
                          choices=", ".join(KINDS))
    anchor = _date(start, "from") if start not in (None, "") else today
    if kind == "day":
        return Period(anchor, anchor)
    if kind == "week":
        first = anchor - timedelta(days=anchor.weekday())
        return Period(first, first + timedelta(days=6))
    if kind == "month":
        first = anchor.replace(day=1)
        nxt = (first + timedelta(days=32)).replace(day=1)
        return Period(first, nxt - timedelta(days=1))
    return Period(anchor.replace(month=1, day=1), anchor.replace(month=12, day=31))
