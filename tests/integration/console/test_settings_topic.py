"""The console's settings pages with the settings as events (SEVPRO_COMPANY_SETTINGS=topic), on a real broker:
the form and the switches publish a CompanySettingsChanged through the function `sevpro settings set` uses, with
the signed-in user as who; refused requests (no session, a bad CSRF token, an invalid field, a form opened
before another change) publish nothing: the topics are read end to end before and after."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import httpx
import pytest
from aiokafka import TopicPartition
from typer.testing import CliRunner

from console import testing as sample_log
from console.app import create_app
from console.settings_pages import TopicSettings
from foundation.company import demo_companies_path, load_companies
from foundation.kafka import read_committed_consumer
from foundation.settings_directory import read_directory, read_history
from sandbox.runner import SandboxServer
from schemas import topics
from sevpro.cli import app as sevpro_app
from tests.integration.console.console_signin import signed_in
from tests.integration.console.settings_forms import as_data, form_fields, replaced

pytestmark = pytest.mark.integration


@pytest.fixture
def deployment(kafka, unique, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A deployment of its own (topic prefix) with the demo's companies imported; yields the tenant."""
    tenant = f"t{unique}"
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka.bootstrap)
    monkeypatch.setenv("SEVPRO_TOPIC_PREFIX", f"console-settings-{unique}.")
    monkeypatch.setenv("SEVPRO_TENANT", tenant)
    result = CliRunner().invoke(sevpro_app, ["settings", "import", str(demo_companies_path()), "--by", "alice"])
    assert result.exit_code == 0, result.output
    yield tenant
    topics.configure(topics.DEFAULT_PREFIX)


@pytest.fixture
def app(tmp_path, kafka, deployment: str):  # type: ignore[no-untyped-def]
    root = tmp_path / "proj"
    sample_log.fill(root)
    return create_app(root, kafka.bootstrap, auth=sample_log.auth(), refresh=None,
                      company_settings=TopicSettings(kafka.bootstrap, deployment))


def topic_contents(bootstrap: str) -> list[tuple[str, int, bytes | None, bytes | None]]:
    """Every record of the two settings topics and the history, read to the end."""

    async def read() -> list[tuple[str, int, bytes | None, bytes | None]]:
        consumer = read_committed_consumer(bootstrap, auto_offset_reset="earliest")
        await consumer.start()
        try:
            metadata = await consumer._client.fetch_all_metadata()  # noqa: SLF001 (no public "all topics")
            partitions = [TopicPartition(t, p) for t in (topics.company_settings(), topics.settings_history())
                          for p in sorted(metadata.partitions_for_topic(t) or ())]
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            end = await consumer.end_offsets(partitions)
            found = []
            while [tp for tp in partitions if await consumer.position(tp) < end[tp]]:
                for tp, messages in (await consumer.getmany(*partitions, timeout_ms=1000)).items():
                    found += [(f"{tp.topic}/{tp.partition}", m.offset, m.key, m.value) for m in messages]
            return sorted(found, key=lambda r: (r[0], r[1]))  # each partition's records in order
        finally:
            await consumer.stop()

    return asyncio.run(read())


def settings_of(bootstrap: str, tenant: str, company: str) -> dict:
    directory = asyncio.run(read_directory(bootstrap))
    return json.loads(directory.companies[tenant][company]["settings"])


def test_the_form_publishes_through_settings_set_with_the_user_as_who(app, kafka, deployment: str) -> None:
    with signed_in(app) as http:
        fields = form_fields(http.get("/settings/FI").text, "/settings/FI")
        saved = http.post("/settings/FI", data=as_data(replaced(fields, sales_invoices__procountor_status="SENT",
                                                                 create_customers=None)))
        assert saved.status_code == 303, saved.text
        after = http.get(saved.headers["location"]).text
        assert "Restart the worker" not in after and "revision 2" in after

        token = dict(fields)["csrf_token"]
        assert http.post("/settings/FI/switch", data={"field": "travel_reimbursements.enabled", "value": "false",
                                                      "csrf_token": token}).status_code == 303
        history_page = http.get("/settings/FI/history").text
    changes = [r for _, r in asyncio.run(read_history(kafka.bootstrap, deployment, "FI"))]
    assert [(r["revision"], r["changed_by"], r["origin"]) for r in changes] == [
        (1, "alice", "sevpro settings import demo_companies.toml"), (2, sample_log.USER, "sevpro console"),
        (3, sample_log.USER, "sevpro console")]
    assert changes[1]["changes"] == [
        {"field": "create_customers", "before": "true", "after": "false"},
        {"field": "sales_invoices.procountor_status", "before": '"UNFINISHED"', "after": '"SENT"'}]
    assert changes[2]["changes"] == [{"field": "travel_reimbursements.enabled", "before": "true", "after": "false"}]
    expected = load_companies(demo_companies_path())["FI"].model_dump(mode="json")
    assert settings_of(kafka.bootstrap, deployment, "FI") == {
        **expected, "create_customers": False,
        "sales_invoices": {**expected["sales_invoices"], "procountor_status": "SENT"},
        "travel_reimbursements": {**expected["travel_reimbursements"], "enabled": False}}
    for text in ("alice", sample_log.USER, "sales_invoices.procountor_status", "UNFINISHED", "SENT",
                 "travel_reimbursements.enabled"):
        assert text in history_page


def test_refused_requests_publish_nothing(app, kafka, deployment: str) -> None:
    before = topic_contents(kafka.bootstrap)
    assert before, "the import is on the topics"
    with SandboxServer(app) as server, httpx.Client(base_url=server.url) as anonymous:
        answer = anonymous.post("/settings/FI/switch", data={"field": "enabled", "value": "false"})
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login?next=")
    with signed_in(app) as http:
        fields = form_fields(http.get("/settings/FI").text, "/settings/FI")
        forged = as_data(replaced(fields, csrf_token="forged-token-of-another-site-000000", enabled=None))
        assert http.post("/settings/FI", data=forged).status_code == 403
        assert http.post("/settings/FI/switch", data={"field": "enabled", "value": "false"}).status_code == 403
        invalid = http.post("/settings/FI", data=as_data(replaced(fields, error_email="nobody")))
        assert invalid.status_code == 400 and 'id="error-error_email"' in invalid.text
        assert topic_contents(kafka.bootstrap) == before

        # Someone changes FI from the command line while the form is open: the form is refused, not saved over.
        result = CliRunner().invoke(sevpro_app, ["settings", "set", "--company", "FI", "create_products=false",
                                                 "--by", "bob"])
        assert result.exit_code == 0, result.output
        changed = topic_contents(kafka.bootstrap)
        stale = http.post("/settings/FI", data=as_data(replaced(fields, display_name="Kumpula Oy")))
        assert stale.status_code == 409 and "reload" in stale.text.lower()
        assert topic_contents(kafka.bootstrap) == changed
    assert settings_of(kafka.bootstrap, deployment, "FI")["display_name"] == "Kumpula Consulting Oy"
