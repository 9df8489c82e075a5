"""The recording archive and quality review (F12) through Flask's test client
against a real SQLite store and real WAV files in the instance's recordings
folder: filters, who may list / hear / download which recording (page and
API, by id and by guessing), HTTP Range, the audit log, legal hold,
evaluation forms and weighted scores, averages, an operator's own scores."""
from __future__ import annotations

import hashlib
import json
import re

import pytest

from appliance.recordings import quality
from appliance.recordings import store as recordings
from appliance.users import store as users
from tests.web.conftest import as_role
from tests.web.test_inbox import wav

# (key, started_at UTC, operator, group, ani, dnis, seconds, status, extra)
CALLS = [
    ("a1", "2026-03-02T07:00:00+00:00", "1001", "support", "4951234567", "100", 5, "good", {}),
    ("a2", "2026-03-03T09:30:00+00:00", "1001", "sales", "4957654321", "200", 2, "good", {}),
    ("b1", "2026-03-02T08:00:00+00:00", "1002", "support", "4951112233", "100", 40, "good", {}),
    ("b2", "2026-03-04T10:00:00+00:00", "1002", "support", "4959998877", "100", 3, "broken", {}),
    ("b3", "2026-03-05T10:00:00+00:00", "1002", "support", "4950001122", "100", 3, "deleted",
     {"deleted_at": "2026-03-20T00:00:00+00:00", "delete_reason": "retention: 14 days"}),
]


def seed_recordings(inst) -> dict:
    """Index rows as the capture side writes them, each good one with its WAV."""
    db = inst.open_store()
    ids = {}
    for key, started, op, grp, ani, dnis, seconds, status, extra in CALLS:
        audio = wav(seconds)
        row = {"linkedid": f"1772000000.{len(ids) + 1}", "path": f"2026/03/{key}.wav", "started_at": started,
               "ended_at": None, "duration": float(seconds), "size": len(audio),
               "sha256": hashlib.sha256(audio).hexdigest(), "channels": 1, "operator": op, "grp": grp,
               "ani": ani, "dnis": dnis, "policy": "default", "status": status, **extra}
        cols = ", ".join(row)
        cur = db.execute(f"INSERT INTO recordings ({cols}) VALUES ({', '.join('?' * len(row))})", list(row.values()))
        ids[key] = cur.lastrowid
        if status == "good":
            path = recordings.file_of(inst, {**row, "id": cur.lastrowid})
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(audio)
    db.conn.commit()
    db.close()
    return ids


@pytest.fixture
def seeded(panel):
    return panel, seed_recordings(panel.config["KORUND_INSTANCE"])


def listed(b, query="") -> list[int]:
    page = b.client.get("/recordings" + query).get_data(as_text=True)
    return [int(i) for i in re.findall(r'<tr id="recording-(\d+)"', page)]


def api_ids(b, query="") -> list[int]:
    r = b.client.get("/api/v1/recordings" + query)
    assert r.status_code == 200, r.get_data(as_text=True)
    return [x["id"] for x in r.get_json()]


def audits(panel, action) -> list[tuple]:
    db = panel.config["KORUND_INSTANCE"].open_store()
    rows = db.execute("SELECT username, target FROM audit WHERE action = ? ORDER BY id", [action]).fetchall()
    db.close()
    return [tuple(r) for r in rows]


def test_roles_on_the_pages_and_the_api(seeded):
    panel, ids = seeded
    for login, pages in (("admin", 200), ("super", 200), ("anna", 200), ("tech", 403)):
        b = as_role(panel, login)
        for path in ("/recordings", "/api/v1/recordings", f"/recordings/{ids['a1']}",
                     f"/recordings/{ids['a1']}/audio", f"/api/v1/recordings/{ids['a1']}"):
            assert b.client.get(path).status_code == pages, (login, path)
        quality_code = 200 if login in ("admin", "super") else 403
        assert b.client.get("/quality").status_code == quality_code
        assert b.client.get("/quality/forms/new").status_code == quality_code
        assert b.client.get("/my-scores").status_code == (200 if login == "anna" else 403)
    anonymous = panel.test_client()
    assert anonymous.get(f"/recordings/{ids['a1']}/audio").status_code == 302
    assert anonymous.get(f"/api/v1/recordings/{ids['a1']}/audio").status_code == 401


