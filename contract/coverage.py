"""The coverage of the contract: operations used, operations in the contract, what a test run checked."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .expected import KNOWN
from .model import SYSTEMS, load
from .usage import ROOT, used_keys


@dataclass
class SystemCoverage:
    system: str
    used: dict[str, list[str]]  # "METHOD path" as the client writes it -> client functions
    in_contract: int
    missing: list[str]  # used, but not in the contract
    unused: list[str]  # in the contract, no longer used
    requests: dict[str, int] = field(default_factory=dict)
    answers: dict[str, int] = field(default_factory=dict)
    not_exercised: list[str] = field(default_factory=list)  # used, but no test run called it


@dataclass
class Coverage:
    systems: list[SystemCoverage]
    run: dict[str, Any] | None
    unexpected: list[dict[str, Any]]
    expected: list[dict[str, Any]]
    stale_known: list[str]  # expected-failure marks that the run no longer needs
    unmatched: dict[str, int]
    errors: list[str]

    @property
    def ok(self) -> bool:
        return not any(s.missing for s in self.systems) and not self.unexpected and not self.errors


def coverage(run: dict[str, Any] | None, root: Path = ROOT) -> Coverage:
    """Compare what the clients call with the contract, and summarise a run record (``None``: no run)."""
    systems = []
    for system in SYSTEMS:
        contract = load(system)
        used = used_keys(system, root)
        matched = {}
        for key in used:
            method, path = key.split(" ", 1)
            op = contract.match(method, path)
            if op is not None:
                matched[key] = op.key
        item = SystemCoverage(
            system=system,
            used=used,
            in_contract=len(contract.operations),
            missing=sorted(set(used) - set(matched)),
            unused=sorted(set(contract.operations) - set(matched.values())),
        )
        if run is not None:
            prefix = system + " "
            item.requests = {k[len(prefix) :]: n for k, n in run["requests"].items() if k.startswith(prefix)}
            item.answers = {k[len(prefix) :]: n for k, n in run["answers"].items() if k.startswith(prefix)}
            item.not_exercised = sorted(k for k, op in matched.items() if op not in item.requests)
        systems.append(item)
    violations = (run or {}).get("violations", [])
    seen_issues = {v["expected"] for v in violations if v.get("expected")}
    return Coverage(
        systems=systems,
        run=run,
        unexpected=[v for v in violations if not v.get("expected")],
        expected=[v for v in violations if v.get("expected")],
        stale_known=sorted({k.issue for k in KNOWN} - seen_issues) if run is not None else [],
        unmatched=(run or {}).get("unmatched", {}),
        errors=(run or {}).get("errors", []),
    )


def describe(violation: dict[str, Any]) -> str:
    return (
        f"{violation['system']} {violation['operation']} {violation['side']}: {violation['field']}: "
        f"{violation['message']} (x{violation['count']})"
    )
