"""Company settings and the checks before enabling, in a real browser (the system Chromium, as
tests/e2e/test_console_browser.py starts it): switches, the form with its errors at the fields, the history,
the registry comparison and the checklist against the demo sandboxes (compared with the commands' JSON), and
every refused request (no session, a bad CSRF token) leaving the file or the topic as it was.

Screenshots (in Finnish, for docs/console.md) go to $SEVPRO_SCREENSHOTS or pytest's tmp folder.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from console import testing as sample_log
from console.app import create_app
from console.settings_pages import FileSettings, TopicSettings
from foundation.company import demo_companies_path, load_companies
from registry.compare import REGISTRIES
from sandbox.runner import SandboxServer
from schemas import topics
from sevpro.cli import app as sevpro_app
from sevpro.registry_cli import app as registry_app
from tests.e2e.test_console_browser import CHROMIUM, CHROMIUM_ARGS, playwright_api, sign_in
from tests.integration.console.test_settings_topic import topic_contents
from tests.integration.registry.conftest import Sandboxes, _demo


@pytest.fixture(scope="module")
def browser(kafka: Any) -> Iterator[Any]:
    """The system Chromium, started as tests/e2e/test_console_browser.py starts it; the broker before it (the
    broker's start waits with asyncio.run, which Playwright's running loop would refuse)."""
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


def off_loop(work: Any, *args: Any, **kwargs: Any) -> Any:
    """Run `work` in a thread of its own: Playwright's sync API keeps an event loop running in this one, and the
    commands and the topic reads start their own (asyncio.run)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(work, *args, **kwargs).result()


def invoke(app: Any, args: list[str], env: dict[str, str] | None = None) -> Any:
    return off_loop(CliRunner().invoke, app, args, env=env)


@pytest.fixture
def companies_file(tmp_path: Path) -> Path:
    path = tmp_path / "companies.toml"
    shutil.copy(demo_companies_path(), path)
    return path


def file_console(tmp_path: Path, companies_file: Path, bootstrap: str | None = None) -> Any:
    root = tmp_path / "proj"
    sample_log.fill(root)
    return create_app(root, bootstrap, auth=sample_log.auth(), refresh=None,
                      company_settings=FileSettings(companies_file))


def signed_in_page(browser: Any, server: SandboxServer, path: str, language: str = "en-GB") -> Any:
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, locale=language)
    page.goto(server.url + path)
    sign_in(page, sample_log.USER, sample_log.PASSWORD)
    page.wait_for_url(server.url + path)
    return page


def switch(page: Any, company: str, field: str) -> Any:
    return page.locator(f'tr:has(strong:text-is("{company}")) button[data-field="{field}"]')


def test_switches_the_form_its_errors_and_the_history_in_the_file(browser: Any, tmp_path: Path,
                                                                 companies_file: Path, shots: Path) -> None:
    with SandboxServer(file_console(tmp_path, companies_file)) as server:
        page = signed_in_page(browser, server, "/", "fi-FI")
        page.click('header nav a[href="/settings"]')
        page.wait_for_url(server.url + "/settings")
        assert str(companies_file) in page.locator(".notice").inner_text()
        page.screenshot(path=str(shots / "console-settings-fi.png"), full_page=True)

        # Travel reimbursements of SE off, then purchase invoices on: each a click, each saved to the file.
        switch(page, "SE", "travel_reimbursements.enabled").click()
        page.wait_for_url(server.url + "/settings")
        switch(page, "SE", "purchase_invoices.enabled").click()
        page.wait_for_url(server.url + "/settings")
        se = load_companies(companies_file)["SE"]
        assert (se.travel_reimbursements.enabled, se.purchase_invoices.enabled) == (False, True)
        assert switch(page, "SE", "travel_reimbursements.enabled").inner_text() == "Ota käyttöön"

        # The form: a wrong e-mail address and IBAN are named at their fields, and nothing is saved.
        page.goto(server.url + "/settings/FI?lang=en")
        before = companies_file.read_bytes()
        page.fill('input[name="error_email"]', "billing at kumpula")
        page.fill('input[name="bank_account_iban"]', "FI00 1234")
        page.select_option('select[name="sales_invoices.procountor_status"]', "NOT_SENT")
        page.click("form.settings button[type=submit]")
        email_error = page.locator('[id="error-error_email"]')
        assert "error_email" in email_error.inner_text() and "is not an email address" in email_error.inner_text()
        assert "is not a valid IBAN" in page.locator('[id="error-bank_account_iban"]').inner_text()
        assert page.input_value('input[name="error_email"]') == "billing at kumpula"  # kept to correct
        assert page.locator(".field.invalid").count() == 2
        assert companies_file.read_bytes() == before
        page.goto(server.url + "/settings/FI?lang=fi")  # the screenshot of a refusal, in Finnish
        page.fill('input[name="error_email"]', "billing at kumpula")
        page.click("form.settings button[type=submit]")
        page.locator('[id="error-error_email"]').scroll_into_view_if_needed()
        page.screenshot(path=str(shots / "console-settings-error-fi.png"))

        # Corrected: saved, and the page says the worker must be restarted.
        page.goto(server.url + "/settings/FI?lang=en")
        page.select_option('select[name="sales_invoices.procountor_status"]', "NOT_SENT")
        page.uncheck('input[name="create_products"]')
        page.click("form.settings button[type=submit]")
        page.wait_for_url(server.url + "/settings/FI?saved=1")
        assert "Restart the worker" in page.locator("[role=status]").inner_text()
        fi = load_companies(companies_file)["FI"]
        assert fi.sales_invoices.procountor_status == "NOT_SENT" and fi.create_products is False

        page.click("text=History")
        page.wait_for_url(server.url + "/settings/FI/history")
        rows = [r.inner_text() for r in page.locator("table.history tbody tr").all()]
        assert sample_log.USER in rows[0] and "create_products" in rows[0]
        assert any("sales_invoices.procountor_status" in r and "UNFINISHED" in r and "NOT_SENT" in r for r in rows)
        cells = page.locator("table.history tbody tr", has_text="create_products").locator("td").all_inner_texts()
        assert cells[3:6] == ["create_products", "true", "false"]  # before → after, as the file writes them
        page.goto(server.url + "/settings/FI/history?lang=fi")
        page.screenshot(path=str(shots / "console-settings-history-fi.png"), full_page=True)
        page.close()


