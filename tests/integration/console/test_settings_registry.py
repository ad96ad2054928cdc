"""The registry comparison and the checklist from the console give what `sevpro compare --json` and `sevpro check
--json` give, for the same sandbox data (the demo's two sandboxes over real sockets, a real broker for the
check of the event topics)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from console import testing as sample_log
from console.app import create_app
from console.settings_pages import FileSettings
from foundation.company import demo_companies_path
from sevpro.registry_cli import app as registry_app
from tests.integration.console.console_signin import signed_in
from tests.integration.registry.conftest import Sandboxes, _demo

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def demo() -> Iterator[Sandboxes]:
    yield from _demo()


@pytest.fixture
def environment(demo: Sandboxes, kafka, own_topics, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = demo.env() | {"KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def cli(env: dict[str, str], *args: str) -> tuple[int, dict]:
    result = CliRunner().invoke(registry_app, list(args), env=env)
    return result.exit_code, json.loads(result.output)


def test_the_consoles_compare_and_check_equal_the_command_lines(environment, kafka, tmp_path: Path) -> None:
    path = tmp_path / "companies.toml"
    shutil.copy(demo_companies_path(), path)
    root = tmp_path / "proj"
    sample_log.fill(root)
    app = create_app(root, kafka.bootstrap, auth=sample_log.auth(), refresh=None, company_settings=FileSettings(path))
    with signed_in(app) as http:
        for company in ("FI", "SE"):
            code, expected = cli(environment, "compare", "--json", "--company", company)
            answer = http.get("/api/registry/compare", params={"company": company}, timeout=60)
            assert answer.status_code == 200, answer.text
            assert answer.json() == expected and expected["companies"], company

            code, expected = cli(environment, "check", "--json", "--company", company)
            answer = http.get("/api/registry/check", params={"company": company}, timeout=60)
            assert answer.status_code == 200, answer.text
            assert answer.json() == expected, company
            assert any(c["item"] == "kafka_retention" and c["status"] == "ok" for c in expected["checks"])
        # Every company at once, as the commands without --company.
        assert http.get("/api/registry/check", timeout=60).json() == cli(environment, "check", "--json")[1]
        unknown = http.get("/api/registry/check", params={"company": "NO"})
        assert unknown.status_code == 400 and "NO" in unknown.json()["error"]
