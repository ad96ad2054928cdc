"""The console's actions in a real browser (system Chromium) on the real broker: a failed record's Retry button,
a company's "retry now", reprocessing a filtered selection after a confirmation page, the links to the invoice
in Severa and Procountor, and the refused ones (signed out meanwhile, a tampered CSRF token, another site's
form): those publish nothing.

Needs the `playwright` package and a Chromium (see test_console_browser.py); skips otherwise.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from console import testing as sample_log
from console.app import create_app
from console.links import WebLinks
from projections import testing as ev
from sandbox.runner import SandboxServer
from schemas import topics
from tests.e2e.test_console_browser import browser, shots, sign_in  # noqa: F401  (fixtures)
from tests.integration.pollers.kafka_read import read_events

pytestmark = pytest.mark.integration
LINKS = WebLinks(severa="https://severa.example/invoices/{id}", procountor="https://procountor.example/inv/{id}")


def _requested_again(bootstrap: str) -> dict[str, dict[str, Any]]:
    """The reprocess requests on this test's own topics (sales invoices), by source id."""
    # Playwright's sync API keeps an event loop running in this thread: read on another one.
    with ThreadPoolExecutor(1) as other:
        events = other.submit(asyncio.run, read_events(bootstrap, topics.transfer_requested("sales-invoice"))).result()
    return {e["source_id"]: e for e in events if e["reason"] == "reprocess"}


@pytest.fixture
def console(kafka: Any, own_topics: str, tmp_path: Path) -> Iterator[tuple[str, sample_log.Sample]]:
    root = tmp_path / "proj"
    sample = sample_log.fill(root)
    app = create_app(root, kafka.bootstrap, now=lambda: ev.at(3600), refresh=None, auth=sample_log.auth(),
                     web_links=LINKS)
    with SandboxServer(app) as server:
        yield server.url, sample


def test_retry_a_failed_record_from_its_page(browser: Any, console: tuple[str, Any], kafka: Any,  # noqa: F811
                                             shots: Path) -> None:  # noqa: F811
    url, sample = console
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    page.goto(f"{url}/records/{sample.failed_data}?tenant=acme")
    sign_in(page, sample_log.USER, sample_log.PASSWORD)
    page.wait_for_url(f"**/records/{sample.failed_data}?tenant=acme")
    # The links to the invoice in both systems (a failed one is not in Procountor yet).
    assert page.get_by_role("link", name="Open in Severa").get_attribute("href") == \
        f"https://severa.example/invoices/{sample.failed_data}"
    assert page.get_by_role("link", name="Open in Procountor").count() == 0
    assert _requested_again(kafka.bootstrap) == {}

    page.get_by_role("button", name="Retry now").click()
    page.wait_for_url(f"**/records/{sample.failed_data}?tenant=acme")
    notice = page.locator("[role=status]").inner_text()
    assert "Requested again" in notice and sample_log.USER in notice
    page.screenshot(path=str(shots / "console-record-retried.png"), full_page=True)
    sent = _requested_again(kafka.bootstrap)
    assert list(sent) == [sample.failed_data] and sent[sample.failed_data]["requested_by"] == sample_log.USER

    # A succeeded invoice links to both systems and has nothing to retry.
    page.goto(f"{url}/records/{sample.succeeded}?tenant=acme")
    assert page.get_by_role("link", name="Open in Procountor").get_attribute("href") == \
        f"https://procountor.example/inv/{sample.procountor_id}"
    assert page.get_by_role("button", name="Retry now").count() == 0
    page.close()


def test_retry_the_transient_failures_of_a_company_from_the_overview(browser: Any, console: tuple[str, Any],  # noqa: F811
                                                                      kafka: Any) -> None:
    url, sample = console
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    page.goto(url + "/")
    sign_in(page, sample_log.USER, sample_log.PASSWORD)
    page.wait_for_url(url + "/")
    retry = page.locator("form.retry-company")
    assert retry.count() == 1 and "acme-se" in retry.inner_text()  # the one company with transient failures
    retry.get_by_role("button").click()
    page.wait_for_url("**/transfers?*")
    assert "Requested again" in page.locator("[role=status]").inner_text()
    sent = _requested_again(kafka.bootstrap)
    assert list(sent) == [sample.transient] and sent[sample.transient]["requested_by"] == sample_log.USER
    page.close()


