"""Outbound routes in a real headless Chromium against a real appliance: an
administrator adds a trunk group and a route from the page, in Russian, and
the "test a number" box shows the plan a mobile number gets -- the route,
the dial string and the number as the trunk group sends it; a bad pattern is
refused next to its field."""
from __future__ import annotations

from playwright.sync_api import expect

from tests.web.browser import chromium, create_admin, page, site  # noqa: F401 (fixtures)


def test_an_admin_adds_a_trunk_group_and_a_route_and_tests_a_number(page, site):  # noqa: F811
    create_admin(page, site)
    page.click("#nav-outbound-routes")
    expect(page.locator("h1")).to_have_text("Исходящие маршруты")
    expect(page.locator("#route-national")).to_be_visible()

    # a trunk group over the carrier's SIP trunk that sends national numbers as +7NSN
    page.click("#add-trunk-group")
    page.fill("#f-name", "mobile-sip")
    page.select_option("#f-kind", "sip")
    page.check("#member-sip-pstn")
    page.select_option("#f-number_format", "e164")
    page.fill("#f-caller_id", "+74951110000")
    page.click("#save")
    expect(page.locator(".flash")).to_contain_text("Действует со следующего исходящего звонка")
    expect(page.locator("#tg-mobile-sip")).to_contain_text("SIP-транк pstn")

    # mobile numbers are the national route's now: it gives them up first
    page.click("#route-national a")
    page.fill("#f-patterns", "8[348]XXXXXXXXX\n+7[348]XXXXXXXXX\n7[3489]XXXXXXXXX\n[349]XXXXXXXXX\n8[02-9]XXXXXXXX")
    page.click("#save")
    expect(page.locator("#route-national")).not_to_contain_text("8[3489]")

    page.click("#add-route")
    page.fill("#f-name", "mobile")
    page.fill("#f-patterns", "89XXXXXXXXX\n+7+9XXXXXXXXX")
    page.select_option("#f-trunk_groups-1", "mobile-sip")
    page.select_option("#f-trunk_groups-2", "pstn")
    page.select_option("#f-level", "national")
    page.click("#save")
    expect(page.locator("#error-patterns")).to_contain_text("+ может стоять только в начале")
    page.fill("#f-patterns", "89XXXXXXXXX\n+79XXXXXXXXX")
    page.click("#save")
    expect(page.locator("#route-mobile")).to_contain_text("mobile-sip → pstn")

    page.fill("#f-number", "89161234567")
    page.select_option("#f-purpose", "route")
    page.click("#test-number")
    expect(page.locator("#plan-route")).to_have_text("89161234567: маршрут mobile")
    tries = page.locator("#plan-tries tr")
    expect(tries).to_have_count(3)           # the header and a try through each trunk group, in order
    expect(tries.nth(1)).to_contain_text("PJSIP/+79161234567@pstn")
    expect(tries.nth(1)).to_contain_text("+74951110000")
    expect(tries.nth(2)).to_contain_text("PJSIP/89161234567@pstn")
