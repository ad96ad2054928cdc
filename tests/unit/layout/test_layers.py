"""The layout shows the flow: a package imports only the packages below it, and no two import each other.

Plain `ast`: every import statement counts, at module level or inside a function, so a delayed import cannot
hide a dependency that points back up.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

# From the bottom up; each package may import only those before it on this list (never one after it).
LAYERS = ["schemas", "foundation", "connectors", "projections", "streams", "registry", "console", "sevpro"]
# Siblings: on the same floor, neither may import the other.
SIBLINGS = {frozenset({"connectors", "projections"})}
# The emulators share nothing with the code they emulate APIs for (a shared model would hide shared mistakes);
# only the command line on top starts them (`sevpro sandbox`, `sevpro demo`). The public API contract both are
# checked against (contract/, written from the public descriptions) is test and tooling material: it imports
# nothing of ours, and only the tests and the command line (`sevpro contract coverage`) import it.
ISOLATED = {"sandbox", "contract"}
TOP = LAYERS[-1]


def imports_of(package: str) -> dict[str, set[str]]:
    """Module path → the project packages it imports."""
    found: dict[str, set[str]] = {}
    ours = set(LAYERS) | ISOLATED
    for path in sorted((ROOT / package).rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        names: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = (names & ours) - {package}
    return found


def violations(package: str) -> list[str]:
    problems = []
    for module, imported in imports_of(package).items():
        for other in sorted(imported):
            if package == TOP and other in ISOLATED:
                continue
            if package in ISOLATED or other in ISOLATED:
                problems.append(f"{module} imports {other}: {other if other in ISOLATED else package} shares nothing "
                                "with the rest (only the command line on top may import it)")
            elif frozenset({package, other}) in SIBLINGS:
                problems.append(f"{module} imports {other}: they are siblings, neither imports the other")
            elif LAYERS.index(other) > LAYERS.index(package):
                problems.append(f"{module} imports {other}, a package above {package}")
    return problems


@pytest.mark.parametrize("package", [*LAYERS, *ISOLATED])
def test_a_package_imports_only_packages_below_it(package: str) -> None:
    assert (ROOT / package).is_dir(), f"{package}/ is missing: update LAYERS with the layout"
    assert violations(package) == []


def test_every_package_of_the_project_has_its_place() -> None:
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")}
    assert packages - set(LAYERS) - ISOLATED == set(), "a new package needs its place in LAYERS"


def test_the_check_finds_an_import_that_points_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "bad.py").write_text("def f():\n    from streams.app import app\n")
    monkeypatch.setattr(__import__(__name__), "ROOT", tmp_path)
    assert violations("schemas") == ["schemas/bad.py imports streams, a package above schemas"]
