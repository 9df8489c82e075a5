"""Outbound routes, trunk groups and classes of service: how a number leaves
the appliance (H1, F3, F9).

- A **trunk group** is a set of lines of one kind: E1 spans (PRI or MFC/R2)
  and analog FXO lines (both DAHDI, by span), or SIP trunks. It has a hunting
  order (DAHDI's: ascending, descending, round-robin, reverse round-robin), a
  number of channels kept free for inbound calls (DAHDI), a cap on its calls
  out, how the number is rewritten for it (``+7`` <-> ``8``, strip, prepend,
  the PRI type of number and numbering plan), the caller ID it presents and
  the MFC/R2 caller category.
- An **outbound route** is a set of number patterns (appliance.outbound.patterns)
  with an ordered list of trunk groups: the next is tried when one is full,
  out of order or refuses (Dial's CONGESTION/CHANUNAVAIL), a caller ID and a
  cap. Routes never overlap, so a number has at most one route.
- A **class of service** says which routes an operator may use: a route's
  ``level`` (local, national, international) must be within the operator's
  class (internal, local, national, international); ``emergency`` routes are
  open to everyone.

``plan`` turns a number into the tries the dialplan makes (appliance.outbound.render),
after the outbound policy (appliance.outbound.policy) has allowed it.
"""
from __future__ import annotations

import itertools
import json
import re
from dataclasses import asdict, dataclass, field

from appliance.base import audit, store
from appliance.base.errors import GROUP_NAME, ConfigError, check_match
from appliance.lines import store as lines, trunks as sip_trunks
from appliance.outbound import patterns as pat, policy

KINDS = ("dahdi", "sip")
HUNTING = ("ascending", "descending", "round_robin", "reverse_round_robin")
HUNT_LETTER = {"ascending": "g", "descending": "G", "round_robin": "r", "reverse_round_robin": "R"}
# How a number is written for a trunk group before strip/prepend: as the
# operator or the order had it, or a national number as 8NSN, +7NSN or NSN.
NUMBER_FORMATS = ("as_dialled", "national_8", "e164", "nsn")
# chan_dahdi's prefix letters for the called number on PRI: type of number
# (upper case) and numbering plan (lower case), sig_pri's dial string.
PRI_TON = {"": "", "unknown": "U", "international": "I", "national": "N", "network": "L",
           "subscriber": "S", "abbreviated": "V"}
PRI_NPI = {"": "", "unknown": "u", "isdn": "e", "national": "n", "private": "p"}
LEVELS = ("emergency", "local", "national", "international")
CLASSES = ("internal", "local", "national", "international")
_RANK = {"internal": 0, "local": 1, "national": 2, "international": 3}
DEFAULT_CLASS = "national"
CALLER_ID = re.compile(r"^\+?[0-9]{0,20}$")
PREPEND = re.compile(r"^\+?[0-9]{0,15}$")
MAX_TRIES = 16
RESERVED_ROUTE_NAMES = ("plan",)   # /api/v1/outbound-routes/plan
DAHDI_SIGNALLINGS = ("pri_cpe", "pri_net", "mfcr2", "analog")

AUDIT_ROUTES = "outbound routes changed"

# Why no try is made: English templates, translated where shown.
REFUSALS = {
    "no-route": policy.MESSAGES["no-route"],
    "class": "{number}: the route '{route}' is outside operator {operator}'s class of service ({cls})",
    "no-operator": "{number}: only an operator's phone may dial out",
    "no-trunk": "{number}: no trunk group of the route '{route}' can take a call now",
}


@dataclass
class TrunkGroup:
    name: str
    kind: str = "sip"
    members: list = field(default_factory=list)   # span numbers (dahdi) or SIP trunk names
    hunting: str = "ascending"
    reserve: int = 0             # DAHDI channels kept free for inbound calls
    max_calls: int = 0           # calls out at once, 0 = no cap
    number_format: str = "as_dialled"
    strip: int = 0
    prepend: str = ""
    pri_ton: str = ""
    pri_npi: str = ""
    caller_id: str = ""
    r2_category: str = ""
    enabled: bool = True


@dataclass
class Route:
    name: str
    patterns: list = field(default_factory=list)
    trunk_groups: list = field(default_factory=list)
    level: str = "national"
    caller_id: str = ""
    max_calls: int = 0
    enabled: bool = True


