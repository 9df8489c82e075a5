"""What a report can show: its dimensions (how rows are broken down) and its
measures (the figures), and the one definition of what each finished call
adds to the sums the measures are computed from.

``call_sums`` is used both when the rollups are built and when a report is
answered from raw rows, so the two can never disagree.
"""
from __future__ import annotations

from datetime import datetime


def _(message: str) -> str:
    """Marks a title for the panel's catalog (translated where shown)."""
    return message

# Queue-wait buckets: bucket i holds waits in (EDGES[i-1], EDGES[i]] seconds,
# the last one everything above 300 s. Service level for N in EDGES and the
# "abandoned after" buckets are sums of whole buckets.
EDGES = (5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300)
NBUCKETS = len(EDGES) + 1
ABANDON_AFTER = ((0, 10), (10, 30), (30, 60), (60, 180), (180, None))
SL_DEFAULT = 20
SL_MAX = 3600

# Times are summed in whole milliseconds, so sums are exact whatever the
# order of adding (the rollups and the raw rows then agree to the digit).
SUMS = ("n", "answered", "abandoned", "ivr_only", "transferred", "transfers", "wait_answered",
        "wait_abandoned", "talk", "hold") + tuple(f"a{i}" for i in range(NBUCKETS)) + \
    tuple(f"b{i}" for i in range(NBUCKETS))

TIME_DIMENSIONS = ("hour", "day", "week", "month")
# key -> title (English; the panel translates it)
DIMENSIONS = {
    "hour": _("Hour of day"),
    "day": _("Day"),
    "week": _("Week"),
    "month": _("Month"),
    "operator": _("Operator"),
    "group": _("Group"),
    "line": _("Line (trunk)"),
    "span": _("E1 span"),
    "dnis": _("Number dialled (DNIS)"),
    "direction": _("Direction"),
    "outcome": _("Outcome"),
    "route_source": _("Route source"),
}
FILTERS = ("group", "operator", "line", "dnis", "direction")


class Measure:
    def __init__(self, key: str, title: str, family: str, kind: str):
        self.key, self.title, self.family, self.kind = key, title, family, kind


def _m(key, title, family, kind):
    return key, Measure(key, title, family, kind)


# kind: count | percent | seconds (an average) | duration (a total)
MEASURES = dict([
    _m("calls", _("Calls"), "calls", "count"),
    _m("answered", _("Answered"), "calls", "count"),
    _m("abandoned", _("Abandoned"), "calls", "count"),
    _m("answered_share", _("Answered, %"), "calls", "percent"),
    _m("abandoned_share", _("Abandoned, %"), "calls", "percent"),
    _m("abandoned_0_10", _("Abandoned within 10 s"), "calls", "count"),
    _m("abandoned_10_30", _("Abandoned after 10–30 s"), "calls", "count"),
    _m("abandoned_30_60", _("Abandoned after 30–60 s"), "calls", "count"),
    _m("abandoned_60_180", _("Abandoned after 1–3 min"), "calls", "count"),
    _m("abandoned_180_plus", _("Abandoned after more than 3 min"), "calls", "count"),
    _m("avg_abandon_wait", _("Average wait before abandoning, s"), "calls", "seconds"),
    _m("service_level", _("Service level, %"), "calls", "percent"),
    _m("asa", _("Average speed of answer, s"), "calls", "seconds"),
    _m("aht", _("Average handle time, s"), "calls", "seconds"),
    _m("handle_total", _("Handle time"), "calls", "duration"),
    _m("avg_talk", _("Average talk time, s"), "calls", "seconds"),
    _m("talk_total", _("Talk time"), "calls", "duration"),
    _m("hold_total", _("Hold time"), "calls", "duration"),
    _m("transferred", _("Transferred calls"), "calls", "count"),
    _m("transfers", _("Transfers"), "calls", "count"),
    _m("ivr_only", _("Served by the IVR alone"), "calls", "count"),
    _m("ivr_only_share", _("Served by the IVR alone, %"), "calls", "percent"),
    _m("callbacks_ordered", _("Callbacks ordered"), "callbacks", "count"),
    _m("callbacks_placed", _("Callback calls placed"), "callbacks", "count"),
    _m("callbacks_done", _("Callbacks done"), "callbacks", "count"),
    _m("messages", _("Voice messages left"), "messages", "count"),
    _m("messages_handled", _("Voice messages handled"), "messages", "count"),
    _m("state_ready", _("Ready"), "states", "duration"),
    _m("state_talk", _("On a call"), "states", "duration"),
    _m("state_wrapup", _("Wrap-up"), "states", "duration"),
    _m("state_pause", _("Paused"), "states", "duration"),
    _m("state_pause_reasons", _("Paused, by reason"), "states", "duration"),
    _m("quality", _("Quality score (0–100)"), "quality", "score"),
    _m("quality_count", _("Scored recordings"), "quality", "count"),
])

# Which dimensions each family of measures can be broken down by (filters
# likewise); calls can go by anything, the others by what their tables hold.
FAMILY_DIMENSIONS = {
    "calls": set(DIMENSIONS),
    "callbacks": {"hour", "day", "week", "month", "group"},
    "messages": {"hour", "day", "week", "month", "group"},
    "states": {"day", "week", "month", "operator"},
    "quality": {"operator", "group"},
}
FAMILY_TITLES = {"calls": _("call figures"), "callbacks": _("callback figures"),
                 "messages": _("message figures"), "states": _("operator state times"),
                 "quality": _("quality scores")}
FAMILY_FILTERS = {
    "calls": set(FILTERS),
    "callbacks": {"group"},
    "messages": {"group"},
    "states": {"operator"},
    "quality": {"operator", "group"},
}
# operator states -> the report's state measure (ringing counts as ready:
# the operator was available)
STATE_MEASURE = {"ready": "state_ready", "ringing": "state_ready", "on_call": "state_talk",
                 "wrapup": "state_wrapup", "paused": "state_pause"}