def test_filters_and_what_each_role_sees(seeded):
    panel, ids = seeded
    admin, sup = as_role(panel, "admin"), as_role(panel, "super")
    # Newest first; admins also see the broken one, supervisors not; the deleted one says why.
    assert listed(admin) == [ids[k] for k in ("b3", "b2", "a2", "b1", "a1")]
    assert listed(sup) == [ids[k] for k in ("b3", "a2", "b1", "a1")]
    assert listed(sup, "?order=asc") == [ids[k] for k in ("a1", "b1", "a2", "b3")]
    page = sup.client.get("/recordings").get_data(as_text=True)
    assert "retention: 14 days" in page
    assert f'/recordings/{ids["b3"]}/audio' not in page and f'/recordings/{ids["a1"]}/audio?download=1' in page
    # Period: the call center's days (Europe/Moscow by default, UTC+3).
    assert api_ids(sup, "?start=2026-03-02&end=2026-03-02&order=asc") == [ids["a1"], ids["b1"]]
    assert api_ids(sup, "?start=2026-03-03") == [ids["b3"], ids["a2"]]
    assert api_ids(sup, "?operator=1001&order=asc") == [ids["a1"], ids["a2"]]
    assert api_ids(sup, "?group=sales") == [ids["a2"]]
    assert api_ids(sup, "?ani=1112") == [ids["b1"]]
    assert api_ids(sup, "?dnis=200") == [ids["a2"]]
    assert api_ids(sup, "?min_duration=4&max_duration=39&order=asc") == [ids["a1"]]
    assert listed(sup, "?operator=1002&group=support") == [ids["b3"], ids["b1"]]
    assert api_ids(sup, "?limit=2&offset=1") == [ids["a2"], ids["b1"]]
    # Bad filters: a clear error, no list.
    r = sup.client.get("/api/v1/recordings?start=2026-13-01")
    assert r.status_code == 422 and r.get_json()["field"] == "start"
    assert sup.client.get("/api/v1/recordings?ani=12%27%20OR%201=1").get_json()["field"] == "ani"
    assert sup.client.get("/api/v1/recordings?min_duration=10&max_duration=5").status_code == 422
    page = sup.client.get("/recordings?start=yesterday").get_data(as_text=True)
    assert 'id="error-start"' in page and "recording-list" not in page


def test_an_operator_sees_hears_and_downloads_only_their_own_recordings(seeded):
    panel, ids = seeded
    anna = as_role(panel, "anna")            # operator 1001
    assert listed(anna) == [ids["a2"], ids["a1"]]
    assert listed(anna, "?operator=1002") == [ids["a2"], ids["a1"]]     # the filter cannot widen it
    assert api_ids(anna) == [ids["a2"], ids["a1"]]
    assert api_ids(anna, "?operator=1002") == []
    r = anna.client.get(f"/recordings/{ids['a1']}/audio")
    assert r.status_code == 200 and r.data[:4] == b"RIFF"
    others = [ids[k] for k in ("b1", "b2", "b3")] + [max(ids.values()) + 1, 0, -1]
    for rid in others:
        for path in (f"/recordings/{rid}", f"/recordings/{rid}/audio", f"/recordings/{rid}/audio?download=1",
                     f"/api/v1/recordings/{rid}", f"/api/v1/recordings/{rid}/audio"):
            r = anna.client.get(path)
            assert r.status_code == 404, (path, r.status_code)
            assert b"RIFF" not in r.data
    for crafted in ("..%2F..%2Fkorund.db", "1%20OR%201=1", "2026%2F03%2Fb1.wav"):
        assert anna.client.get(f"/recordings/{crafted}/audio").status_code == 404
        assert anna.client.get(f"/api/v1/recordings/{crafted}").status_code == 404
    # The operator cannot set a legal hold.
    token = anna.token("/recordings")
    assert anna.client.post(f"/recordings/{ids['a1']}/hold", data={"csrf_token": token, "on": "1"}).status_code == 403
    # Nothing of the other operator's was audited as played.
    assert all(t != str(ids["b1"]) for _u, t in audits(panel, "recording played"))


