"""The reports pages and API through Flask's test client on the hand-written
history of tests/reports_fixture.py (March 2026, Moscow time): roles, the
table and chart, CSV and XLSX as a user opens them, custom forms."""
from __future__ import annotations

import csv
import io
import re

import openpyxl
import pytest

from appliance.users import store as users
from tests import reports_fixture as fx
from tests.web.conftest import PASSWORD, Browser, as_role

MARCH = "from=2026-03-01&to=2026-03-31&period=custom"


@pytest.fixture
def app(panel):
    db = panel.config["KORUND_INSTANCE"].open_store()
    fx.seed(db)
    users.create(db, "boss", PASSWORD, "supervisor", language="ru")
    db.close()
    return panel


def test_admins_and_supervisors_see_reports_technicians_none(app):
    for name in ("admin", "super"):
        b = as_role(app, name)
        assert 'id="nav-reports"' in b.client.get("/reports/").get_data(as_text=True)
        assert b.client.get("/reports/groups").status_code == 200
        assert b.client.get("/api/v1/reports/groups").status_code == 200
    b = as_role(app, "tech")
    assert b.client.get("/reports/").status_code == 403
    assert b.client.get(f"/reports/operators?{MARCH}&format=csv").status_code == 403
    assert b.client.get("/api/v1/reports").status_code == 403
    assert b.client.get("/api/v1/reports/groups").status_code == 403
    assert 'id="nav-reports"' not in b.client.get("/profile").get_data(as_text=True)
    assert Browser(app).client.get("/api/v1/reports").status_code == 401
    # only admins make forms
    sup = as_role(app, "super")
    assert sup.client.get("/reports/new").status_code == 403
    assert sup.client.post("/api/v1/reports", json={"title": "x", "measures": ["calls"]},
                           headers={"X-CSRF-Token": sup.token("/reports/")}).status_code == 403


def test_an_operator_sees_only_their_own_figures(app):
    b = as_role(app, "anna")                                   # operator 1001
    listing = b.client.get("/reports/").get_data(as_text=True)
    assert 'id="nav-my-reports"' in listing and 'id="nav-reports"' not in listing
    assert {k for k in ("operators", "operator_states", "quality", "groups", "days")
            if f'id="open-{k}"' in listing} == {"operators", "operator_states", "quality"}
    assert 'id="new-report"' not in listing and 'id="custom-reports"' not in listing
    for key in ("groups", "days", "hours", "callbacks_messages"):
        assert b.client.get(f"/reports/{key}?{MARCH}").status_code == 403
        assert b.client.get(f"/api/v1/reports/{key}?{MARCH}").status_code == 403
    # asking for another operator's figures still gives one's own
    r = b.client.get(f"/api/v1/reports/operators?{MARCH}&operator=1002").get_json()
    assert r["rows"] == [["1001", 2, 180.0, 95.0, 0, 10.0]] and r["total"][1] == 2
    rows = list(csv.reader(io.StringIO(b.client.get(f"/reports/operator_states?{MARCH}&format=csv")
                                       .get_data().decode("utf-8-sig")), delimiter=";"))
    assert [r[0] for r in rows[1:]] == ["1001", "Total"]
    r = b.client.get(f"/api/v1/reports/quality?{MARCH}").get_json()
    assert [row[0] for row in r["rows"]] == ["1001"] and r["total"][1] == 85.0
    assert [f["key"] for f in b.client.get("/api/v1/reports").get_json()] == ["operators", "operator_states",
                                                                             "quality"]
    assert b.client.get("/reports/new").status_code == 403