def test_refused_without_a_session_and_with_a_bad_csrf_token(browser: Any, tmp_path: Path,
                                                             companies_file: Path) -> None:
    before = companies_file.read_bytes()
    with SandboxServer(file_console(tmp_path, companies_file)) as server:
        # Without a session: the page goes to the sign-in, and a POST is refused.
        anonymous = browser.new_context()
        page = anonymous.new_page()
        page.goto(server.url + "/settings/FI")
        page.wait_for_url("**/login?next=*")
        answer = anonymous.request.post(server.url + "/settings/FI/switch",
                                        form={"field": "enabled", "value": "false"}, max_redirects=0)
        assert answer.status == 303 and answer.headers["location"].startswith("/login?next=")
        anonymous.close()

        # Signed in, but the form's token is not the session's (as a form of another site would send it).
        page = signed_in_page(browser, server, "/settings")
        page.evaluate("document.querySelectorAll('input[name=csrf_token]').forEach(i => i.value = 'forged-0000')")
        with page.expect_response(lambda r: r.url.endswith("/settings/FI/switch")) as refused:
            switch(page, "FI", "enabled").click()
        assert refused.value.status == 403
        assert "security token" in page.content()
        page.goto(server.url + "/settings/FI")
        page.evaluate("document.querySelector('form.settings input[name=csrf_token]').remove()")
        with page.expect_response(lambda r: r.url.endswith("/settings/FI")) as refused:
            page.click("form.settings button[type=submit]")
        assert refused.value.status == 403
        page.close()
    assert companies_file.read_bytes() == before


@pytest.fixture
def deployment(kafka: Any, unique: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    tenant = f"t{unique}"
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka.bootstrap)
    monkeypatch.setenv("SEVPRO_TOPIC_PREFIX", f"console-e2e-{unique}.")
    monkeypatch.setenv("SEVPRO_TENANT", tenant)
    result = invoke(sevpro_app, ["settings", "import", str(demo_companies_path()), "--by", "alice"])
    assert result.exit_code == 0, result.output
    yield tenant
    topics.configure(topics.DEFAULT_PREFIX)