def test_range_requests_seek_and_playback_and_download_are_audited(seeded):
    panel, ids = seeded
    sup = as_role(panel, "super")
    url = f"/recordings/{ids['b1']}/audio"
    whole = sup.client.get(url)
    assert whole.status_code == 200 and whole.mimetype == "audio/wav"
    assert whole.headers["Accept-Ranges"] == "bytes" and len(whole.data) == 44 + 40 * 16000
    part = sup.client.get(url, headers={"Range": "bytes=1000-1999"})
    assert part.status_code == 206
    assert part.headers["Content-Range"] == f"bytes 1000-1999/{len(whole.data)}"
    assert part.data == whole.data[1000:2000]
    tail = sup.client.get(url, headers={"Range": "bytes=-100"})
    assert tail.status_code == 206 and tail.data == whole.data[-100:]
    assert sup.client.get(url, headers={"Range": f"bytes={len(whole.data) + 10}-"}).status_code == 416
    start = sup.client.get(url, headers={"Range": "bytes=0-"})
    assert start.status_code == 206 and start.data == whole.data
    # One audit row per playback from the start, none for the seeks.
    assert audits(panel, "recording played") == [("super", str(ids["b1"]))] * 2
    d = sup.client.get(url + "?download=1")
    disposition = d.headers["Content-Disposition"]
    assert d.status_code == 200 and disposition.startswith("attachment")
    assert "recording-2026-03-02_11-00-00-4951112233.wav" in disposition          # Moscow time, caller
    assert audits(panel, "recording downloaded") == [("super", str(ids["b1"]))]
    api = sup.client.get(f"/api/v1/recordings/{ids['b1']}/audio", headers={"Range": "bytes=44-143"})
    assert api.status_code == 206 and api.data == whole.data[44:144]
    # The audit page shows who heard which recording.
    admin = as_role(panel, "admin")
    log = admin.client.get("/audit/").get_data(as_text=True)
    assert "recording downloaded" in log and str(ids["b1"]) in log


def test_legal_hold_on_and_off_is_audited_and_needs_csrf(seeded):
    panel, ids = seeded
    sup = as_role(panel, "super")
    url = f"/recordings/{ids['a1']}/hold"
    assert sup.client.post(url, data={"on": "1"}).status_code == 400
    assert sup.post(url, {"on": "1"}, token_from=f"/recordings/{ids['a1']}").status_code == 302
    db = panel.config["KORUND_INSTANCE"].open_store()
    assert db.execute("SELECT legal_hold FROM recordings WHERE id = ?", [ids["a1"]]).fetchone()[0] == 1
    assert api_ids(sup, "?hold=1") == [ids["a1"]]
    page = sup.client.get(f"/recordings/{ids['a1']}").get_data(as_text=True)
    assert 'id="hold-on"' in page
    r = sup.client.post(f"/api/v1/recordings/{ids['a1']}/hold", json={"on": False},
                        headers={"X-CSRF-Token": sup.token("/recordings")})
    assert r.status_code == 200 and r.get_json()["legal_hold"] is False
    assert sup.client.post(f"/api/v1/recordings/{ids['a1']}/hold", json={"on": "yes"},
                           headers={"X-CSRF-Token": sup.token("/recordings")}).status_code == 422
    assert db.execute("SELECT legal_hold FROM recordings WHERE id = ?", [ids["a1"]]).fetchone()[0] == 0
    db.close()
    assert audits(panel, "recording legal hold on") == [("super", str(ids["a1"]))]
    assert audits(panel, "recording legal hold off") == [("super", str(ids["a1"]))]


FORM = {"name": "Standard call", "active": "1",
        "crit_name_1": "Greeting", "crit_weight_1": "2", "crit_max_points_1": "5", "crit_description_1": "Name and company",
        "crit_name_2": "Solution", "crit_weight_2": "1", "crit_max_points_2": "10", "crit_description_2": "",
        "crit_name_3": "Politeness", "crit_weight_3": "0,5", "crit_max_points_3": "3", "crit_description_3": "",
        "crit_name_4": "", "crit_weight_4": "", "crit_max_points_4": "", "crit_description_4": ""}


