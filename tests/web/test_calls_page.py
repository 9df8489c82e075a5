"""The call history's pages and API (F14) through Flask's test client: the
list with filters and paging, a call's timeline of legs, and who may see
what — admins and supervisors every call, an operator only the calls they
were offered or took (page and API, by id and by guessing), technicians
none. The calls are a real call's recorded AMI events replayed."""
from __future__ import annotations

import json
import re
from pathlib import Path

from appliance.history.store import CallHistory
from tests.web.conftest import as_role

EVENTS = json.loads((Path(__file__).parent.parent / "unit" / "data" / "history_ivr_queue_call.json").read_text())
QUEUED = next(e["Linkedid"] for e in EVENTS if e["Event"] == "QueueCallerJoin")   # 1001 rang out, 1002 took it
OTHER = "1800000000.1"   # straight to 1002 only


def seed_calls(inst) -> dict:
    """Two calls in the history (by id): 'queued' (offered to 1001 and 1002)
    and 'other' (1002 only), the first with a recording and a note."""
    db = inst.open_store()
    h = CallHistory(db)
    for e in EVENTS:
        h.handle(e)
    for e in [
        {"Event": "Newchannel", "Uniqueid": OTHER, "Linkedid": OTHER, "Context": "korund-inbound",
         "CallerIDNum": "4957000002", "Exten": "200", "Channel": "PJSIP/pstn-00000099", "Timestamp": "1800000000"},
        {"Event": "DialBegin", "Linkedid": OTHER, "Uniqueid": OTHER, "DestChannel": "PJSIP/1002-00000100",
         "DestUniqueid": "1800000000.2", "Timestamp": "1800000001"},
        {"Event": "DialEnd", "Linkedid": OTHER, "Uniqueid": OTHER, "DestChannel": "PJSIP/1002-00000100",
         "DestUniqueid": "1800000000.2", "DialStatus": "ANSWER", "Timestamp": "1800000003"},
        {"Event": "HangupRequest", "Linkedid": OTHER, "Uniqueid": OTHER, "Channel": "PJSIP/pstn-00000099",
         "Timestamp": "1800000030"},
        {"Event": "Hangup", "Linkedid": OTHER, "Uniqueid": OTHER, "Channel": "PJSIP/pstn-00000099", "Cause": "16",
         "Timestamp": "1800000030"},
    ]:
        h.handle(e)
    with db.atomic():
        rec = db.execute("INSERT INTO recordings (linkedid, path, started_at, duration, size, sha256, channels, "
                         "operator, grp, ani, dnis, policy, status) VALUES (?, 'x/1.wav', ?, 3.1, 100, '', 1, "
                         "'1002', 'support', '4956100001', '100', 'default', 'good')",
                         [QUEUED, db.execute("SELECT connected_at FROM calls WHERE uniqueid = ?",
                                             [QUEUED]).fetchone()[0]]).lastrowid
        db.execute("INSERT INTO session_notes (linkedid, author, extension, text, updated_at) "
                   "VALUES (?, 'boris', '1002', 'wants <b>a refund</b>', '2026-11-26T06:50:00+00:00')", [QUEUED])
    ids = {key: db.execute("SELECT id FROM calls WHERE uniqueid = ?", [uid]).fetchone()[0]
           for key, uid in (("queued", QUEUED), ("other", OTHER))}
    ids["recording"] = rec
    db.close()
    return ids


def listed(b, query="") -> list[int]:
    r = b.client.get("/calls" + query)
    assert r.status_code == 200
    return [int(i) for i in re.findall(r'<tr id="call-(\d+)"', r.get_data(as_text=True))]


def test_the_list_filters_and_refuses_bad_filters_with_a_message(panel):
    ids = seed_calls(panel.config["KORUND_INSTANCE"])
    admin = as_role(panel, "admin")
    assert listed(admin) == [ids["other"], ids["queued"]]   # newest first
    assert listed(admin, "?ani=6100001") == [ids["queued"]]
    assert listed(admin, "?dnis=200&direction=inbound") == [ids["other"]]
    assert listed(admin, "?operator=1001") == [ids["queued"]]
    assert listed(admin, "?outcome=abandoned") == []
    assert listed(admin, "?line=pstn&group=support") == [ids["queued"]]
    page = admin.client.get("/calls?start=someday&ani=12a").get_data(as_text=True)
    assert 'id="error-start"' in page and 'id="call-list"' not in page
    assert 'id="nav-calls"' in page


def test_a_calls_page_shows_its_legs_in_order(panel):
    ids = seed_calls(panel.config["KORUND_INSTANCE"])
    page = as_role(panel, "super").client.get(f"/calls/{ids['queued']}").get_data(as_text=True)
    kinds = re.findall(r'data-kind="(\w+)"', page)
    assert kinds == ["trunk", "ivr", "queue", "offer", "offer", "operator", "recording", "hangup", "note"]
    assert 'id="call-hangup-by">the operator' in page
    assert "did not answer" in page and "operator hung up" in page
    assert f'href="/recordings/{ids["recording"]}"' in page
    assert "wants &lt;b&gt;a refund&lt;/b&gt;" in page     # the note, escaped
    assert as_role(panel, "admin").client.get("/calls/99999").status_code == 404


