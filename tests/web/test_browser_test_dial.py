"""The test dial in a real headless Chromium against a real appliance and the
simulated carrier: a technician dials a number from the Lines page and
watches the steps arrive while the far end rings and then answers; a reload
shows them again, and an administrator reading in Russian sees the same
test dial in Russian."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.web.browser import chromium, create_admin, logged_in, page, site  # noqa: F401 (fixtures)

NATIONAL = "84951234567"
PASSWORD = "Techn1cian-Pa55"


def test_a_technician_runs_a_test_dial_from_the_lines_page(chromium, page, site, appliance, carrier):  # noqa: F811
    create_admin(page, site)
    appliance.add_user("linetech", "technician", PASSWORD, "--language", "en")
    carrier.phone(NATIONAL, "noanswer")       # rings until the test picks it up
    mark = carrier.events.mark()
    context, tech = logged_in(chromium, site, "linetech", PASSWORD, path="/lines/")
    try:
        expect(tech.locator("#test-dial h2")).to_have_text("Test dial")
        tech.fill("#f-number", NATIONAL)
        tech.select_option("#f-target", "route:national")
        tech.click("#test-dial-start")
        expect(tech).to_have_url(re.compile(r"/lines/\?test_dial=[0-9]{10}#test-dial$"))
        dial_id = re.search(r"test_dial=([0-9]+)", tech.url).group(1)
        expect(tech.locator("#test-dial-title")).to_have_text(f"Test dial of {NATIONAL} through route national")
        steps = tech.locator("#test-dial-steps tr.test-dial-step")
        # while the far end rings the page already shows the way there
        expect(tech.locator('tr[data-kind="ringing"]')).to_be_visible(timeout=30000)
        expect(tech.locator('tr[data-kind="seizure-trunk"]')).to_contain_text("Seized the SIP trunk pstn")
        expect(tech.locator('tr[data-kind="digits"]')).to_contain_text(f"Digits sent: {NATIONAL}")
        expect(tech.locator("#test-dial-outcome")).to_have_text("dialling…")
        # the far end picks up: the steps arrive on the open page, without a reload
        rang = carrier.events.wait(mark, 30, Event="UserEvent", UserEvent="SimPhoneRang", Phone=NATIONAL)
        carrier.phone(NATIONAL, "answer")
        carrier.mgr.send_action({"Action": "Redirect", "Channel": rang["Channel"], "Context": "sim-phones",
                                 "Exten": NATIONAL, "Priority": "1"})
        expect(tech.locator('tr[data-kind="answer"]')).to_have_text(re.compile(r"\+\d+\.\d\d s\s*Answered"))
        expect(tech.locator('tr[data-kind="ended"]')).to_be_visible(timeout=30000)
        expect(tech.locator("#test-dial-outcome")).to_have_attribute("data-outcome", "answered")
        expect(tech.locator('tr[data-kind="cause"]')).to_contain_text(
            "Cleared after the answer: cause 16, normal clearing")
        expect(steps).to_have_count(7)
        # a reload finds the same test dial with all its steps
        tech.reload()
        expect(tech.locator("#test-dial-result")).to_have_attribute("data-id", dial_id)
        expect(steps).to_have_count(7)
        expect(tech.locator('tr[data-kind="ringing"]')).to_contain_text("Ringing")
    finally:
        context.close()
    # an administrator reads it in Russian
    page.goto(site + f"/lines/?test_dial={dial_id}")
    expect(page.locator("#test-dial h2")).to_have_text("Пробный вызов")
    expect(page.locator('tr[data-kind="seizure-trunk"]')).to_contain_text("Занят SIP-транк pstn")
    expect(page.locator('tr[data-kind="cause"]')).to_contain_text("Разъединение после ответа: причина 16")
    expect(page.locator("#test-dial-outcome")).to_have_text("отвечен")
