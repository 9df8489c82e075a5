"""A report's definition (dimensions, measures, filters, default period,
chart) and its validation: anything unknown or impossible is refused with
a ConfigError naming the field."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from appliance.base.errors import ConfigError
from appliance.reports import measures as M
from appliance.reports.period import KINDS

CHARTS = ("bar", "line", "none")
MAX_DIMENSIONS = 3
MAX_MEASURES = len(M.MEASURES)
MAX_TITLE = 80
FILTER_VALUE = re.compile(r"^[^\x00-\x1f]{1,64}$")


@dataclass(frozen=True)
class Spec:
    title: str
    dimensions: tuple = ()
    measures: tuple = ("calls",)
    filters: dict = field(default_factory=dict)
    period: str = "month"
    chart: str = "bar"
    sl_seconds: int = M.SL_DEFAULT

    def as_dict(self) -> dict:
        return {"title": self.title, "dimensions": list(self.dimensions), "measures": list(self.measures),
                "filters": dict(self.filters), "period": self.period, "chart": self.chart,
                "sl_seconds": self.sl_seconds}

    def families(self) -> list[str]:
        seen = []
        for m in self.measures:
            if M.MEASURES[m].family not in seen:
                seen.append(M.MEASURES[m].family)
        return seen


def _list(value, field_name: str) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        value = [v for v in re.split(r"[,\s]+", value) if v]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ConfigError(field_name, "must be a list of names")
    out = []
    for v in value:
        if v not in out:
            out.append(v)
    return out


def check_filters(filters, families, dimensions=()) -> dict:
    if filters in (None, ""):
        filters = {}
    if not isinstance(filters, dict):
        raise ConfigError("filters", "must be an object of filter: value")
    out = {}
    for key, value in filters.items():
        value = "" if value is None else str(value).strip()
        if not value:
            continue
        if key not in M.FILTERS:
            raise ConfigError("filters", "unknown filter '{name}'; known: {choices}", name=str(key)[:40],
                              choices=", ".join(M.FILTERS))
        if not FILTER_VALUE.fullmatch(value):
            raise ConfigError(f"filters.{key}", "at most 64 characters, no control characters")
        for fam in families:
            if key not in M.FAMILY_FILTERS[fam]:
                raise ConfigError(f"filters.{key}", "the filter '{name}' does not apply to {family}",
                                  name=key, family=M.FAMILY_TITLES[fam])
        out[key] = value
    if "quality" in families:
        by = [d for d in dimensions if d in ("operator", "group")]
        if (by and set(out) - set(by)) or (not by and len(out) > 1):
            raise ConfigError("filters", "quality scores can be filtered only by the operator or group "
                                         "they are broken down by")
    return out


def check_spec(data: dict) -> Spec:
    """A Spec from a dict (a saved form, the form page, the API)."""
    if not isinstance(data, dict):
        raise ConfigError("spec", "must be an object")
    title = str(data.get("title") or "").strip()
    if not title:
        raise ConfigError("title", "is required")
    if len(title) > MAX_TITLE or not FILTER_VALUE.fullmatch(title[:64]):
        raise ConfigError("title", "at most {n} characters, no control characters", n=MAX_TITLE)
    dims = _list(data.get("dimensions"), "dimensions")
    for d in dims:
        if d not in M.DIMENSIONS:
            raise ConfigError("dimensions", "unknown dimension '{name}'; known: {choices}", name=d[:40],
                              choices=", ".join(M.DIMENSIONS))
    if len(dims) > MAX_DIMENSIONS:
        raise ConfigError("dimensions", "at most {n} dimensions", n=MAX_DIMENSIONS)
    meas = _list(data.get("measures"), "measures")
    if not meas:
        raise ConfigError("measures", "pick at least one measure")
    for m in meas:
        if m not in M.MEASURES:
            raise ConfigError("measures", "unknown measure '{name}'; known: {choices}", name=m[:40],
                              choices=", ".join(M.MEASURES))
    if len(meas) > MAX_MEASURES:
        raise ConfigError("measures", "at most {n} measures", n=MAX_MEASURES)
    families = []
    for m in meas:
        fam = M.MEASURES[m].family
        if fam not in families:
            families.append(fam)
        bad = [d for d in dims if d not in M.FAMILY_DIMENSIONS[fam]]
        if bad:
            raise ConfigError("dimensions", "'{measure}' cannot be broken down by {dimension}",
                              measure=m, dimension=bad[0])
    if "quality" in families and len([d for d in dims if d in ("operator", "group")]) > 1:
        raise ConfigError("dimensions", "quality scores go by operator or by group, not both")
    filters = check_filters(data.get("filters"), families, dims)
    kind = str(data.get("period") or "month")
    if kind not in KINDS:
        raise ConfigError("period", "'{value}' is not one of: {choices}", value=kind[:20], choices=", ".join(KINDS))
    chart = str(data.get("chart") or "none")
    if chart not in CHARTS:
        raise ConfigError("chart", "'{value}' is not one of: {choices}", value=chart[:20], choices=", ".join(CHARTS))
    if chart != "none" and len(dims) != 1:
        raise ConfigError("chart", "a chart needs exactly one dimension")
    if chart == "line" and dims[0] not in M.TIME_DIMENSIONS:
        raise ConfigError("chart", "a line chart needs a time dimension (hour, day, week, month)")
    try:
        sl = int(str(data.get("sl_seconds") or M.SL_DEFAULT).strip())
    except ValueError:
        raise ConfigError("sl_seconds", "must be a whole number of seconds") from None
    if not 1 <= sl <= M.SL_MAX:
        raise ConfigError("sl_seconds", "must be from {low} to {high}", low=1, high=M.SL_MAX)
    return Spec(title, tuple(dims), tuple(meas), filters, kind, chart, sl)
