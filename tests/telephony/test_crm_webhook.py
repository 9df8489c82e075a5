"""The external CRM hook on real Asterisk: a known client calls, the events
service posts a signed ``call.offered`` (with the client and the group's
expanded screen-pop URL) and a ``call.ended`` to a local HTTP receiver."""
from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from appliance.clients import store as clients
from appliance.base import store
from appliance.clients import webhooks
from tests.harness import in_root, ready, wait_for
from tests.http_receiver import post_receiver


@pytest.fixture
def receiver():
    with post_receiver("/crm-hook", status=204) as (url, got, _answers):
        yield url, got


def test_a_known_callers_call_is_posted_offered_and_ended(appliance, carrier, receiver):
    url, got = receiver
    db = store.open_store(appliance.host_base / "korund.db", migrate=False)
    try:
        secret = webhooks.configure(db, url)["secret"]
        cid = clients.save(db, {"name": "Иван Петров", "phones": "8 916 123-45-67"})
        clients.set_screen_pop(db, "support", "https://crm.example/card?phone={ani}&c={client_id}&op={operator}")
    finally:
        db.close()
    assert "applied" in in_root("korund", "-i", appliance.base, "apply").stdout
    ready(appliance, "1001", "1002")

    call = carrier.call(ani="89161234567", hold=8)
    operator = call.answered_by_phone()["Phone"]
    call.ended(timeout=50)

    events = lambda: [json.loads(body)["event"] for _h, body in got]  # noqa: E731
    wait_for(lambda: "call.ended" in events(), 30, what="the call.ended webhook")
    assert events().count("call.offered") >= 1
    for headers, body in got:
        expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        assert headers["X-Korund-Signature"] == expected
    posts = {json.loads(b)["event"]: json.loads(b) for _h, b in got}
    offered = [json.loads(b)["data"] for _h, b in got if json.loads(b)["event"] == "call.offered"]
    answered = next(o for o in offered if o["operator"] == operator)
    assert answered["client"]["id"] == cid and answered["call"]["group"] == "support"
    assert answered["screen_pop_url"] == (f"https://crm.example/card?phone={answered['call']['ani']}"
                                          f"&c={cid}&op={operator}").replace("+", "%2B")
    ended = posts["call.ended"]["data"]
    assert ended["client"]["id"] == cid and ended["call"]["outcome"] == "answered"
    assert ended["call"]["operator"] == operator
