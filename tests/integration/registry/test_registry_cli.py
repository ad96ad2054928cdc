"""`compare` and `check` on the command line (typer's CliRunner), configured by SEVPRO_* like the worker."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from sevpro.registry_cli import app

runner = CliRunner()


def test_compare_prints_a_table_per_registry(demo) -> None:
    result = runner.invoke(app, ["compare", "--company", "FI"], env=demo.env())
    assert result.exit_code == 0, result.output
    for title in ("Customers ↔ business partners", "Products ↔ Procountor products", "Users ↔ persons",
                  "Projects ↔ dimension items", "Bank accounts"):
        assert title in result.output
    assert "customer 1005" in result.output and "HW-LAPTOP" in result.output and "E006" in result.output
    assert "FI: 3 errors, 15 warnings" in result.output  # 2 of them sales accounts (3020, 3050)
    assert "Company SE" not in result.output


def test_compare_json_has_every_company_and_the_differences(demo) -> None:
    result = runner.invoke(app, ["compare", "--json", "--differences-only"], env=demo.env())
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    reports = {r["company"]: r for r in document["companies"]}
    assert set(reports) == {"FI", "SE"} and document["failures"] == []
    se = {(f["registry"], f["key"], f["status"]) for f in reports["SE"]["findings"] if f["severity"] != "ok"}
    assert ("customers", "2004", "only_in_severa") in se
    assert reports["FI"]["summary"]["customers"]["error"] == 2


def test_check_exits_1_on_the_demos_errors(demo) -> None:
    result = runner.invoke(app, ["check", "--json"], env=demo.env())
    assert result.exit_code == 1, result.output
    document = json.loads(result.output)
    assert document["error"] == 3
    errors = {(c["company"], c["item"], c["field"]) for c in document["checks"] if c["status"] == "error"}
    assert ("FI", "users", "code") in errors and ("FI", "customers", "vatNumber") in errors


def test_check_names_the_variable_of_a_wrong_or_missing_api_key(demo) -> None:
    env = demo.env() | {"SEVPRO_PROCOUNTOR_API_KEY_SE": "wrong-key-5678"}
    result = runner.invoke(app, ["check", "--company", "SE"], env=env)
    assert result.exit_code == 1
    assert "SEVPRO_PROCOUNTOR_API_KEY_SE" in result.output and "wrong-key-5678" not in result.output
    env = demo.env() | {"SEVPRO_PROCOUNTOR_API_KEY_SE": ""}
    result = runner.invoke(app, ["check", "--company", "SE", "--json"], env=env)
    assert result.exit_code == 1
    [key] = [c for c in json.loads(result.output)["checks"] if c["item"] == "procountor_api_key"]
    assert key["status"] == "error" and key["field"] == "SEVPRO_PROCOUNTOR_API_KEY_SE"


def test_an_unknown_company_is_refused(demo) -> None:
    result = runner.invoke(app, ["check", "--company", "NO"], env=demo.env())
    assert result.exit_code == 2 and "no company NO" in result.output