@dataclass
class Try:
    trunk_group: str
    tech: str            # "sip" (PJSIP/<sent>@<where>) or "dahdi" (DAHDI/<where>/<prefix><sent>)
    where: str           # the SIP trunk, or the DAHDI hunting letter and span ("G1")
    sent: str            # the number as it goes to the line
    caller_id: str
    category: str = ""   # MFC/R2 caller category, '' = the span's
    cap: int = 0
    span: int | None = None
    prefix: str = ""     # PRI type of number / numbering plan letters

    @property
    def dial(self) -> str:
        """Dial()'s first argument, as the dialplan puts it together."""
        if self.tech == "sip":
            return f"PJSIP/{self.sent}@{self.where}"
        return f"DAHDI/{self.where}/{self.prefix}{self.sent}"


@dataclass
class Plan:
    number: str
    purpose: str
    route: str = ""
    route_cap: int = 0
    tries: list = field(default_factory=list)
    refused: str = ""                       # a key of policy.MESSAGES or REFUSALS
    message: str = ""
    skipped: list = field(default_factory=list)   # (trunk group, why) not tried

    def as_dict(self) -> dict:
        return asdict(self)


# --- checking ------------------------------------------------------------------

def _int(value, name: str, lo: int, hi: int) -> int:
    try:
        number = int(value if value not in (None, "") else 0)
    except (TypeError, ValueError):
        raise ConfigError(name, "'{value}' is not a whole number", value=value) from None
    if not lo <= number <= hi:
        raise ConfigError(name, "{value} is outside {lo}-{hi}", value=number, lo=lo, hi=hi)
    return number


def _choice(value, name: str, choices) -> str:
    value = str(value if value is not None else "").strip()
    if value not in choices:
        raise ConfigError(name, "one of {choices}", choices=", ".join(c or "''" for c in choices))
    return value


def _list(value) -> list:
    if isinstance(value, str):
        value = re.split(r"[\s,]+", value)
    return [v for v in (str(x).strip() for x in (value or [])) if v]


def _caller_id(value, name: str = "caller_id") -> str:
    value = str(value or "").strip()
    if not CALLER_ID.fullmatch(value):
        raise ConfigError(name, "'{value}' is not a phone number (digits, maybe a leading +)", value=value)
    return value


def spans_for_trunks(spans) -> dict[int, lines.Span]:
    """The spans that can carry calls out: enabled or not, in the trunk role."""
    return {s.span: s for s in spans if s.role == "trunk"}


def capacity(span) -> int:
    """A span's channels that can carry a call (FXO lines on an analog span)."""
    return len(lines.expand_channels(span.channels)) if span.channels else 0


def check_trunk_group(raw: dict, spans: dict, sip_names: set[str]) -> TrunkGroup:
    name = check_match(GROUP_NAME, raw.get("name"), "name", "trunk group name (a-z, 0-9, _ and -)")
    kind = _choice(raw.get("kind") or "sip", "kind", KINDS)
    members = _list(raw.get("members"))
    if not members:
        raise ConfigError("members", "a trunk group needs at least one line")
    if len(set(members)) != len(members):
        raise ConfigError("members", "a line is listed twice")
    if kind == "dahdi":
        numbers = []
        for m in members:
            if not m.isdigit() or int(m) not in spans:
                raise ConfigError("members", "'{member}' is not a span of the appliance's lines", member=m)
            span = spans[int(m)]
            if span.signalling not in DAHDI_SIGNALLINGS or not capacity(span):
                raise ConfigError("members", "span {member} has no lines that can call out", member=m)
            numbers.append(int(m))
        members = numbers
    else:
        for m in members:
            if m not in sip_names:
                raise ConfigError("members", "'{member}' is not a SIP trunk", member=m)
    reserve = _int(raw.get("reserve"), "reserve", 0, 240)
    if kind == "dahdi" and reserve >= sum(capacity(spans[m]) for m in members):
        raise ConfigError("reserve", "keeping {reserve} channels free leaves no channel of this group "
                          "for calls out", reserve=reserve)
    if kind == "sip" and reserve:
        raise ConfigError("reserve", "channels are kept free on E1 and analog lines only")
    ton = _choice(raw.get("pri_ton") or "", "pri_ton", tuple(PRI_TON))
    npi = _choice(raw.get("pri_npi") or "", "pri_npi", tuple(PRI_NPI))
    if (ton or npi) and not (kind == "dahdi" and all(spans[m].signalling.startswith("pri") for m in members)):
        raise ConfigError("pri_ton", "the type of number and numbering plan are for PRI spans only")
    category = _choice(raw.get("r2_category") or "", "r2_category", ("",) + lines.MFCR2_CATEGORIES)
    if category and not (kind == "dahdi" and any(spans[m].signalling == "mfcr2" for m in members)):
        raise ConfigError("r2_category", "the caller category is for MFC/R2 spans only")
    prepend = str(raw.get("prepend") or "").strip()
    if not PREPEND.fullmatch(prepend):
        raise ConfigError("prepend", "'{value}' is not digits (maybe a leading +)", value=prepend)
    enabled = raw.get("enabled", True)
    return TrunkGroup(
        name=name, kind=kind, members=members, hunting=_choice(raw.get("hunting") or "ascending", "hunting", HUNTING),
        reserve=reserve, max_calls=_int(raw.get("max_calls"), "max_calls", 0, 1000),
        number_format=_choice(raw.get("number_format") or "as_dialled", "number_format", NUMBER_FORMATS),
        strip=_int(raw.get("strip"), "strip", 0, 10), prepend=prepend, pri_ton=ton, pri_npi=npi,
        caller_id=_caller_id(raw.get("caller_id")), r2_category=category,
        enabled=enabled if isinstance(enabled, bool) else str(enabled).lower() in ("1", "true", "yes", "on"))


