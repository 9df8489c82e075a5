"""Scenarios in the store: an editable draft, published versions (the newest
runs), roll back by publishing an earlier version again, and bindings of
inbound numbers (DNIS) to a scenario or straight to a group (F5)."""
from __future__ import annotations

import json
import re
from datetime import datetime, timezone

from ..model import ConfigError, DISPLAY_NAME, GROUP_NAME, check_match
from .graph import check

DNIS_PATTERN = re.compile(r"^[0-9+*#]{1,20}$|^\*$")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def create(db, name: str, title: str, graph: dict) -> int:
    name = check_match(GROUP_NAME, name, "name", "scenario name (a-z, 0-9, _ and -)")
    title = check_match(DISPLAY_NAME, title, "title", "title")
    if db.execute("SELECT 1 FROM scenarios WHERE name = ?", [name]).fetchone():
        raise ConfigError("name", "a scenario named '{name}' already exists", name=name)
    return db.execute("INSERT INTO scenarios (name, title, draft, created_at) VALUES (?, ?, ?, ?)",
                      [name, title, json.dumps(graph), _now()]).lastrowid


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
    problems = check(graph, prompt_exists)
    if problems:
        raise ConfigError("graph", "the scenario has problems: {problems}",
                          problems="; ".join(str(p) for p in problems))
    return _add_version(db, name, graph, by)


def _add_version(db, name: str, graph: dict, by: str | None) -> int:
    sid = db.execute("SELECT id FROM scenarios WHERE name = ?", [name]).fetchone()[0]
    version = db.execute("SELECT COALESCE(MAX(version), 0) + 1 FROM scenario_versions WHERE scenario_id = ?",
                         [sid]).fetchone()[0]
    db.execute("INSERT INTO scenario_versions (scenario_id, version, graph, published_at, published_by) "
               "VALUES (?, ?, ?, ?, ?)", [sid, version, json.dumps(graph), _now(), by])
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


def bind(db, dnis: str, scenario: str | None = None, group: str | None = None) -> None:
    """Calls to *dnis* ('*' for any number) run *scenario*, or go straight to *group*."""
    if not DNIS_PATTERN.match(dnis or ""):
        raise ConfigError("dnis", "'{value}' is not a number", value=dnis)
    if bool(scenario) == bool(group):
        raise ConfigError("scenario", "bind a number to a scenario or to a group")
    sid = None
    if scenario:
        row = db.execute("SELECT id FROM scenarios WHERE name = ?", [scenario]).fetchone()
        if not row:
            raise ConfigError("scenario", "no scenario named '{name}'", name=scenario)
        sid = row[0]
    elif not db.execute("SELECT 1 FROM groups WHERE name = ?", [group]).fetchone():
        raise ConfigError("group", "no group named '{group}'", group=group)
    with db.atomic():
        db.execute("DELETE FROM scenario_bindings WHERE dnis = ?", [dnis])
        db.execute("INSERT INTO scenario_bindings (dnis, scenario_id, grp) VALUES (?, ?, ?)", [dnis, sid, group])


def for_call(db, dnis: str) -> tuple[str, dict | str] | None:
    """What runs for a call to *dnis*: ('scenario', graph), ('group', name) or None."""
    for key in (dnis, "*"):
        row = db.execute("SELECT s.name, b.grp FROM scenario_bindings b LEFT JOIN scenarios s "
                         "ON s.id = b.scenario_id WHERE b.dnis = ?", [key]).fetchone()
        if row:
            if row[1]:
                return "group", row[1]
            graph = published(db, row[0])
            if graph:
                return "scenario", graph
    return None


def record_path(db, uniqueid: str, path: list[dict]) -> None:
    with db.atomic():
        for seq, step in enumerate(path):
            db.execute("INSERT INTO call_steps (uniqueid, seq, step) VALUES (?, ?, ?)",
                       [uniqueid, seq, json.dumps(step, ensure_ascii=False)])


def all_scenarios(db) -> list[dict]:
    return [{"name": r[0], "title": r[1], "published_version": r[2]} for r in db.execute(
        "SELECT s.name, s.title, MAX(v.version) FROM scenarios s LEFT JOIN scenario_versions v "
        "ON v.scenario_id = s.id GROUP BY s.id ORDER BY s.name")]


def versions(db, name: str) -> list[dict]:
    return [{"version": r[0], "published_at": r[1], "published_by": r[2]} for r in db.execute(
        "SELECT v.version, v.published_at, v.published_by FROM scenario_versions v "
        "JOIN scenarios s ON s.id = v.scenario_id WHERE s.name = ? ORDER BY v.version DESC", [name])]


def bindings(db) -> list[dict]:
    return [{"dnis": r[0], "scenario": r[1], "group": r[2]} for r in db.execute(
        "SELECT b.dnis, s.name, b.grp FROM scenario_bindings b LEFT JOIN scenarios s "
        "ON s.id = b.scenario_id ORDER BY b.dnis")]
