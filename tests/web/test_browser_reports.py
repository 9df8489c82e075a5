"""Reports in a real headless Chromium against a real appliance whose store
holds the hand-written history of tests/reports_fixture.py: open a ready
report from the menu, pick March 2026, the SVG chart has one bar per group;
build and save a custom form, it is listed beside the ready ones and shows
its own chart. Then a real call from the carrier to an operator shows up in
this month's reports."""
from __future__ import annotations

from playwright.sync_api import expect
from appliance.base import store
from tests import reports_fixture as fx
from tests.web.browser import chromium, create_admin, login, page, site  # noqa: F401 (fixtures)


def _show_march(page):
    page.select_option("#f-period", "custom")
    page.fill("#f-from", "2026-03-01")
    page.fill("#f-to", "2026-03-31")
    page.click("#show")


def _admin(page, site):
    """The administrator: created on the module's first test, logged in after."""
    page.goto(site + "/setup")
    if page.locator("#create-admin").count():
        create_admin(page, site)
    else:
        login(page, site)
    expect(page.locator("h1")).to_have_text("Состояние")


def test_ready_report_chart_and_a_custom_form(page, site, appliance):
    db = store.open_store(appliance.host_base / "korund.db", migrate=False)
    try:
        fx.seed(db)
    finally:
        db.close()
    _admin(page, site)

    page.click("#nav-reports")
    expect(page.locator("h1")).to_have_text("Отчёты")
    page.click("#open-groups")
    expect(page.locator("#report-title")).to_have_text("По группам")
    _show_march(page)
    expect(page.locator("#report-period")).to_contain_text("2026-03-01 — 2026-03-31")
    bars = page.locator("#report-chart svg rect.bar")
    expect(bars).to_have_count(3)                      # no group (IVR only), sales, support
    expect(page.locator("#report-total")).to_contain_text("Итого")
    rows = page.locator("#report-table tr")
    expect(rows.nth(2)).to_contain_text("sales")
    expect(rows.nth(3)).to_contain_text("support")
    # the tallest bar is support's 5 calls, sales' is 2/5 of it
    heights = [float(bars.nth(i).get_attribute("height")) for i in range(3)]
    assert heights[2] == max(heights) and abs(heights[1] / heights[2] - 0.4) < 0.01

    page.click("#nav-reports")
    page.click("#new-report")
    page.fill("#f-title", "Звонки по часам")
    page.select_option("#f-dimension1", "hour")
    page.uncheck("#m-answered")                        # the new form starts with calls, answered, abandoned
    page.check("#m-calls")
    page.check("#m-abandoned")
    page.select_option("#f-chart", "bar")
    page.click("#save-report")
    expect(page.locator(".flash")).to_contain_text("Отчёт «Звонки по часам» сохранён")
    _show_march(page)
    expect(page.locator("#report-chart svg rect.bar")).to_have_count(24)
    page.click("#nav-reports")
    expect(page.locator("#custom-reports")).to_contain_text("Звонки по часам")
    expect(page.locator("#ready-reports")).to_contain_text("По группам")


def test_a_real_call_is_in_this_months_reports(page, site, appliance, carrier):
    before = appliance.last_call_id()
    call = carrier.call(ani="4957654321", dnis="100", hold=8)
    operator = call.answered_by_phone()["Phone"]
    call.ended(timeout=60)
    appliance.call_row(ani="4957654321", since_id=before, outcome="answered")
    _admin(page, site)
    page.goto(site + "/reports/groups")                 # this month by default
    expect(page.locator("#report-table")).to_contain_text("support")
    cells = page.locator("#report-table tr", has_text="support").locator("td")
    expect(cells.nth(1)).to_have_text("1")             # calls
    expect(cells.nth(2)).to_have_text("1")             # answered
    expect(page.locator("#report-chart svg rect.bar")).to_have_count(1)
    page.goto(site + "/reports/operators")
    cells = page.locator("#report-table tr", has_text=operator).locator("td")
    expect(cells.nth(1)).to_have_text("1")             # answered by the operator whose phone took it
