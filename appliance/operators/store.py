"""Reading and changing the configuration held in the store, with validation.

Every change goes through these functions so that bad input is refused with
a clear message before anything is written, and nothing is half-saved.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from appliance.base import instance
from appliance.base.errors import DISPLAY_NAME, EXTENSION, GROUP_NAME, ConfigError, check_match
from appliance.operators import devices

STRATEGIES = ("ringall", "leastrecent", "fewestcalls", "random", "rrmemory", "linear")


@dataclass
class Operator:
    id: int
    extension: str
    name: str
    sip_secret: str
    contact: str | None
    enabled: bool
    # '' = the IP phone PJSIP/<extension>; 'DAHDI/<n>' = an
    # analog phone on an FXS port (appliance.operators.devices)
    device: str = ""


@dataclass
class Group:
    id: int
    name: str
    title: str
    strategy: str
    ring_timeout: int
    is_default: bool
    members: list[tuple[Operator, int]] = field(default_factory=list)
    # ACD settings; see set_group_acd for their meaning.
    wrapup: int = 0
    max_wait: int = 600
    overflow_kind: str = ""
    overflow_target: str = ""
    announce_position: bool = False
    announce_holdtime: bool = False
    noanswer_pause: bool = False
    noanswer_after: int = 1
    # "default" (Korund's music on hold, appliance/prompts/moh.py) or "ringing"
    moh: str = "default"
    # Routing settings; see appliance.routing.store.set_group_settings.
    skill: str = ""
    skill_widen: int = 20
    skill_all: int = 60



def load_all(db) -> tuple[list[Operator], list[Group], dict[str, dict[str, int]]]:
    """Every operator, every group with its members, and the operators'
    skills as {extension: {skill: level}}."""
    operators = [Operator(r[0], r[1], r[2], r[3], r[4], bool(r[5]), r[6] or "") for r in db.execute(
        "SELECT id, extension, name, sip_secret, contact, enabled, device FROM operators ORDER BY extension")]
    by_id = {o.id: o for o in operators}
    groups = [Group(r[0], r[1], r[2], r[3], r[4], bool(r[5]), [], r[6], r[7], r[8], r[9], bool(r[10]),
                    bool(r[11]), bool(r[12]), r[13]) for r in db.execute(
        "SELECT id, name, title, strategy, ring_timeout, is_default, wrapup, max_wait, overflow_kind, "
        "overflow_target, announce_position, announce_holdtime, noanswer_pause, noanswer_after "
        "FROM groups ORDER BY name")]
    for g in groups:
        g.moh = db.execute("SELECT moh FROM groups WHERE id = ?", [g.id]).fetchone()[0]
        g.members = [(by_id[op_id], penalty) for op_id, penalty in db.execute(
            "SELECT operator_id, penalty FROM group_members WHERE group_id = ? ORDER BY operator_id",
            [g.id])]
    for g in groups:
        g.skill, g.skill_widen, g.skill_all = db.execute(
            "SELECT skill, skill_widen, skill_all FROM groups WHERE id = ?", [g.id]).fetchone()
    skills: dict[str, dict[str, int]] = {}
    for ext, skill, level in db.execute(
            "SELECT o.extension, s.skill, s.level FROM operator_skills s "
            "JOIN operators o ON o.id = s.operator_id ORDER BY o.extension, s.skill"):
        skills.setdefault(ext, {})[skill] = level
    return operators, groups, skills


def add_operator(db, extension: str, name: str, contact: str | None = None, device: str | None = None) -> int:
    extension = check_match(EXTENSION, extension, "extension", "extension (2-8 digits)")
    name = check_match(DISPLAY_NAME, name, "name", "name (no quotes, commas, semicolons or brackets)")
    contact = _contact(contact)
    if db.execute("SELECT 1 FROM operators WHERE extension = ?", [extension]).fetchone():
        raise ConfigError("extension", "extension {extension} is already taken", extension=extension)
    device = devices.check(db, device, extension)
    return db.execute(
        "INSERT INTO operators (extension, name, sip_secret, contact, device) VALUES (?, ?, ?, ?, ?)",
        [extension, name, instance.generate_sip_secret(), contact, device]).lastrowid


def _group_fields(title, strategy, ring_timeout) -> tuple[str, int]:
    title = check_match(DISPLAY_NAME, title, "title", "title")
    if strategy not in STRATEGIES:
        raise ConfigError("strategy", "'{strategy}' is not one of {choices}", strategy=strategy, choices=', '.join(STRATEGIES))
    try:
        ring_timeout = int(ring_timeout)
    except (TypeError, ValueError):
        raise ConfigError("ring_timeout", "'{ring_timeout}' is not a number of seconds", ring_timeout=ring_timeout) from None
    if not 5 <= ring_timeout <= 120:
        raise ConfigError("ring_timeout", "must be between 5 and 120 seconds")
    return title, ring_timeout


def add_group(db, name: str, title: str, strategy: str = "rrmemory", ring_timeout=15,
              is_default: bool = False) -> int:
    name = check_match(GROUP_NAME, name, "name", "group name (a-z, 0-9, _ and -)")
    title, ring_timeout = _group_fields(title, strategy, ring_timeout)
    if db.execute("SELECT 1 FROM groups WHERE name = ?", [name]).fetchone():
        raise ConfigError("name", "a group named '{name}' already exists", name=name)
    with db.atomic():
        if is_default:
            db.execute("UPDATE groups SET is_default = 0")
        return db.execute(
            "INSERT INTO groups (name, title, strategy, ring_timeout, is_default) VALUES (?, ?, ?, ?, ?)",
            [name, title, strategy, ring_timeout, int(is_default)]).lastrowid


def add_member(db, group: str, extension: str, penalty: int = 0) -> None:
    g = db.execute("SELECT id FROM groups WHERE name = ?", [group]).fetchone()
    o = db.execute("SELECT id FROM operators WHERE extension = ?", [extension]).fetchone()
    if not g:
        raise ConfigError("group", "no group named '{group}'", group=group)
    if not o:
        raise ConfigError("extension", "no operator with extension {extension}", extension=extension)
    db.execute("INSERT OR REPLACE INTO group_members (group_id, operator_id, penalty) VALUES (?, ?, ?)",
               [g[0], o[0], int(penalty)])


def _contact(contact: str | None) -> str | None:
    if contact is None or not contact.strip():
        return None
    contact = contact.strip()
    if not re.fullmatch(r"^sip:[A-Za-z0-9_.+-]+@[A-Za-z0-9.-]+(:[0-9]{1,5})?$", contact):
        raise ConfigError("contact", "'{contact}' is not a sip:user@host[:port] URI", contact=contact)
    return contact


def update_operator(db, extension: str, name: str, contact: str | None, enabled: bool = True,
                    device: str | None = None) -> None:
    """*device* None keeps the operator's phone device as it is."""
    name = check_match(DISPLAY_NAME, name, "name", "name (no quotes, commas, semicolons or brackets)")
    contact = _contact(contact)
    if device is not None:
        device = devices.check(db, device, extension)
        db.execute("UPDATE operators SET device = ? WHERE extension = ?", [device, extension])
    if not db.execute("UPDATE operators SET name = ?, contact = ?, enabled = ? WHERE extension = ?",
                      [name, contact, int(enabled), extension]).rowcount:
        raise ConfigError("extension", "no operator with extension {extension}", extension=extension)


