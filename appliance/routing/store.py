"""Where an inbound call goes (F7): the routing decision and its settings.

``decide(db, ani, dnis, request)`` turns what the IVR (or a direct group
binding) asked for -- a group, maybe a skill and a priority -- and the
caller's number into a ``Decision``; it only reads the store, so it is unit
tested without Asterisk, and the AGI hands its values to the dialplan.

In order:

1. The group: the one asked for if it exists, else the default group.
2. A known client (``clients.personal_operator``) whose personal operator is
   *free* rings that operator first ("personal"); else the operator who last
   answered this number within N days (the group's ``last_days``, else the
   setting ``routing.last_days``, default 30; 0 turns it off), if they are a
   member of the group and free ("last"). Free is ready in the store *and*
   no call on the phone (``busy``, asked of Asterisk by the caller of
   ``decide``): the store's state follows app_queue's events only, so a
   direct call (this very route, a callback leg, the operator's own call)
   leaves it "ready". That operator rings for the group's ring timeout;
   unanswered -- or found busy after all by korund-route's ``operator``
   extension, which checks the phone again right before it dials -- the
   call goes on into the group's queue with its skill and priority kept.
3. A skill (the route node's ``skill``, else the group's default skill) that
   a member of the group has sends the call to the queue
   ``<group>--<skill>`` (appliance.operators.render): every member of the group
   is in it, with penalty 10 - level (no skill: 10). The call starts with
   ``QUEUE_MAX_PENALTY`` = the penalty of the best-skilled member at work
   (ready, or busy and soon free; paused and logged-out ones are not waited
   for), and the group's rule set in queuerules.conf widens it: after
   ``skill_widen`` seconds three levels lower, after ``skill_all`` seconds
   everyone in the group. Stock app_queue does all of that, unpatched.
4. The priority: the route node's, raised to the VIP priority for a client
   marked VIP or a number in the VIP list (exact, or a prefix ending in *).
   app_queue answers callers with a higher ``QUEUE_PRIO`` first.

``source`` names the strongest reason (personal, last, skill, vip, else
what the caller came through); it is kept in the call history.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from appliance.base import dialplan_names as dn, store
from appliance.base.errors import ConfigError
from appliance.clients.store import normalise
from appliance.operators.states import AVAILABLE

SKILL_NAME = re.compile(r"^[a-z][a-z0-9_]{0,23}$")
MIN_LEVEL, MAX_LEVEL = 1, 10
MAX_SKILLS = 30
NO_SKILL_PENALTY = 10           # a group member without the skill
WIDEN_STEP = 3                  # levels added at skill_widen seconds
LAST_DAYS_SETTING = "routing.last_days"
DEFAULT_LAST_DAYS = 30
VIP_PRIORITY = 5                # a client marked VIP
VIP_PATTERN = re.compile(r"^\+?[0-9]{2,20}\*?$")
MAX_VIP = 10000
QUEUE_SEPARATOR = dn.QUEUE_SEPARATOR
group_of_queue = dn.group_of_queue


def skill_queue(group: str, skill: str) -> str:
    return f"{group}{QUEUE_SEPARATOR}{skill}"


def rule_name(group: str) -> str:
    return f"korund-widen-{group}"


# --- skills -------------------------------------------------------------------

def parse_skills(text) -> dict[str, int]:
    """'billing:8, en:5' (or a dict) -> {"billing": 8, "en": 5}, or
    ConfigError naming the bad part. A skill without a level gets 5."""
    if isinstance(text, dict):
        items = list(text.items())
    else:
        items = []
        for part in re.split(r"[,\n;]+", str(text or "")):
            part = part.strip()
            if not part:
                continue
            name, _, level = part.partition(":")
            items.append((name.strip(), level.strip() or "5"))
    out: dict[str, int] = {}
    for name, level in items:
        name = str(name).strip().lower()
        if not SKILL_NAME.fullmatch(name):
            raise ConfigError("skills", "'{value}' is not a valid skill name (a-z, 0-9 and _, "
                              "starting with a letter, at most 24)", value=str(name)[:40])
        try:
            n = int(str(level).strip())
        except (TypeError, ValueError):
            raise ConfigError("skills", "the level of '{skill}' must be a whole number from {low} to {high}",
                              skill=name, low=MIN_LEVEL, high=MAX_LEVEL) from None
        if not MIN_LEVEL <= n <= MAX_LEVEL:
            raise ConfigError("skills", "the level of '{skill}' must be a whole number from {low} to {high}",
                              skill=name, low=MIN_LEVEL, high=MAX_LEVEL)
        if name in out:
            raise ConfigError("skills", "the skill '{skill}' is given twice", skill=name)
        out[name] = n
    if len(out) > MAX_SKILLS:
        raise ConfigError("skills", "at most {max} skills", max=MAX_SKILLS)
    return out


def format_skills(skills: dict[str, int]) -> str:
    return ", ".join(f"{k}:{v}" for k, v in sorted(skills.items()))


def _operator_id(db, extension) -> int:
    row = db.execute("SELECT id FROM operators WHERE extension = ?", [str(extension or "")]).fetchone()
    if not row:
        raise ConfigError("extension", "no operator with extension {extension}", extension=extension)
    return row[0]


def skills(db, extension) -> dict[str, int]:
    op = _operator_id(db, extension)
    return {r[0]: r[1] for r in db.execute(
        "SELECT skill, level FROM operator_skills WHERE operator_id = ? ORDER BY skill", [op])}


def all_operator_skills(db) -> dict[str, dict[str, int]]:
    """{extension: {skill: level}} of every operator with skills."""
    out: dict[str, dict[str, int]] = {}
    for ext, skill, level in db.execute(
            "SELECT o.extension, s.skill, s.level FROM operator_skills s "
            "JOIN operators o ON o.id = s.operator_id ORDER BY o.extension, s.skill"):
        out.setdefault(ext, {})[skill] = level
    return out


def set_skills(db, extension, value) -> dict[str, int]:
    """Replace an operator's skills with *value* (text or dict); returns them."""
    new = parse_skills(value)
    op = _operator_id(db, extension)
    with db.atomic():
        db.execute("DELETE FROM operator_skills WHERE operator_id = ?", [op])
        for name, level in new.items():
            db.execute("INSERT INTO operator_skills (operator_id, skill, level) VALUES (?, ?, ?)",
                       [op, name, level])
    return new


