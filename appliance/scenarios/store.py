"""Scenarios in the store: an editable draft, published versions (the newest
runs), roll back by publishing an earlier version again, and bindings of
inbound numbers (DNIS) to a scenario or straight to a group (F5)."""
from __future__ import annotations

import json
import re
from datetime import datetime, timezone

from appliance.base import clock
from appliance.base.errors import DISPLAY_NAME, GROUP_NAME, ConfigError, check_match
from appliance.scenarios.graph import Problem, check
from appliance.schedules import store as schedules

DNIS_PATTERN = re.compile(r"^[0-9+*#]{1,20}$|^\*$")


def create(db, name: str, title: str, graph: dict) -> int:
    name = check_match(GROUP_NAME, name, "name", "scenario name (a-z, 0-9, _ and -)")
    title = check_match(DISPLAY_NAME, title, "title", "title")
    if db.execute("SELECT 1 FROM scenarios WHERE name = ?", [name]).fetchone():
        raise ConfigError("name", "a scenario named '{name}' already exists", name=name)
    return db.execute("INSERT INTO scenarios (name, title, draft, created_at) VALUES (?, ?, ?, ?)",
                      [name, title, json.dumps(graph), clock.stamp()]).lastrowid


def save_draft(db, name: str, graph: dict) -> None:
    if not db.execute("UPDATE scenarios SET draft = ? WHERE name = ?", [json.dumps(graph), name]).rowcount:
        raise ConfigError("name", "no scenario named '{name}'", name=name)


def draft(db, name: str) -> dict:
    row = db.execute("SELECT draft FROM scenarios WHERE name = ?", [name]).fetchone()
    if not row:
        raise ConfigError("name", "no scenario named '{name}'", name=name)
    return json.loads(row[0])


def publish(db, name: str, by: str | None = None, prompt_exists=lambda n: True) -> int:
    """Publish the draft as a new version; refuse a graph with problems."""
    graph = draft(db, name)
    problems = check(graph, prompt_exists) + schedule_problems(db, graph)
    if problems:
        raise ConfigError("graph", "the scenario has problems: {problems}",
                          problems="; ".join(str(p) for p in problems))
    return _add_version(db, name, graph, by)


def schedule_problems(db, graph: dict) -> list:
    """Condition nodes that test a schedule the store does not have (node
    validators cannot see the store, so publishing checks this)."""
    return [Problem(nid, f"schedule '{name}' does not exist") for nid, name in schedules.missing_in(db, graph)]


def _add_version(db, name: str, graph: dict, by: str | None) -> int:
    sid = db.execute("SELECT id FROM scenarios WHERE name = ?", [name]).fetchone()[0]
    version = db.execute("SELECT COALESCE(MAX(version), 0) + 1 FROM scenario_versions WHERE scenario_id = ?",
                         [sid]).fetchone()[0]
    db.execute("INSERT INTO scenario_versions (scenario_id, version, graph, published_at, published_by) "
               "VALUES (?, ?, ?, ?, ?)", [sid, version, json.dumps(graph), clock.stamp(), by])
    return version


def roll_back(db, name: str, version: int, by: str | None = None) -> int:
    """Publish an earlier version again (as the newest) and make it the draft."""
    row = db.execute("SELECT v.graph FROM scenario_versions v JOIN scenarios s ON s.id = v.scenario_id "
                     "WHERE s.name = ? AND v.version = ?", [name, version]).fetchone()
    if not row:
        raise ConfigError("version", "no version {version} of '{name}'", version=version, name=name)
    with db.atomic():
        save_draft(db, name, json.loads(row[0]))
        return _add_version(db, name, json.loads(row[0]), by)


def published(db, name: str) -> dict | None:
    row = db.execute("SELECT v.graph FROM scenario_versions v JOIN scenarios s ON s.id = v.scenario_id "
                     "WHERE s.name = ? ORDER BY v.version DESC LIMIT 1", [name]).fetchone()
    return json.loads(row[0]) if row else None


def _target(db, scenario: str | None, group: str | None, field: str) -> tuple[int | None, str | None]:
    """(scenario id, group name) of one binding target: a scenario or a group."""
    if bool(scenario) == bool(group):
        raise ConfigError(field, "bind a number to a scenario or to a group")
    if scenario:
        row = db.execute("SELECT id FROM scenarios WHERE name = ?", [scenario]).fetchone()
        if not row:
            raise ConfigError(field, "no scenario named '{name}'", name=scenario)
        return row[0], None
    if not db.execute("SELECT 1 FROM groups WHERE name = ?", [group]).fetchone():
        raise ConfigError(field, "no group named '{group}'", group=group)
    return None, group