def make_form(b) -> dict:
    r = b.post("/quality/forms/new", FORM)
    assert r.status_code == 302, r.get_data(as_text=True)
    db = b.client.application.config["KORUND_INSTANCE"].open_store()
    form = quality.list_forms(db)[0]
    db.close()
    return form


def score(b, rid, form, points, comments=None, comment=""):
    data = {"form_id": form["id"], "comment": comment}
    for c, p in zip(form["criteria"], points):
        data[f"points_{c['id']}"] = p
    for c, text in zip(form["criteria"], comments or []):
        data[f"comment_{c['id']}"] = text
    return b.post(f"/recordings/{rid}/score", data, token_from=f"/recordings/{rid}")


def test_form_validation_errors_keep_what_was_typed(panel):
    sup = as_role(panel, "super")
    for field, value, error_id in (("crit_weight_2", "0", "error-crit-weight-2"),
                                   ("crit_weight_1", "101", "error-crit-weight-1"),
                                   ("crit_weight_1", "heavy", "error-crit-weight-1"),
                                   ("crit_max_points_3", "0", "error-crit-max_points-3"),
                                   ("crit_max_points_3", "2.5", "error-crit-max_points-3"),
                                   ("crit_name_2", "greeting", "error-crit-name-2"),
                                   ("name", "", "error-name")):
        r = sup.post("/quality/forms/new", {**FORM, field: value})
        page = r.get_data(as_text=True)
        assert r.status_code == 422 and f'id="{error_id}"' in page, (field, value)
        assert 'value="Name and company"' in page
    r = sup.post("/quality/forms/new", {"name": "Empty", "crit_name_1": "", "crit_weight_1": "",
                                        "crit_max_points_1": "", "crit_description_1": ""})
    assert r.status_code == 422 and 'id="error-criteria"' in r.get_data(as_text=True)
    db = panel.config["KORUND_INSTANCE"].open_store()
    assert quality.list_forms(db) == []
    db.close()


