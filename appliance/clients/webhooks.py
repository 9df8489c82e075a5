"""Outgoing webhooks to an external CRM: a JSON POST when a call is offered to
an operator and when a call ends.

A call never waits for the CRM: ``enqueue`` only inserts a row into
``webhook_queue`` (and does nothing when no URL is configured); the sender
(``deliver_due``, looped by ``run``) posts due rows, retrying with growing
delays, and gives up after ``MAX_ATTEMPTS``.

Each POST carries the body
``{"id": <delivery id>, "event": "call.offered" | "call.ended", "created_at": ISO time, "data": {...}}``
and the headers ``X-Korund-Event`` (the event), ``X-Korund-Delivery`` (the
id, the same on every retry) and ``X-Korund-Signature: sha256=<hex>`` — the
HMAC-SHA256 of the exact body bytes with the configured secret.

The events service calls ``on_event`` with every AMI event and runs the
sender in a thread (``start_sender``). ``data`` of ``call.offered``:
``{"call": {uniqueid, linkedid, ani, dnis, group}, "operator": extension,
"offer": the operator leg's uniqueid, "client": {id, name, vip} | null,
"screen_pop_url": the group's expanded template | null}``; of ``call.ended``:
``{"call": the call history row (uniqueid, ani, dnis, group, operator,
started_at, answered_at, connected_at, ended_at, outcome, hangup_cause...),
"client": {id, name, vip} | null}``. Other code may queue its own with
``enqueue(db, kind, payload)``.

The CRM is somewhere else, so the panel's LAN side is no place to send
webhooks to: a URL naming a loopback, link-local (169.254.169.254, fe80::),
multicast, reserved or unspecified address is refused, and so is a private
(LAN) one unless an admin allows LAN targets (``crm.webhook_allow_lan``;
off by default, audit-logged). The host is resolved when the URL is saved
and again at each delivery, and the connection goes to exactly the address
that was checked -- then the address actually connected to is checked once
more -- so a name that resolves differently the second time (DNS
rebinding) gains nothing. Redirects are not followed: a 3xx answer is a
failed delivery. Loopback is allowed only by ``crm.webhook_allow_loopback``,
which no page or API sets: ``korund init --demo`` and the test suite set it
so that a receiver on 127.0.0.1 can play the CRM in development.
"""
from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import re
import secrets
import socket
import ssl
import threading
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from appliance.base import audit, clock, dialplan_names as dn, store
from appliance.base.errors import ConfigError
from appliance.clients import store as clients
from appliance.operators import devices

log = logging.getLogger("korund.webhooks")
EVENTS = ("call.offered", "call.ended")
URL_KEY, SECRET_KEY = "crm.webhook_url", "crm.webhook_secret"
ALLOW_LAN_KEY = "crm.webhook_allow_lan"
# Development only (korund init --demo, the tests): a receiver on loopback.
ALLOW_LOOPBACK_KEY = "crm.webhook_allow_loopback"
MAX_ATTEMPTS = 8
TIMEOUT = 5.0
BATCH = 20


def _iso(t: datetime) -> str:
    return t.isoformat(timespec="seconds")


def config(db) -> dict:
    return {"url": store.get_setting(db, URL_KEY, "") or "", "secret": store.get_setting(db, SECRET_KEY, "") or "",
            "allow_lan": store.get_setting(db, ALLOW_LAN_KEY, "0") == "1"}


# -- where a webhook may go -------------------------------------------------------------

def _(message: str) -> str:
    """Marks a reason for the panel's catalogs; the panel translates it where it is shown."""
    return message


class Refused(OSError):
    """The webhook's target is an address Korund does not post to."""


_THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def refusal(address: str, allow_lan: bool = False, allow_loopback: bool = False) -> str | None:
    """Why a webhook may not go to *address* (an IP address), or None."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return _("not an IP address")
    if ip.version == 6:   # an IPv4 address written as IPv6 is that IPv4 address
        if ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        elif ip in _NAT64:
            ip = ipaddress.ip_address(int(ip) & 0xFFFFFFFF)
    if ip.is_loopback:
        return None if allow_loopback else _("a loopback address")
    if ip.is_link_local:
        return _("a link-local address")
    if ip.is_multicast:
        return _("a multicast address")
    if ip.is_unspecified or (ip.version == 4 and ip in _THIS_NETWORK):
        return _("an unspecified address")
    if ip.is_reserved:
        return _("a reserved address")
    if not ip.is_global:
        return None if allow_lan else _("a LAN (private) address")
    return None


def _policy(db):
    allow_lan = store.get_setting(db, ALLOW_LAN_KEY, "0") == "1"
    allow_loopback = store.get_setting(db, ALLOW_LOOPBACK_KEY, "0") == "1"
    return lambda address: refusal(address, allow_lan, allow_loopback)


def _resolve(host: str, port: int) -> list[tuple]:
    return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)


def _refused_error(address: str, why: str) -> ConfigError:
    return ConfigError("webhook_url", "the webhook cannot go to {address}: it is {why}; Korund posts only to "
                                      "addresses outside this network, and to LAN addresses when an admin "
                                      "allows them",
                       address=address, why=why)


def check_url(url: str, policy=None) -> str:
    """The URL as stored ('' for none), or ConfigError. With *policy* (a
    function of an IP address returning why it is refused, or None) a host
    that is, or now resolves to, a refused address is refused; a name that
    does not resolve now is kept (each delivery resolves it again)."""
    url = (url or "").strip()
    if not url:
        return ""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if (len(url) > 500 or parts.scheme not in ("http", "https") or not parts.hostname or port == -1
            or any(c.isspace() or ord(c) < 32 for c in url)):
        raise ConfigError("webhook_url", "the URL must start with http:// or https:// and name a host")
    if parts.username is not None or parts.password is not None:
        raise ConfigError("webhook_url", "the URL must not carry a user name or password; the CRM checks the "
                                         "signature instead")
    if policy is not None:
        try:
            addresses = sorted({info[4][0] for info in _resolve(parts.hostname, port or 80)})
        except (OSError, UnicodeError):
            addresses = []
        for address in addresses:
            why = policy(address)
            if why:
                raise _refused_error(address, why)
    return url


def configure(db, url: str, secret: str | None = None) -> dict:
    """Set the webhook URL ('' turns webhooks off). A new secret is generated
    when none is given and none exists yet."""
    url = check_url(url, _policy(db))
    current = config(db)
    if secret is not None:
        secret = secret.strip()
        if secret and not 16 <= len(secret) <= 200:
            raise ConfigError("webhook_secret", "the secret must be 16 to 200 characters")
    new_secret = secret or current["secret"] or secrets.token_urlsafe(32)
    with db.atomic():
        store.set_setting(db, URL_KEY, url)
        store.set_setting(db, SECRET_KEY, new_secret)
    return config(db)


def set_allow_lan(db, allow: bool, by: str | None) -> bool:
    """Allow (or refuse again) webhook targets on the LAN; audit-logged when
    it changes. Returns whether it changed. Loopback and link-local stay
    refused either way."""
    allow = bool(allow)
    if config(db)["allow_lan"] == allow:
        return False
    with db.atomic():
        store.set_setting(db, ALLOW_LAN_KEY, "1" if allow else "0")
        audit.record(db, by, _("webhook LAN targets allowed") if allow else _("webhook LAN targets refused"))
    return True


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def enqueue(db, kind: str, payload: dict) -> int | None:
    """Queue *payload* for the CRM (None when webhooks are off). Never waits on
    the network; safe to call from call handling."""
    if kind not in EVENTS:
        raise ValueError(f"unknown webhook event {kind!r}")
    if not store.get_setting(db, URL_KEY, ""):
        return None
    now = _iso(clock.now())
    return db.execute("INSERT INTO webhook_queue (event, payload, created_at, next_at, attempts, status) "
                      "VALUES (?, ?, ?, ?, 0, 'pending')",
                      [kind, json.dumps(payload, ensure_ascii=False, sort_keys=True, default=str), now, now]).lastrowid


def body_of(row) -> bytes:
    rid, event, payload, created_at = row
    return json.dumps({"id": rid, "event": event, "created_at": created_at, "data": json.loads(payload)},
                      ensure_ascii=False, sort_keys=True).encode("utf-8")


def _connect(host: str, port: int, timeout: float, policy) -> socket.socket:
    """A TCP connection to the first of *host*'s addresses *policy* allows,
    made to exactly that address; the peer's address is checked again."""
    refused = None
    failed = None
    for family, kind, proto, _name, sockaddr in _resolve(host, port):
        why = policy(sockaddr[0])
        if why:
            refused = Refused(f"{sockaddr[0]} is {why}")
            continue
        sock = socket.socket(family, kind, proto)
        sock.settimeout(timeout)
        try:
            sock.connect(sockaddr)
            peer = sock.getpeername()[0]
        except OSError as exc:
            sock.close()
            failed = exc
            continue
        why = policy(peer)
        if why:
            sock.close()
            raise Refused(f"{peer} is {why}")
        return sock
    raise failed or refused or OSError(f"{host} has no address")


