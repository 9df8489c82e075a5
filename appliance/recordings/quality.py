"""Quality review of recorded calls (F12, F13): evaluation forms and scores.

A form is a list of criteria, each with a weight and the most points it can
get. A score gives every criterion of one form version some points (0..max)
and an optional comment; its total is the weighted share of the maximum,
0–100::

    total = 100 * sum(weight_i * points_i / max_i) / sum(weight_i)

Forms are versioned: editing a form nobody has scored with changes it in
place; editing one that has scores makes a new version (the old one stays,
hidden, so every score keeps the exact criteria it was given on). A form with
scores cannot be deleted — switch it off (``active``) instead.

Each score copies the operator, group and call time from its recording, so
averages per operator and group survive the recording's deletion.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone

from appliance.base import clock
from appliance.base.errors import ConfigError

MAX_CRITERIA = 30
MAX_NAME = 80
MAX_DESCRIPTION = 500
MAX_COMMENT = 2000
MAX_WEIGHT = 100
MAX_POINTS = 100
GROUP_BY = ("operator", "grp")


def utc_iso(value: str) -> str:
    """An ISO time as UTC text that sorts right (naive times are taken as UTC)."""
    when = datetime.fromisoformat(value)
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc).isoformat(timespec="seconds")


# --- forms -------------------------------------------------------------------

def _number(raw, field: str, low: float, high: float, whole: bool):
    text = str(raw if raw is not None else "").strip().replace(",", ".")
    try:
        value = float(text)
    except ValueError:
        value = None
    if whole and (value is None or value != value or not value.is_integer()):
        raise ConfigError(field, "must be a whole number")
    if value is None or value != value:
        raise ConfigError(field, "must be a number")
    if not low <= value <= high:
        raise ConfigError(field, "must be from {low} to {high}", low=_fmt(low), high=_fmt(high))
    return int(value) if whole else value


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def check_form(name, criteria) -> tuple[str, list[dict]]:
    """The cleaned name and criteria of a form, or ConfigError naming the
    field (``criteria.N.weight`` etc., N from 1)."""
    name = (name or "").strip()
    if not name:
        raise ConfigError("name", "is required")
    if len(name) > MAX_NAME:
        raise ConfigError("name", "at most {n} characters", n=MAX_NAME)
    if not isinstance(criteria, list) or not criteria:
        raise ConfigError("criteria", "a form needs at least one criterion")
    if len(criteria) > MAX_CRITERIA:
        raise ConfigError("criteria", "at most {n} criteria", n=MAX_CRITERIA)
    cleaned, seen = [], set()
    for i, c in enumerate(criteria, 1):
        if not isinstance(c, dict):
            raise ConfigError(f"criteria.{i}", "must be an object")
        cname = str(c.get("name") or "").strip()
        if not cname:
            raise ConfigError(f"criteria.{i}.name", "is required")
        if len(cname) > MAX_NAME:
            raise ConfigError(f"criteria.{i}.name", "at most {n} characters", n=MAX_NAME)
        if cname.lower() in seen:
            raise ConfigError(f"criteria.{i}.name", "the same criterion twice: {name}", name=cname)
        seen.add(cname.lower())
        weight = _number(c.get("weight"), f"criteria.{i}.weight", 0, MAX_WEIGHT, whole=False)
        if weight <= 0:
            raise ConfigError(f"criteria.{i}.weight", "must be more than 0")
        max_points = _number(c.get("max_points"), f"criteria.{i}.max_points", 1, MAX_POINTS, whole=True)
        description = str(c.get("description") or "").strip()
        if len(description) > MAX_DESCRIPTION:
            raise ConfigError(f"criteria.{i}.description", "at most {n} characters", n=MAX_DESCRIPTION)
        cleaned.append({"name": cname, "weight": weight, "max_points": max_points, "description": description})
    return name, cleaned


def _criteria(db, form_id: int) -> list[dict]:
    cols = ("id", "position", "name", "description", "weight", "max_points")
    rows = [dict(zip(cols, r)) for r in db.execute(
        "SELECT id, position, name, description, weight, max_points FROM quality_criteria "
        "WHERE form_id = ? ORDER BY position", [form_id])]
    for row in rows:
        row["weight_text"] = _fmt(row["weight"])
    return rows


FORM_COLS = ("id", "family", "version", "name", "active", "current", "created_at", "created_by")


def get_form(db, form_id: int) -> dict | None:
    row = db.execute(f"SELECT {', '.join(FORM_COLS)} FROM quality_forms WHERE id = ?", [form_id]).fetchone()
    if row is None:
        return None
    form = dict(zip(FORM_COLS, row))
    form["active"], form["current"] = bool(form["active"]), bool(form["current"])
    form["criteria"] = _criteria(db, form_id)
    form["scores"] = db.execute(
        "SELECT COUNT(*) FROM quality_scores s JOIN quality_forms f ON f.id = s.form_id WHERE f.family = ?",
        [form["family"]]).fetchone()[0]
    return form


def list_forms(db, active_only: bool = False) -> list[dict]:
    """The current version of each form, by name."""
    sql = "SELECT id FROM quality_forms WHERE current = 1" + (" AND active = 1" if active_only else "")
    forms = [get_form(db, r[0]) for r in db.execute(sql + " ORDER BY name COLLATE NOCASE, id")]
    return forms


def _insert_form(db, family: int | None, version: int, name: str, active: bool, criteria, by: str) -> int:
    cur = db.execute("INSERT INTO quality_forms (family, version, name, active, current, created_at, created_by) "
                     "VALUES (?, ?, ?, ?, 1, ?, ?)", [family or 0, version, name, int(active), clock.stamp(), by])
    form_id = cur.lastrowid
    if not family:
        db.execute("UPDATE quality_forms SET family = ? WHERE id = ?", [form_id, form_id])
    _insert_criteria(db, form_id, criteria)
    return form_id


def _insert_criteria(db, form_id: int, criteria) -> None:
    for position, c in enumerate(criteria, 1):
        db.execute("INSERT INTO quality_criteria (form_id, position, name, description, weight, max_points) "
                   "VALUES (?, ?, ?, ?, ?, ?)",
                   [form_id, position, c["name"], c["description"], c["weight"], c["max_points"]])


def create_form(db, name, criteria, by: str, active: bool = True) -> dict:
    name, criteria = check_form(name, criteria)
    with db.atomic():
        form_id = _insert_form(db, None, 1, name, active, criteria, by)
    return get_form(db, form_id)


def update_form(db, form_id: int, name, criteria, active: bool, by: str) -> dict:
    """Change a form's current version: in place while it has no scores,
    else as a new version (returned; its id differs)."""
    name, criteria = check_form(name, criteria)
    with db.atomic():
        form = get_form(db, form_id)
        if form is None or not form["current"]:
            raise LookupError(form_id)
        own_scores = db.execute("SELECT COUNT(*) FROM quality_scores WHERE form_id = ?", [form_id]).fetchone()[0]
        same = [(c["name"], c["description"], c["weight"], c["max_points"]) for c in form["criteria"]] == \
               [(c["name"], c["description"], c["weight"], c["max_points"]) for c in criteria]
        if own_scores and not same:
            db.execute("UPDATE quality_forms SET current = 0 WHERE id = ?", [form_id])
            form_id = _insert_form(db, form["family"], form["version"] + 1, name, active, criteria, by)
        else:
            db.execute("UPDATE quality_forms SET name = ?, active = ? WHERE id = ?", [name, int(active), form_id])
            if not same:
                db.execute("DELETE FROM quality_criteria WHERE form_id = ?", [form_id])
                _insert_criteria(db, form_id, criteria)
    return get_form(db, form_id)


def delete_form(db, form_id: int) -> dict:
    with db.atomic():
        form = get_form(db, form_id)
        if form is None or not form["current"]:
            raise LookupError(form_id)
        if form["scores"]:
            raise ConfigError("form", "{n} scores use this form: switch it off instead of deleting it",
                              n=form["scores"])
        ids = [r[0] for r in db.execute("SELECT id FROM quality_forms WHERE family = ?", [form["family"]])]
        for fid in ids:
            db.execute("DELETE FROM quality_criteria WHERE form_id = ?", [fid])
            db.execute("DELETE FROM quality_forms WHERE id = ?", [fid])
    return form


# --- scores ------------------------------------------------------------------

def weighted_total(criteria: list[dict], points: dict[int, int]) -> float:
    """0–100: each criterion's share of its maximum, weighted (stored
    unrounded so averages are exact; shown to 0.1)."""
    weights = sum(c["weight"] for c in criteria)
    got = sum(c["weight"] * points[c["id"]] / c["max_points"] for c in criteria)
    return 100 * got / weights


def check_points(form: dict, points: dict, comments: dict | None = None) -> tuple[dict, dict]:
    """Points (and comments) keyed by criterion id, checked against the form:
    every criterion needs a whole number 0..max; unknown ids are refused."""
    comments = comments or {}
    known = {c["id"]: c for c in form["criteria"]}
    clean_points, clean_comments = {}, {}
    for raw_key in list(points) + list(comments):
        try:
            key = int(str(raw_key))
        except ValueError:
            key = None
        if key not in known:
            raise ConfigError(f"criterion.{raw_key}", "there is no such criterion in this form")
    for cid, c in known.items():
        raw = points.get(cid, points.get(str(cid)))
        if raw is None or str(raw).strip() == "":
            raise ConfigError(f"criterion.{cid}", "{name}: points are required", name=c["name"])
        try:
            clean_points[cid] = _number(raw, f"criterion.{cid}", 0, c["max_points"], whole=True)
        except ConfigError:
            raise ConfigError(f"criterion.{cid}", "{name}: a whole number of points from 0 to {high}",
                              name=c["name"], high=c["max_points"]) from None
        text = str(comments.get(cid, comments.get(str(cid))) or "").strip()
        if len(text) > MAX_COMMENT:
            raise ConfigError(f"comment.{cid}", "at most {n} characters", n=MAX_COMMENT)
        clean_comments[cid] = text
    return clean_points, clean_comments


def save_score(db, recording: dict, form_id: int, reviewer: str, points: dict, comments: dict | None = None,
               comment: str = "") -> dict:
    """Score *recording* (a recordings row as a dict) on a form version; a
    reviewer's second score of the same recording on the same form replaces
    the first."""
    comment = (comment or "").strip()
    if len(comment) > MAX_COMMENT:
        raise ConfigError("comment", "at most {n} characters", n=MAX_COMMENT)
    with db.atomic():
        form = get_form(db, form_id)
        if form is None:
            raise ConfigError("form", "there is no such form")
        if not form["current"] or not form["active"]:
            raise ConfigError("form", "this form is switched off or replaced by a newer version")
        if recording.get("status") != "good":
            raise ConfigError("recording", "only a good recording can be scored")
        clean_points, clean_comments = check_points(form, points, comments)
        total = weighted_total(form["criteria"], clean_points)
        db.execute("DELETE FROM quality_scores WHERE recording_id = ? AND form_id = ? AND reviewer = ?",
                   [recording["id"], form_id, reviewer])
        cur = db.execute(
            "INSERT INTO quality_scores (recording_id, form_id, reviewer, scored_at, operator, grp, call_at, "
            "total, comment, points) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [recording["id"], form_id, reviewer, clock.stamp(), recording.get("operator") or "",
             recording.get("grp") or "", utc_iso(recording["started_at"]), total, comment,
             json.dumps({str(k): {"points": clean_points[k], "comment": clean_comments[k]} for k in clean_points},
                        ensure_ascii=False)])
    return get_score(db, cur.lastrowid)


SCORE_COLS = ("id", "recording_id", "form_id", "reviewer", "scored_at", "operator", "grp", "call_at", "total",
              "comment", "points")


def _score(db, row) -> dict:
    score = dict(zip(SCORE_COLS, row))
    score["total"] = round(score["total"], 1)
    given = json.loads(score.pop("points"))
    form = get_form(db, score["form_id"])
    score["form"] = f"{form['name']} (v{form['version']})" if form else "?"
    score["criteria"] = [{"id": c["id"], "name": c["name"], "description": c["description"],
                          "weight": c["weight"], "max_points": c["max_points"],
                          "points": given.get(str(c["id"]), {}).get("points"),
                          "comment": given.get(str(c["id"]), {}).get("comment", "")}
                         for c in (form["criteria"] if form else [])]
    return score


def get_score(db, score_id: int) -> dict | None:
    row = db.execute(f"SELECT {', '.join(SCORE_COLS)} FROM quality_scores WHERE id = ?", [score_id]).fetchone()
    return _score(db, row) if row else None


def scores_of_recording(db, recording_id: int) -> list[dict]:
    return [_score(db, r) for r in db.execute(
        f"SELECT {', '.join(SCORE_COLS)} FROM quality_scores WHERE recording_id = ? ORDER BY scored_at, id",
        [recording_id])]


def scores_of_operator(db, extension: str | None, limit: int = 200) -> list[dict]:
    """The scores of one operator's calls (everyone's with None), newest call first."""
    where, params = ("WHERE operator = ?", [extension]) if extension is not None else ("", [])
    return [_score(db, r) for r in db.execute(
        f"SELECT {', '.join(SCORE_COLS)} FROM quality_scores {where} ORDER BY call_at DESC, id DESC LIMIT ?",
        [*params, limit])]


def averages(db, start_iso: str, end_iso: str, by: str) -> list[dict]:
    """Average score per operator or per group (``by``: 'operator' | 'grp')
    of the calls that started in [start_iso, end_iso): [{key, count, score}]
    by key; score 0–100 rounded to 0.1. Times are compared as ISO text in UTC."""
    if by not in GROUP_BY:
        raise ValueError(f"by must be one of {GROUP_BY}")
    rows = db.execute(
        f"SELECT {by}, COUNT(*), AVG(total) FROM quality_scores WHERE call_at >= ? AND call_at < ? "
        f"GROUP BY {by} ORDER BY {by}", [utc_iso(start_iso), utc_iso(end_iso)])
    return [{"key": r[0], "count": r[1], "score": round(r[2], 1)} for r in rows]
