"""Outgoing CRM webhooks: queued without waiting, posted to a real local HTTP
receiver with an HMAC-SHA256 signature, retried on failure, given up after
the limit."""
from __future__ import annotations

import hashlib
import hmac
import json
import threading
from datetime import datetime, timedelta, timezone

import pytest

from appliance.base import store
from appliance.base.errors import ConfigError
from appliance.clients import webhooks
from tests.http_receiver import post_receiver


@pytest.fixture
def receiver():
    with post_receiver("/hook") as url_got_answers:
        yield url_got_answers


def _loopback_crm(db):
    """The receiver plays the CRM on 127.0.0.1, which only a development
    setup (korund init --demo) lets webhooks reach."""
    store.set_setting(db, webhooks.ALLOW_LOOPBACK_KEY, "1")


def _call(db, uniqueid="171.5", ani="+79161234567"):
    """A call in the history, as the events service stores it."""
    db.execute("INSERT INTO calls (uniqueid, linkedid, ani, dnis, grp, started_at) "
               "VALUES (?, ?, ?, '300', 'support', '2026-01-01T10:00:00+00:00')", [uniqueid, uniqueid, ani])


def _offer(db, uniqueid="171.5"):
    """app_queue offers the call to operator 1001's phone (what the events service hands on)."""
    webhooks.on_event(db, {"Event": "AgentCalled", "Queue": "support", "DestChannel": "PJSIP/1001-00000001",
                           "DestUniqueid": uniqueid + "1", "Uniqueid": uniqueid, "Linkedid": uniqueid})


def _hangup(db, uniqueid):
    webhooks.on_event(db, {"Event": "Hangup", "Uniqueid": uniqueid, "Linkedid": uniqueid})


def test_nothing_is_queued_while_webhooks_are_off(db):
    assert webhooks.enqueue(db, "call.ended", {"call": {"uniqueid": "1"}}) is None
    assert webhooks.deliver_due(db) == 0
    with pytest.raises(ValueError):
        webhooks.enqueue(db, "call.whatever", {})


@pytest.mark.parametrize("bad", ["ftp://x/", "javascript:alert(1)", "http://", "http://a b/"])
def test_only_http_urls(db, bad):
    with pytest.raises(ConfigError):
        webhooks.configure(db, bad)


