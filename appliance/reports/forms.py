"""Report forms: the ready ones (F14's list) and the administrator's custom
ones (table ``report_forms``), addressed the same way — a ready form by its
name, a custom one as ``c<id>``."""
from __future__ import annotations

import json

from appliance.base import clock
from appliance.base.errors import ConfigError
from appliance.reports.measures import _
from appliance.reports.spec import Spec, check_spec

CALL_DAY = ("calls", "answered", "abandoned", "answered_share", "service_level", "asa", "aht")
ABANDON = ("answered", "abandoned", "abandoned_share", "abandoned_0_10", "abandoned_10_30",
           "abandoned_30_60", "abandoned_60_180", "abandoned_180_plus", "avg_abandon_wait")


def _ready(title, dims, measures, chart="bar", filters=None, period="month"):
    return Spec(title, tuple(dims), tuple(measures), dict(filters or {}), period, chart)


READY = {
    "inbound": _ready(_("Inbound calls"), ["day"], CALL_DAY, "line", {"direction": "inbound"}),
    "outbound": _ready(_("Outbound calls"), ["day"], ("calls", "answered", "answered_share", "talk_total", "aht"),
                       "line", {"direction": "outbound"}),
    "transferred": _ready(_("Transferred calls"), ["day"], ("calls", "answered", "transferred", "transfers"),
                          "line"),
    "answered_abandoned": _ready(_("Answered and abandoned calls"), ["day"], ABANDON, "line"),
    "service_level": _ready(_("Service level"), ["day"], ("calls", "answered", "abandoned", "service_level"),
                            "line", {"direction": "inbound"}),
    "asa": _ready(_("Average speed of answer"), ["hour"], ("answered", "asa", "service_level"), "bar",
                  {"direction": "inbound"}),
    "aht": _ready(_("Average handle time"), ["day"], ("answered", "aht", "avg_talk", "talk_total", "hold_total",
                                                   "handle_total"), "line"),
    "operators": _ready(_("Per operator"), ["operator"], ("answered", "talk_total", "aht", "transferred",
                                                       "hold_total"), "bar"),
    "groups": _ready(_("Per group"), ["group"], ("calls", "answered", "abandoned", "service_level", "asa",
                                             "aht", "ivr_only"), "bar"),
    "lines": _ready(_("Per incoming line"), ["line", "dnis"], ("calls", "answered", "abandoned", "ivr_only"),
                    "none", {"direction": "inbound"}),
    "spans": _ready(_("Per E1 span"), ["span"], ("calls", "answered", "abandoned"), "bar",
                    {"direction": "inbound"}),
    "hours": _ready(_("Per hour of day"), ["hour"], ("calls", "answered", "abandoned", "service_level"), "bar"),
    "days": _ready(_("Per day"), ["day"], ("calls", "answered", "abandoned", "service_level", "aht"), "line"),
    "weeks": _ready(_("Per week"), ["week"], ("calls", "answered", "abandoned", "service_level", "aht"), "line",
                    period="year"),
    "ivr_only": _ready(_("Served by the IVR alone"), ["day"], ("calls", "ivr_only", "ivr_only_share"), "line",
                       {"direction": "inbound"}),
    "callbacks_messages": _ready(_("Callbacks and messages"), ["day"], (
        "callbacks_ordered", "callbacks_placed", "callbacks_done", "messages", "messages_handled"), "line"),
    "operator_states": _ready(_("Operator state times"), ["operator"], (
        "state_ready", "state_talk", "state_wrapup", "state_pause", "state_pause_reasons"), "bar"),
    "quality": _ready(_("Quality scores per operator"), ["operator"], ("quality", "quality_count",
                                                                   "answered"), "bar"),
}


def custom_forms(db) -> list[dict]:
    return [{"key": f"c{r[0]}", "id": r[0], "spec": check_spec(json.loads(r[1])), "created_by": r[2],
             "updated_at": r[3]}
            for r in db.execute("SELECT id, spec, created_by, updated_at FROM report_forms ORDER BY name")]


def get(db, key: str) -> tuple[Spec, bool] | None:
    """(spec, is custom) of a form by its key, or None."""
    if key in READY:
        return READY[key], False
    if key[:1] == "c" and key[1:].isdigit():
        row = db.execute("SELECT spec FROM report_forms WHERE id = ?", [int(key[1:])]).fetchone()
        if row:
            return check_spec(json.loads(row[0])), True
    return None


def _unique(db, title: str, form_id: int | None) -> None:
    row = db.execute("SELECT id FROM report_forms WHERE lower(name) = lower(?)", [title]).fetchone()
    if (row and row[0] != form_id) or title.lower() in {s.title.lower() for s in READY.values()}:
        raise ConfigError("title", "a report named '{title}' already exists", title=title)


def save(db, data: dict, username: str, form_id: int | None = None) -> str:
    """Create (or, with form_id, change) a custom form; returns its key."""
    spec = check_spec(data)
    with db.atomic():
        _unique(db, spec.title, form_id)
        text = json.dumps(spec.as_dict(), ensure_ascii=False, sort_keys=True)
        if form_id is None:
            cur = db.execute("INSERT INTO report_forms (name, spec, created_by, created_at, updated_at) "
                             "VALUES (?, ?, ?, ?, ?)", [spec.title, text, username, clock.stamp(), clock.stamp()])
            form_id = cur.lastrowid
        elif db.execute("UPDATE report_forms SET name = ?, spec = ?, updated_at = ? WHERE id = ?",
                        [spec.title, text, clock.stamp(), form_id]).rowcount != 1:
            raise ConfigError("form", "no such report form")
    return f"c{form_id}"


def delete(db, form_id: int) -> bool:
    return db.execute("DELETE FROM report_forms WHERE id = ?", [form_id]).rowcount == 1
