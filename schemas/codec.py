"""Avro codec: every message is Avro single-object encoding.

    0xC3 0x01 | CRC-64-AVRO fingerprint of the writer schema's canonical form (8 bytes, little endian) | body

so any consumer knows the writer schema of every message without a registry. The reader schema is the current
`.avsc` of the same record name; schemas/history/ keeps older writer versions so their messages still decode.

Evolution rules: add fields only with defaults; never remove or rename a field, never change a type or reuse
a name for a new meaning; a changed schema moves its old version to schemas/history/<name>.v<N>.avsc.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, cast

import fastavro
from fastavro.schema import fingerprint, parse_schema, to_parsing_canonical_form

MAGIC = b"\xc3\x01"
HEADER_LEN = 10
SCHEMA_DIR = Path(__file__).parent


class CodecError(Exception):
    """A message could not be encoded or decoded."""


class UnknownSchemaError(CodecError):
    """The writer fingerprint (or record name) is not one we know."""


class CorruptPayloadError(CodecError):
    """Not single-object encoded, or the body does not match its writer schema."""


@dataclass(frozen=True)
class SchemaVersion:
    name: str  # full name, e.g. sevpro.events.EntityObserved
    parsed: Any
    fingerprint: bytes


def _fingerprint(parsed: Any) -> bytes:
    canonical = to_parsing_canonical_form(parsed)
    return int(fingerprint(canonical, "CRC-64-AVRO"), 16).to_bytes(8, "little")


def _parse_all(raw: list[dict[str, Any]], named: dict[str, Any]) -> list[Any]:
    """Parse schemas in dependency order (a record may name another record)."""
    pending, parsed = list(raw), []
    while pending:
        progressed = False
        for schema in list(pending):
            try:
                parsed.append(parse_schema(schema, named_schemas=named))
            except fastavro.schema.UnknownType:
                continue
            pending.remove(schema)
            progressed = True
        if not progressed:
            names = [s.get("name") for s in pending]
            raise UnknownSchemaError(f"schemas reference unknown types: {names}")
    return parsed


class Codec:
    """Encodes with the current schema of a record name; decodes any known writer version."""

    def __init__(self, current: list[dict[str, Any]], history: list[dict[str, Any]] = ()) -> None:  # type: ignore[assignment]
        named: dict[str, Any] = {}
        self.current: dict[str, SchemaVersion] = {}
        self.by_fingerprint: dict[bytes, SchemaVersion] = {}
        for parsed in _parse_all(list(current), named):
            version = SchemaVersion(parsed["name"], parsed, _fingerprint(parsed))
            self.current[version.name] = version
            self.by_fingerprint[version.fingerprint] = version
        for schema in history:
            old_named = {k: v for k, v in named.items() if k != f"{schema.get('namespace')}.{schema['name']}"}
            parsed = cast(dict[str, Any], parse_schema(schema, named_schemas=old_named))
            version = SchemaVersion(parsed["name"], parsed, _fingerprint(parsed))
            self.by_fingerprint.setdefault(version.fingerprint, version)

    def _schema(self, name: str) -> SchemaVersion:
        full = name if "." in name else f"sevpro.events.{name}"
        try:
            return self.current[full]
        except KeyError:
            raise UnknownSchemaError(f"no schema named {name!r}") from None

    def encode(self, name: str, record: dict[str, Any]) -> bytes:
        schema = self._schema(name)
        out = io.BytesIO()
        out.write(MAGIC + schema.fingerprint)
        try:
            fastavro.schemaless_writer(out, schema.parsed, record, strict_allow_default=True)
        except (ValueError, TypeError, KeyError) as exc:
            raise CodecError(f"{name}: record does not match its schema: {exc}") from exc
        return out.getvalue()

    def decode(self, data: bytes) -> tuple[str, dict[str, Any]]:
        """(short record name, record) read with the current schema of that name."""
        if not isinstance(data, bytes | bytearray) or len(data) < HEADER_LEN or data[:2] != MAGIC:
            raise CorruptPayloadError("not an Avro single-object message (bad header)")
        writer = self.by_fingerprint.get(bytes(data[2:HEADER_LEN]))
        if writer is None:
            raise UnknownSchemaError(f"unknown writer schema fingerprint {bytes(data[2:HEADER_LEN]).hex()}")
        reader = self.current.get(writer.name, writer)
        body = io.BytesIO(data)
        body.seek(HEADER_LEN)  # not data[HEADER_LEN:], which copies the body of every message
        try:
            # No reader schema when it is the writer's: given twice, fastavro compares the two for every record.
            record = fastavro.schemaless_reader(body, writer.parsed, None if reader is writer else reader.parsed)
        except Exception as exc:  # fastavro raises EOFError, ValueError, IndexError... on garbage
            raise CorruptPayloadError(f"{writer.name}: body does not match the writer schema: {exc}") from exc
        return writer.name.rsplit(".", 1)[-1], record  # type: ignore[return-value]


def _load_dir(path: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(path.glob("*.avsc"))]


@cache
def default_codec() -> Codec:
    """The project's codec over schemas/*.avsc and schemas/history/*.avsc."""
    history_dir = SCHEMA_DIR / "history"
    return Codec(_load_dir(SCHEMA_DIR), _load_dir(history_dir) if history_dir.exists() else [])


def encode(name: str, record: dict[str, Any]) -> bytes:
    return default_codec().encode(name, record)


def decode(data: bytes) -> tuple[str, dict[str, Any]]:
    return default_codec().decode(data)


def now() -> datetime:
    """Timestamps in events are timezone-aware UTC."""
    return datetime.now(UTC)