def known_skills(db) -> list[str]:
    return [r[0] for r in db.execute("SELECT DISTINCT skill FROM operator_skills ORDER BY skill")]


# --- group routing settings ---------------------------------------------------

GROUP_KEYS = ("skill", "skill_widen", "skill_all", "last_days")


def group_settings(db, name: str) -> dict:
    row = db.execute("SELECT skill, skill_widen, skill_all, last_days FROM groups WHERE name = ?",
                     [name]).fetchone()
    if not row:
        raise ConfigError("name", "no group named '{name}'", name=name)
    return dict(zip(GROUP_KEYS, row))


def _whole(value, field_name: str, low: int, high: int) -> int:
    try:
        n = int(str(value).strip())
    except (TypeError, ValueError):
        raise ConfigError(field_name, "'{value}' is not a whole number", value=str(value)[:20]) from None
    if not low <= n <= high:
        raise ConfigError(field_name, "must be between {low} and {high}", low=low, high=high)
    return n


def set_group_settings(db, name: str, data: dict) -> dict:
    """Validate and store a group's routing settings (keys left out stay):
    skill ('' or a skill some operator has), skill_widen (s, 1-600: the
    next levels join), skill_all (s, skill_widen-3600: everyone in the group
    joins), last_days ('' = the global setting, 0-365, 0 = off)."""
    v = {**group_settings(db, name), **{k: data[k] for k in GROUP_KEYS if k in data}}
    skill = str(v["skill"] or "").strip().lower()
    if skill:
        if not SKILL_NAME.fullmatch(skill):
            raise ConfigError("skill", "'{value}' is not a valid skill name (a-z, 0-9 and _, "
                              "starting with a letter, at most 24)", value=skill[:40])
        if skill not in known_skills(db):
            raise ConfigError("skill", "no operator has the skill '{skill}'", skill=skill)
    v["skill"] = skill
    v["skill_widen"] = _whole(v["skill_widen"], "skill_widen", 1, 600)
    v["skill_all"] = _whole(v["skill_all"], "skill_all", 1, 3600)
    if v["skill_all"] < v["skill_widen"]:
        raise ConfigError("skill_all", "must not be shorter than the first widening ({low} s)",
                          low=v["skill_widen"])
    last = v["last_days"]
    v["last_days"] = None if last is None or str(last).strip() == "" else _whole(last, "last_days", 0, 365)
    db.execute("UPDATE groups SET skill = ?, skill_widen = ?, skill_all = ?, last_days = ? WHERE name = ?",
               [v["skill"], v["skill_widen"], v["skill_all"], v["last_days"], name])
    return v


