"""The outbound policy's decision: may Korund dial this number, for this purpose?

Every number Korund dials out passes :func:`check` first -- a callback order
(taken by the IVR's callback node, the overflow offer or an operator's
desktop) when it is taken and again before each attempt, a scenario that
sends the call to an outside number, an operator dialling out from the phone.
``check`` decides and has no side effects; ``appliance.outbound.store`` keeps
the settings and writes the audit entry of a refusal.

A number is first told apart by its form, after the Russian numbering plan
(Ministry of Information Technologies and Communications, order no. 142 of
17 November 2006): the national significant number (NSN) has ten digits,
dialled as 8 NSN, +7 NSN or 7 NSN, or given bare (as most carriers deliver a
caller's number); geographic codes begin with 3, 4 or 8, mobile ones with 9.
Kazakhstan shares country code 7 with NSNs beginning with 6 or 7: those are
foreign. International calls go out with 8~10 (810) or 00, or +country.
Local numbers have five to seven digits; numbers beginning with 0 or 1
(01..04, 112, 100, ...) are emergency and service numbers.

Then the prefixes: a number matching both the allowed and the denied list
follows the longer (more specific) prefix, a denied one on a tie; a number
matching neither is allowed when its kind is within the scope (local;
national, which includes local; international, which includes both). The
default denies the non-geographic codes whose calls the caller pays for at
premium rates -- 8-801, 8-802, 8-803 (televoting) and 8-809 (paid
information and entertainment services), unlike 8-800 and 8-804 which are
free to call -- satellite networks (8-954) and Abkhazia (8-840, 8-940),
which carriers bill as international.

For callbacks, two more rules: at most so many orders open for one caller
number (or to one number) and so many from one caller in 24 hours, and,
optionally, only to the caller's own number. An operator may always call the
emergency numbers.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from appliance.base.errors import ConfigError
from appliance.outbound import store

# What a number is dialled for: taking a callback order, each attempt the
# dialer makes on it, a scenario's route to an outside number, an operator's call.
PURPOSES = ("callback", "callback-attempt", "route", "operator", "test")
SCOPES = store.SCOPES
SCOPE_KINDS = {"local": {"local"}, "national": {"local", "national"},
               "international": {"local", "national", "international"}}
# Operators may always call these from their phones (112; fire, police,
# ambulance, gas: 101-104 and the old 01-04); nothing else dials them.
EMERGENCY = ("112", "101", "102", "103", "104", "01", "02", "03", "04")

NUMBER = re.compile(r"\+?[0-9]{1,20}")

# Why a number is refused: English templates, translated where shown
# (web/outbound.py marks each for the catalogs).
MESSAGES = {
    "invalid": "'{number}' is not a phone number",
    "international": "{number}: international numbers are not allowed by the outbound policy",
    "national": "{number}: only local numbers are allowed by the outbound policy",
    "service": "{number}: short, service and emergency numbers are not dialled out",
    "unknown": "{number} is not a Russian national number (8XXXXXXXXXX, +7XXXXXXXXXX, 7XXXXXXXXXX "
               "or 10 digits) or a local one (5 to 7 digits)",
    "denied": "{number}: numbers beginning with {prefix} are refused by the outbound policy",
    "own-number": "{number} is not the caller's own number: callbacks go only to the number the caller calls from",
    "open-orders": "{count} callback orders are already open for this caller or this number (at most {limit})",
    "day-orders": "this caller ordered {count} callbacks in the last 24 hours (at most {limit})",
    "no-route": "{number}: no outbound route matches this number",
}


@dataclass(frozen=True)
class Policy:
    scope: str = "national"
    allowed: tuple[str, ...] = ()
    denied: tuple[str, ...] = store.DEFAULT_DENIED
    max_open: int = 3            # open callback orders per caller number (or to one number); 0 = no cap
    max_day: int = 5             # callback orders per caller number in 24 hours; 0 = no cap
    own_number_only: bool = False

    @classmethod
    def from_settings(cls, s: dict) -> Policy:
        return cls(scope=s["scope"], allowed=tuple(s["allowed"]), denied=tuple(s["denied"]),
                   max_open=int(s["max_open"]), max_day=int(s["max_day"]),
                   own_number_only=bool(s["own_number_only"]))


@dataclass(frozen=True)
class Decision:
    allowed: bool
    number: str            # the number as it is dialled (digits, maybe a leading +)
    purpose: str
    kind: str              # national, local, international, service, unknown, invalid
    reason: str            # allowed: "scope", "prefix" or "emergency"; refused: a key of MESSAGES
    params: dict = field(default_factory=dict)

    @property
    def message(self) -> str:
        return MESSAGES.get(self.reason, "")

    @property
    def text(self) -> str:
        return self.message.format(**self.params) if self.message else ""

    def as_dict(self) -> dict:
        return {"allowed": self.allowed, "number": self.number, "purpose": self.purpose, "kind": self.kind,
                "reason": self.reason, "message": self.text, "template": self.message, "params": self.params}


class Refused(ConfigError):
    """The outbound policy refused a number: a ConfigError on the field
    ``number`` whose message the panel translates, with the decision."""

    def __init__(self, decision: Decision, field_name: str = "number"):
        self.decision = decision
        super().__init__(field_name, decision.message, **decision.params)


def clean(number) -> str:
    return str(number or "").strip()


def classify(number: str) -> tuple[str, str | None]:
    """(kind, E.164 form or None) of a number as dialled."""
    n = clean(number)
    if not NUMBER.fullmatch(n):
        return "invalid", None
    if n.startswith("+"):
        digits = n[1:]
        if digits.startswith("7") and len(digits) == 11:
            return _national(digits[1:])
        return "international", n
    if n.startswith("810"):
        return "international", "+" + n[3:]
    if n.startswith("00"):
        return "international", "+" + n[2:]
    if len(n) == 11 and n[0] in "78":
        return _national(n[1:])
    if len(n) == 10:
        return _national(n)
    if n[0] in "01" or len(n) < 5:
        return "service", None
    if len(n) <= 7 and n[0] != "8":
        return "local", None
    return "unknown", None


def _national(nsn: str) -> tuple[str, str | None]:
    if nsn[0] in "3489":
        return "national", "+7" + nsn
    if nsn[0] in "67":          # Kazakhstan, in zone 7 but abroad
        return "international", "+7" + nsn
    return "unknown", None


def canonical(number: str) -> str:
    """One spelling per number (+7NSN for a national one), to compare a
    callback's number with the caller's."""
    _kind, e164 = classify(number)
    return e164 or clean(number).lstrip("+")


def _longest(prefixes, forms) -> str:
    return max((p for p in prefixes if any(f.startswith(p) for f in forms)), key=len, default="")


def decide(policy: Policy, number, purpose: str, caller: str = "", orders: tuple[int, int] = (0, 0)) -> Decision:
    """The decision itself, from a policy and, for a callback order, the
    caller's (open, last 24 hours) order counts."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown purpose {purpose!r}")
    n = clean(number)
    kind, e164 = classify(n)

    def refuse(reason: str, **params) -> Decision:
        return Decision(False, n, purpose, kind, reason, {"number": n, **params})

    if kind == "invalid":
        return refuse("invalid")
    if purpose == "operator" and n in EMERGENCY:
        return Decision(True, n, purpose, kind, "emergency", {"number": n})
    forms = [n] + ([e164] if e164 else [])
    denied, allowed = _longest(policy.denied, forms), _longest(policy.allowed, forms)
    if denied and len(denied) >= len(allowed):
        return refuse("denied", prefix=denied)
    if not allowed and kind not in SCOPE_KINDS.get(policy.scope, set()):
        return refuse(kind if kind in ("international", "service", "unknown") else "national")
    if purpose in ("callback", "callback-attempt") and policy.own_number_only \
            and canonical(n) != canonical(caller or ""):
        return refuse("own-number")
    if purpose == "callback":
        open_now, today = orders
        if policy.max_open and open_now >= policy.max_open:
            return refuse("open-orders", count=open_now, limit=policy.max_open)
        if policy.max_day and today >= policy.max_day:
            return refuse("day-orders", count=today, limit=policy.max_day)
    return Decision(True, n, purpose, kind, "prefix" if allowed else "scope", {"number": n})


