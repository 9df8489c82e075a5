"""The SIP guard: an address that keeps failing SIP authentication is banned
for a while.

Asterisk reports every refused SIP request as an AMI security event
(InvalidAccountID for an unknown user, ChallengeResponseFailed for a wrong
password, FailedACL, ...; the ``security`` read class). The ``events``
service hands each event to :class:`Guard`, which counts failures per
remote address (:class:`Counter`, pure). An address over
``sip_guard.failures`` failures within ``sip_guard.window`` seconds is
banned for ``sip_guard.ban_minutes`` minutes: a row in ``sip_bans`` (so a
restart keeps it), an audit entry, and a ``deny`` line in the named ACL
``korund-sip-bans`` that res_pjsip_acl applies to every SIP request before
anything else looks at it -- the banned address gets 403 Forbidden to
anything it sends, with no authentication challenge.

Only the named ACL is reloaded (``module reload acl``), never pjsip: a
named ACL change makes res_pjsip_acl re-read its own ``type = acl``
objects, and endpoints, registrations and calls in progress are not
touched. The rules live in their own file (``BANS_FILE``, included by the
rendered ``acl.conf``), which ``korund apply`` never rewrites, so an apply
and a ban never overwrite each other.

Never banned: the appliance's own addresses, loopback (127.0.0.1, ::1),
the SIP trunks' carriers and the administrator's allow list
(``sip_guard.allow``).
"""
from __future__ import annotations

import ipaddress
import logging
import os
import re
import socket
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from appliance.base import ami, audit, clock, store
from appliance.base.errors import ConfigError
from appliance.base.instance import write_atomically
from appliance.lines import trunks as sip_trunks

log = logging.getLogger("korund.sip_guard")

ACL_NAME = "korund-sip-bans"
BANS_FILE = "korund-sip-bans.inc"
# Who the audit log names for what the guard does by itself.
BY_GUARD = "sip-guard"

# Asterisk's security events that mean a refused SIP request.
FAILURES = frozenset({
    "InvalidAccountID",          # no such user (or endpoint)
    "ChallengeResponseFailed",   # wrong password
    "InvalidPassword",
    "FailedACL",                 # refused by an endpoint's ACL or the registrar
    "RequestNotAllowed",
    "AuthMethodNotAllowed",
    "RequestBadFormat",
})
SERVICE = "PJSIP"

DEFAULTS = {
    "sip_guard.failures": "10",
    "sip_guard.window": "60",
    "sip_guard.ban_minutes": "30",
    "sip_guard.allow": "",
}
LIMITS = {
    "sip_guard.failures": (3, 1000),
    "sip_guard.window": (5, 3600),
    "sip_guard.ban_minutes": (1, 7 * 24 * 60),
}
MAX_ALLOW = 64
# How many addresses the counter remembers at once (a flood from many
# addresses must not grow the service's memory without bound).
MAX_TRACKED = 20000
# How often the guard compares the bans in the store with those in force,
# and how often it reads its settings and the trunks' addresses again (a
# carrier given by name is looked up then, not on every event).
SYNC_SECONDS = 1.0
POLICY_SECONDS = 10.0
# How many accounts a ban keeps as examples of what was tried.
ACCOUNTS_KEPT = 5

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


# --- the policy ---------------------------------------------------------------

@dataclass(frozen=True)
class Policy:
    failures: int
    window: int
    ban_minutes: int
    allow: tuple[Network, ...]

    @property
    def allow_text(self) -> str:
        return ", ".join(str(n) for n in self.allow)


def parse_allow(text: str | None) -> tuple[Network, ...]:
    """The allow list: addresses or networks (CIDR), separated by commas,
    spaces or lines; ConfigError naming the first one that is not."""
    items = [t for t in (text or "").replace(",", " ").split() if t]
    if len(items) > MAX_ALLOW:
        raise ConfigError("allow", "at most {n} addresses or networks", n=MAX_ALLOW)
    out = []
    for item in items:
        try:
            out.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ConfigError("allow", "'{value}' is not an IP address or network like 192.168.1.0/24",
                              value=item) from None
    return tuple(dict.fromkeys(out))


def _number(key: str, value) -> int:
    low, high = LIMITS[key]
    field = key.split(".", 1)[1]
    text = str(value).strip()
    if not text.isdigit():
        raise ConfigError(field, "'{value}' is not a whole number", value=value)
    n = int(text)
    if not low <= n <= high:
        raise ConfigError(field, "must be between {low} and {high}", low=low, high=high)
    return n


