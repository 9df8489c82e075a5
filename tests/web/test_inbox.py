"""The Messages and Callback orders pages and their API: roles, CSRF,
marking handled, closing orders, audio behind the role check."""
from __future__ import annotations

import struct
from datetime import datetime, timedelta

from appliance.callbacks import store as callbacks
from appliance.messages import store as messages
from appliance.users import store as users
from appliance.base.instance import Instance
from tests.web.conftest import as_role


def wav(seconds: float, amplitude: int = 3000) -> bytes:
    n = int(8000 * seconds)
    pcm = struct.pack(f"<{n}h", *((amplitude if (i // 4) % 2 else -amplitude) for i in range(n)))
    return (b"RIFF" + struct.pack("<I", 36 + len(pcm)) + b"WAVEfmt "
            + struct.pack("<IHHIIHH", 16, 1, 1, 8000, 16000, 2, 16)
            + b"data" + struct.pack("<I", len(pcm)) + pcm)


def seed_inbox(inst: Instance) -> dict:
    """One message (with its WAV) and one open callback order; their ids."""
    db = inst.open_store()
    folder = messages.directory(inst.base)
    (folder / "m1.wav").write_bytes(wav(2))
    message_id = messages.add(db, "support", "4951234567", "1700000000.1", "m1.wav", 2.0)
    start = datetime.now().astimezone() + timedelta(hours=1)
    callback_id = callbacks.add(db, "support", "79161234567", "4951234567", "1700000000.2",
                                start, start + timedelta(hours=2))
    db.close()
    return {"message_id": message_id, "callback_id": callback_id}


def test_only_admins_and_supervisors_see_the_pages_and_the_audio(panel):
    ids = seed_inbox(panel.config["KORUND_INSTANCE"])
    for login, allowed in (("admin", True), ("super", True), ("tech", False), ("anna", False)):
        b = as_role(panel, login)
        for path in ("/messages", "/callbacks", f"/messages/{ids['message_id']}/audio",
                     "/api/v1/messages", "/api/v1/callbacks"):
            code = b.client.get(path).status_code
            assert code == (200 if allowed else 403), (login, path, code)
    assert panel.test_client().get(f"/messages/{ids['message_id']}/audio").status_code == 302


def test_the_messages_page_lists_and_plays_a_message(panel):
    ids = seed_inbox(panel.config["KORUND_INSTANCE"])
    b = as_role(panel, "super")
    page = b.client.get("/messages").get_data(as_text=True)
    assert "4951234567" in page and f'/messages/{ids["message_id"]}/audio' in page
    assert 'id="nav-messages"' in page and 'id="nav-callbacks"' in page
    r = b.client.get(f"/messages/{ids['message_id']}/audio")
    assert r.mimetype == "audio/wav" and r.data[:4] == b"RIFF" and len(r.data) == 44 + 32000
    assert b.client.get("/messages/999/audio").status_code == 404


def test_marking_handled_needs_the_csrf_token_and_is_audited(panel):
    ids = seed_inbox(panel.config["KORUND_INSTANCE"])
    b = as_role(panel, "super")
    url = f"/messages/{ids['message_id']}/handled"
    assert b.client.post(url, data={}).status_code == 400
    db = panel.config["KORUND_INSTANCE"].open_store()
    assert messages.get(db, ids["message_id"])["handled_at"] is None
    r = b.post(url, {}, token_from="/messages")
    assert r.status_code == 302
    m = messages.get(db, ids["message_id"])
    assert m["status"] == "handled" and m["handled_by"] == "super"
    assert db.execute("SELECT action, target FROM audit WHERE action = 'message handled'").fetchall() == \
        [("message handled", str(ids["message_id"]))]
    page = b.client.get("/messages?status=new").get_data(as_text=True)
    assert f'id="message-{ids["message_id"]}"' not in page
    page = b.client.get("/messages?status=handled").get_data(as_text=True)
    assert "handled by super" in page
    # a second time changes nothing
    b.post(url, {}, token_from="/messages")
    assert messages.get(db, ids["message_id"])["handled_at"] == m["handled_at"]


def test_callback_orders_are_filtered_and_closed_once(panel):
    ids = seed_inbox(panel.config["KORUND_INSTANCE"])
    db = panel.config["KORUND_INSTANCE"].open_store()
    callbacks.add(db, "sales", "74951112233", "", "", datetime.now().astimezone(), None, asap=True)
    b = as_role(panel, "admin")
    page = b.client.get("/callbacks?group=support").get_data(as_text=True)
    assert "79161234567" in page and "74951112233" not in page
    page = b.client.get("/callbacks").get_data(as_text=True)
    assert "74951112233" in page and "as soon as possible" in page
    url = f"/callbacks/{ids['callback_id']}/status"
    assert b.client.post(url, data={"status": "done"}).status_code == 400   # no CSRF token
    b.post(url, {"status": "done"}, token_from="/callbacks")
    order = callbacks.get(db, ids["callback_id"])
    assert order["status"] == "done" and order["changed_by"] == "admin"
    r = b.post(url, {"status": "cancelled"}, token_from="/callbacks")
    assert "already done" in b.client.get(r.headers["Location"]).get_data(as_text=True)
    assert callbacks.get(db, ids["callback_id"])["status"] == "done"
    assert "79161234567" not in b.client.get("/callbacks?status=new").get_data(as_text=True)


def test_the_api_lists_marks_and_refuses_bad_input(panel):
    ids = seed_inbox(panel.config["KORUND_INSTANCE"])
    db = panel.config["KORUND_INSTANCE"].open_store()
    h = {"Authorization": f"Bearer {users.create_token(db, 1, 't')}"}
    c = panel.test_client()
    listed = c.get("/api/v1/messages", headers=h).get_json()
    assert [m["id"] for m in listed] == [ids["message_id"]] and listed[0]["status"] == "new"
    assert c.get("/api/v1/messages?status=gone", headers=h).status_code == 422
    assert c.get("/api/v1/callbacks?limit=0", headers=h).get_json()["field"] == "limit"
    r = c.post(f"/api/v1/messages/{ids['message_id']}/handled", headers=h)
    assert r.status_code == 200 and r.get_json()["handled_by"] == "admin"
    assert c.post("/api/v1/messages/999/handled", headers=h).status_code == 404
    url = f"/api/v1/callbacks/{ids['callback_id']}/status"
    r = c.post(url, json={"status": "placed"}, headers=h)
    assert r.status_code == 422 and r.get_json()["field"] == "status"
    assert callbacks.get(db, ids["callback_id"])["status"] == "new"
    r = c.post(url, json={"status": "cancelled"}, headers=h)
    assert r.status_code == 200 and r.get_json()["status"] == "cancelled"
    assert c.post(url, json={"status": "done"}, headers=h).status_code == 422
    # the session needs the CSRF header on the API too
    b = as_role(panel, "super")
    assert b.client.post(f"/api/v1/messages/{ids['message_id']}/handled").status_code == 400


def test_a_hostile_caller_id_is_shown_as_text_and_times_on_the_call_centers_clock(panel):
    inst = panel.config["KORUND_INSTANCE"]
    db = inst.open_store()
    messages.directory(inst.base)
    messages.add(db, "support", "<script>x()</script>", "u9", "m9.wav", 2.0)
    db.execute("UPDATE messages SET created_at = '2026-11-26T09:30:00+00:00'")
    db.execute("INSERT INTO settings (key, value) VALUES ('timezone', 'Asia/Vladivostok') "
               "ON CONFLICT(key) DO UPDATE SET value = excluded.value")
    db.conn.commit()
    page = as_role(panel, "admin").client.get("/messages").get_data(as_text=True)
    assert "<script>x()" not in page and "&lt;script&gt;x()&lt;/script&gt;" in page
    assert "2026-11-26 19:30" in page
