"""What the browser tests share: one headless Chromium per module, the address
of the module's appliance panel, a fresh Russian-speaking page per test, the
first administrator through /setup (with the appliance's setup code), and
logging in."""
from __future__ import annotations

import pytest
from playwright.sync_api import sync_playwright

ADMIN_PASSWORD = "Adm1n-Pa55word"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def launch(playwright, *extra_args: str):
    """Debian's Chromium, headless, with CHROMIUM_ARGS and *extra_args*."""
    return playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS + list(extra_args))


@pytest.fixture(scope="module")
def chromium():
    with sync_playwright() as p:
        browser = launch(p)
        yield browser
        browser.close()


# site -> its appliance, so create_admin can fetch the setup code
_APPLIANCES: dict = {}


@pytest.fixture(scope="module")
def site(pbx):
    appliance, _carrier = pbx
    url = appliance.panel_url()
    _APPLIANCES[url] = appliance
    return url


def new_page(chromium, locale: str = "ru-RU", timeout: float = 15000, **options):
    """(context, page): a page in a fresh browser context, so with its own
    cookies and session; *options* go to ``new_context`` (viewport, ...).
    Close the context when done."""
    context = chromium.new_context(locale=locale, **options)
    page = context.new_page()
    page.set_default_timeout(timeout)
    return context, page


@pytest.fixture
def page(chromium):
    context, pg = new_page(chromium)
    yield pg
    context.close()


def create_admin(page, site, username="admin", password=ADMIN_PASSWORD, code: str | None = None):
    """Create the first administrator on /setup, the page a fresh appliance
    shows (it then logs the administrator in), with the setup code that
    ``korund setup-code`` prints on the appliance."""
    page.goto(site + "/setup")
    page.fill("#f-code", code if code is not None else _APPLIANCES[site].setup_code())
    page.fill("#f-username", username)
    page.fill("#f-password", password)
    page.fill("#f-password2", password)
    page.click("#create-admin")


def login(page, site, username="admin", password=ADMIN_PASSWORD):
    page.goto(site + "/login")
    page.fill("#f-username", username)
    page.fill("#f-password", password)
    page.click("#login")


def logged_in(chromium, site, username, password=ADMIN_PASSWORD, path: str | None = None,
              locale: str = "en-US", timeout: float = 20000, **options):
    """(context, page): *username* logged in on a page of their own (then on
    *path*). Close the context when done."""
    context, page = new_page(chromium, locale, timeout, **options)
    login(page, site, username, password)
    if path is not None:
        page.goto(site + path)
    return context, page