def check(source, number, purpose: str, caller: str = "", orders: tuple[int, int] | None = None,
          now: datetime | None = None) -> Decision:
    """Decide for *number*: *source* is a :class:`Policy` (the counts of the
    caller's orders then come in *orders*, none by default) or the store,
    whose policy and order counts are read. Nothing is written."""
    if isinstance(source, Policy):
        return decide(source, number, purpose, caller, orders or (0, 0))
    policy = Policy.from_settings(store.load(source))
    if orders is None and purpose == "callback" and (policy.max_open or policy.max_day):
        orders = store.count_orders(source, caller or "", clean(number), now)
    return decide(policy, number, purpose, caller, orders or (0, 0))


def record_refusal(db, decision: Decision, caller: str = "", by: str = "", what: str = "") -> None:
    """The audit entry of a refusal: by *by* (the IVR, the dialer, a user, a
    phone), about *what* (an order, a scenario)."""
    store.record_refusal(db, decision.as_dict(), caller, by, what)


def enforce(db, number, purpose: str, caller: str = "", by: str = "", what: str = "") -> Decision:
    """Check *number*; a refusal is written to the audit log and raised as
    :class:`Refused`."""
    decision = check(db, number, purpose, caller)
    if not decision.allowed:
        with db.atomic():
            record_refusal(db, decision, caller, by, what)
        raise Refused(decision)
    return decision