def rewrite(number: str, tg: TrunkGroup) -> str:
    """The number as a trunk group sends it."""
    kind, e164 = policy.classify(number)
    out = number
    if kind == "national" and e164 and tg.number_format != "as_dialled":
        nsn = e164[2:]
        out = {"national_8": "8" + nsn, "e164": e164, "nsn": nsn}[tg.number_format]
    elif kind == "international" and e164 and tg.number_format == "e164":
        out = e164
    out = out[tg.strip:]
    return tg.prepend + out if out else ""


def check_route(raw: dict, groups: dict[str, TrunkGroup]) -> Route:
    name = check_match(GROUP_NAME, raw.get("name"), "name", "route name (a-z, 0-9, _ and -)")
    if name in RESERVED_ROUTE_NAMES:
        raise ConfigError("name", "'{name}' is a word the API uses; choose another name", name=name)
    texts = _list(raw.get("patterns"))
    if not texts:
        raise ConfigError("patterns", "a route needs at least one number pattern")
    parsed = [pat.parse(t) for t in texts]
    for a, b in itertools.combinations(parsed, 2):
        if pat.overlap(a, b):
            raise ConfigError("patterns", "'{a}' and '{b}' both match {number}: one of them is enough",
                              a=a.text, b=b.text, number=pat.overlap(a, b))
    names = _list(raw.get("trunk_groups"))
    if not names:
        raise ConfigError("trunk_groups", "a route needs at least one trunk group")
    if len(set(names)) != len(names):
        raise ConfigError("trunk_groups", "a trunk group is listed twice")
    for n in names:
        if n not in groups:
            raise ConfigError("trunk_groups", "no trunk group named '{name}'", name=n)
        for p in parsed:
            example = p.example()
            if not rewrite(example, groups[n]):
                raise ConfigError("trunk_groups", "trunk group '{group}' rewrites {number} (pattern '{pattern}') "
                                  "to an empty number", group=n, number=example, pattern=p.text)
    enabled = raw.get("enabled", True)
    return Route(name=name, patterns=[p.text for p in parsed], trunk_groups=names,
                 level=_choice(raw.get("level") or "national", "level", LEVELS),
                 caller_id=_caller_id(raw.get("caller_id")), max_calls=_int(raw.get("max_calls"), "max_calls", 0, 1000),
                 enabled=enabled if isinstance(enabled, bool) else str(enabled).lower() in ("1", "true", "yes", "on"))


def check_overlaps(routes: list[Route]) -> None:
    """No number may match two routes."""
    parsed = [(r.name, pat.parse(t)) for r in routes for t in r.patterns]
    for (ra, a), (rb, b) in itertools.combinations(parsed, 2):
        if ra == rb:
            continue
        number = pat.overlap(a, b)
        if number:
            raise ConfigError("patterns", "routes '{a}' ('{pa}') and '{b}' ('{pb}') both match {number}: "
                              "a number must have one route", a=ra, pa=a.text, b=rb, pb=b.text, number=number)


