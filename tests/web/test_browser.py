"""The panel in a real headless Chromium, against a real appliance:
first admin, login, lock-out, CSRF, languages, adding a trunk and an
operator, Apply, and a rejected change rolled back and explained."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.conftest import TONES
from tests.web.browser import chromium, create_admin, login, page, site  # noqa: F401 (fixtures)


def test_first_admin_then_login_in_russian(page, site, appliance, carrier):
    page.goto(site + "/")
    expect(page).to_have_url(re.compile(r"/setup$"))
    expect(page.locator("h1")).to_contain_text("Первый запуск")
    create_admin(page, site, password="short")
    expect(page.locator("#error-password")).to_contain_text("не менее 10 символов")
    create_admin(page, site)
    expect(page.locator("h1")).to_have_text("Состояние")
    expect(page.locator("#services")).to_contain_text("RUNNING")
    expect(page.locator("#asterisk")).to_contain_text("Asterisk 22")
    page.click("#logout")
    expect(page).to_have_url(re.compile(r"/login"))
    page.goto(site + "/setup")
    assert "404" in page.content()
    login(page, site)
    expect(page.locator("h1")).to_have_text("Состояние")


def test_language_switch_to_english_and_back(page, site, appliance, carrier):
    login(page, site)
    page.click("#lang-en")
    expect(page.locator("h1")).to_have_text("Status")
    expect(page.locator("nav")).to_contain_text("Lines and trunks")
    page.click("#lang-ru")
    expect(page.locator("h1")).to_have_text("Состояние")
    expect(page.locator("nav")).to_contain_text("Линии и транки")


def test_wrong_passwords_lock_the_account(page, site, appliance, carrier):
    login(page, site)
    page.goto(site + "/users/new")
    page.fill("#f-username", "olga")
    page.fill("#f-password", "Super-Visor-2026")
    page.select_option("#f-role", "supervisor")
    page.click("#save")
    expect(page.locator("#user-list")).to_contain_text("olga")
    page.click("#logout")
    for _ in range(5):
        login(page, site, "olga", "not-her-password")
    expect(page.locator("#login-error")).to_contain_text("заблокирована")
    login(page, site, "olga", "Super-Visor-2026")
    expect(page.locator("#login-error")).to_contain_text("заблокирована")


def test_a_form_without_the_csrf_token_is_refused(page, site, appliance, carrier):
    login(page, site)
    page.goto(site + "/lines/trunk/new")
    status = page.evaluate("""async () => {
        const body = new URLSearchParams({name: 'forged', host: '192.0.2.1', port: '5060'});
        const r = await fetch('/lines/trunk/new', {method: 'POST', body});
        return r.status; }""")
    assert status == 400
    page.evaluate("document.querySelector('#trunk-form input[name=csrf_token]').value = 'tampered'")
    page.fill("#f-name", "forged")
    page.fill("#f-host", "192.0.2.1")
    page.click("#save")
    expect(page.locator("#error-message")).to_contain_text("Форма устарела")
    page.goto(site + "/lines/")
    expect(page.locator("#trunk-list")).not_to_contain_text("forged")


def test_add_trunk_and_operator_apply_and_a_call_reaches_the_new_operator(page, site, appliance, carrier):
    login(page, site)
    page.goto(site + "/lines/trunk/new")
    page.fill("#f-name", "backup")
    page.fill("#f-host", "bad host;")
    page.click("#save")
    expect(page.locator("#error-host")).to_contain_text("не IP-адрес и не имя узла")
    page.fill("#f-host", "127.0.0.13")
    page.click("#save")
    expect(page.locator("#trunk-list")).to_contain_text("backup")

    page.goto(site + "/operators/new")
    page.fill("#f-extension", "1003")
    page.fill("#f-name", "Vera Sokolova")
    page.fill("#f-contact", f"sip:1003@{carrier.address}:5060")
    page.click("#save")
    expect(page.locator("#new-sip-secret")).to_be_visible()     # the phone's password, shown this once
    page.goto(site + "/operators")
    expect(page.locator("#operator-list")).to_contain_text("Vera Sokolova")
    page.goto(site + "/groups/support")
    page.check("input[name=members][value='1003']")
    page.click("#save")
    expect(page.locator("#pending")).to_contain_text("pjsip.conf")
    page.click("#apply")
    expect(page.locator(".flash.ok")).to_contain_text("Изменения применены")
    expect(page.locator("#pending")).to_have_count(0)

    endpoints = "\n".join(appliance.cli("pjsip show endpoints"))
    assert re.search(r"Endpoint:\s+backup\b", endpoints)
    assert re.search(r"Endpoint:\s+1003/", endpoints)
    assert "1003" in "\n".join(appliance.cli("queue show support"))

    carrier.phone("1001", "busy")
    carrier.phone("1002", "busy")
    carrier.phone("1003", "answer", tone=1900)
    before = appliance.last_call_id()
    call = carrier.call(ani="4957770001", hold=14)
    assert call.answered_by_phone(timeout=60)["Phone"] == "1003"
    call.ended()
    assert appliance.call_row(ani="4957770001", since_id=before)["operator"] == "1003"
    for ext in TONES:
        carrier.phone(ext, "answer", tone=TONES[ext])


def test_a_change_asterisk_rejects_is_rolled_back_and_explained(page, site, appliance, carrier):
    login(page, site)
    etc = appliance.host_base / "etc" / "asterisk"
    good = (etc / "pjsip.conf").read_text()
    page.goto(site + "/lines/trunk/backup")
    page.fill("#f-host", "no-such-carrier.invalid")
    page.click("#save")
    page.click("#apply")
    flash = page.locator(".flash.error")
    expect(flash).to_contain_text("Asterisk отклонил изменения")
    expect(flash).to_contain_text("backup")
    assert (etc / "pjsip.conf").read_text() == good
    identify = "\n".join(appliance.cli("pjsip show identify backup"))
    assert "127.0.0.13" in identify
    expect(page.locator("#pending")).to_contain_text("pjsip.conf")
    # The audit log tells who tried what.
    page.goto(site + "/audit/")
    expect(page.locator("#audit-list")).to_contain_text("применение отклонено")
    # Putting the old address back leaves nothing to apply: Asterisk runs it.
    page.goto(site + "/lines/trunk/backup")
    page.fill("#f-host", "127.0.0.13")
    page.click("#save")
    expect(page.locator("#trunk-list")).to_contain_text("127.0.0.13")
    expect(page.locator("#pending")).to_have_count(0)