def test_delivery_is_signed_and_retried(demo_db, receiver):
    db = demo_db
    url, got, answers = receiver
    cfg = webhooks.configure(db, url)
    assert len(cfg["secret"]) >= 32
    _call(db)
    _offer(db)
    rid = webhooks.recent(db)[0]["id"]
    answers.append(503)
    assert webhooks.deliver_due(db) == 0
    row = webhooks.recent(db)[0]
    assert row["status"] == "pending" and row["attempts"] == 1 and row["last_error"] == "HTTP 503"
    assert webhooks.deliver_due(db) == 0  # not due yet
    later = datetime.now(timezone.utc) + timedelta(seconds=30)
    assert webhooks.deliver_due(db, now=later) == 1
    assert webhooks.recent(db)[0]["status"] == "sent"
    assert len(got) == 2
    headers, body = got[1]
    expected = "sha256=" + hmac.new(cfg["secret"].encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-Korund-Signature"] == expected
    assert headers["X-Korund-Event"] == "call.offered" and headers["X-Korund-Delivery"] == str(rid)
    assert got[0][1] == body  # a retry sends the same bytes
    data = json.loads(body)
    assert data["id"] == rid and data["event"] == "call.offered"
    assert data["data"]["operator"] == "1001" and data["data"]["offer"] == "171.51"
    assert data["data"]["call"] == {"uniqueid": "171.5", "linkedid": "171.5", "ani": "+79161234567",
                                    "dnis": "300", "group": "support"}


def test_an_unreachable_crm_is_given_up_after_the_limit(db):
    _loopback_crm(db)
    webhooks.configure(db, "http://127.0.0.1:9/hook")
    _call(db, "1")
    _hangup(db, "1")
    t = datetime.now(timezone.utc)
    for _ in range(webhooks.MAX_ATTEMPTS):
        webhooks.deliver_due(db, now=t)
        t += timedelta(hours=1)
    row = webhooks.recent(db)[0]
    assert row["status"] == "failed" and row["attempts"] == webhooks.MAX_ATTEMPTS and row["last_error"]


def test_the_sender_thread_delivers(db, inst, receiver):
    url, got, _answers = receiver
    _loopback_crm(db)
    webhooks.configure(db, url)
    _call(db, "2")
    _hangup(db, "2")
    stop = webhooks.start_sender(lambda: store.open_store(inst.db_path), interval=0.05)
    try:
        for _ in range(100):
            if got:
                break
            threading.Event().wait(0.05)
    finally:
        stop.set()
    assert got and json.loads(got[0][1])["event"] == "call.ended"


def test_ami_events_queue_offered_once_and_ended(demo_db):
    from appliance.clients import store as clients
    db = demo_db
    webhooks.on_event(db, {"Event": "AgentCalled", "DestChannel": "PJSIP/1001-1", "DestUniqueid": "9.1",
                           "Linkedid": "9.0"})
    assert webhooks.recent(db) == []  # off: nothing queued
    webhooks.configure(db, "https://crm.example/hook")
    cid = clients.save(db, {"name": "Иван", "phones": "89161234567", "vip": True})
    clients.set_screen_pop(db, "support", "https://crm.example/card?phone={ani}&op={operator}&c={client_id}")
    db.execute("INSERT INTO calls (uniqueid, linkedid, ani, dnis, grp, started_at) "
               "VALUES ('9.0', '9.0', '+79161234567', '300', 'support', '2026-01-01T10:00:00+00:00')")
    offer = {"Event": "AgentCalled", "Queue": "support", "DestChannel": "PJSIP/1001-00000001",
             "DestUniqueid": "9.1", "Uniqueid": "9.0", "Linkedid": "9.0", "CallerIDNum": "+79161234567"}
    webhooks.on_event(db, offer)
    webhooks.on_event(db, {**offer, "Event": "DialBegin"})
    webhooks.on_event(db, {**offer, "DestChannel": "PJSIP/nobody-1", "DestUniqueid": "9.2"})
    webhooks.on_event(db, {"Event": "Hangup", "Uniqueid": "9.1", "Linkedid": "9.0"})  # the operator's leg
    db.execute("UPDATE calls SET ended_at = '2026-01-01T10:01:00+00:00', outcome = 'answered', operator = '1001'")
    webhooks.on_event(db, {"Event": "Hangup", "Uniqueid": "9.0", "Linkedid": "9.0"})
    rows = db.execute("SELECT event, payload FROM webhook_queue ORDER BY id").fetchall()
    assert [r[0] for r in rows] == ["call.offered", "call.ended"]
    offered, ended = (json.loads(r[1]) for r in rows)
    assert offered["operator"] == "1001" and offered["call"]["ani"] == "+79161234567"
    assert offered["client"] == {"id": cid, "name": "Иван", "vip": True}
    assert offered["screen_pop_url"] == f"https://crm.example/card?phone=%2B79161234567&op=1001&c={cid}"
    assert ended["call"]["outcome"] == "answered" and ended["call"]["group"] == "support"
    assert ended["client"]["id"] == cid


def test_an_offer_to_an_operator_on_an_fxs_port_is_sent_too(demo_db):
    db = demo_db
    webhooks.configure(db, "https://crm.example/hook")
    db.execute("UPDATE operators SET device = 'DAHDI/49' WHERE extension = '1002'")
    db.execute("INSERT INTO calls (uniqueid, linkedid, ani, dnis, grp, started_at) "
               "VALUES ('7.0', '7.0', '+74951234567', '300', 'support', '2026-01-01T10:00:00+00:00')")
    webhooks.on_event(db, {"Event": "AgentCalled", "Queue": "support", "DestChannel": "DAHDI/49-1",
                           "DestUniqueid": "7.1", "Uniqueid": "7.0", "Linkedid": "7.0"})
    webhooks.on_event(db, {"Event": "DialBegin", "DestChannel": "DAHDI/50-1", "DestUniqueid": "7.2",
                           "Uniqueid": "7.0", "Linkedid": "7.0"})   # a port nobody sits at
    rows = db.execute("SELECT payload FROM webhook_queue WHERE event = 'call.offered'").fetchall()
    assert [json.loads(r[0])["operator"] for r in rows] == ["1002"]
