"""`sevpro contract coverage`: operations used and in the contract, what a run checked, its violations."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import contract.coverage
from contract import load
from contract.expected import Known
from contract.usage import used_keys
from sevpro.cli import app


def _run(tmp_path: Path, violations: list[dict[str, object]]) -> Path:
    record = {
        "requests": {"severa GET /v1/invoices": 7, "procountor GET /persons": 2},
        "answers": {"severa GET /v1/invoices": 7, "procountor GET /persons": 2},
        "unmatched": {"severa GET /v1/activities": 1},
        "violations": violations,
        "exempted": 4,
        "errors": [],
    }
    path = tmp_path / "run.json"
    path.write_text(json.dumps(record))
    return path


def _violation(field: str, expected: str | None) -> dict[str, object]:
    return {"system": "procountor", "operation": "GET /persons", "side": "answer", "field": field,
            "message": f"PersonBasicInfo has no field {field!r}", "count": 3, "expected": expected}


def test_a_clean_run_prints_the_counts_and_exits_0(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    known = Known("procountor", "GET /persons", "answer", "results[].nickname", "issue 99 item 1: nicknames")
    fixed = Known("procountor", "GET /persons", "answer", "results[].alias", "issue 99 item 2: aliases")
    monkeypatch.setattr(contract.coverage, "KNOWN", (known, fixed))
    result = CliRunner().invoke(app, ["contract", "coverage", "--run", str(_run(tmp_path, [
        _violation(known.field, known.issue)]))], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for system, checked in (("severa", 7), ("procountor", 2)):
        used, described = len(used_keys(system)), len(load(system).operations)
        assert f"│ {system:10} │ {used:4} │ {described:11} │       0 │ {checked:8} │ {checked:7} │" in result.output
    assert "Violations: 0 unexpected, 1 expected" in result.output
    assert "4 findings in tests marked contract_exempt" in result.output
    assert f"expected: procountor GET /persons answer: {known.field}" in result.output
    assert "no longer seen (remove its mark in contract/expected.py): issue 99 item 2: aliases" in result.output
    assert "not an operation the integration uses (not checked): severa GET /v1/activities x1" in result.output


def test_an_unexpected_violation_is_listed_and_exits_1(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["contract", "coverage", "--run", str(_run(tmp_path, [
        _violation("results[].nickname", None)]))], env={"COLUMNS": "200"})
    assert result.exit_code == 1
    assert "violation: procountor GET /persons answer: results[].nickname: PersonBasicInfo has no" in result.output


def test_without_a_run_it_compares_the_clients_with_the_contract(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["contract", "coverage", "--run", str(tmp_path / "none.json")],
                                env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "No run record" in result.output and "not in the contract" not in result.output