class _HTTP(http.client.HTTPConnection):
    def __init__(self, host, port, timeout, policy):
        super().__init__(host, port, timeout=timeout)
        self.policy = policy

    def connect(self):
        self.sock = _connect(self.host, self.port, self.timeout, self.policy)


class _HTTPS(http.client.HTTPSConnection):
    def __init__(self, host, port, timeout, policy):
        super().__init__(host, port, timeout=timeout)
        self.policy = policy

    def connect(self):
        raw = _connect(self.host, self.port, self.timeout, self.policy)
        self.sock = ssl.create_default_context().wrap_socket(raw, server_hostname=self.host)


def _post(url: str, body: bytes, headers: dict, policy) -> int:
    """POST *body* to *url*; the answer's status. Redirects are not followed
    (a 3xx is returned as it is); an address *policy* refuses raises Refused."""
    parts = urlsplit(url)
    kind = _HTTPS if parts.scheme == "https" else _HTTP
    conn = kind(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80), TIMEOUT, policy)
    try:
        conn.request("POST", (parts.path or "/") + (f"?{parts.query}" if parts.query else ""), body=body,
                     headers=headers)
        resp = conn.getresponse()
        resp.read(65536)
        return resp.status
    finally:
        conn.close()


def deliver_due(db, post=_post, now: datetime | None = None) -> int:
    """Post every due delivery once; returns how many were delivered.
    ``post(url, body, headers, policy)`` returns the HTTP status."""
    now = now or clock.now()
    cfg = config(db)
    if not cfg["url"]:
        return 0
    policy = _policy(db)
    due = db.execute("SELECT id, event, payload, created_at, attempts FROM webhook_queue "
                     "WHERE status = 'pending' AND next_at <= ? ORDER BY id LIMIT ?",
                     [_iso(now), BATCH]).fetchall()
    delivered = 0
    for rid, event, payload, created_at, attempts in due:
        body = body_of((rid, event, payload, created_at))
        headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "korund-webhook/1",
                   "X-Korund-Event": event, "X-Korund-Delivery": str(rid),
                   "X-Korund-Signature": sign(cfg["secret"], body)}
        try:
            status, error = post(cfg["url"], body, headers, policy), None
        except Refused as exc:
            status, error = None, f"refused: {exc}"[:300]
        except Exception as exc:  # network errors of any kind: retry later
            status, error = None, f"{type(exc).__name__}: {exc}"[:300]
        if status is not None and 300 <= status < 400:
            error = f"HTTP {status}: redirects are not followed; give the CRM's final URL"
        attempts += 1
        if status is not None and 200 <= status < 300:
            db.execute("UPDATE webhook_queue SET status = 'sent', attempts = ?, sent_at = ?, last_error = NULL "
                       "WHERE id = ?", [attempts, _iso(clock.now()), rid])
            delivered += 1
            continue
        error = error or f"HTTP {status}"
        if attempts >= MAX_ATTEMPTS:
            db.execute("UPDATE webhook_queue SET status = 'failed', attempts = ?, last_error = ? WHERE id = ?",
                       [attempts, error, rid])
            log.warning("webhook %s gave up after %d attempts: %s", rid, attempts, error)
        else:
            delay = timedelta(seconds=min(600, 5 * 2 ** (attempts - 1)))
            db.execute("UPDATE webhook_queue SET attempts = ?, last_error = ?, next_at = ? WHERE id = ?",
                       [attempts, error, _iso(now + delay), rid])
    return delivered