def test_a_ready_report_shows_its_table_total_and_bars(app):
    page = as_role(app, "super").client.get(f"/reports/groups?{MARCH}").get_data(as_text=True)
    table = page[page.index('id="report-table"'):page.index("</table>", page.index('id="report-table"'))]
    cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", table, re.S)]
    # group, calls, answered, abandoned, SL %, ASA, AHT, IVR-only
    assert cells == ["—", "1", "0", "0", "—", "—", "—", "1",
                     "sales", "2", "1", "1", "50.0", "5.0", "60.0", "0",
                     "support", "5", "3", "2", "40.0", "17.7", "140.0", "0",
                     "Total", "8", "4", "3", "42.9", "14.5", "120.0", "1"]
    assert page.count('class="bar"') == 3
    hours = as_role(app, "super").client.get(f"/reports/hours?{MARCH}").get_data(as_text=True)
    assert hours.count('class="bar"') == 24
    days = as_role(app, "super").client.get(f"/reports/days?{MARCH}").get_data(as_text=True)
    assert days.count('class="point"') == 31 and 'class="series"' in days
    printable = as_role(app, "super").client.get(f"/reports/groups?{MARCH}&print=1").get_data(as_text=True)
    assert 'class="report printable"' in printable and 'id="print-now"' in printable


def test_filters_and_bad_periods(app):
    b = as_role(app, "admin")
    r = b.client.get(f"/api/v1/reports/groups?{MARCH}&group=sales").get_json()
    assert r["rows"] == [["sales", 2, 1, 1, 50.0, 5.0, 60.0, 0]]
    r = b.client.get("/api/v1/reports/service_level?from=2026-03-01&to=2026-03-31&sl=30").get_json()
    assert r["total"][-1] == 50.0                 # inbound: A B E within 30 s of 6 offered
    for query, field in (("from=2026-03-05&to=2026-03-01", "to"), ("from=yesterday&to=2026-03-01", "from"),
                         ("period=fortnight", "period"), ("sl=0", "sl_seconds"), ("format=pdf", "format")):
        r = b.client.get(f"/api/v1/reports/groups?{query}")
        assert r.status_code == 422 and r.get_json()["field"] == field, query
    assert b.client.get("/api/v1/reports/nosuch").status_code == 404
    page = b.client.get("/reports/groups?from=2026-03-05&to=2026-03-01&period=custom").get_data(as_text=True)
    assert 'class="flash error"' in page        # the page says why and shows the default period


def test_csv_opens_in_excel_with_cyrillic(app):
    b = as_role(app, "boss")                       # a Russian-speaking supervisor
    r = b.client.get(f"/reports/groups?{MARCH}&format=csv")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert "report-groups-2026-03-01-2026-03-31.csv" in r.headers["Content-Disposition"]
    raw = r.get_data()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][:3] == ["Группа", "Звонки", "Отвечено"]
    assert rows[1:] == [["—", "1", "0", "0", "", "", "", "1"],
                        ["sales", "2", "1", "1", "50.0", "5.0", "60.0", "0"],
                        ["support", "5", "3", "2", "40.0", "17.7", "140.0", "0"],
                        ["Итого", "8", "4", "3", "42.9", "14.5", "120.0", "1"]]


def test_xlsx_has_a_bold_header_and_numbers_as_numbers(app):
    b = as_role(app, "admin")
    r = b.client.get(f"/api/v1/reports/operator_states?{MARCH}&format=xlsx")
    assert r.status_code == 200 and r.mimetype.endswith("spreadsheetml.sheet")
    book = openpyxl.load_workbook(io.BytesIO(r.get_data()))
    sheet = book.active
    assert sheet.title == "Operator state times"
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert rows[0] == ["Operator", "Ready", "On a call", "Wrap-up", "Paused", "Paused, by reason: lunch",
                       "Paused, by reason: training"]
    assert rows[1] == ["1001", 3600, 130, 60, 10800, 3600, 7200]
    # 1002's lunch is still open: the panel counts it up to now, within the period (to Apr 1 00:00 Moscow)
    assert rows[2] == ["1002", 0, 0, 0, 2286000, 2286000, 0]
    assert rows[-1][0] == "Total" and rows[-1][5] == 3600 + 2286000
    assert all(sheet.cell(1, c).font.b for c in range(1, 8)) and not sheet.cell(2, 1).font.b
    assert isinstance(sheet.cell(2, 2).value, (int, float))