def delete_operator(db, extension: str) -> None:
    if not db.execute("DELETE FROM operators WHERE extension = ?", [extension]).rowcount:
        raise ConfigError("extension", "no operator with extension {extension}", extension=extension)


def update_group(db, name: str, title: str, strategy: str, ring_timeout, is_default: bool) -> None:
    title, ring_timeout = _group_fields(title, strategy, ring_timeout)
    row = db.execute("SELECT is_default FROM groups WHERE name = ?", [name]).fetchone()
    if not row:
        raise ConfigError("name", "no group named '{name}'", name=name)
    if row[0] and not is_default:
        raise ConfigError("is_default", "make another group the default instead")
    with db.atomic():
        if is_default:
            db.execute("UPDATE groups SET is_default = 0")
        db.execute("UPDATE groups SET title = ?, strategy = ?, ring_timeout = ?, is_default = ? "
                   "WHERE name = ?", [title, strategy, ring_timeout, int(is_default), name])


def delete_group(db, name: str) -> None:
    row = db.execute("SELECT is_default FROM groups WHERE name = ?", [name]).fetchone()
    if not row:
        raise ConfigError("name", "no group named '{name}'", name=name)
    if row[0]:
        raise ConfigError("name", "the default group cannot be deleted; make another group the default first")
    with db.atomic():
        # Groups that overflowed into it end their calls after max wait instead.
        db.execute("UPDATE groups SET overflow_kind = '', overflow_target = '' "
                   "WHERE overflow_kind = 'group' AND overflow_target = ?", [name])
        db.execute("DELETE FROM groups WHERE name = ?", [name])


