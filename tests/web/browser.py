"""What the browser tests share: one headless Chromium per module, the address
of the module's appliance panel, a fresh Russian-speaking page per test, and
logging in."""
from __future__ import annotations

import pytest
from playwright.sync_api import sync_playwright

ADMIN_PASSWORD = "Adm1n-Pa55word"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def chromium():
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def site(pbx):
    appliance, _carrier = pbx
    s = appliance.settings()
    return f"http://{s['net.address']}:{s['web.port']}"


@pytest.fixture
def page(chromium):
    context = chromium.new_context(locale="ru-RU")
    pg = context.new_page()
    pg.set_default_timeout(15000)
    yield pg
    context.close()


def login(page, site, username="admin", password=ADMIN_PASSWORD):
    page.goto(site + "/login")
    page.fill("#f-username", username)
    page.fill("#f-password", password)
    page.click("#login")
