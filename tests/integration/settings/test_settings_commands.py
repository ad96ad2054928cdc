"""`sevpro settings` and `sevpro tenants` on a real broker: the TOML import round trip, refusals that name the
company and the field (and publish nothing), the history, and no secret value on any topic."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import TopicPartition
from typer.testing import CliRunner

from foundation.company import demo_companies_path, load_companies
from foundation.kafka import read_committed_consumer
from foundation.settings_directory import read_history
from schemas import topics
from sevpro import settings_cli, tenants_cli
from sevpro.cli import app

pytestmark = pytest.mark.integration


@pytest.fixture
def deployment(kafka, unique, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A deployment of its own (topic prefix) on the shared broker; yields the tenant."""
    tenant = f"t{unique}"
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka.bootstrap)
    monkeypatch.setenv("SEVPRO_TOPIC_PREFIX", f"settings-{unique}.")
    monkeypatch.setenv("SEVPRO_TENANT", tenant)
    for console in (settings_cli.console, tenants_cli.console):
        monkeypatch.setattr(console, "width", 400)  # no wrapped lines to search in
    yield tenant
    topics.configure(topics.DEFAULT_PREFIX)


def sevpro(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def history(tenant: str, company: str | None = None) -> list[dict]:
    return [record for _, record in asyncio.run(read_history(os.environ["KAFKA_BOOTSTRAP_SERVERS"], tenant, company))]


def test_import_round_trip_then_a_change_shows_in_the_history(deployment: str) -> None:
    code, out = sevpro("settings", "import", str(demo_companies_path()), "--by", "alice")
    assert code == 0, out
    assert "sales_invoices.procountor_status" in out and "FI" in out and "SE" in out
    code, out = sevpro("settings", "show", "--json")
    assert code == 0, out
    expected = {name: company.model_dump(mode="json")
                for name, company in load_companies(demo_companies_path()).items()}
    assert json.loads(out) == expected  # what the worker will read is what the file said

    code, out = sevpro("settings", "import", str(demo_companies_path()), "--by", "alice")
    assert code == 0 and "unchanged: FI, SE" in out, out
    assert [r["revision"] for r in history(deployment)] == [1, 1]  # the second import published nothing

    code, out = sevpro("settings", "set", "--company", "FI", "sales_invoices.procountor_status=NOT_SENT",
                       "create_products=false", "--by", "bob")
    assert code == 0, out
    code, out = sevpro("settings", "show", "--json", "--company", "FI")
    settings = json.loads(out)["FI"]
    assert settings["sales_invoices"]["procountor_status"] == "NOT_SENT" and settings["create_products"] is False
    assert settings == {**expected["FI"], "create_products": False,
                        "sales_invoices": {**expected["FI"]["sales_invoices"], "procountor_status": "NOT_SENT"}}

    changes = history(deployment, "FI")
    assert [(r["revision"], r["changed_by"], r["origin"]) for r in changes] == [
        (1, "alice", "sevpro settings import demo_companies.toml"), (2, "bob", "sevpro settings set")]
    assert changes[1]["changes"] == [
        {"field": "create_products", "before": "true", "after": "false"},
        {"field": "sales_invoices.procountor_status", "before": '"UNFINISHED"', "after": '"NOT_SENT"'}]
    code, out = sevpro("settings", "history", "--company", "FI")
    assert code == 0, out
    bob = next(line for line in out.splitlines() if "bob" in line)
    assert "create_products" in bob and "sevpro settings set" in bob
    assert any("sales_invoices.procountor_status" in line and "UNFINISHED" in line and "NOT_SENT" in line
               for line in out.splitlines()), out


def test_refusals_name_the_company_and_the_field_and_publish_nothing(deployment: str, tmp_path: Path) -> None:
    assert sevpro("settings", "import", str(demo_companies_path()))[0] == 0
    published = len(history(deployment))

    code, out = sevpro("settings", "set", "--company", "FI", "sales_invoices.procountor_stauts=SENT")
    assert code == 2, out
    assert "refused, nothing was published" in out
    assert "company 'FI': sales_invoices.procountor_stauts: Extra inputs are not permitted" in out
    code, out = sevpro("settings", "set", "--company", "SE", "enabled=true", "--unset", "default_product_code")
    assert code == 2 and "company 'SE': default_product_code: Field required" in out, out
    code, out = sevpro("settings", "set", "--company", "SE", "sales_invoices.procountor_status=SENDING")
    assert code == 2 and "company 'SE': sales_invoices.procountor_status: Input should be" in out, out

    # A TOML file with a company missing a field: the whole import is refused, naming both.
    text = demo_companies_path().read_text().replace('default_work_type_code = "DEFAULT-WORK"\n', "", 1)
    (tmp_path / "companies.toml").write_text(text.replace("[company.SE]", "[company.NO]"))
    code, out = sevpro("settings", "import", str(tmp_path / "companies.toml"))
    assert code == 2, out
    assert "company 'FI': default_work_type_code: Field required" in out

    assert len(history(deployment)) == published  # nothing of any refused change reached the topics
    code, out = sevpro("settings", "show", "--json")
    assert sorted(json.loads(out)) == ["FI", "SE"]


async def _every_config_byte(bootstrap: str) -> bytes:
    consumer = read_committed_consumer(bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    try:
        metadata = await consumer._client.fetch_all_metadata()  # noqa: SLF001 (no public "all topics")
        partitions = [TopicPartition(t, p) for t in topics.config_topics() for p in metadata.partitions_for_topic(t)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        data = b""
        while [tp for tp in partitions if await consumer.position(tp) < end[tp]]:
            for messages in (await consumer.getmany(*partitions, timeout_ms=1000)).values():
                data += b"".join((m.key or b"") + (m.value or b"") for m in messages)
        return data
    finally:
        await consumer.stop()


def test_no_secret_value_reaches_the_topics(deployment: str, monkeypatch: pytest.MonkeyPatch) -> None:
    secrets = {"ACME_SEVERA_SECRET": "severa-s3cret-7731", "ACME_PROCOUNTOR_SECRET": "procountor-s3cret-4410",
               "SEVPRO_PROCOUNTOR_API_KEY_FI": "fi-api-key-9921", "SEVPRO_PROCOUNTOR_API_KEY_SE": "se-api-key-1187"}
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    tenant = deployment
    # The secret itself where a reference belongs: refused, and not repeated in the message.
    code, out = sevpro("tenants", "add", tenant, "--severa-client-id", "acme", "--severa-client-secret",
                       secrets["ACME_SEVERA_SECRET"], "--procountor-client-id", "acme",
                       "--procountor-client-secret", "env:ACME_PROCOUNTOR_SECRET")
    assert code == 2 and "severa_client_secret: must be a reference" in out, out
    assert secrets["ACME_SEVERA_SECRET"] not in out
    code, out = sevpro("tenants", "add", tenant, "--display-name", "Acme Oy", "--severa-client-id", "acme",
                       "--severa-client-secret", "env:ACME_SEVERA_SECRET", "--procountor-client-id", "acme",
                       "--procountor-client-secret", "env:ACME_PROCOUNTOR_SECRET", "--by", "carol")
    assert code == 0, out
    assert sevpro("settings", "import", str(demo_companies_path()))[0] == 0
    assert sevpro("settings", "set", "--company", "SE", "procountor_api_key_env=SEVPRO_PROCOUNTOR_API_KEY_FI")[0] == 0

    data = asyncio.run(_every_config_byte(os.environ["KAFKA_BOOTSTRAP_SERVERS"]))
    assert b"env:ACME_SEVERA_SECRET" in data and b"SEVPRO_PROCOUNTOR_API_KEY_FI" in data  # the references are there
    for value in secrets.values():
        assert value.encode() not in data

    code, out = sevpro("tenants", "show", tenant)
    assert code == 0 and "resolves on this host" in out and "FI, SE" in out, out
    assert not any(value in out for value in secrets.values())
    code, out = sevpro("tenants", "add", tenant, "--severa-client-id", "x", "--severa-client-secret", "env:X",
                       "--procountor-client-id", "x", "--procountor-client-secret", "env:X")
    assert code == 2 and "already registered" in out, out
    assert sevpro("tenants", "disable", tenant, "--by", "dave")[0] == 0
    code, out = sevpro("tenants", "list")
    row = next(line for line in out.splitlines() if tenant in line)
    assert "Acme Oy" in row and " no " in f" {row} " and "FI, SE" in row and "dave" in row, out
    code, out = sevpro("settings", "history")
    assert code == 0 and "carol" in out and "dave" in out and "enabled" in out, out


def test_a_worker_on_topic_settings_refuses_to_start_without_them_naming_what_to_do(deployment: str) -> None:
    import subprocess
    import sys

    base = {k: v for k, v in os.environ.items() if not k.startswith("SEVPRO_PROCOUNTOR_API_KEY")}
    env = {**base, "COLUMNS": "400", "SEVPRO_COMPANY_SETTINGS": "topic", "SEVPRO_SEVERA_CLIENT_ID": "id",
           "SEVPRO_SEVERA_CLIENT_SECRET": "s1", "SEVPRO_PROCOUNTOR_CLIENT_ID": "id",
           "SEVPRO_PROCOUNTOR_CLIENT_SECRET": "s2"}
    env.pop("SEVPRO_COMPANIES_FILE", None)

    def worker() -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "sevpro.cli", "worker"], capture_output=True, text=True,
                              timeout=120, env=env)

    result = worker()
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"tenant {deployment!r} has no company settings on the topic" in result.stdout
    assert "sevpro settings import" in result.stdout and "Traceback" not in result.stdout + result.stderr
    assert sevpro("settings", "import", str(demo_companies_path()))[0] == 0
    result = worker()  # now the settings are there, but this host lacks the API keys they name
    assert result.returncode == 2, result.stdout + result.stderr
    assert "company 'FI'" in result.stdout and "SEVPRO_PROCOUNTOR_API_KEY_FI" in result.stdout


def test_two_people_changing_settings_at_once_never_lose_a_change(deployment: str) -> None:
    """Each writer fences the others before it reads: both changes end up in force, or the one fenced out is told
    so and published nothing; never one silently overwriting the other with the settings it read before."""
    from foundation.settings_directory import SettingsConflict, SettingsWriter, read_directory
    from foundation.settings_events import assign, validate_company

    assert sevpro("settings", "import", str(demo_companies_path()))[0] == 0
    bootstrap = os.environ["KAFKA_BOOTSTRAP_SERVERS"]

    def change(field: str, value: str) -> Any:
        def edit(current: dict[str, Any]) -> dict[str, Any]:
            return {"FI": validate_company("FI", assign(current["FI"].model_dump(mode="json"), {field: value}))}
        return edit

    async def both() -> list[Any]:
        writers = [SettingsWriter(bootstrap, changed_by=who, origin="test") for who in ("erin", "frank")]
        edits = [change("create_products", "false"), change("sales_invoices.attachments", "breakdown")]
        changes = [w.change_companies(deployment, edit) for w, edit in zip(writers, edits, strict=True)]
        return await asyncio.gather(*changes, return_exceptions=True)

    outcomes = asyncio.run(both())
    assert all(isinstance(o, list) or isinstance(o, SettingsConflict) for o in outcomes), outcomes
    final = asyncio.run(read_directory(bootstrap)).company_settings(deployment)["FI"]
    made = [o[0]["changed_by"] for o in outcomes if isinstance(o, list)]
    assert made, outcomes
    assert (final.create_products is False) == ("erin" in made)
    assert (final.sales_invoices.attachments == "breakdown") == ("frank" in made)  # the demo's FI has "pdf"
    assert [r["revision"] for r in history(deployment, "FI")] == list(range(1, len(made) + 2))
