"""`sevpro compare` and `sevpro check` with SEVPRO_COMPANY_SETTINGS=topic: the tenant's company settings in force
are read from the compacted settings topic (real broker), and the answers equal those of the same TOML file."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from foundation.company import demo_companies_path
from schemas import topics
from sevpro.cli import app

pytestmark = pytest.mark.integration


@pytest.fixture
def deployment(kafka, unique, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A deployment of its own (topic prefix) on the shared broker; yields its tenant."""
    tenant = f"t{unique}"
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka.bootstrap)
    monkeypatch.setenv("SEVPRO_TOPIC_PREFIX", f"registry-{unique}.")
    yield tenant
    topics.configure(topics.DEFAULT_PREFIX)


def sevpro(env: dict[str, str | None], *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.output


def topic_mode(env: dict[str, str], tenant: str | None) -> dict[str, str | None]:
    return env | {"SEVPRO_COMPANIES_FILE": None, "SEVPRO_COMPANY_SETTINGS": "topic", "SEVPRO_TENANT": tenant}


def test_compare_and_check_read_the_tenants_settings_from_the_topic_as_from_the_file(demo, deployment) -> None:
    env = demo.env()
    code, out = sevpro(env | {"SEVPRO_TENANT": deployment}, "settings", "import", str(demo_companies_path()))
    assert code == 0, out

    for command in (["compare", "--json", "--differences-only"], ["compare", "--json", "-c", "SE"],
                    ["check", "--json"], ["check", "--json", "--company", "FI"]):
        file_code, from_file = sevpro(env, *command)
        topic_code, from_topic = sevpro(topic_mode(env, deployment), *command)
        assert (topic_code, json.loads(from_topic)) == (file_code, json.loads(from_file)), command
    # Not an empty answer twice: the demo's companies and their deliberate differences are there.
    companies = {r["company"] for r in json.loads(sevpro(topic_mode(env, deployment), "compare", "--json")[1])[
        "companies"]}
    assert companies == {"FI", "SE"}

    # --tenant names the tenant on the command line, as `sevpro settings` does.
    code, out = sevpro(topic_mode(env, None), "check", "--json", "--tenant", deployment, "-c", "SE")
    file_code, from_file = sevpro(env, "check", "--json", "-c", "SE")
    assert (code, json.loads(out)) == (file_code, json.loads(from_file)), out
    assert "SE" in {c["company"] for c in json.loads(out)["checks"]}


def test_a_changed_setting_on_the_topic_is_what_check_reads(demo, deployment) -> None:
    env = demo.env()
    assert sevpro(env | {"SEVPRO_TENANT": deployment}, "settings", "import", str(demo_companies_path()))[0] == 0
    code, out = sevpro(env | {"SEVPRO_TENANT": deployment}, "settings", "set", "--company", "FI",
                       "sales_invoices.transfer_status=No such status")
    assert code == 0, out
    code, out = sevpro(topic_mode(env, deployment), "check", "--json", "-c", "FI")
    statuses = [c for c in json.loads(out)["checks"] if c["field"] == "sales_invoices.transfer_status"]
    assert code == 1 and statuses and statuses[0]["status"] == "error", out
    assert "No such status" in statuses[0]["message"] + (statuses[0]["record"] or "")


def test_a_tenant_without_settings_on_the_topic_is_one_clear_error(demo, deployment) -> None:
    env = demo.env()
    assert sevpro(env | {"SEVPRO_TENANT": deployment}, "settings", "import", str(demo_companies_path()))[0] == 0
    for command in ("compare", "check"):
        code, out = sevpro(topic_mode(env, "nobody-here"), command)
        assert code == 2, out
        assert "nobody-here" in out and "sevpro settings import" in out and "Traceback" not in out, out
        assert out.count("error") == 1, out
    code, out = sevpro(topic_mode(env, ""), "compare")
    assert code == 2 and "SEVPRO_TENANT" in out and "--tenant" in out, out


def test_topic_mode_with_a_companies_file_too_is_refused(demo, deployment) -> None:
    env = demo.env() | {"SEVPRO_COMPANY_SETTINGS": "topic", "SEVPRO_TENANT": deployment}
    code, out = sevpro(env, "check")
    assert code == 2 and "SEVPRO_COMPANIES_FILE" in out and "SEVPRO_COMPANY_SETTINGS=topic" in out, out
