"""Audit the pinned dependencies (constraints.txt) for known vulnerabilities with pip-audit.

Exit 1 when a pinned version has a known vulnerability (each is printed with its fix versions). A pin that could
not be audited (the vulnerability service unreachable, or it does not know the package) is never a silent
pass: the run says loudly how many pins went unaudited and why; it fails then only with SEVPRO_AUDIT_STRICT=1
(CI machines that reach only a package mirror cannot reach the vulnerability service).

    .venv/bin/python .ci/audit_dependencies.py [constraints.txt]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Audit:
    vulnerable: list[str] = field(default_factory=list)  # "name version: id (fix: ...)"
    unaudited: dict[str, str] = field(default_factory=dict)  # name -> why
    audited: int = 0
    error: str | None = None  # pip-audit itself failed


def parse(report: str) -> Audit:
    """pip-audit's JSON report (`-f json`) as an Audit."""
    audit = Audit()
    try:
        dependencies = json.loads(report)["dependencies"]
    except (ValueError, KeyError, TypeError):
        audit.error = "pip-audit gave no report: " + (report.strip()[:300] or "(nothing)")
        return audit
    for dependency in dependencies:
        name = dependency.get("name", "?")
        if "skip_reason" in dependency:
            audit.unaudited[name] = dependency["skip_reason"]
            continue
        audit.audited += 1
        for vuln in dependency.get("vulns", []):
            fixes = ", ".join(vuln.get("fix_versions") or []) or "none yet"
            audit.vulnerable.append(f"{name} {dependency.get('version')}: {vuln.get('id')} (fix: {fixes})")
    return audit


def verdict(audit: Audit, strict: bool) -> tuple[int, list[str]]:
    """(exit code, lines to print)."""
    lines: list[str] = []
    if audit.vulnerable:
        lines.append(f"dependency audit: FAILED: {len(audit.vulnerable)} known vulnerabilities in pinned versions:")
        lines += [f"  {line}" for line in audit.vulnerable]
    if audit.error or audit.unaudited:
        total = audit.audited + len(audit.unaudited)
        reason = audit.error or next(iter(audit.unaudited.values()))
        lines.append(f"dependency audit: NOT DONE for {len(audit.unaudited) if not audit.error else 'all'} of "
                     f"{total or 'the'} pinned packages: the vulnerability service could not be reached or does not"
                     f" know them (e.g. {reason}). This run does NOT show that the pins are free of known"
                     " vulnerabilities; run it where pypi.org's JSON API (or -s osv) is reachable.")
    if audit.vulnerable:
        return 1, lines
    if audit.error or audit.unaudited:
        return (3 if strict else 0), lines
    lines.append(f"dependency audit: {audit.audited} pinned packages, no known vulnerabilities")
    return 0, lines


def main(argv: list[str]) -> int:
    constraints = Path(argv[1] if len(argv) > 1 else Path(__file__).resolve().parents[1] / "constraints.txt")
    command = [sys.executable, "-m", "pip_audit", "-r", str(constraints), "--no-deps", "--disable-pip",
               "--progress-spinner", "off", "-f", "json", "--timeout", "30"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=600)
        audit = parse(done.stdout)
        if audit.error and done.stderr.strip():
            audit.error += " / " + done.stderr.strip().splitlines()[-1][:300]
    except subprocess.TimeoutExpired:
        audit = Audit(error="pip-audit did not finish within 600 s")
    code, lines = verdict(audit, strict=os.environ.get("SEVPRO_AUDIT_STRICT") == "1")
    print("\n".join(lines), flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
