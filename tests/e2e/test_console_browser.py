"""The console in a real browser: signing in (and being refused), then from the overview to a failed record,
its solution and its history.

Needs the `playwright` package and a Chromium at /usr/bin/chromium (or $SEVPRO_CHROMIUM); skips, saying which
is missing, otherwise. Screenshots go to $SEVPRO_SCREENSHOTS or pytest's tmp folder.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from console import testing as sample_log
from console.app import create_app
from projections import testing as ev
from sandbox.runner import SandboxServer

CHROMIUM = os.environ.get("SEVPRO_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]

playwright_api = pytest.importorskip("playwright.sync_api",
                                     reason="the playwright package is not installed (pip install playwright)")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium, or set SEVPRO_CHROMIUM)")
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("SEVPRO_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def sign_in(page: Any, user: str, password: str) -> None:
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
    page.click("form.login button[type=submit]")


def test_sign_in_refuses_a_wrong_password_and_returns_to_the_page_asked_for(browser: Any, tmp_path: Path,
                                                                             shots: Path) -> None:
    root = tmp_path / "proj"
    sample = sample_log.fill(root)
    app = create_app(root, now=lambda: ev.at(3600), refresh=None, auth=sample_log.auth())
    with SandboxServer(app) as server:
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        # A page without a session goes to the login, and nothing of the page shows.
        page.goto(f"{server.url}/records/{sample.failed_data}?tenant=acme")
        page.wait_for_url("**/login?next=*")
        assert page.title() == "Sign in · sevpro"
        assert sample_log.SOLUTION not in page.content()

        sign_in(page, sample_log.USER, "not the password")
        assert page.title() == "Sign in · sevpro"
        assert "Wrong user name or password." in page.locator("[role=alert]").inner_text()
        assert page.input_value("input[name=username]") == sample_log.USER
        page.screenshot(path=str(shots / "console-login-refused.png"), full_page=True)
        page.goto(server.url + "/")  # still not signed in
        page.wait_for_url("**/login?next=*")

        page.goto(f"{server.url}/records/{sample.failed_data}?tenant=acme")
        sign_in(page, sample_log.USER, sample_log.PASSWORD)
        page.wait_for_url(f"**/records/{sample.failed_data}?tenant=acme")
        assert sample_log.SOLUTION in page.locator(".callout").inner_text()
        assert sample_log.USER in page.locator("header form.who").inner_text()

        page.click("header form.who button")  # sign out
        page.wait_for_url("**/login")
        page.goto(server.url + "/ids")
        page.wait_for_url("**/login?next=*")
        page.close()


def test_overview_to_failed_record_shows_solution_and_history(browser: Any, tmp_path: Path, shots: Path) -> None:
    root = tmp_path / "proj"
    sample = sample_log.fill(root)
    app = create_app(root, now=lambda: ev.at(3600), refresh=None, auth=sample_log.auth())
    with SandboxServer(app) as server:
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        page.goto(server.url + "/")
        sign_in(page, sample_log.USER, sample_log.PASSWORD)
        page.wait_for_url(server.url + "/")
        assert page.title() == "Overview · sevpro"
        needs_action = page.locator("table.needs-action")
        assert needs_action.locator("tbody tr").count() == 1
        assert sample_log.SOLUTION in needs_action.inner_text()
        page.screenshot(path=str(shots / "console-overview.png"), full_page=True)

        # Follow the failed record's link, as a user would.
        needs_action.get_by_role("link", name=sample.failed_number).click()
        page.wait_for_url(f"**/records/{sample.failed_data}?tenant=acme")
        callout = page.locator(".callout")
        assert "Not transferred: the data needs fixing." in callout.inner_text()
        assert sample_log.SOLUTION in callout.inner_text()
        assert "customer.businessId" in callout.inner_text() and sample_log.BAD_BUSINESS_ID in callout.inner_text()
        history = page.locator("table.history tbody tr")
        assert history.count() == 3
        texts = [history.nth(i).inner_text() for i in range(3)]
        assert "TransferRequested" in texts[0] and "attempting" in texts[1] and "failed_data" in texts[2]
        assert f"corr-acme-{sample.failed_data}" in texts[2]
        # An event's full payload opens in place.
        history.nth(2).locator("summary").click()
        assert '"field": "customer.businessId"' in history.nth(2).locator("pre").inner_text()
        page.screenshot(path=str(shots / "console-record.png"), full_page=True)

        # The search box finds a record by its Procountor id.
        page.fill("header input[name=q]", sample.procountor_id)
        page.press("header input[name=q]", "Enter")
        page.wait_for_url(f"**/records/{sample.procountor_id}")
        assert "invoice no. 5001" in page.locator("dl.facts").inner_text()
        page.close()
    assert (shots / "console-overview.png").stat().st_size > 10_000


def test_a_130_character_row_text_leaves_the_message_and_solution_on_screen(browser: Any, tmp_path: Path,
                                                                            shots: Path) -> None:
    root = tmp_path / "proj"
    sample_log.fill(root, long_row_text=True)
    app = create_app(root, now=lambda: ev.at(3600), refresh=None, auth=sample_log.auth())
    with SandboxServer(app) as server:
        page = browser.new_page(viewport={"width": 1400, "height": 900}, locale="en-GB")
        page.goto(server.url + "/")
        sign_in(page, sample_log.USER, sample_log.PASSWORD)
        page.wait_for_url(server.url + "/")
        table = page.locator("table.needs-action")
        assert table.locator("tbody tr").count() == 2
        # Nothing scrolls sideways: the table fits its box, and the box the window.
        box = table.locator("xpath=..")
        assert box.evaluate("e => e.scrollWidth <= e.clientWidth"), "the table is wider than its box"
        for cell in (table.locator(".solution").first, table.locator("td strong").first):
            right = cell.bounding_box()
            assert right is not None and right["x"] + right["width"] <= 1400, f"{cell} is off screen: {right}"
        # The long value is shortened on screen, and whole on hover.
        value = table.locator(f'[title="{sample_log.LONG_ROW_TEXT}"]')
        assert value.count() == 1
        assert value.bounding_box()["width"] < 400  # type: ignore[index]
        page.screenshot(path=str(shots / "console-overview-long-value.png"), full_page=True)
        page.close()



def test_the_console_speaks_the_browsers_language_and_keeps_the_users_choice(browser: Any, tmp_path: Path,
                                                                             shots: Path) -> None:
    root = tmp_path / "proj"
    sample = sample_log.fill(root)
    app = create_app(root, now=lambda: ev.at(3600), refresh=None, auth=sample_log.auth())
    with SandboxServer(app) as server:
        context = browser.new_context(viewport={"width": 1300, "height": 900}, locale="fi-FI")
        page = context.new_page()
        page.goto(server.url + "/")
        assert page.title() == "Kirjaudu sisään · sevpro"  # Accept-Language: fi-FI
        sign_in(page, sample_log.USER, sample_log.PASSWORD)
        page.wait_for_url(server.url + "/")
        assert page.title() == "Yleiskatsaus · sevpro"
        assert page.locator("html").get_attribute("lang") == "fi"
        assert "Vaatii toimenpiteitäsi" in page.locator("#needs-action").inner_text()
        page.screenshot(path=str(shots / "console-overview-fi.png"), full_page=True)
        needs_action = page.locator("table.needs-action")
        needs_action.get_by_role("link", name=sample.failed_number).click()
        page.wait_for_url(f"**/records/{sample.failed_data}?tenant=acme")
        assert "Ei siirretty: tiedot on korjattava." in page.locator(".callout").inner_text()
        page.screenshot(path=str(shots / "console-record-fi.png"), full_page=True)

        # The user picks Swedish in the header: it stays chosen on the next pages, over the browser's Finnish.
        page.click("header nav.lang a[hreflang=sv]")
        page.wait_for_url("**lang=sv*")
        assert page.locator("html").get_attribute("lang") == "sv"
        page.goto(server.url + "/transfers")
        assert page.title() == "Överföringslogg · sevpro"
        context.close()