def test_the_form_and_a_switch_publish_settings_events_and_refusals_publish_nothing(
        browser: Any, tmp_path: Path, kafka: Any, deployment: str) -> None:
    root = tmp_path / "proj"
    sample_log.fill(root)
    app = create_app(root, kafka.bootstrap, auth=sample_log.auth(), refresh=None,
                     company_settings=TopicSettings(kafka.bootstrap, deployment))
    with SandboxServer(app) as server:
        page = signed_in_page(browser, server, "/settings")
        assert deployment in page.locator(".notice").inner_text()
        switch(page, "SE", "enabled").click()
        page.wait_for_url(server.url + "/settings")
        assert switch(page, "SE", "enabled").inner_text() == "Turn on"

        page.goto(server.url + "/settings/FI")
        page.fill('input[name="default_product_code"]', "")  # required: refused in the browser's own check too
        page.evaluate("document.querySelector('input[name=default_product_code]').removeAttribute('required')")
        page.click("form.settings button[type=submit]")
        assert "default_product_code" in page.locator('[id="error-default_product_code"]').inner_text()
        page.fill('input[name="default_product_code"]', "SERVICE")
        page.click("form.settings button[type=submit]")
        page.wait_for_url(server.url + "/settings/FI?saved=1")
        assert "revision 2" in page.locator("[role=status]").inner_text()

        published = off_loop(topic_contents, kafka.bootstrap)
        page.goto(server.url + "/settings")
        page.evaluate("document.querySelectorAll('input[name=csrf_token]').forEach(i => i.value = 'forged-0000')")
        with page.expect_response(lambda r: r.url.endswith("/settings/FI/switch")) as refused:
            switch(page, "FI", "enabled").click()
        assert refused.value.status == 403
        anonymous = browser.new_context()
        answer = anonymous.request.post(server.url + "/settings/FI/switch",
                                        form={"field": "enabled", "value": "false"}, max_redirects=0)
        assert answer.status == 303 and answer.headers["location"].startswith("/login?next=")
        anonymous.close()
        assert off_loop(topic_contents, kafka.bootstrap) == published

        page.goto(server.url + "/settings/FI/history")
        rows = [r.inner_text() for r in page.locator("table.history tbody tr").all()]
        assert sample_log.USER in rows[0] and "default_product_code" in rows[0] and "SERVICE" in rows[0]
        assert any("alice" in r for r in rows)
        page.close()
    se = json.loads(invoke(sevpro_app, ["settings", "show", "--json", "--company", "SE"]).output)["SE"]
    assert se["enabled"] is False


@pytest.fixture(scope="module")
def demo() -> Iterator[Sandboxes]:
    yield from _demo()


def test_compare_and_checklist_in_the_browser_equal_the_commands_json(browser: Any, tmp_path: Path,
                                                                      companies_file: Path, demo: Sandboxes,
                                                                      kafka: Any, own_topics: str,
                                                                      monkeypatch: pytest.MonkeyPatch,
                                                                      shots: Path) -> None:
    env = demo.env() | {"KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with SandboxServer(file_console(tmp_path, companies_file, kafka.bootstrap)) as server:
        page = signed_in_page(browser, server, "/registry")
        page.select_option("form.filters select[name=company]", "FI")
        page.check("form.filters input[name=matched]")
        page.click("form.filters button[value=compare]")
        page.wait_for_url("**/registry/compare?*")
        shown = []
        for row in page.locator("table.findings tbody tr").all():
            cells = row.locator("td").all()
            shown.append((cells[0].inner_text(), *(c.inner_text() for c in cells[1:6]),
                          cells[6].locator(".message").inner_text()))
        expected = json.loads(invoke(registry_app, ["compare", "--json", "-c", "FI"], env=env).output)
        [report] = expected["companies"]
        order = {name: index for index, name in enumerate(REGISTRIES)}  # the page's order; stable within each
        findings = sorted(report["findings"], key=lambda f: order[f["registry"]])
        assert shown == [(f["severity"], f["key"], f["record"], f["field"] or "", f["severa"] or "",
                          f["procountor"] or "", f["message"]) for f in findings]
        assert len(shown) > 20 and any(s[0] == "error" for s in shown)

        page.click("form.filters button[value=check]")
        page.wait_for_url("**/registry/check?*")
        shown = []
        for row in page.locator("table.checks tbody tr").all():
            cells = row.locator("td").all()
            shown.append((cells[0].inner_text(), cells[1].locator("[data-item]").get_attribute("data-item"),
                          cells[2].inner_text(), cells[3].inner_text(), cells[4].locator(".message").inner_text()))
        result = invoke(registry_app, ["check", "--json", "-c", "FI"], env=env)
        assert result.exit_code == 1
        checks = json.loads(result.output)["checks"]
        assert shown == [(c["status"], c["item"], c["record"] or "", c["field"] or "", c["message"]) for c in checks]
        assert "not ready to enable" in page.locator("h2[data-company=FI] + p").inner_text()
        page.goto(page.url + "&lang=fi")
        page.screenshot(path=str(shots / "console-checklist-fi.png"))
        page.close()
