"""The outbound policy's settings (one row of ``outbound_policy``), the
counts of a caller's callback orders its caps need, and the audit entries
of refusals. What the settings mean: appliance.outbound.policy."""
from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

from appliance.base import audit
from appliance.base.errors import ConfigError

# Billed to the caller at premium rates (8-801, 8-802, 8-803 televoting,
# 8-809 paid information services), satellite networks (8-954), Abkhazia
# (8-840, 8-940, billed as international): see appliance.outbound.policy.
DEFAULT_DENIED = ("+7801", "+7802", "+7803", "+7809", "+7954", "+7840", "+7940")
DEFAULTS = {"scope": "national", "allowed": [], "denied": list(DEFAULT_DENIED), "max_open": 3, "max_day": 5,
            "own_number_only": False}
SCOPES = ("local", "national", "international")
MAX_PREFIXES = 200
CAPS = {"max_open": 100, "max_day": 1000}     # highest value of each cap; 0 = no cap
FIELDS = ("scope", "allowed", "denied", "max_open", "max_day", "own_number_only")

AUDIT_CHANGED = "outbound policy changed"
AUDIT_REFUSED = "outbound refused"


def load(db) -> dict:
    """The policy's settings (the defaults where the row is missing)."""
    row = db.execute("SELECT scope, allowed, denied, max_open, max_day, own_number_only, changed_at, changed_by "
                     "FROM outbound_policy WHERE id = 1").fetchone()
    if row is None:
        return {**DEFAULTS, "changed_at": None, "changed_by": None}
    return {"scope": row[0], "allowed": json.loads(row[1]), "denied": json.loads(row[2]), "max_open": row[3],
            "max_day": row[4], "own_number_only": bool(row[5]), "changed_at": row[6], "changed_by": row[7]}


PREFIX = re.compile(r"\+?[0-9]{1,15}")


def normalise_prefix(text) -> str:
    """A prefix as the policy keeps it: the international form for national
    and international ones (8809 -> +7809, 810375 and 00375 -> +375), other
    digits as dialled (112, a local exchange). ValueError if it is not
    digits with an optional leading +."""
    p = re.sub(r"[\s()-]", "", str(text or ""))
    if not PREFIX.fullmatch(p):
        raise ValueError(p)
    if p.startswith("+"):
        return p
    if p.startswith("810"):
        p = "+" + p[3:]
    elif p.startswith("00"):
        p = "+" + p[2:]
    elif p.startswith("8") and len(p) >= 2 and not p.startswith("81"):
        p = "+7" + p[1:]
    if p == "+":        # every number has a + form: that would be all of them (the scope says that)
        raise ValueError(p)
    return p


def _prefixes(value, field: str) -> list[str]:
    if isinstance(value, str):
        items = [p.strip() for p in re.split(r"[\n,;]+", value) if p.strip()]
    elif isinstance(value, (list, tuple)):
        items = [str(p).strip() for p in value if str(p).strip()]
    else:
        raise ConfigError(field, "a list of prefixes (digits, optionally a leading +)")
    out: list[str] = []
    for item in items:
        try:
            prefix = normalise_prefix(item)
        except ValueError:
            raise ConfigError(field, "'{value}' is not a prefix (digits, optionally a leading +)",
                              value=item[:40]) from None
        if prefix not in out:
            out.append(prefix)
    if len(out) > MAX_PREFIXES:
        raise ConfigError(field, "at most {count} prefixes", count=MAX_PREFIXES)
    return out


def _cap(value, field: str) -> int:
    raw = str(value if value is not None else "").strip()
    if not raw.isdigit() or int(raw) > CAPS[field]:
        raise ConfigError(field, "'{value}' must be a whole number from {low} to {high}",
                          value=raw[:20], low=0, high=CAPS[field])
    return int(raw)


def _flag(value) -> bool:
    return value in (True, 1) or str(value).strip().lower() in ("1", "on", "yes", "true")


def validate(values: dict, current: dict | None = None) -> dict:
    """The settings *values* change, checked whole (fields left out keep
    *current*'s); ConfigError names the first bad field."""
    out = {k: (current or DEFAULTS)[k] for k in FIELDS}
    if "scope" in values:
        if values["scope"] not in SCOPES:
            raise ConfigError("scope", "one of {choices}", choices=", ".join(SCOPES))
        out["scope"] = values["scope"]
    for name in ("allowed", "denied"):
        if name in values:
            out[name] = _prefixes(values[name], name)
    for name in CAPS:
        if name in values:
            out[name] = _cap(values[name], name)
    if "own_number_only" in values:
        out["own_number_only"] = _flag(values["own_number_only"])
    return out


def save(db, values: dict, by: str) -> dict:
    """Validate and store the policy, with its audit entry; the policy as now."""
    before = load(db)
    new = validate(values, before)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    with db.atomic():
        db.execute("INSERT INTO outbound_policy (id, scope, allowed, denied, max_open, max_day, own_number_only, "
                   "changed_at, changed_by) VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
                   "scope = excluded.scope, allowed = excluded.allowed, denied = excluded.denied, "
                   "max_open = excluded.max_open, max_day = excluded.max_day, "
                   "own_number_only = excluded.own_number_only, changed_at = excluded.changed_at, "
                   "changed_by = excluded.changed_by",
                   [new["scope"], json.dumps(new["allowed"]), json.dumps(new["denied"]), new["max_open"],
                    new["max_day"], 1 if new["own_number_only"] else 0, now, by])
        audit.record(db, by, AUDIT_CHANGED, "outbound policy",
                     {k: new[k] for k in FIELDS if new[k] != before.get(k)})
    return load(db)


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def count_orders(db, caller: str, number: str, now: datetime | None = None) -> tuple[int, int]:
    """(open orders of *caller* or to *number*, orders *caller* placed in the
    last 24 hours). An unknown caller ('') counts with every other unknown one."""
    now = now or datetime.now(UTC)
    caller = (caller or "")[:64]
    open_now = db.execute("SELECT COUNT(*) FROM callbacks WHERE status = 'new' AND (ani = ? OR number = ?)",
                          [caller, number]).fetchone()[0]
    day = db.execute("SELECT COUNT(*) FROM callbacks WHERE ani = ? AND created_at >= ?",
                     [caller, _utc(now - timedelta(hours=24))]).fetchone()[0]
    return open_now, day


def record_refusal(db, decision: dict, caller: str, by: str, what: str = "") -> None:
    """The audit entry of a refused number (*decision*: Decision.as_dict())."""
    audit.record(db, by or "system", AUDIT_REFUSED, decision["number"][:40],
                 {"purpose": decision["purpose"], "reason": decision["reason"], "message": decision["message"],
                  "template": decision.get("template", ""), "params": decision.get("params", {}),
                  "caller": (caller or "")[:40], **({"for": what[:80]} if what else {})})


def recent_refusals(db, limit: int = 20) -> list[dict]:
    """The latest refusals from the audit log, newest first."""
    out = []
    for at, username, target, details in db.execute(
            "SELECT at, username, target, details FROM audit WHERE action = ? ORDER BY id DESC LIMIT ?",
            [AUDIT_REFUSED, max(1, min(int(limit), 200))]):
        d = json.loads(details) if details else {}
        out.append({"at": at, "by": username, "number": target, "purpose": d.get("purpose", ""),
                    "reason": d.get("reason", ""), "message": d.get("message", ""),
                    "template": d.get("template", ""), "params": d.get("params", {}),
                    "caller": d.get("caller", ""), "for": d.get("for", "")})
    return out