def test_weighted_scores_versions_and_averages(seeded):
    panel, ids = seeded
    sup, admin = as_role(panel, "super"), as_role(panel, "admin")
    form = make_form(sup)
    assert [(c["name"], c["weight"], c["max_points"]) for c in form["criteria"]] == [
        ("Greeting", 2.0, 5), ("Solution", 1.0, 10), ("Politeness", 0.5, 3)]
    page = sup.client.get(f"/recordings/{ids['a1']}").get_data(as_text=True)
    assert 'id="player"' in page and 'id="score-form"' in page and "Name and company" in page
    # 100 * (2*4/5 + 1*5/10 + 0.5*3/3) / 3.5 = 100 * 2.6 / 3.5 = 74.2857...
    r = score(sup, ids["a1"], form, [4, 5, 3], ["Said the name", "", ""], "Good call")
    assert r.status_code == 302
    page = sup.client.get(f"/recordings/{ids['a1']}").get_data(as_text=True)
    assert '<strong class="total">74.3</strong>' in page and "Said the name" in page and "Good call" in page
    # The same reviewer again replaces the score: 100 * (2*1 + 1*1 + 0.5*0) / 3.5 = 85.714...
    assert score(sup, ids["a1"], form, [5, 10, 0]).status_code == 302
    # Another reviewer's score stands beside it: 100 * (0 + 1*0.2 + 0.5*(1/3)) / 3.5 = 10.476...
    assert score(admin, ids["a2"], form, [0, 2, 1]).status_code == 302
    assert score(admin, ids["b1"], form, [5, 10, 3]).status_code == 302                 # 100
    db = panel.config["KORUND_INSTANCE"].open_store()
    totals = {r[0]: round(r[1], 1) for r in db.execute("SELECT recording_id, total FROM quality_scores")}
    assert totals == {ids["a1"]: 85.7, ids["a2"]: 10.5, ids["b1"]: 100.0}
    # Averages for the period (Moscow days): 1001 = (85.714 + 10.476) / 2 = 48.095; support = (85.714 + 100) / 2.
    by_op = quality.averages(db, "2026-03-01T00:00:00+03:00", "2026-03-05T00:00:00+03:00", "operator")
    assert by_op == [{"key": "1001", "count": 2, "score": 48.1}, {"key": "1002", "count": 1, "score": 100.0}]
    by_grp = quality.averages(db, "2026-03-01T00:00:00+03:00", "2026-03-05T00:00:00+03:00", "grp")
    assert by_grp == [{"key": "sales", "count": 1, "score": 10.5}, {"key": "support", "count": 2, "score": 92.9}]
    assert quality.averages(db, "2026-03-03T00:00:00+03:00", "2026-03-04T00:00:00+03:00", "operator") == [
        {"key": "1001", "count": 1, "score": 10.5}]
    page = sup.client.get("/quality?start=2026-03-01&end=2026-03-04").get_data(as_text=True)
    assert re.search(r'data-key="1001"><td>1001 — [^<]*</td><td>2</td><td class="avg">48.1</td>', page)
    assert re.search(r'data-key="support"><td>support</td><td>2</td><td class="avg">92.9</td>', page)
    assert api_ids(sup, "?scored=no") == [ids["b3"]]
    assert api_ids(sup, "?scored=yes&order=asc") == [ids["a1"], ids["b1"], ids["a2"]]
    one = sup.client.get(f"/api/v1/recordings/{ids['a1']}").get_json()
    assert one["score"] == 85.7 and one["scores"][0]["criteria"][0] == {
        "name": "Greeting", "weight": 2.0, "max_points": 5, "points": 5, "comment": ""}
    # Changing a used form makes version 2; the old scores keep their criteria; deleting is refused.
    edit = {**FORM, "crit_name_3": "Courtesy", "crit_weight_3": "1"}
    r = sup.post(f"/quality/forms/{form['id']}", {**edit, "action": "save"})
    assert r.status_code == 302
    forms = quality.list_forms(db)
    assert len(forms) == 1 and forms[0]["version"] == 2 and forms[0]["id"] != form["id"]
    assert [c["name"] for c in quality.scores_of_recording(db, ids["a1"])[0]["criteria"]][2] == "Politeness"
    r = sup.post(f"/quality/forms/{forms[0]['id']}", {"action": "delete"})
    assert r.status_code == 302 and quality.list_forms(db)
    assert sup.client.get(f"/quality/forms/{form['id']}").status_code == 404    # the old version is not editable
    assert audits(panel, "recording scored")[0] == ("super", str(ids["a1"]))
    assert [a for a, in db.execute("SELECT action FROM audit WHERE action LIKE 'quality form%' ORDER BY id")] == [
        "quality form created", "quality form changed"]
    db.close()


def test_score_validation_refuses_and_saves_nothing(seeded):
    panel, ids = seeded
    sup = as_role(panel, "super")
    form = make_form(sup)
    crit = form["criteria"]
    r = score(sup, ids["a1"], form, [6, 5, 3])                       # Greeting is out of 5
    page = r.get_data(as_text=True)
    assert r.status_code == 422 and f'id="error-criterion-{crit[0]["id"]}"' in page and "Greeting" in page
    assert f'value="6"' in page                                      # what was typed stays
    assert score(sup, ids["a1"], form, [4, "", 3]).status_code == 422       # missing points
    assert score(sup, ids["a1"], form, [4, -1, 3]).status_code == 422
    assert score(sup, ids["a1"], form, [4, "2.5", 3]).status_code == 422
    data = {"form_id": form["id"], "points_99999": "1"}
    data.update({f"points_{c['id']}": "1" for c in crit})
    r = sup.post(f"/recordings/{ids['a1']}/score", data, token_from=f"/recordings/{ids['a1']}")
    assert r.status_code == 422 and "no such criterion" in r.get_data(as_text=True)
    r = sup.post(f"/recordings/{ids['a1']}/score", {"form_id": "424242", "points_1": "1"},
                 token_from=f"/recordings/{ids['a1']}")
    assert r.status_code == 422
    db = panel.config["KORUND_INSTANCE"].open_store()
    assert db.execute("SELECT COUNT(*) FROM quality_scores").fetchone()[0] == 0
    with pytest.raises(Exception):
        quality.save_score(db, quality_recording(db, ids["b2"]), form["id"], "super", {c["id"]: 1 for c in crit})
    db.close()
    anna = as_role(panel, "anna")
    assert score(anna, ids["a1"], form, [1, 1, 1]).status_code == 403


