"""The public API descriptions in ../shared/reference, read at run time (never copied into the repository).

Tests that settle a fact about the real APIs read it here; without the folder (e.g. a checkout elsewhere) they
skip with a clear message. Folder layout: procountor/procountor-api.yaml (OpenAPI), procountor-api.md,
severa/severa-api-surface.derived.json, severa-api.md (see each folder's SOURCE.md).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "reference"


def _path(relative: str) -> Path:
    path = REFERENCE / relative
    if not path.exists():
        pytest.skip(f"public reference {path} is not present (CI has it under ../shared/reference)")
    return path


@cache
def _procountor_spec() -> dict[str, Any]:
    return yaml.safe_load((REFERENCE / "procountor" / "procountor-api.yaml").read_text(encoding="utf-8"))


def procountor_spec() -> dict[str, Any]:
    _path("procountor/procountor-api.yaml")
    return _procountor_spec()


def procountor_schema(name: str) -> dict[str, Any]:
    """A component schema with its `$ref`s of properties resolved one level deep."""
    schemas = procountor_spec()["components"]["schemas"]
    return dict(schemas[name])


def procountor_property(schema: str, dotted: str) -> dict[str, Any] | None:
    """The property at `a.b.c` of a schema, following `$ref`s; None when the public model has no such field."""
    schemas = procountor_spec()["components"]["schemas"]
    node: dict[str, Any] = schemas[schema]
    for part in dotted.split("."):
        while "$ref" in node:
            node = schemas[node["$ref"].rsplit("/", 1)[-1]]
        found = (node.get("properties") or {}).get(part)
        if found is None:
            return None
        node = found
    return node


def procountor_operation(method: str, path: str) -> dict[str, Any]:
    return procountor_spec()["paths"][path][method.lower()]


def procountor_notes() -> str:
    return _path("procountor-api.md").read_text(encoding="utf-8")


def severa_notes() -> str:
    return _path("severa-api.md").read_text(encoding="utf-8")


@cache
def _severa_surface() -> dict[str, Any]:
    return json.loads((REFERENCE / "severa" / "severa-api-surface.derived.json").read_text(encoding="utf-8"))


def severa_surface() -> dict[str, Any]:
    _path("severa/severa-api-surface.derived.json")
    return _severa_surface()


def severa_operation(method: str, path: str) -> dict[str, Any]:
    found = [e for e in severa_surface()["endpoints"] if e["method"] == method and e["path"] == path]
    assert found, f"the Severa reference has no {method} {path}"
    return found[0]


def severa_model(name: str) -> dict[str, Any]:
    return dict(severa_surface()["models"][name])


def procountor_unknown_fields(value: Any, schema: str, prefix: str = "") -> list[str]:
    """The field paths of `value` that the public schema does not have (nested objects and arrays followed)."""
    schemas = procountor_spec()["components"]["schemas"]
    node: dict[str, Any] = schemas[schema]
    return _unknown(value, node, schemas, prefix)


def _unknown(value: Any, node: dict[str, Any], schemas: dict[str, Any], prefix: str) -> list[str]:
    while "$ref" in node:
        node = schemas[node["$ref"].rsplit("/", 1)[-1]]
    if isinstance(value, list):
        items = node.get("items") or {}
        return [f for i, v in enumerate(value) for f in _unknown(v, items, schemas, f"{prefix}[{i}]")]
    if not isinstance(value, dict) or "properties" not in node:
        return []
    found = []
    for key, inner in value.items():
        path = f"{prefix}.{key}" if prefix else key
        if key not in node["properties"]:
            found.append(path)
        else:
            found.extend(_unknown(inner, node["properties"][key], schemas, path))
    return found