def policy(db) -> Policy:
    """The guard's settings as stored (defaults where none are)."""
    s = {**DEFAULTS, **{k: v for k, v in store.settings(db).items() if k in DEFAULTS}}
    try:
        return Policy(*(_number(k, s[k]) for k in ("sip_guard.failures", "sip_guard.window",
                                                   "sip_guard.ban_minutes")),
                      parse_allow(s["sip_guard.allow"]))
    except ConfigError:
        # a value written past the checks: the defaults rather than no guard
        log.warning("stored SIP guard settings are invalid; using the defaults")
        return Policy(10, 60, 30, ())


def set_policy(db, data: dict, by: str) -> Policy:
    """Validate and store the keys of *data* that are given (failures,
    window, ban_minutes, allow); nothing is stored if any is refused."""
    current = policy(db)
    values = {
        "sip_guard.failures": _number("sip_guard.failures", data.get("failures", current.failures)),
        "sip_guard.window": _number("sip_guard.window", data.get("window", current.window)),
        "sip_guard.ban_minutes": _number("sip_guard.ban_minutes", data.get("ban_minutes", current.ban_minutes)),
    }
    allow = parse_allow(data["allow"]) if "allow" in data else current.allow
    values["sip_guard.allow"] = " ".join(str(n) for n in allow)
    with db.atomic():
        for key, value in values.items():
            store.set_setting(db, key, value)
        audit.record(db, by, "sip guard settings changed", "",
                     {k.split(".", 1)[1]: v for k, v in values.items()})
    return policy(db)


def own_addresses(settings: dict[str, str]) -> set[str]:
    """The appliance's own addresses (never banned)."""
    out = {"127.0.0.1", "::1"}
    for key in ("net.address", "sip.address", "web.address"):
        value = (settings.get(key) or "").strip()
        try:
            ipaddress.ip_address(value)
        except ValueError:
            continue
        out.add(value)
    return out


def trunk_addresses(db) -> set[str]:
    """The addresses of the SIP trunks' carriers (never banned: a ban would
    cut the lines)."""
    out = set()
    for t in sip_trunks.load_all(db):
        if t.kind != "sip" or not t.host:
            continue
        try:
            ipaddress.ip_address(t.host)
            out.add(t.host)
        except ValueError:
            try:
                out |= {info[4][0] for info in socket.getaddrinfo(t.host, None, type=socket.SOCK_DGRAM)}
            except OSError:
                pass
    return out


def exempt(address: str, never: set[str], allow: tuple[Network, ...]) -> bool:
    """Whether *address* may never be banned."""
    if address in never:
        return True
    ip = ipaddress.ip_address(address)
    return any(ip.version == n.version and ip in n for n in allow)


# --- reading the events -------------------------------------------------------

def failed_address(headers: dict[str, str]) -> str | None:
    """The remote address of a SIP security event that means a refused
    request ('IPV4/UDP/192.0.2.7/5060' -> '192.0.2.7'), else None."""
    if headers.get("Event") not in FAILURES or headers.get("Service") != SERVICE:
        return None
    parts = (headers.get("RemoteAddress") or "").split("/")
    if len(parts) < 3:
        return None
    try:
        return str(ipaddress.ip_address(parts[2]))
    except ValueError:
        return None


@dataclass
class Crossed:
    """An address that went over the limit, with what it did."""
    address: str
    failures: int
    events: dict[str, int]
    accounts: list[str]


class Counter:
    """Failures per address within a sliding window (pure: the time is
    handed in)."""

    def __init__(self, failures: int, window: float, max_tracked: int = MAX_TRACKED):
        self.failures = failures
        self.window = window
        self.max_tracked = max_tracked
        self._seen: OrderedDict[str, deque] = OrderedDict()

    def add(self, address: str, now: float, event: str = "", account: str = "") -> Crossed | None:
        """Count one failure; the address's record when this one reaches
        the limit (then it is forgotten, so it crosses once)."""
        seen = self._seen.pop(address, None) or deque()
        seen.append((now, event, account))
        while seen and seen[0][0] <= now - self.window:
            seen.popleft()
        if len(seen) >= self.failures:
            events: dict[str, int] = {}
            for _, ev, _acc in seen:
                events[ev] = events.get(ev, 0) + 1
            accounts = list(dict.fromkeys(acc for _, _, acc in seen if acc))[:ACCOUNTS_KEPT]
            return Crossed(address, len(seen), events, accounts)
        self._seen[address] = seen
        while len(self._seen) > self.max_tracked:
            self._seen.popitem(last=False)   # the address seen longest ago
        return None

    def count(self, address: str, now: float) -> int:
        return sum(1 for t, _, _ in self._seen.get(address, ()) if t > now - self.window)

    def forget(self, address: str) -> None:
        self._seen.pop(address, None)