def quality_recording(db, rid) -> dict:
    cols = ("id", "status", "operator", "grp", "started_at")
    return dict(zip(cols, db.execute(f"SELECT {', '.join(cols)} FROM recordings WHERE id = ?", [rid]).fetchone()))


def test_an_operator_sees_only_their_own_scores(seeded):
    panel, ids = seeded
    sup = as_role(panel, "super")
    form = make_form(sup)
    score(sup, ids["a1"], form, [5, 10, 3], ["Perfect greeting", "", ""], "Keep it up")
    score(sup, ids["b1"], form, [1, 1, 1], ["Forgot the company", "", ""], "Needs coaching")
    anna = as_role(panel, "anna")
    mine = anna.client.get("/my-scores").get_data(as_text=True)
    assert "Perfect greeting" in mine and "Keep it up" in mine and ">100.0</span>" in mine
    assert "Forgot the company" not in mine and "Needs coaching" not in mine
    page = anna.client.get(f"/recordings/{ids['a1']}").get_data(as_text=True)
    assert "Keep it up" in page and 'id="score-form"' not in page and 'id="hold-on-button"' not in page
    assert 'id="nav-my-scores"' in page and 'id="nav-recordings"' in page and 'id="nav-quality"' not in page
    assert anna.client.get(f"/api/v1/recordings/{ids['b1']}").status_code == 404
    listing = anna.client.get("/api/v1/recordings").get_json()
    assert {r["id"] for r in listing} == {ids["a1"], ids["a2"]}
    assert json.dumps(listing).count("Needs coaching") == 0


def test_an_unused_form_changes_in_place_a_switched_off_one_scores_nothing_and_an_unused_one_deletes(seeded):
    panel, ids = seeded
    sup = as_role(panel, "super")
    form = make_form(sup)
    r = sup.post(f"/quality/forms/{form['id']}", {**FORM, "crit_weight_1": "4", "active": "", "action": "save"})
    assert r.status_code == 302
    db = panel.config["KORUND_INSTANCE"].open_store()
    (same,) = quality.list_forms(db)
    assert same["id"] == form["id"] and same["version"] == 1 and same["criteria"][0]["weight"] == 4.0
    assert not same["active"] and quality.list_forms(db, active_only=True) == []
    page = sup.client.get(f"/recordings/{ids['a1']}").get_data(as_text=True)
    assert 'id="no-forms"' in page and 'id="score-form"' not in page
    r = score(sup, ids["a1"], same, [1, 1, 1])
    assert r.status_code == 422 and "switched off" in r.get_data(as_text=True)
    assert sup.post(f"/quality/forms/{form['id']}", {"action": "delete"}).status_code == 302
    assert quality.list_forms(db) == []
    assert db.execute("SELECT COUNT(*) FROM quality_criteria").fetchone()[0] == 0
    db.close()


def test_the_pages_speak_russian(seeded):
    panel, ids = seeded
    sup = as_role(panel, "super")
    db = panel.config["KORUND_INSTANCE"].open_store()
    users.update(db, next(u.id for u in users.all_users(db) if u.username == "super"), language="ru")
    db.close()
    page = sup.client.get("/recordings").get_data(as_text=True)
    assert "Записи разговоров" in page and "Оценка качества" in page and "Найдено записей: 4" in page
    assert "удалена: retention: 14 days" in page
    r = sup.client.get("/api/v1/recordings?start=2026-13-01")
    assert r.get_json()["message"] == "дата вида 2026-03-31"


