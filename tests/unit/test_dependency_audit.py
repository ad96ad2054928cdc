"""CI's dependency audit (.ci/audit_dependencies.py): a known vulnerability fails the run, and pins that could
not be audited are said out loud, never passed in silence."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("audit_dependencies", ROOT / ".ci" / "audit_dependencies.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


audit = _script()


def _report(*dependencies: dict) -> str:  # pip-audit's `-f json` shape
    return json.dumps({"dependencies": list(dependencies), "fixes": []})


def test_a_known_vulnerability_fails_and_names_the_pin_and_the_fix() -> None:
    report = _report({"name": "httpx", "version": "0.28.1", "vulns": []},
                     {"name": "jinja2", "version": "3.1.2", "vulns": [
                         {"id": "GHSA-h5c8-rqwp-cp95", "fix_versions": ["3.1.3"], "aliases": ["CVE-2024-22195"],
                          "description": "..."}]})
    code, lines = audit.verdict(audit.parse(report), strict=False)
    assert code == 1
    assert "jinja2 3.1.2: GHSA-h5c8-rqwp-cp95 (fix: 3.1.3)" in "\n".join(lines)


def test_unaudited_pins_are_reported_loudly_and_fail_when_strict() -> None:
    report = _report({"name": "httpx", "version": "0.28.1", "vulns": []},
                     {"name": "aiohttp", "skip_reason": "Dependency not found on PyPI and could not be audited"})
    code, lines = audit.verdict(audit.parse(report), strict=False)
    text = "\n".join(lines)
    assert code == 0 and "NOT DONE for 1 of 2" in text and "does NOT show" in text
    assert "no known vulnerabilities" not in text
    assert audit.verdict(audit.parse(report), strict=True)[0] == 3


def test_no_report_at_all_is_not_a_pass() -> None:
    code, lines = audit.verdict(audit.parse("Traceback ... ConnectionError"), strict=True)
    assert code == 3 and "NOT DONE" in "\n".join(lines) and "ConnectionError" in "\n".join(lines)


def test_a_clean_report_says_how_many_pins_were_audited() -> None:
    code, lines = audit.verdict(audit.parse(_report({"name": "httpx", "version": "0.28.1", "vulns": []})), False)
    assert code == 0 and lines == ["dependency audit: 1 pinned packages, no known vulnerabilities"]
