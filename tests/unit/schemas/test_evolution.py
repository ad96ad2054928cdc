"""The evolution rules are checked: the repository keeps them, and each way of breaking them is reported."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from schemas.evolution import check, codec_of, published_fingerprints

V1: dict[str, Any] = {"type": "record", "name": "Sample", "namespace": "sevpro.events", "fields": [
    {"name": "id", "type": "string"}, {"name": "amount", "type": "long"}]}


def _v2(*extra: dict[str, Any], drop: str | None = None, retype: str | None = None) -> dict[str, Any]:
    fields = [dict(f) for f in V1["fields"] if f["name"] != drop]
    for field in fields:
        if field["name"] == retype:
            field["type"] = "string"
    return {**V1, "fields": fields + list(extra)}


def _write(schema_dir: Path, current: dict[str, Any], history: dict[str, Any] | None = None,
           published: list[dict[str, Any]] = ()) -> None:  # type: ignore[assignment]
    schema_dir.mkdir(exist_ok=True)
    (schema_dir / "sample.avsc").write_text(json.dumps(current))
    if history is not None:
        (schema_dir / "history").mkdir(exist_ok=True)
        (schema_dir / "history" / "sample.v1.avsc").write_text(json.dumps(history))
    fingerprints: dict[str, list[str]] = {}
    for schema in published:
        scratch = schema_dir / "scratch"
        scratch.mkdir(exist_ok=True)
        (scratch / "s.avsc").write_text(json.dumps(schema))
        for name, [hex_fingerprint] in published_fingerprints(codec_of(scratch)).items():
            fingerprints.setdefault(name, []).append(hex_fingerprint)
        (scratch / "s.avsc").unlink()
        scratch.rmdir()
    (schema_dir / "published.json").write_text(json.dumps(fingerprints))


def test_the_repository_schemas_keep_the_rules() -> None:
    assert check() == []


def test_a_field_added_with_a_default_and_the_old_version_kept_is_fine(tmp_path: Path) -> None:
    v2 = _v2({"name": "note", "type": ["null", "string"], "default": None})
    _write(tmp_path, v2, history=V1, published=[V1, v2])
    assert check(tmp_path) == []


@pytest.mark.parametrize(("v2", "says"), [
    (_v2({"name": "note", "type": "string"}), "field 'note' was added without a default"),
    (_v2(drop="amount"), "field 'amount' was removed or renamed"),
    (_v2(retype="amount"), "field 'amount' changed type"),
])
def test_a_breaking_change_is_named(tmp_path: Path, v2: dict[str, Any], says: str) -> None:
    _write(tmp_path, v2, history=V1, published=[V1, v2])
    problems = check(tmp_path)
    assert len(problems) == 1 and says in problems[0] and "sevpro.events.Sample" in problems[0]


def test_a_change_that_is_not_published_is_reported(tmp_path: Path) -> None:
    v2 = _v2({"name": "note", "type": "string", "default": ""})
    _write(tmp_path, v2, history=V1, published=[V1])
    [problem] = check(tmp_path)
    assert "is not in published.json" in problem


def test_a_published_version_that_was_not_kept_is_reported(tmp_path: Path) -> None:
    v2 = _v2({"name": "note", "type": "string", "default": ""})
    _write(tmp_path, v2, history=None, published=[V1, v2])
    [problem] = check(tmp_path)
    assert "could not be read" in problem
