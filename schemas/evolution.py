"""The evolution rules of `codec.py`, checked rather than trusted.

`schemas/published.json` lists, per record name, the fingerprint of every schema version that has been released
(so messages written with it may sit on a topic). `check` reports, in words that say what to do:

- a current schema whose fingerprint is not published: it changed (or is new) without its release being
  recorded, and the previous version may not have been kept;
- a published version that is neither current nor in `schemas/history/`: its messages could no longer be read;
- between any kept older version and the current one: a field removed or renamed, a field added without a
  default, a field whose type changed, or sample records of the old version that the current one cannot read.

The unit tests run it over the repository, so a schema change that breaks the rules cannot land.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import fastavro
from fastavro.utils import generate_many

from schemas.codec import SCHEMA_DIR, Codec, SchemaVersion, _load_dir

PUBLISHED_FILE = "published.json"


def codec_of(schema_dir: Path) -> Codec:
    history = schema_dir / "history"
    return Codec(_load_dir(schema_dir), _load_dir(history) if history.exists() else [])


def published_fingerprints(codec: Codec) -> dict[str, list[str]]:
    """The published.json that records the current schemas (for a release: merge into the existing file)."""
    return {name: [version.fingerprint.hex()] for name, version in sorted(codec.current.items())}


def check(schema_dir: Path = SCHEMA_DIR) -> list[str]:
    """Every way the schemas in ``schema_dir`` break the evolution rules; empty when they keep them."""
    codec = codec_of(schema_dir)
    published_path = schema_dir / PUBLISHED_FILE
    published: dict[str, list[str]] = json.loads(published_path.read_text()) if published_path.exists() else {}
    problems = []
    for name, version in sorted(codec.current.items()):
        if version.fingerprint.hex() not in published.get(name, []):
            problems.append(
                f"{name}: version {version.fingerprint.hex()} is not in {PUBLISHED_FILE}; if it changed, keep the "
                f"previous version as schemas/history/<file>.v<N>.avsc, then add the new fingerprint")
    for name, fingerprints in sorted(published.items()):
        for hex_fingerprint in fingerprints:
            if bytes.fromhex(hex_fingerprint) not in codec.by_fingerprint:
                problems.append(f"{name}: published version {hex_fingerprint} is neither current nor in "
                                "schemas/history/: messages written with it could not be read")
    for version in codec.by_fingerprint.values():
        current = codec.current.get(version.name)
        if current is None:
            problems.append(f"{version.name}: a kept version has no current schema (record names are never removed)")
        elif current.fingerprint != version.fingerprint:
            problems.extend(compare(version, current))
    return problems


def compare(old: SchemaVersion, new: SchemaVersion) -> list[str]:
    """What reading ``old`` messages with ``new`` would break, field by field, then on sample records."""
    where = f"{new.name} ({old.fingerprint.hex()} → {new.fingerprint.hex()})"
    old_fields = {f["name"]: f for f in old.parsed["fields"]}
    new_fields = {f["name"]: f for f in new.parsed["fields"]}
    problems = [f"{where}: field {name!r} was removed or renamed" for name in old_fields if name not in new_fields]
    problems += [f"{where}: field {name!r} was added without a default" for name, field in new_fields.items()
                 if name not in old_fields and "default" not in field]
    problems += [f"{where}: field {name!r} changed type" for name, field in old_fields.items()
                 if name in new_fields and _type(field) != _type(new_fields[name])]
    if not problems:
        for record in generate_many(old.parsed, 5):
            buffer = io.BytesIO()
            fastavro.schemaless_writer(buffer, old.parsed, record)
            buffer.seek(0)
            try:
                fastavro.schemaless_reader(buffer, old.parsed, new.parsed)
            except Exception as error:  # fastavro's schema resolution errors have no common base
                problems.append(f"{where}: the current schema cannot read an old record: {error}")
                break
    return problems


def _type(field: dict[str, Any]) -> str:
    return json.dumps(field["type"], sort_keys=True)