def test_an_operator_sees_only_calls_they_took_part_in(panel):
    ids = seed_calls(panel.config["KORUND_INSTANCE"])
    anna = as_role(panel, "anna")   # operator 1001: rung for 'queued', nothing to do with 'other'
    assert listed(anna) == [ids["queued"]]
    assert listed(anna, "?operator=1002") == [ids["queued"]]   # the filter is not theirs to widen
    assert anna.client.get(f"/calls/{ids['queued']}").status_code == 200
    assert anna.client.get(f"/calls/{ids['other']}").status_code == 404
    assert anna.client.get(f"/calls/{OTHER}").status_code == 404
    assert anna.client.get(f"/api/v1/calls/{ids['other']}").status_code == 404
    assert [c["id"] for c in anna.client.get("/api/v1/calls").get_json()] == [ids["queued"]]
    assert 'id="f-operator"' not in anna.client.get("/calls").get_data(as_text=True)


def test_a_technician_sees_no_calls(panel):
    seed_calls(panel.config["KORUND_INSTANCE"])
    tech = as_role(panel, "tech")
    for path in ("/calls", "/calls/1", "/api/v1/calls", "/api/v1/calls/1"):
        assert tech.client.get(path).status_code == 403, path
    assert 'id="nav-calls"' not in tech.client.get("/status").get_data(as_text=True)
    assert panel.test_client().get("/api/v1/calls").status_code == 401


def test_the_api_lists_pages_and_gives_the_legs(panel):
    ids = seed_calls(panel.config["KORUND_INSTANCE"])
    admin = as_role(panel, "admin")
    r = admin.client.get("/api/v1/calls?limit=1&offset=1")
    assert ([c["id"] for c in r.get_json()], r.headers["X-Total-Count"]) == ([ids["queued"]], "2")
    call = admin.client.get(f"/api/v1/calls/{ids['queued']}").get_json()
    assert [l["kind"] for l in call["legs"] if l["kind"] not in ("recording", "note")] == \
        ["trunk", "ivr", "queue", "offer", "offer", "operator", "hangup"]
    assert call["hangup_by"] == "operator" and call["operator"] == "1002" and call["wait_seconds"] > 5
    rec = next(l for l in call["legs"] if l["kind"] == "recording")
    assert rec["detail"]["url"] == f"/recordings/{ids['recording']}"
    assert admin.client.get(f"/api/v1/calls/{QUEUED}").get_json()["id"] == ids["queued"]
    for query, field in (("direction=up", "direction"), ("end=2026-13-01", "end"), ("offset=-1", "offset"),
                         ("limit=100000", "limit"), ("colour=red", "colour")):
        r = admin.client.get(f"/api/v1/calls?{query}")
        assert r.status_code == 422 and r.get_json()["field"] == field, query


def test_a_call_out_shows_its_route_line_and_cause_in_words(panel):
    inst = panel.config["KORUND_INSTANCE"]
    db = inst.open_store()
    uid = "1800000400.1"
    h = CallHistory(db)
    for i, (name, value) in enumerate((("KORUND_OUT_PURPOSE", "operator"), ("KORUND_OUT_DIALLED", "84951234567"),
                                       ("KORUND_OUT_ROUTE", "national"), ("KORUND_OUT_TRUNK_GROUP", "e1"),
                                       ("KORUND_OUT_SENT", "4951234567"), ("KORUND_OUT_SPAN", "2"),
                                       ("KORUND_OUT_CIRCUIT", "45"), ("KORUND_OUT_CAUSE", "17"),
                                       ("KORUND_OUT_STATUS", "BUSY"))):
        h.handle({"Event": "VarSet", "Uniqueid": uid, "Linkedid": uid, "Channel": "PJSIP/1001-00000200",
                  "Variable": name, "Value": value, "Timestamp": str(1800000400 + i / 10)})
    h.handle({"Event": "Hangup", "Uniqueid": uid, "Linkedid": uid, "Channel": "PJSIP/1001-00000200",
              "Cause": "17", "Timestamp": "1800000402"})
    call_id = db.execute("SELECT id FROM calls WHERE uniqueid = ?", [uid]).fetchone()[0]
    db.close()
    page = as_role(panel, "super").client.get(f"/calls/{call_id}").get_data(as_text=True)
    out = re.search(r'<td id="call-out">(.*?)</td>', page, re.S).group(1)
    assert "route national" in out and "trunk group e1" in out and "span 2, channel 45" in out
    assert "dialled 84951234567, sent 4951234567" in out
    assert '<span id="call-out-outcome">busy</span>' in out and "cause 17: user busy" in out
    # the operator who placed it sees it too; in Russian the words are Russian
    anna = as_role(panel, "anna")
    assert anna.client.get(f"/calls/{call_id}").status_code == 200
    with inst.open_store() as ru:
        ru.execute("UPDATE users SET language = 'ru' WHERE username = 'super'")
    page = as_role(panel, "super").client.get(f"/calls/{call_id}").get_data(as_text=True)
    out = re.search(r'<td id="call-out">(.*?)</td>', page, re.S).group(1)
    # the route's and the trunk group's names are shown as they were given
    assert "абонент занят" in out and "маршрут national" in out and "группа линий e1" in out
