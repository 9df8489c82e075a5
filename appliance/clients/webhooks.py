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
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import secrets
import threading
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from appliance.base import clock, dialplan_names as dn, store
from appliance.base.errors import ConfigError
from appliance.clients import store as clients
from appliance.operators import devices

log = logging.getLogger("korund.webhooks")
EVENTS = ("call.offered", "call.ended")
URL_KEY, SECRET_KEY = "crm.webhook_url", "crm.webhook_secret"
MAX_ATTEMPTS = 8
TIMEOUT = 5.0
BATCH = 20


def _iso(t: datetime) -> str:
    return t.isoformat(timespec="seconds")


def config(db) -> dict:
    return {"url": store.get_setting(db, URL_KEY, "") or "", "secret": store.get_setting(db, SECRET_KEY, "") or ""}


def check_url(url: str) -> str:
    url = (url or "").strip()
    if not url:
        return ""
    parts = urlsplit(url)
    if (len(url) > 500 or parts.scheme not in ("http", "https") or not parts.netloc
            or any(c.isspace() or ord(c) < 32 for c in url)):
        raise ConfigError("webhook_url", "the URL must start with http:// or https:// and name a host")
    return url


def configure(db, url: str, secret: str | None = None) -> dict:
    """Set the webhook URL ('' turns webhooks off). A new secret is generated
    when none is given and none exists yet."""
    url = check_url(url)
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


def _post(url: str, body: bytes, headers: dict) -> int:
    req = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def deliver_due(db, post=_post, now: datetime | None = None) -> int:
    """Post every due delivery once; returns how many were delivered."""
    now = now or clock.now()
    cfg = config(db)
    if not cfg["url"]:
        return 0
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
            status, error = post(cfg["url"], body, headers), None
        except Exception as exc:  # network errors of any kind: retry later
            status, error = None, f"{type(exc).__name__}: {exc}"[:300]
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

def on_event(db, e: dict) -> None:
    """Called by the events service with every AMI event (after the call
    history has taken it): queues ``call.offered`` when an operator's phone is
    offered a call and ``call.ended`` when an inbound call hangs up."""
    kind = e.get("Event")
    if kind not in ("AgentCalled", "DialBegin", "Hangup") or not store.get_setting(db, URL_KEY, ""):
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