# --- the store ---------------------------------------------------------------------

TG_COLUMNS = ("name", "kind", "members", "hunting", "reserve", "max_calls", "number_format", "strip", "prepend",
              "pri_ton", "pri_npi", "caller_id", "r2_category", "enabled")
ROUTE_COLUMNS = ("name", "patterns", "trunk_groups", "level", "caller_id", "max_calls", "enabled")


def trunk_groups(db) -> list[TrunkGroup]:
    out = []
    for row in db.execute(f"SELECT {', '.join(TG_COLUMNS)} FROM trunk_groups ORDER BY name"):
        values = dict(zip(TG_COLUMNS, row))
        values["members"] = json.loads(values["members"])
        values["enabled"] = bool(values["enabled"])
        out.append(TrunkGroup(**values))
    return out


def routes(db) -> list[Route]:
    out = []
    for row in db.execute(f"SELECT {', '.join(ROUTE_COLUMNS)} FROM outbound_routes ORDER BY position, name"):
        values = dict(zip(ROUTE_COLUMNS, row))
        values["patterns"] = json.loads(values["patterns"])
        values["trunk_groups"] = json.loads(values["trunk_groups"])
        values["enabled"] = bool(values["enabled"])
        out.append(Route(**values))
    return out


def _context(db):
    spans = spans_for_trunks(lines.load_all(db))
    sip = {t.name for t in sip_trunks.load_all(db) if t.kind == "sip"}
    return spans, sip


def save_trunk_group(db, raw: dict, by: str, original: str | None = None) -> TrunkGroup:
    """Add (original None) or change a trunk group; every route using it is
    checked again (a rewriting may now empty one of its numbers)."""
    groups = {g.name: g for g in trunk_groups(db)}
    if original is not None and original not in groups:
        raise ConfigError("name", "no trunk group named '{name}'", name=original)
    spans, sip = _context(db)
    tg = check_trunk_group(raw, spans, sip)
    if original is None and tg.name in groups:
        raise ConfigError("name", "a trunk group named '{name}' already exists", name=tg.name)
    if original is not None and tg.name != original and tg.name in groups:
        raise ConfigError("name", "a trunk group named '{name}' already exists", name=tg.name)
    groups.pop(original or "", None)
    groups[tg.name] = tg
    current = routes(db)
    if original and tg.name != original:
        for r in current:
            r.trunk_groups = [tg.name if n == original else n for n in r.trunk_groups]
    for r in current:
        check_route(asdict(r), groups)
    values = asdict(tg)
    values["members"] = json.dumps(tg.members)
    values["enabled"] = int(tg.enabled)
    with db.atomic():
        if original is None:
            db.execute(f"INSERT INTO trunk_groups ({', '.join(TG_COLUMNS)}) VALUES ({', '.join('?' * len(TG_COLUMNS))})",
                       [values[c] for c in TG_COLUMNS])
        else:
            db.execute(f"UPDATE trunk_groups SET {', '.join(c + ' = ?' for c in TG_COLUMNS)} WHERE name = ?",
                       [values[c] for c in TG_COLUMNS] + [original])
            for r in current:
                db.execute("UPDATE outbound_routes SET trunk_groups = ? WHERE name = ?",
                           [json.dumps(r.trunk_groups), r.name])
        audit.record(db, by, AUDIT_ROUTES, f"trunk group {tg.name}", asdict(tg))
    return tg


def delete_trunk_group(db, name: str, by: str) -> None:
    using = [r.name for r in routes(db) if name in r.trunk_groups]
    if using:
        raise ConfigError("name", "trunk group '{name}' is used by the routes {routes}", name=name,
                          routes=", ".join(using))
    with db.atomic():
        if not db.execute("DELETE FROM trunk_groups WHERE name = ?", [name]).rowcount:
            raise ConfigError("name", "no trunk group named '{name}'", name=name)
        audit.record(db, by, AUDIT_ROUTES, f"trunk group {name}", {"deleted": True})


