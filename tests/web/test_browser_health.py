"""Hardware health in a real headless Chromium against a real appliance whose
hardware root is a recorded TE410P tree (span 1 in LOS/RED): read the sensors
from the page, the span alarm lands in the alarm log and on the status page,
and a diagnostics test that cannot reach DAHDI reports a failure, not an error."""
from __future__ import annotations

import re

from playwright.sync_api import expect
from tests.web.browser import chromium, create_admin, page, site  # noqa: F401 (fixtures)


FIXTURE = "/opt/korund/src/tests/fixtures/hw/te410p_e1"   # the checkout as the root filesystem sees it


def test_health_page_span_alarm_status_page_and_diagnostics(page, site, appliance):
    with appliance.db() as conn:
        conn.execute("INSERT INTO settings (key, value) VALUES ('hw.root', ?) "
                     "ON CONFLICT(key) DO UPDATE SET value = excluded.value", [FIXTURE])
    create_admin(page, site)
    expect(page.locator("h1")).to_have_text("Состояние")

    page.click("#nav-health")
    expect(page.locator("h1")).to_have_text("Состояние оборудования")
    expect(page.locator("#boards")).to_contain_text("TE410P")
    expect(page.locator('#span-status tr[data-span="1"]')).to_contain_text("RED")
    page.click("#health-refresh")
    expect(page.locator(".flash")).to_contain_text("Датчики и аварии потоков опрошены")
    expect(page.locator('#alarm-log tr.open[data-source="span:1"][data-kind="red"]')).to_be_visible()
    expect(page.locator('#sensors tr[data-sensor="inlet"]')).to_contain_text("отсутствует")

    page.click("#nav-status")
    expect(page.locator("#hw-alarms")).to_contain_text("RED alarm")

    page.goto(site + "/diagnostics/")
    page.select_option("#span-loopback", "1")
    page.click("#run-loopback")
    # The recorded tree has no /dev/dahdi behind it: dahdi_maint either is not
    # installed or cannot open the control device — a failed result, never a 500.
    expect(page.locator("#diag-result")).to_have_attribute("data-ok", "0")
    expect(page.locator("#diag-result h2")).to_contain_text(re.compile("недоступно|не удался"))
    expect(page.locator("#diag-message")).to_contain_text("dahdi_maint")
    page.click("#run-firmware")
    expect(page.locator("#diag-result h2")).to_contain_text("пройден")
    expect(page.locator("#diag-output")).to_contain_text("TE410P")