def test_quality_over_the_api(seeded):
    panel, ids = seeded
    sup, anna = as_role(panel, "super"), as_role(panel, "anna")
    h = {"X-CSRF-Token": sup.token("/recordings")}
    bad = sup.client.post("/api/v1/quality/forms", headers=h, json={
        "name": "API form", "criteria": [{"name": "Greeting", "weight": 1, "max_points": 5},
                                         {"name": "Accuracy", "weight": 150, "max_points": 5}]})
    assert bad.status_code == 422 and bad.get_json()["field"] == "criteria.2.weight"
    r = sup.client.post("/api/v1/quality/forms", headers=h, json={
        "name": "API form", "criteria": [{"name": "Greeting", "weight": 1, "max_points": 5},
                                         {"name": "Accuracy", "weight": 3, "max_points": 4}]})
    assert r.status_code == 201
    form = r.get_json()
    greet, acc = (c["id"] for c in form["criteria"])
    url = f"/api/v1/recordings/{ids['a1']}/scores"
    for points, field in (({str(greet): 5}, f"criterion.{acc}"), ({str(greet): 5, str(acc): 5}, f"criterion.{acc}"),
                          ({str(greet): 5, str(acc): 1, "777": 1}, "criterion.777")):
        r = sup.client.post(url, headers=h, json={"form_id": form["id"], "points": points})
        assert r.status_code == 422 and r.get_json()["field"] == field, (points, r.get_json())
    # 100 * (1 * 2/5 + 3 * 3/4) / 4 = 100 * 2.65 / 4 = 66.25, stored exactly, shown to 0.1 (half to even: 66.2).
    r = sup.client.post(url, headers=h, json={"form_id": form["id"], "points": {str(greet): 2, str(acc): 3},
                                              "comments": {str(acc): "Wrong tariff at first"}, "comment": "OK"})
    assert r.status_code == 201 and r.get_json()["total"] == round(66.25, 1)
    assert sup.client.post(f"/api/v1/recordings/{ids['b2']}/scores", headers=h,   # broken: not visible to her
                           json={"form_id": form["id"], "points": {}}).status_code == 404
    assert anna.client.post(url, headers={"X-CSRF-Token": anna.token("/recordings")},
                            json={"form_id": form["id"], "points": {}}).status_code == 403
    mine = anna.client.get("/api/v1/quality/scores?operator=1002").get_json()      # always her own
    assert [s["recording_id"] for s in mine] == [ids["a1"]]
    assert mine[0]["criteria"][1]["comment"] == "Wrong tariff at first"
    assert sup.client.get("/api/v1/quality/scores?operator=1002").get_json() == []
    averages = sup.client.get("/api/v1/quality/averages?start=2026-03-01&end=2026-03-31&by=group").get_json()
    assert averages == [{"key": "support", "count": 1, "score": 66.2}]
    assert sup.client.get("/api/v1/quality/averages?by=queue").status_code == 422
    assert sup.client.get("/api/v1/quality/averages?start=2026-03-31&end=2026-03-01").status_code == 422
    r = sup.client.delete(f"/api/v1/quality/forms/{form['id']}", headers=h)
    assert r.status_code == 422 and r.get_json()["field"] == "form"
    r = sup.client.put(f"/api/v1/quality/forms/{form['id']}", headers=h, json={"active": False})
    assert r.status_code == 200 and r.get_json()["id"] == form["id"] and r.get_json()["active"] is False
    assert anna.client.get("/api/v1/quality/forms").status_code == 403


def test_pages_keep_the_filters(seeded, monkeypatch):
    from appliance.recordings import search as recording_search
    panel, ids = seeded
    monkeypatch.setattr(recording_search, "PER_PAGE", 2)
    sup = as_role(panel, "super")
    first = sup.client.get("/recordings?group=support&order=asc").get_data(as_text=True)
    assert [int(i) for i in re.findall(r'<tr id="recording-(\d+)"', first)] == [ids["a1"], ids["b1"]]
    link = re.search(r'href="([^"]+)" id="next"', first).group(1).replace("&amp;", "&")
    assert "group=support" in link and "order=asc" in link and "page=2" in link
    assert listed(sup, link[len("/recordings"):]) == [ids["b3"]]