def save_route(db, raw: dict, by: str, original: str | None = None) -> Route:
    current = {r.name: r for r in routes(db)}
    if original is not None and original not in current:
        raise ConfigError("name", "no route named '{name}'", name=original)
    route = check_route(raw, {g.name: g for g in trunk_groups(db)})
    if original is None and route.name in current:
        raise ConfigError("name", "a route named '{name}' already exists", name=route.name)
    if original is not None and route.name != original and route.name in current:
        raise ConfigError("name", "a route named '{name}' already exists", name=route.name)
    others = [r for n, r in current.items() if n != (original or route.name)]
    check_overlaps(others + [route])
    values = asdict(route)
    values["patterns"], values["trunk_groups"] = json.dumps(route.patterns), json.dumps(route.trunk_groups)
    values["enabled"] = int(route.enabled)
    with db.atomic():
        if original is None:
            position = db.execute("SELECT COALESCE(MAX(position), 0) + 1 FROM outbound_routes").fetchone()[0]
            db.execute(f"INSERT INTO outbound_routes ({', '.join(ROUTE_COLUMNS)}, position) "
                       f"VALUES ({', '.join('?' * len(ROUTE_COLUMNS))}, ?)",
                       [values[c] for c in ROUTE_COLUMNS] + [position])
        else:
            db.execute(f"UPDATE outbound_routes SET {', '.join(c + ' = ?' for c in ROUTE_COLUMNS)} WHERE name = ?",
                       [values[c] for c in ROUTE_COLUMNS] + [original])
        audit.record(db, by, AUDIT_ROUTES, f"route {route.name}", asdict(route))
    return route


def delete_route(db, name: str, by: str) -> None:
    with db.atomic():
        if not db.execute("DELETE FROM outbound_routes WHERE name = ?", [name]).rowcount:
            raise ConfigError("name", "no route named '{name}'", name=name)
        audit.record(db, by, AUDIT_ROUTES, f"route {name}", {"deleted": True})


def set_operator_class(db, extension: str, cls: str, by: str) -> None:
    cls = _choice(cls, "outbound_class", CLASSES)
    with db.atomic():
        if not db.execute("UPDATE operators SET outbound_class = ? WHERE extension = ?", [cls, extension]).rowcount:
            raise ConfigError("extension", "no operator with extension {extension}", extension=extension)
        audit.record(db, by, AUDIT_ROUTES, f"operator {extension}", {"outbound_class": cls})


def operator_class(db, extension: str) -> str | None:
    row = db.execute("SELECT outbound_class FROM operators WHERE extension = ? AND enabled = 1",
                     [extension or ""]).fetchone()
    return row[0] if row else None


# --- defaults -------------------------------------------------------------------------

# Routes for the Russian numbering plan (see appliance.outbound.policy): none
# overlaps another. National significant numbers begin with 3, 4, 8 or 9;
# 8-10 is the international exit, +7 6xx/7xx is Kazakhstan (abroad).
DEFAULT_ROUTES = (
    ("emergency", ["112", "10[1-4]", "0[1-4]"], "emergency"),
    ("local", ["[2-7]XXXX", "[2-7]XXXXX", "[2-7]XXXXXX"], "local"),
    ("national", ["8[3489]XXXXXXXXX", "+7[3489]XXXXXXXXX", "7[3489]XXXXXXXXX", "[349]XXXXXXXXX",
                  "8[02-9]XXXXXXXX"], "national"),
    ("international", ["810X.", "00X.", "+[1-689]X.", "+7[0-25-7]X."], "international"),
)


def add_defaults(db, trunk_group_names: list[str], by: str = "korund") -> None:
    """The four default routes over *trunk_group_names*, where no route exists yet."""
    if not trunk_group_names or db.execute("SELECT 1 FROM outbound_routes LIMIT 1").fetchone():
        return
    for name, patterns, level in DEFAULT_ROUTES:
        save_route(db, {"name": name, "patterns": patterns, "trunk_groups": trunk_group_names, "level": level}, by)


# --- planning a call out ---------------------------------------------------------------

_rotation: dict[str, itertools.count] = {}


def _hunt(members: list, hunting: str, key: str) -> list:
    ordered = list(members)
    if hunting in ("descending", "reverse_round_robin"):
        ordered.reverse()
    if hunting in ("round_robin", "reverse_round_robin") and ordered:
        turn = next(_rotation.setdefault(key, itertools.count())) % len(ordered)
        ordered = ordered[turn:] + ordered[:turn]
    return ordered