def set_members(db, group: str, extensions: list[str]) -> None:
    g = db.execute("SELECT id FROM groups WHERE name = ?", [group]).fetchone()
    if not g:
        raise ConfigError("group", "no group named '{group}'", group=group)
    ids = []
    for ext in extensions:
        o = db.execute("SELECT id FROM operators WHERE extension = ?", [ext]).fetchone()
        if not o:
            raise ConfigError("members", "no operator with extension {ext}", ext=ext)
        ids.append(o[0])
    with db.atomic():
        db.execute("DELETE FROM group_members WHERE group_id = ?", [g[0]])
        for op_id in ids:
            db.execute("INSERT INTO group_members (group_id, operator_id) VALUES (?, ?)", [g[0], op_id])


OVERFLOW_KINDS = ("", "group", "scenario")
MOH_CHOICES = ("default", "ringing")


def _seconds(value, field: str, low: int, high: int) -> int:
    try:
        n = int(str(value).strip())
    except (TypeError, ValueError):
        raise ConfigError(field, "'{value}' is not a whole number", value=value) from None
    if not low <= n <= high:
        raise ConfigError(field, "must be between {low} and {high}", low=low, high=high)
    return n


def set_group_acd(db, name: str, data: dict) -> None:
    """Validate and store a group's ACD settings (keys left out stay):

    wrapup (s, 0-600: after a call the operator gets no call for this long),
    max_wait (s, 10-3600: then the caller overflows), overflow_kind
    ('' = hang up after max_wait, 'group', 'scenario') with overflow_target
    (a group name other than this one, or a scenario name), announce_position
    and announce_holdtime (the caller hears their place and estimated wait in
    the call's language), noanswer_pause (F10: pause an operator with reason
    "no answer" after noanswer_after missed offers in a row, 1-10)."""
    row = db.execute("SELECT wrapup, max_wait, overflow_kind, overflow_target, announce_position, "
                     "announce_holdtime, noanswer_pause, noanswer_after, moh FROM groups WHERE name = ?",
                     [name]).fetchone()
    if not row:
        raise ConfigError("name", "no group named '{name}'", name=name)
    keys = ("wrapup", "max_wait", "overflow_kind", "overflow_target", "announce_position",
            "announce_holdtime", "noanswer_pause", "noanswer_after", "moh")
    v = {**dict(zip(keys, row)), **{k: data[k] for k in keys if k in data}}
    v["wrapup"] = _seconds(v["wrapup"], "wrapup", 0, 600)
    v["max_wait"] = _seconds(v["max_wait"], "max_wait", 10, 3600)
    v["noanswer_after"] = _seconds(v["noanswer_after"], "noanswer_after", 1, 10)
    for k in ("announce_position", "announce_holdtime", "noanswer_pause"):
        v[k] = int(v[k] not in (False, 0, "", "0", "false", "off", None))
    if v["moh"] not in MOH_CHOICES:
        raise ConfigError("moh", "'{value}' is not one of: {choices}", value=v["moh"], choices=", ".join(MOH_CHOICES))
    kind = (v["overflow_kind"] or "").strip()
    target = (v["overflow_target"] or "").strip()
    if kind not in OVERFLOW_KINDS:
        raise ConfigError("overflow_kind", "'{kind}' is not one of: group, scenario", kind=kind)
    if kind == "group":
        if target == name:
            raise ConfigError("overflow_target", "a group cannot overflow to itself")
        if not db.execute("SELECT 1 FROM groups WHERE name = ?", [target]).fetchone():
            raise ConfigError("overflow_target", "no group named '{group}'", group=target)
    elif kind == "scenario":
        if not db.execute("SELECT 1 FROM scenarios WHERE name = ?", [target]).fetchone():
            raise ConfigError("overflow_target", "no scenario named '{scenario}'", scenario=target)
    else:
        target = ""
    v["overflow_kind"], v["overflow_target"] = kind, target
    db.execute(f"UPDATE groups SET {', '.join(k + ' = ?' for k in keys)} WHERE name = ?",
               [v[k] for k in keys] + [name])