# --- the bans in the store ----------------------------------------------------

@dataclass
class Ban:
    id: int
    address: str
    failures: int
    events: str
    accounts: str
    started_at: str
    until: str
    ended_at: str | None
    ended_by: str | None

    @property
    def active(self) -> bool:
        return self.ended_at is None


_COLUMNS = "id, address, failures, events, accounts, started_at, until, ended_at, ended_by"


def _bans(db, where: str = "", params=(), limit: int | None = None) -> list[Ban]:
    sql = f"SELECT {_COLUMNS} FROM sip_bans {where} ORDER BY id DESC"
    if limit:
        sql += f" LIMIT {int(limit)}"
    return [Ban(*r) for r in db.execute(sql, list(params))]


def active(db) -> list[Ban]:
    """The bans in force (ended ones are kept for the record)."""
    return _bans(db, "WHERE ended_at IS NULL")


def recent(db, limit: int = 200) -> list[Ban]:
    return _bans(db, limit=limit)


def get(db, ban_id: int) -> Ban | None:
    found = _bans(db, "WHERE id = ?", [ban_id])
    return found[0] if found else None


def ban(db, crossed: Crossed, minutes: int, now: datetime | None = None) -> Ban | None:
    """Ban the address of *crossed* for *minutes*; None if it already is."""
    now = now or clock.now()
    with db.atomic():
        if db.execute("SELECT 1 FROM sip_bans WHERE address = ? AND ended_at IS NULL",
                      [crossed.address]).fetchone():
            return None
        events = ", ".join(f"{k} {v}" for k, v in sorted(crossed.events.items()))
        until = now + timedelta(minutes=minutes)
        ban_id = db.execute(
            "INSERT INTO sip_bans (address, failures, events, accounts, started_at, until) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [crossed.address, crossed.failures, events, ", ".join(crossed.accounts),
             clock.stamp(now), clock.stamp(until)]).lastrowid
        audit.record(db, BY_GUARD, "sip address banned", crossed.address,
                     {"failures": crossed.failures, "events": events, "accounts": crossed.accounts,
                      "minutes": minutes})
    return get(db, ban_id)


def lift(db, ban_id: int, by: str, now: datetime | None = None) -> Ban:
    """End a ban before its time (the SIP guard takes it out of Asterisk
    within a second or two)."""
    with db.atomic():
        current = get(db, ban_id)
        if current is None:
            raise ConfigError("ban", "no ban number {id}", id=ban_id)
        if not current.active:
            raise ConfigError("ban", "the ban of {address} has already ended", address=current.address)
        db.execute("UPDATE sip_bans SET ended_at = ?, ended_by = ? WHERE id = ?",
                   [clock.stamp(now), by, ban_id])
        audit.record(db, by, "sip ban lifted", current.address, {"ban": ban_id})
    return get(db, ban_id)


def expire(db, now: datetime | None = None) -> list[Ban]:
    """End the bans whose time is up; return them."""
    now = now or clock.now()
    with db.atomic():
        due = [b for b in active(db) if datetime.fromisoformat(b.until) <= now]
        for b in due:
            db.execute("UPDATE sip_bans SET ended_at = ?, ended_by = '' WHERE id = ? AND ended_at IS NULL",
                       [b.until, b.id])
            audit.record(db, BY_GUARD, "sip ban expired", b.address, {"ban": b.id})
    return due


# --- Asterisk's side ----------------------------------------------------------

def acl_rules(addresses) -> str:
    """The included part of the named ACL: one deny line per banned address."""
    lines = ["; Written by Korund's SIP guard -- the addresses banned now.\n"]
    for a in sorted(set(addresses), key=lambda a: (ipaddress.ip_address(a).version, ipaddress.ip_address(a))):
        bits = 32 if ipaddress.ip_address(a).version == 4 else 128
        lines.append(f"deny = {a}/{bits}\n")
    return "".join(lines)


def write_rules(etc: Path, addresses) -> bool:
    """Write the ban rules next to acl.conf; False if they were already so."""
    path = etc / BANS_FILE
    text = acl_rules(addresses)
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except OSError:
        pass
    write_atomically(path, text)
    # acl.conf itself is unchanged, but Asterisk decides whether to re-read
    # it by its time stamp: touch it so the included rules are read for sure.
    acl_conf = etc / "acl.conf"
    if acl_conf.exists():
        os.utime(acl_conf)
    return True