def set_last_days(db, value) -> int:
    n = _whole(value, "last_days", 0, 365)
    store.set_setting(db, LAST_DAYS_SETTING, str(n))
    return n


def last_days_setting(db) -> int:
    row = db.execute("SELECT value FROM settings WHERE key = ?", [LAST_DAYS_SETTING]).fetchone()
    return int(row[0]) if row and str(row[0]).isdigit() else DEFAULT_LAST_DAYS


# --- VIP list -----------------------------------------------------------------

def vip_list(db) -> list[dict]:
    return [{"pattern": r[0], "priority": r[1], "note": r[2]} for r in db.execute(
        "SELECT pattern, priority, note FROM vip_numbers ORDER BY pattern")]


def add_vip(db, pattern: str, priority=VIP_PRIORITY, note: str = "") -> dict:
    """A number (exact) or a prefix ending in * whose callers get *priority*."""
    pattern = re.sub(r"[\s()-]", "", str(pattern or ""))
    if not VIP_PATTERN.fullmatch(pattern):
        raise ConfigError("pattern", "'{value}' is not a number or a prefix ending in *", value=pattern[:40])
    prio = _whole(priority, "priority", 1, 9)
    note = str(note or "").strip()[:200]
    if db.execute("SELECT COUNT(*) FROM vip_numbers").fetchone()[0] >= MAX_VIP:
        raise ConfigError("pattern", "at most {max} VIP numbers", max=MAX_VIP)
    db.execute("INSERT INTO vip_numbers (pattern, priority, note) VALUES (?, ?, ?) "
               "ON CONFLICT(pattern) DO UPDATE SET priority = excluded.priority, note = excluded.note",
               [pattern, prio, note])
    return {"pattern": pattern, "priority": prio, "note": note}


def remove_vip(db, pattern: str) -> None:
    if not db.execute("DELETE FROM vip_numbers WHERE pattern = ?", [str(pattern or "").strip()]).rowcount:
        raise ConfigError("pattern", "'{value}' is not in the VIP list", value=str(pattern)[:40])


def vip_priority(db, ani: str | None) -> int:
    """The priority the VIP list gives *ani* (0: not listed); the longest
    matching entry wins."""
    digits = re.sub(r"[^0-9+]", "", ani or "")
    if not digits:
        return 0
    bare = digits.lstrip("+")
    candidates = {digits, bare, "+" + bare}
    for n in range(2, len(bare) + 1):
        candidates.update({bare[:n] + "*", "+" + bare[:n] + "*"})
    marks = ",".join("?" * len(candidates))
    row = db.execute(f"SELECT priority FROM vip_numbers WHERE pattern IN ({marks}) "
                     "ORDER BY LENGTH(pattern) DESC LIMIT 1", sorted(candidates)).fetchone()
    return row[0] if row else 0


# --- the decision -------------------------------------------------------------

@dataclass
class Request:
    """What the IVR or a binding asked for."""
    group: str | None = None
    skill: str = ""
    priority: int = 0
    source: str = "agi"


@dataclass
class Decision:
    group: str | None
    source: str
    priority: int = 0
    operator: str = ""            # ring this operator first
    operator_ring: int = 0        # for this many seconds
    skill: str = ""               # queue <group>--<skill>
    max_penalty: int | None = None
    client_id: int | None = None
    reasons: list[str] = field(default_factory=list)

    @property
    def queue(self) -> str | None:
        if not self.group:
            return None
        return skill_queue(self.group, self.skill) if self.skill else self.group


def _ready(db, extension: str) -> bool:
    row = db.execute("SELECT o.enabled, COALESCE(s.state, 'ready') FROM operators o "
                     "LEFT JOIN operator_states s ON s.operator_id = o.id WHERE o.extension = ?",
                     [extension]).fetchone()
    return bool(row) and bool(row[0]) and row[1] == "ready"


def _not_free(db, extension: str, busy: Callable[[str], bool] | None) -> str:
    """'' when operator *extension* may be offered a call, else why not."""
    if not _ready(db, extension):
        return "is not ready"
    if busy is not None and busy(extension):
        return "is on a call"
    return ""


def _client(db, ani: str | None):
    n = normalise(ani)
    if not n:
        return None
    return db.execute("SELECT c.id, c.personal_operator, c.vip FROM client_phones p "
                      "JOIN clients c ON c.id = p.client_id WHERE p.number = ?", [n]).fetchone()