def recent(db, limit: int = 20) -> list[dict]:
    cols = ("id", "event", "created_at", "attempts", "status", "last_error", "sent_at")
    return [dict(zip(cols, r)) for r in db.execute(
        f"SELECT {', '.join(cols)} FROM webhook_queue ORDER BY id DESC LIMIT ?", [limit])]


def prune(db, days: int = 30) -> None:
    db.execute("DELETE FROM webhook_queue WHERE status != 'pending' AND created_at < ?",
               [_iso(clock.now() - timedelta(days=days))])


def run(open_db, stop: threading.Event | None = None, interval: float = 1.0) -> None:
    """The sender loop: deliver due webhooks every *interval* seconds until *stop*."""
    stop = stop or threading.Event()
    db = open_db()
    try:
        while not stop.is_set():
            try:
                deliver_due(db)
                prune(db)
            except Exception:
                log.exception("webhook sender")
            stop.wait(interval)
    finally:
        db.close()


def start_sender(open_db, interval: float = 1.0, stop: threading.Event | None = None) -> threading.Event:
    """Run the sender in a daemon thread; set the returned event (or *stop*) to stop it."""
    stop = stop or threading.Event()
    threading.Thread(target=run, args=(open_db, stop, interval), name="webhooks", daemon=True).start()
    return stop


# -- the events side: AMI events -> queued webhooks ------------------------------------------

# The AMI events on_event acts on (the events service asks Asterisk for these).
AMI_EVENTS = frozenset({"AgentCalled", "DialBegin", "Hangup"})


def on_event(db, e: dict) -> None:
    """Called by the events service with every AMI event (after the call
    history has taken it): queues ``call.offered`` when an operator's phone is
    offered a call and ``call.ended`` when an inbound call hangs up."""
    kind = e.get("Event")
    if kind not in AMI_EVENTS or not store.get_setting(db, URL_KEY, ""):
        return
    if kind == "Hangup":
        if e.get("Uniqueid") != e.get("Linkedid"):
            return
        cols = ("uniqueid", "linkedid", "direction", "ani", "dnis", "trunk", "grp", "operator", "started_at",
                "answered_at", "connected_at", "ended_at", "outcome", "hangup_cause")
        row = db.execute(f"SELECT {', '.join(cols)} FROM calls WHERE uniqueid = ?", [e.get("Uniqueid")]).fetchone()
        if not row:
            return
        call = dict(zip(cols, row))
        call["group"] = call.pop("grp")
        client = clients.find_by_number(db, call["ani"]) if call["ani"] else None
        enqueue(db, "call.ended", {"call": call, "client": _client_ref(client)})
        return
    dest = e.get("DestChannel") or ""
    extension = devices.extension_of(db, dest)   # an IP phone, or an analog phone on an FXS port
    offer = e.get("DestUniqueid") or ""
    linkedid = e.get("Linkedid") or e.get("DestLinkedid") or ""
    if not extension or not offer or not linkedid or not db.execute(
            "SELECT 1 FROM operators WHERE extension = ?", [extension]).fetchone():
        return
    if db.execute("SELECT 1 FROM webhook_queue WHERE event = 'call.offered' AND json_extract(payload, '$.offer') = ?",
                  [offer]).fetchone():
        return  # app_queue says AgentCalled and DialBegin for the same offer
    row = db.execute("SELECT ani, dnis, grp FROM calls WHERE uniqueid = ?", [linkedid]).fetchone()
    ani = row[0] if row else re.sub(r"[^0-9+]", "", e.get("CallerIDNum") or "")[:32]
    group = dn.group_of_queue(e.get("Queue")) or (row[2] if row else "") or ""
    call = {"uniqueid": linkedid, "linkedid": linkedid, "ani": ani or "", "dnis": (row[1] if row else "") or "",
            "group": group}
    client = clients.find_by_number(db, ani) if ani else None
    enqueue(db, "call.offered", {
        "call": call, "operator": extension, "offer": offer, "client": _client_ref(client),
        "screen_pop_url": clients.screen_pop_url(db, group, {**call, "operator": extension,
                                                             "client_id": client["id"] if client else ""})
        if group else None})


def _client_ref(client: dict | None) -> dict | None:
    return {"id": client["id"], "name": client["name"], "vip": bool(client.get("vip"))} if client else None