def _tries(tg: TrunkGroup, number: str, caller_id: str, spans: dict, sip: set[str],
           busy, only_span: int | None) -> tuple[list[Try], str]:
    """The tries of one trunk group, or ([], why not)."""
    sent = rewrite(number, tg)
    if not sent:
        return [], "empty number"
    cid = tg.caller_id or caller_id
    if tg.kind == "sip":
        members = [m for m in tg.members if m in sip]
        return [Try(tg.name, "sip", m, sent, cid, cap=tg.max_calls)
                for m in _hunt(members, tg.hunting, tg.name)], "" if members else "no SIP trunk"
    members = [m for m in tg.members if m in spans and spans[m].enabled and (only_span in (None, m))]
    if not members:
        return [], "no span in service"
    if tg.reserve:
        free = sum(capacity(spans[m]) - busy(m) for m in members)
        if free <= tg.reserve:
            return [], "channels kept for inbound calls"
    out = []
    # a line carries digits only: '+' becomes PRI's type of number "international"
    plus, sent = sent.startswith("+"), sent.lstrip("+")
    for m in _hunt(members, tg.hunting, tg.name):
        prefix = ""
        if spans[m].signalling.startswith("pri"):
            prefix = (PRI_TON[tg.pri_ton] or ("I" if plus else "")) + PRI_NPI[tg.pri_npi]
        category = tg.r2_category if spans[m].signalling == "mfcr2" else ""
        out.append(Try(tg.name, "dahdi", f"{HUNT_LETTER[tg.hunting]}{m}", sent, cid, category, tg.max_calls, m,
                       prefix))
    return out, ""


def plan(db, number, purpose: str, operator: str = "", only_route: str = "", only_span: int | None = None,
         busy=lambda span: 0, caller: str = "") -> Plan:
    """The tries for *number* dialled for *purpose*. *busy(span)* counts the
    span's channels in use now (for the channels kept free for inbound);
    *operator* is the extension whose class of service applies (purpose
    'operator'); *only_route* / *only_span* narrow a technician's test dial."""
    decision = policy.check(db, number, purpose, caller or operator)
    n = decision.number
    out = Plan(number=n, purpose=purpose)
    if not decision.allowed:
        out.refused, out.message = decision.reason, decision.text
        return out
    spans, sip = _context(db)
    settings = store.settings(db)
    default_cid = "".join(ch for ch in settings.get("dialer.caller_id", "") if ch.isdigit())[:20]
    groups = {g.name: g for g in trunk_groups(db) if g.enabled}
    if only_span is not None and not only_route:
        span = spans.get(only_span)
        if span is None or not span.enabled or span.signalling not in DAHDI_SIGNALLINGS:
            out.refused, out.message = "no-route", f"span {only_span} cannot call out"
            return out
        tg = TrunkGroup(name=f"span{only_span}", kind="dahdi", members=[only_span])
        out.route = ""
        out.tries, why = _tries(tg, n, default_cid, spans, sip, busy, only_span)
        if why:
            out.skipped.append((tg.name, why))
        return out
    route = next((r for r in routes(db) if r.enabled and (not only_route or r.name == only_route)
                  and any(pat.parse(p).matches(n) for p in r.patterns)), None)
    if route is None:
        out.refused = "no-route"
        out.message = REFUSALS["no-route"].format(number=n)
        return out
    out.route, out.route_cap = route.name, route.max_calls
    if purpose == "operator":
        cls = operator_class(db, operator)
        if cls is None:
            out.refused, out.message = "no-operator", REFUSALS["no-operator"].format(number=n)
            return out
        if route.level != "emergency" and _RANK[cls] < _RANK[route.level]:
            out.refused = "class"
            out.message = REFUSALS["class"].format(number=n, route=route.name, operator=operator, cls=cls)
            return out
    for name in route.trunk_groups:
        tg = groups.get(name)
        if tg is None:
            out.skipped.append((name, "disabled"))
            continue
        tries, why = _tries(tg, n, route.caller_id or default_cid, spans, sip, busy, only_span)
        if why:
            out.skipped.append((name, why))
        out.tries.extend(tries)
    out.tries = out.tries[:MAX_TRIES]
    if not out.tries:
        out.refused = "no-trunk"
        out.message = REFUSALS["no-trunk"].format(number=n, route=route.name)
    return out
