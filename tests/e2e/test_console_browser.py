"""The console in a real browser: from the overview to a failed record, its solution and its history.

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


def test_overview_to_failed_record_shows_solution_and_history(browser: Any, tmp_path: Path, shots: Path) -> None:
    root = tmp_path / "proj"
    sample = sample_log.fill(root)
    app = create_app(root, now=lambda: ev.at(3600), refresh=None)
    with SandboxServer(app) as server:
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        page.goto(server.url + "/")
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