def needed_sums(measure_keys, sl_seconds: float) -> list[str]:
    """The rollup sums the call measures asked for are computed from (summing
    only those keeps a year's report fast)."""
    a_upto = [f"a{i}" for i in range(EDGES.index(sl_seconds) + 1)] if sl_seconds in EDGES else []
    b_all = [f"b{i}" for i in range(NBUCKETS)]
    needs = {
        "calls": ["n"], "answered": ["answered"], "abandoned": ["abandoned"],
        "answered_share": ["answered", "n"], "abandoned_share": ["abandoned", "n"],
        "avg_abandon_wait": ["wait_abandoned", "abandoned"],
        "service_level": ["answered", "abandoned"] + a_upto,
        "asa": ["wait_answered", "answered"], "aht": ["talk", "hold", "answered"],
        "handle_total": ["talk", "hold"], "avg_talk": ["talk", "answered"], "talk_total": ["talk"],
        "hold_total": ["hold"], "transferred": ["transferred"], "transfers": ["transfers"],
        "ivr_only": ["ivr_only"], "ivr_only_share": ["ivr_only", "n"],
    }
    out = []
    for key in measure_keys:
        for name in needs.get(key, b_all if key.startswith("abandoned_") else []):
            if name not in out:
                out.append(name)
    return out or ["n"]


def bucket(wait: float) -> int:
    for i, edge in enumerate(EDGES):
        if wait <= edge:
            return i
    return len(EDGES)


def _seconds(later: str | None, earlier: str | None) -> float | None:
    if not later or not earlier:
        return None
    try:
        return max(0.0, (datetime.fromisoformat(later) - datetime.fromisoformat(earlier)).total_seconds())
    except ValueError:
        return None


def call_sums(c: dict, sl_seconds: float | None = None) -> dict:
    """What one finished call adds to the sums. ``c`` holds the calls row's
    columns. A call that ended in the IVR (``ivr_only``) and was not answered
    counts as served by the IVR, not as abandoned. Waits and talk come from
    the history's columns, or from the row's times when those are empty."""
    answered = c.get("outcome") == "answered"
    ivr = bool(c.get("ivr_only")) and not answered
    abandoned = c.get("outcome") == "abandoned" and not ivr
    s = {"n": 1, "answered": int(answered), "abandoned": int(abandoned), "ivr_only": int(ivr),
         "transfers": int(c.get("transfers") or 0)}
    s["transferred"] = int(s["transfers"] > 0)
    wait = c.get("wait_seconds")
    if wait is None and (answered or abandoned):
        wait = _seconds(c.get("connected_at") if answered else c.get("ended_at"),
                        c.get("queued_at") or c.get("started_at"))
    wait = max(0.0, float(wait or 0))
    if answered:
        talk = c.get("talk_seconds")
        if talk is None:
            talk = _seconds(c.get("ended_at"), c.get("connected_at"))
        s["talk"] = _ms(talk)
        s["hold"] = _ms(c.get("hold_seconds"))
        s["wait_answered"] = _ms(wait)
        s[f"a{bucket(wait)}"] = 1
        if sl_seconds is not None:
            s["within"] = int(wait <= sl_seconds)
    elif abandoned:
        s["wait_abandoned"] = _ms(wait)
        s[f"b{bucket(wait)}"] = 1
    return s


def _ms(seconds) -> int:
    return int(round(float(seconds or 0) * 1000))


def add(total: dict, part: dict) -> None:
    for k, v in part.items():
        total[k] = total.get(k, 0) + v


def _ratio(a, b, scale=1.0):
    return round(scale * a / b, 1) if b else None


def within(sums: dict, sl_seconds: float) -> int:
    """Answered within N seconds: the raw count when it was taken, else the
    whole wait buckets up to N (N must then be one of EDGES)."""
    if "within" in sums:
        return sums["within"]
    last = EDGES.index(sl_seconds)
    return sum(sums.get(f"a{i}", 0) for i in range(last + 1))


def finish_calls(s: dict, sl_seconds: float) -> dict:
    """The call measures from one row's sums."""
    g = lambda k: s.get(k, 0)  # noqa: E731
    offered = g("answered") + g("abandoned")
    out = {
        "calls": g("n"), "answered": g("answered"), "abandoned": g("abandoned"),
        "answered_share": _ratio(g("answered"), g("n"), 100),
        "abandoned_share": _ratio(g("abandoned"), g("n"), 100),
        "avg_abandon_wait": _ratio(g("wait_abandoned"), g("abandoned"), 0.001),
        "service_level": _ratio(within(s, sl_seconds), offered, 100) if offered else None,
        "asa": _ratio(g("wait_answered"), g("answered"), 0.001),
        "aht": _ratio(g("talk") + g("hold"), g("answered"), 0.001),
        "handle_total": round((g("talk") + g("hold")) / 1000, 1),
        "avg_talk": _ratio(g("talk"), g("answered"), 0.001),
        "talk_total": round(g("talk") / 1000, 1),
        "hold_total": round(g("hold") / 1000, 1),
        "transferred": g("transferred"), "transfers": g("transfers"),
        "ivr_only": g("ivr_only"), "ivr_only_share": _ratio(g("ivr_only"), g("n"), 100),
    }
    edges = (0,) + EDGES
    for lo, hi in ABANDON_AFTER:
        first, last = edges.index(lo), (EDGES.index(hi) if hi else NBUCKETS - 1)
        out[f"abandoned_{lo}_{hi or 'plus'}"] = sum(g(f"b{i}") for i in range(first, last + 1))
    return out