def test_admin_builds_saves_edits_and_deletes_a_custom_form(app):
    b = as_role(app, "admin")
    form = {"title": "Продажи по дням", "dimension1": "day", "dimension2": "", "dimension3": "",
            "measures": ["calls", "service_level"], "filter_group": "sales", "period": "month",
            "chart": "line", "sl_seconds": "20"}
    bad = b.post("/reports/new", {**form, "measures": [], "title": "Broken form"})
    assert bad.status_code == 422 and 'id="error-measures"' in bad.get_data(as_text=True)
    bad = b.post("/reports/new", {**form, "dimension2": "group", "title": "Broken form"})
    assert bad.status_code == 422 and 'id="error-chart"' in bad.get_data(as_text=True)
    r = b.post("/reports/new", form)
    assert r.status_code == 302
    key = r.headers["Location"].rsplit("/", 1)[1]
    listing = b.client.get("/reports/").get_data(as_text=True)
    assert f'id="open-{key}"' in listing and "Продажи по дням" in listing and "Broken form" not in listing
    data = b.client.get(f"/api/v1/reports/{key}?{MARCH}").get_json()
    assert data["title"] == "Продажи по дням" and data["total"] == [None, 2, 50.0]
    assert data["columns"][0]["key"] == "day" and len(data["rows"]) == 31
    r = b.post(f"/reports/{key}/edit", {**form, "dimension1": "group", "chart": "bar", "filter_group": ""})
    assert r.status_code == 302
    page = b.client.get(f"/reports/{key}?{MARCH}").get_data(as_text=True)
    assert page.count('class="bar"') == 3 and 'id="edit-report"' in page
    assert b.post(f"/reports/{key}/edit", {"action": "delete"}).status_code == 302
    assert b.client.get(f"/reports/{key}").status_code == 404
    db = app.config["KORUND_INSTANCE"].open_store()
    assert [r[0] for r in db.execute("SELECT action FROM audit WHERE target = ? ORDER BY id", [key])] == [
        "report form added", "report form changed", "report form deleted"]


def test_the_api_refuses_bad_forms_and_saves_nothing(app):
    b = as_role(app, "admin")
    h = {"X-CSRF-Token": b.token("/reports/")}
    for payload, field in (({"title": "x", "measures": ["calls"], "dimensions": ["colour"]}, "dimensions"),
                           ({"title": "x", "measures": ["joy"]}, "measures"),
                           ({"title": "x", "measures": ["state_ready"], "dimensions": ["group"]}, "dimensions")):
        r = b.client.post("/api/v1/reports", json=payload, headers=h)
        assert r.status_code == 422 and r.get_json()["field"] == field
    assert b.client.post("/api/v1/reports", json={"title": "x", "measures": ["calls"]}).status_code == 400  # no CSRF
    assert [f for f in b.client.get("/api/v1/reports").get_json() if f["custom"]] == []
    assert b.client.put("/api/v1/reports/groups", json={"title": "x", "measures": ["calls"]},
                        headers=h).status_code == 404            # ready forms are not edited


def test_each_ready_report_offers_only_the_filters_its_figures_take(app):
    b = as_role(app, "super")
    for key, expected in (("quality", {"operator"}), ("operator_states", {"operator"}),
                          ("callbacks_messages", {"group"}),
                          ("groups", {"group", "operator", "line", "dnis", "direction"})):
        page = b.client.get(f"/reports/{key}?{MARCH}").get_data(as_text=True)
        form = page[page.index('id="report-controls"'):page.index("</form>", page.index('id="report-controls"'))]
        offered = {f for f in ("group", "operator", "line", "dnis", "direction") if f'id="f-{f}"' in form}
        assert offered == expected, key
        assert b.client.get(f"/reports/{key}?{MARCH}&format=csv").status_code == 200