def _last_operator(db, ani: str, group_id: int, days: int, now: datetime) -> str | None:
    since = (now - timedelta(days=days)).isoformat(timespec="milliseconds")
    row = db.execute("SELECT operator FROM calls WHERE ani = ? AND started_at >= ? "
                     "AND operator IS NOT NULL AND operator != '' ORDER BY started_at DESC LIMIT 1",
                     [ani, since]).fetchone()
    if not row:
        return None
    member = db.execute("SELECT 1 FROM group_members m JOIN operators o ON o.id = m.operator_id "
                        "WHERE m.group_id = ? AND o.extension = ?", [group_id, row[0]]).fetchone()
    return row[0] if member else None


def _skill_penalty(db, group_id: int, skill: str) -> int | None:
    """The penalty of the best-skilled member at work (ready, ringing, on a
    call or in wrap-up: soon free), of any member if nobody is; None if no
    enabled member has the skill. Paused and logged-out operators are not
    waited for."""
    rows = db.execute(
        "SELECT s.level, COALESCE(st.state, 'ready') FROM group_members m "
        "JOIN operators o ON o.id = m.operator_id "
        "JOIN operator_skills s ON s.operator_id = o.id AND s.skill = ? "
        "LEFT JOIN operator_states st ON st.operator_id = o.id "
        "WHERE m.group_id = ? AND o.enabled", [skill, group_id]).fetchall()
    if not rows:
        return None
    at_work = [level for level, state in rows if state in AVAILABLE]
    return NO_SKILL_PENALTY - max(at_work or [level for level, _ in rows])


def decide(db, ani: str | None, dnis: str | None, request: Request | None = None,
           now: datetime | None = None, busy: Callable[[str], bool] | None = None) -> Decision:
    """The routing of one call (see the module docstring); reads only.
    *busy(extension)* says whether that operator's phone is on a call now
    (ringing or talking, a queue's or not); without it only the store's
    state counts."""
    request = request or Request()
    now = now or datetime.now(timezone.utc)
    ani = re.sub(r"[^0-9+]", "", ani or "")
    g = None
    if request.group:
        g = db.execute("SELECT id, name, ring_timeout, skill, last_days FROM groups WHERE name = ?",
                       [request.group]).fetchone()
    reasons = []
    if g is None:
        if request.group:
            reasons.append(f"no group {request.group}: the default group")
        g = db.execute("SELECT id, name, ring_timeout, skill, last_days FROM groups "
                       "WHERE is_default = 1").fetchone()
    if g is None:
        return Decision(None, request.source, reasons=reasons + ["no default group"])
    group_id, group, ring, group_skill, group_days = g
    d = Decision(group, request.source, priority=max(0, min(9, int(request.priority or 0))),
                 reasons=reasons)
    client = _client(db, ani)
    vip = vip_priority(db, ani)
    if client:
        d.client_id = client[0]
        if client[2]:
            vip = max(vip, VIP_PRIORITY)
    if vip > d.priority:
        d.priority = vip
        d.source = "vip"
        d.reasons.append(f"VIP priority {vip}")
    skill = (request.skill or group_skill or "").strip().lower()
    if skill:
        penalty = _skill_penalty(db, group_id, skill) if SKILL_NAME.fullmatch(skill) else None
        if penalty is None:
            d.reasons.append(f"nobody in {group} has the skill {skill}: the whole group")
        else:
            d.skill, d.max_penalty, d.source = skill, penalty, "skill"
            d.reasons.append(f"skill {skill}: first penalty {penalty} and below")
    personal = client[1] if client else None
    why_not = _not_free(db, personal, busy) if personal else ""
    if personal and not why_not:
        d.operator, d.source = personal, "personal"
        d.reasons.append(f"personal operator {personal}")
    else:
        if personal:
            d.reasons.append(f"personal operator {personal} {why_not}")
        days = last_days_setting(db) if group_days is None else group_days
        last = _last_operator(db, ani, group_id, days, now) if ani and days > 0 else None
        if last and last != personal:   # the personal operator was just found not free
            why_not = _not_free(db, last, busy)
            if not why_not:
                d.operator, d.source = last, "last"
                d.reasons.append(f"last operator {last} within {days} days")
            else:
                d.reasons.append(f"last operator {last} {why_not}")
    if d.operator:
        d.operator_ring = ring
    return d


def choose_group(db, ani: str | None, dnis: str | None) -> str | None:
    """The default group (where a call goes when nothing else decides)."""
    row = db.execute("SELECT name FROM groups WHERE is_default = 1").fetchone()
    return row[0] if row else None