def bind(db, dnis: str, scenario: str | None = None, group: str | None = None,
         schedule: str | None = None, otherwise_scenario: str | None = None,
         otherwise_group: str | None = None) -> None:
    """Calls to *dnis* ('*' for any number) run *scenario*, or go straight to *group*.

    With a *schedule*, that is only while the schedule is open; otherwise they
    run *otherwise_scenario* or go to *otherwise_group* (F5)."""
    if not isinstance(dnis, str) or not DNIS_PATTERN.fullmatch(dnis):
        raise ConfigError("dnis", "'{value}' is not a number", value=dnis)
    sid, grp = _target(db, scenario, group, "scenario" if scenario or not group else "group")
    schedule_id = else_sid = else_grp = None
    if schedule:
        row = db.execute("SELECT id FROM schedules WHERE name = ?", [schedule]).fetchone()
        if not row:
            raise ConfigError("schedule", "no schedule named '{name}'", name=schedule)
        schedule_id = row[0]
        if not otherwise_scenario and not otherwise_group:
            raise ConfigError("otherwise", "say what runs while the schedule is closed: a scenario or a group")
        else_sid, else_grp = _target(db, otherwise_scenario, otherwise_group, "otherwise")
    elif otherwise_scenario or otherwise_group:
        raise ConfigError("schedule", "'otherwise' needs a schedule")
    with db.atomic():
        db.execute("DELETE FROM scenario_bindings WHERE dnis = ?", [dnis])
        db.execute("INSERT INTO scenario_bindings (dnis, scenario_id, grp, schedule_id, else_scenario_id, "
                   "else_grp) VALUES (?, ?, ?, ?, ?, ?)", [dnis, sid, grp, schedule_id, else_sid, else_grp])


def unbind(db, dnis: str) -> bool:
    """Calls to *dnis* no longer have a binding of their own."""
    return bool(db.execute("DELETE FROM scenario_bindings WHERE dnis = ?", [dnis]).rowcount)


def for_call(db, dnis: str, when: datetime | None = None) -> tuple[str, dict | str] | None:
    """What runs for a call to *dnis* at *when* (default now): ('scenario',
    graph), ('group', name) or None. A binding with a schedule uses its
    'otherwise' target while the schedule is closed."""
    when = when or datetime.now(timezone.utc)
    for key in (dnis, "*"):
        row = db.execute("SELECT s.name, b.grp, sc.name, e.name, b.else_grp FROM scenario_bindings b "
                         "LEFT JOIN scenarios s ON s.id = b.scenario_id "
                         "LEFT JOIN schedules sc ON sc.id = b.schedule_id "
                         "LEFT JOIN scenarios e ON e.id = b.else_scenario_id WHERE b.dnis = ?", [key]).fetchone()
        if not row:
            continue
        scenario, group = row[0], row[1]
        if row[2]:
            try:
                schedule = schedules.load(db, row[2])
            except ConfigError:   # stored rules no longer valid (e.g. a timezone gone): keep the main target
                schedule = None
            if schedule and not schedules.is_open(schedule, when):
                scenario, group = row[3], row[4]
        if group:
            return "group", group
        graph = published(db, scenario) if scenario else None
        if graph:
            return "scenario", graph
    return None


STEP_INSERT = "INSERT INTO call_steps (uniqueid, seq, step) VALUES (?, ?, ?)"


class StepLog:
    """A call's IVR steps, handed on as the walk goes (each node before it
    runs, the rest at the end): if the FastAGI server dies mid-call, the
    steps up to that moment are in the history, and none is written twice.
    With a *sink* (rows of (uniqueid, seq, step)) another thread writes
    them, so the caller's next prompt never waits for the write lock;
    without one they are written here and now."""

    def __init__(self, db, uniqueid: str, sink=None):
        self.db, self.uniqueid, self.sink, self.written = db, uniqueid, sink, 0

    def write(self, path: list[dict]) -> None:
        if len(path) <= self.written:
            return
        rows = [(self.uniqueid, seq, json.dumps(path[seq], ensure_ascii=False))
                for seq in range(self.written, len(path))]
        if self.sink is not None:
            for row in rows:
                self.sink(row)
        else:
            with self.db.atomic():
                self.db.conn.executemany(STEP_INSERT, rows)
        self.written = len(path)


def record_path(db, uniqueid: str, path: list[dict]) -> None:
    StepLog(db, uniqueid).write(path)


def all_scenarios(db) -> list[dict]:
    return [{"name": r[0], "title": r[1], "published_version": r[2]} for r in db.execute(
        "SELECT s.name, s.title, MAX(v.version) FROM scenarios s LEFT JOIN scenario_versions v "
        "ON v.scenario_id = s.id GROUP BY s.id ORDER BY s.name")]


def versions(db, name: str) -> list[dict]:
    return [{"version": r[0], "published_at": r[1], "published_by": r[2]} for r in db.execute(
        "SELECT v.version, v.published_at, v.published_by FROM scenario_versions v "
        "JOIN scenarios s ON s.id = v.scenario_id WHERE s.name = ? ORDER BY v.version DESC", [name])]


def bindings(db) -> list[dict]:
    return [{"dnis": r[0], "scenario": r[1], "group": r[2], "schedule": r[3], "otherwise_scenario": r[4],
             "otherwise_group": r[5]} for r in db.execute(
        "SELECT b.dnis, s.name, b.grp, sc.name, e.name, b.else_grp FROM scenario_bindings b "
        "LEFT JOIN scenarios s ON s.id = b.scenario_id LEFT JOIN schedules sc ON sc.id = b.schedule_id "
        "LEFT JOIN scenarios e ON e.id = b.else_scenario_id ORDER BY b.dnis")]