def test_reprocess_a_selection_lists_it_and_asks_first(browser: Any, console: tuple[str, Any], kafka: Any,  # noqa: F811
                                                       shots: Path) -> None:  # noqa: F811
    url, sample = console
    context = browser.new_context(viewport={"width": 1300, "height": 900}, locale="fi-FI")
    page = context.new_page()
    page.goto(f"{url}/transfers?tenant=acme&company=acme-fi&kind=sales-invoice")
    sign_in(page, sample_log.USER, sample_log.PASSWORD)
    page.wait_for_url("**/transfers?*")
    page.get_by_role("link", name="Käsittele nämä uudelleen…").click()  # "Reprocess these…"
    page.wait_for_url("**/actions/reprocess?*")
    listed = page.locator("table.reprocess tbody tr")
    numbers = sorted(listed.nth(i).locator("td").nth(3).inner_text() for i in range(listed.count()))
    assert numbers == ["Severa 1001", "Severa 1002", "Severa 1003", "Severa 1005"]
    page.screenshot(path=str(shots / "console-reprocess-fi.png"), full_page=True)
    # Changing one's mind: back to the list, nothing sent.
    page.get_by_role("link", name="Peruuta").click()
    page.wait_for_url("**/transfers?*")
    assert _requested_again(kafka.bootstrap) == {}

    page.go_back()
    page.wait_for_url("**/actions/reprocess?*")
    page.get_by_role("button", name="Käsittele 4 uudelleen").click()
    page.wait_for_url("**/transfers?*")
    assert "Pyydetty uudelleen" in page.locator("[role=status]").inner_text()
    sent = _requested_again(kafka.bootstrap)
    assert sorted(sent) == sorted([sample.succeeded, sample.retried, sample.failed_data, sample.pending])
    assert {e["requested_by"] for e in sent.values()} == {sample_log.USER}

    # The failed record's page in Finnish: its links and the Retry button, and what the button says it did.
    page.goto(f"{url}/records/{sample.failed_data}?tenant=acme")
    assert page.get_by_role("link", name="Avaa Severassa").count() == 1
    page.get_by_role("button", name="Yritä nyt uudelleen").click()
    page.wait_for_url(f"**/records/{sample.failed_data}?tenant=acme")
    assert "Pyydetty uudelleen, pyytäjä operator" in page.locator("[role=status]").inner_text()
    page.screenshot(path=str(shots / "console-record-retried-fi.png"), full_page=True)
    context.close()


def test_refused_actions_do_nothing(browser: Any, console: tuple[str, Any], kafka: Any) -> None:  # noqa: F811
    url, sample = console
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    page = context.new_page()
    page.goto(f"{url}/records/{sample.failed_data}?tenant=acme")
    sign_in(page, sample_log.USER, sample_log.PASSWORD)
    page.wait_for_url(f"**/records/{sample.failed_data}?tenant=acme")

    # A tampered token (what a stale or forged form sends): 403, nothing done.
    page.locator("form.retry input[name=csrf_token]").evaluate("e => e.value = 'x'.repeat(43)")
    with page.expect_response(lambda r: r.url.endswith("/actions/retry")) as answer:
        page.get_by_role("button", name="Retry now").click()
    assert answer.value.status == 403 and "security token" in page.content()

    # Another site's page (another port on the same host is the same site: the cookie goes along) posting a
    # form without the token.
    evil = context.new_page()
    with SandboxServer(_evil_app(url, sample.failed_data)) as other:
        with evil.expect_response(lambda r: r.url.endswith("/actions/retry")) as answer:
            evil.goto(other.url + "/")
        assert answer.value.status == 403
    evil.close()

    # Signed out in another tab, then the button on the old page: to the sign-in page, nothing done.
    page.goto(f"{url}/records/{sample.failed_data}?tenant=acme")
    other_tab = context.new_page()
    other_tab.goto(url + "/")
    other_tab.click("header form.who button")
    other_tab.wait_for_url("**/login")
    page.get_by_role("button", name="Retry now").click()
    page.wait_for_url("**/login?next=*")
    assert page.title() == "Sign in · sevpro"
    assert _requested_again(kafka.bootstrap) == {}
    context.close()


def _evil_app(console_url: str, source_id: str) -> Any:
    """A page of another site that posts the console's retry form on load, without a CSRF token."""
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse
    from starlette.routing import Route

    html = (f'<form id="f" method="post" action="{console_url}/actions/retry">'
            f'<input name="tenant" value="acme"><input name="kind" value="sales-invoice">'
            f'<input name="source_id" value="{source_id}"></form><script>f.submit()</script>')

    async def home(request: Any) -> HTMLResponse:
        return HTMLResponse(html)

    return Starlette(routes=[Route("/", home)])
