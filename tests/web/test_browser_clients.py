"""Clients (CRM) in a real headless Chromium against a real appliance: define
a custom field, import a cp1251 CSV through its preview, find the client by
a number written differently, edit the card's custom field and VIP flag, and
see a file with a duplicate number refused with nothing changed."""
from __future__ import annotations

import re

from playwright.sync_api import expect
from tests.web.browser import chromium, create_admin, page, site  # noqa: F401 (fixtures)


CSV = ("name;phones;company;tariff\r\n"
       "Иван Петров;8 (916) 123-45-67;ООО Ромашка;Базовый\r\n"
       "Анна Смирнова;+7 495 111-22-33, 84951112244;;\r\n").encode("cp1251")
DUPLICATE = "name;phones\r\nСамозванец;+7 916 123 45 67\r\n".encode("cp1251")


def test_import_a_cp1251_csv_search_and_edit_a_card(page, site, appliance):
    create_admin(page, site)
    expect(page.locator("h1")).to_have_text("Состояние")

    page.click("#nav-clients")
    expect(page.locator("#no-clients")).to_be_visible()

    # A custom field of the "choice" kind.
    page.click("#custom-fields")
    page.fill("#f-name", "tariff")
    page.fill("#f-title", "Тариф")
    page.select_option("#f-kind", "choice")
    page.fill("#f-choices", "Базовый\nПремиум")
    page.click("#add-field")
    expect(page.locator("#field-list")).to_contain_text("tariff")

    # Import a Windows-1251 file: preview first, nothing saved until confirmed.
    page.goto(site + "/clients/")
    page.click("#import")
    page.set_input_files("#f-file", files=[{"name": "клиенты.csv", "mimeType": "text/csv", "buffer": CSV}])
    page.click("#upload")
    expect(page.locator("#encoding")).to_contain_text("Windows-1251")
    expect(page.locator("#new-count")).to_have_text("2")
    expect(page.locator("#report-ok")).to_be_visible()
    expect(page.locator("#preview-rows")).to_contain_text("Иван Петров")
    expect(page.locator("#preview-rows")).to_contain_text("79161234567")
    with appliance.db() as conn:
        assert conn.execute("SELECT COUNT(*) FROM clients").fetchone()[0] == 0
    page.click("#confirm")
    expect(page).to_have_url(re.compile(r"/clients/$"))
    expect(page.locator(".flash.ok")).to_be_visible()
    expect(page.locator("#client-list tr[data-id]")).to_have_count(2)

    # Search by the number written another way, open the card, edit it.
    page.fill("#f-q", "+7 916 123")
    page.click("#search")
    expect(page.locator("#client-list tr[data-id]")).to_have_count(1)
    page.click("#client-list >> text=Иван Петров")
    expect(page.locator("#f-phones")).to_have_value("79161234567")
    expect(page.locator("#f-cf_tariff")).to_have_value("Базовый")
    page.select_option("#f-cf_tariff", "Премиум")
    page.check("#f-vip")
    page.select_option("#f-personal_operator", "1001")
    page.click("#save")
    expect(page.locator(".flash.ok")).to_contain_text("Иван Петров")
    expect(page.locator("#f-cf_tariff")).to_have_value("Премиум")
    expect(page.locator("#f-vip")).to_be_checked()

    # A bad e-mail is refused in place, and nothing changes.
    page.fill("#f-email", "не почта")
    page.click("#save")
    expect(page.locator("#error-email")).to_be_visible()

    with appliance.db() as conn:
        row = conn.execute("SELECT c.fields, c.vip, c.personal_operator, c.email FROM clients c "
                           "JOIN client_phones p ON p.client_id = c.id WHERE p.number = '79161234567'").fetchone()
        assert tuple(row) == ('{"tariff": "Премиум"}', 1, "1001", "")

    # The same number in another file is refused; nothing is imported.
    page.goto(site + "/clients/import")
    page.set_input_files("#f-file", files=[{"name": "d.csv", "mimeType": "text/csv", "buffer": DUPLICATE}])
    page.click("#upload")
    expect(page.locator("#problems")).to_contain_text("Иван Петров")
    expect(page.locator("#confirm")).to_have_count(0)
    with appliance.db() as conn:
        assert conn.execute("SELECT COUNT(*) FROM clients").fetchone()[0] == 2