def reload_acl(mgr, addresses) -> str | None:
    """Have Asterisk re-read the named ACLs; None when it holds exactly
    *addresses*, else what is wrong."""
    said = " ".join(ln.strip() for ln in ami.command(mgr, "module reload acl") if ln.strip())
    if "reloaded" not in said and "Reloaded" not in said:
        return f"Asterisk could not reload the ACLs: {said or 'no answer'}"
    shown = "\n".join(ami.command(mgr, f"acl show {ACL_NAME}"))
    missing = [a for a in addresses if f"{a}/" not in shown]
    if missing:
        return f"the ACL {ACL_NAME} lacks {', '.join(missing)} after the reload"
    return None


def held(mgr) -> set[str] | None:
    """The addresses Asterisk's named ACL denies now (``acl show``: lines
    '  N: deny - ADDRESS/MASK'), or None when it cannot be asked."""
    try:
        lines = ami.command(mgr, f"acl show {ACL_NAME}")
    except Exception:   # noqa: BLE001 - a dropped connection: unknown, so reload
        return None
    if not any(ACL_NAME in line for line in lines):
        return None
    return {m.group(1) for m in (re.match(r"\s*\d+: deny - ([0-9A-Fa-f:.]+)/", line) for line in lines) if m}


class Guard:
    """The thin AMI side: :meth:`on_event` for each event (counts only, in
    memory, from pyst2's thread), :meth:`tick` from the service's loop (the
    store, the rules file and the reload)."""

    def __init__(self, db, etc: Path, monotonic=time.monotonic, now=clock.now):
        self.db = db
        self.etc = Path(etc)
        self.monotonic = monotonic
        self.now = now
        self.lock = threading.Lock()
        self.pending: list[Crossed] = []
        self.applied: set[str] | None = None   # the banned addresses Asterisk holds
        self.next_sync = 0.0
        self.next_policy = 0.0
        self._load_policy()

    def _load_policy(self) -> None:
        self.next_policy = self.monotonic() + POLICY_SECONDS
        p = policy(self.db)
        never = own_addresses(store.settings(self.db)) | trunk_addresses(self.db)
        with self.lock:
            self.policy, self.never = p, never
            counter = getattr(self, "counter", None)
            if counter is None or (counter.failures, counter.window) != (p.failures, p.window):
                self.counter = Counter(p.failures, p.window)

    def on_event(self, headers: dict[str, str]) -> None:
        try:
            self._count(headers)
        except Exception:   # pyst2's dispatch thread must live on
            log.exception("could not count %s", headers.get("Event"))

    def _count(self, headers: dict[str, str]) -> None:
        address = failed_address(headers)
        if address is None:
            return
        with self.lock:
            if exempt(address, self.never, self.policy.allow):
                return
            crossed = self.counter.add(address, self.monotonic(), headers.get("Event", ""),
                                       (headers.get("AccountID") or "")[:64])
            if crossed:
                self.pending.append(crossed)

    def tick(self, mgr) -> None:
        with self.lock:
            pending, self.pending = self.pending, []
        changed = False
        for crossed in pending:
            made = ban(self.db, crossed, self.policy.ban_minutes, self.now())
            if made:
                log.warning("banned %s for %d min after %d failed SIP requests (%s)", made.address,
                            self.policy.ban_minutes, made.failures, made.events)
                changed = True
        if changed or self.monotonic() >= self.next_sync:
            for ended in expire(self.db, self.now()):
                log.info("the ban of %s has ended", ended.address)
            if self.monotonic() >= self.next_policy:
                self._load_policy()
            self.next_sync = self.monotonic() + SYNC_SECONDS
            self.put_in_force(mgr)

    def put_in_force(self, mgr) -> None:
        """Make Asterisk's ACL hold exactly the bans in the store."""
        want = {b.address for b in active(self.db)}
        wrote = write_rules(self.etc, want)
        if want == self.applied and not wrote:
            return
        if self.applied is None and not wrote and held(mgr) == want:
            # A new session, the rules file unchanged and Asterisk holding
            # it already (it reads the file when it starts): no reload, which
            # right after a start Asterisk would only queue.
            self.applied = want
            return
        problem = reload_acl(mgr, want)
        if problem:
            log.error("%s", problem)
            self.applied = None   # try again at the next sync
            return
        self.applied = want
