"""Data tables in a real headless Chromium against a real appliance: upload a
cp1251 CSV, read its preview (Cyrillic intact, semicolons found), confirm,
edit a row, and the scenario simulator's look-up sees the edited value."""
from __future__ import annotations

import json
import re

from playwright.sync_api import expect
from tests.web.browser import chromium, create_admin, page, site  # noqa: F401 (fixtures)


CSV = "account;name;balance\r\n1001;Иван Петров;4200\r\n1002;Анна Смирнова;15\r\n".encode("cp1251")
GRAPH = {"start": "in", "nodes": {
    "in": {"type": "input", "prompts": ["p"], "variable": "acct", "next": {"next": "find", "fail": "ops"}},
    "find": {"type": "lookup", "table": "accounts", "by": "acct", "prefix": "client",
             "next": {"found": "say", "not_found": "ops"}},
    "say": {"type": "say", "value": "{client_balance}", "as": "number", "next": {"next": "ops"}},
    "ops": {"type": "route", "to": "group", "group": "support"}}}


def test_import_a_cp1251_csv_edit_a_row_and_the_lookup_sees_it(page, site, appliance):
    create_admin(page, site)
    expect(page.locator("h1")).to_have_text("Состояние")

    page.click("nav >> text=Таблицы данных")
    expect(page.locator("#no-tables")).to_be_visible()
    page.fill("#f-name", "accounts")
    page.set_input_files("#f-file", files=[{"name": "счета.csv", "mimeType": "text/csv", "buffer": CSV}])
    page.click("#upload")
    expect(page.locator("#encoding")).to_contain_text("Windows-1251")
    expect(page.locator("#delimiter")).to_have_text("точка с запятой")
    expect(page.locator("#key-column")).to_have_text("account")
    expect(page.locator("#report-ok")).to_contain_text("Ошибок нет")
    expect(page.locator("#preview-rows")).to_contain_text("Иван Петров")
    expect(page.locator("#preview-rows")).to_contain_text("Анна Смирнова")
    page.click("#confirm")
    expect(page).to_have_url(re.compile(r"/tables/accounts$"))
    expect(page.locator(".flash.ok")).to_contain_text("импортировано строк: 2")

    row = page.locator('tr[data-key="1001"]')
    expect(row.locator('input[name="v_name"]')).to_have_value("Иван Петров")
    row.locator('input[name="v_balance"]').fill("777")
    row.locator('button[value="save"]').click()
    expect(page.locator(".flash.ok")).to_contain_text("1001")
    expect(page.locator('tr[data-key="1001"] input[name="v_balance"]')).to_have_value("777")

    # A key that is taken is refused in place, and nothing changes.
    row = page.locator('tr[data-key="1002"]')
    row.locator('input[name="v_account"]').fill("1001")
    row.locator('button[value="save"]').click()
    expect(page.locator("#row-error")).to_contain_text("ключ «1001» повторяется")

    with appliance.db() as conn:
        stored = json.loads(conn.execute(
            "SELECT r.data FROM data_rows r JOIN data_tables t ON t.id = r.table_id "
            "WHERE t.name = 'accounts' AND r.key = '1001'").fetchone()[0])
        assert stored == {"account": "1001", "name": "Иван Петров", "balance": "777"}
        assert conn.execute("SELECT COUNT(*) FROM data_rows").fetchone()[0] == 2

    # The scenario editor's API lists the table, and its simulator looks the edited value up.
    result = page.evaluate("""async (graph) => {
        const token = document.querySelector('input[name=csrf_token]').value;
        const h = {'Content-Type': 'application/json', 'X-CSRF-Token': token};
        const tables = await (await fetch('/api/v1/tables')).json();
        let r = await fetch('/api/v1/scenarios', {method: 'POST', headers: h,
            body: JSON.stringify({name: 'balance', title: 'Balance', graph})});
        if (r.status !== 201) return {status: r.status, text: await r.text()};
        r = await fetch('/api/v1/scenarios/balance/simulate', {method: 'POST', headers: h,
            body: JSON.stringify({keys: '1001#'})});
        return {tables, sim: await r.json()};
    }""", GRAPH)
    assert result["tables"] == [{"name": "accounts", "key": "account", "columns": ["account", "name", "balance"]}]
    assert {"say": "777", "as": "number"} in result["sim"]["events"], result

    # Now that a scenario looks it up, the table cannot be deleted.
    page.reload()
    page.click("#delete-table")
    expect(page.locator(".flash.error")).to_contain_text("balance")
    page.goto(site + "/tables/")
    expect(page.locator("#table-list")).to_contain_text("accounts")
