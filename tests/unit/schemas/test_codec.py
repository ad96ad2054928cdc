"""Avro single-object encoding: round trip, evolution, and typed errors on bad input."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.codec import (
    SCHEMA_DIR,
    Codec,
    CodecError,
    CorruptPayloadError,
    UnknownSchemaError,
    decode,
    encode,
)

WHEN = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _observed(**overrides: object) -> dict[str, object]:
    record: dict[str, object] = {
        "event_id": "severa:invoice:g1:2026-11-25T12:00:00", "correlation_id": "c1", "causation_id": None,
        "tenant": "demo", "source_system": "severa", "entity": "invoice", "entity_id": "g1",
        "source_version": "2026-11-25T12:00:00", "observed_at": WHEN, "snapshot": '{"number": 10001}',
        "company": "FI",
    }
    record.update(overrides)
    return record


def test_every_schema_file_is_loaded() -> None:
    names = {json.loads(p.read_text())["name"] for p in SCHEMA_DIR.glob("*.avsc")}
    assert len(names) >= 8
    for name in names:
        assert f"sevpro.events.{name}" in __import__("schemas.codec").codec.default_codec().current


def test_round_trip_with_header() -> None:
    data = encode("EntityObserved", _observed())
    assert data[:2] == b"\xc3\x01"
    name, record = decode(data)
    assert name == "EntityObserved"
    assert record == _observed()


@given(snapshot=st.text(max_size=300), tenant=st.text(min_size=1, max_size=20), attempt=st.integers(0, 2**31 - 1))
def test_round_trip_property(snapshot: str, tenant: str, attempt: int) -> None:
    record = {
        "event_id": "e", "correlation_id": "c", "causation_id": None, "tenant": tenant, "company": "FI",
        "kind": "sales-invoice", "request_id": "r", "source_id": "s", "source_number": snapshot[:10],
        "source_version": "v", "attempt": attempt, "state": "failed_data", "step": None, "target_id": None,
        "target_number": None, "adopted": False,
        "error": {"code": "X", "kind": "data", "record": None, "field": "f", "value": snapshot, "message": "m",
                  "solution": None},
        "note": snapshot or None,
        "warning": snapshot or None,
        "occurred_at": WHEN,
    }
    assert decode(encode("TransferOutcome", record)) == ("TransferOutcome", record)


V1 = {"type": "record", "name": "Sample", "namespace": "sevpro.events",
      "fields": [{"name": "id", "type": "string"}]}
V2 = {"type": "record", "name": "Sample", "namespace": "sevpro.events",
      "fields": [{"name": "id", "type": "string"}, {"name": "note", "type": "string", "default": "none"}]}


def test_v1_record_is_read_with_v2_defaults() -> None:
    old_writer = Codec([V1])
    new_reader = Codec([V2], history=[V1])
    data = old_writer.encode("Sample", {"id": "a"})
    assert new_reader.decode(data) == ("Sample", {"id": "a", "note": "none"})
    # And v2 data carries its own fingerprint, different from v1's.
    assert new_reader.encode("Sample", {"id": "b", "note": "x"})[2:10] != data[2:10]


def test_unknown_fingerprint_is_a_typed_error() -> None:
    data = Codec([V2]).encode("Sample", {"id": "a", "note": "n"})
    with pytest.raises(UnknownSchemaError):
        Codec([V1]).decode(data)


@pytest.mark.parametrize("payload", [b"", b"plain json", b"\xc3\x01short", b"\x00\x01" + b"0" * 20])
def test_corrupt_payload_is_a_typed_error(payload: bytes) -> None:
    with pytest.raises(CodecError):
        decode(payload)


def test_truncated_body_is_corrupt_not_a_crash() -> None:
    data = encode("EntityObserved", _observed())
    with pytest.raises(CorruptPayloadError):
        decode(data[:-8])


def test_encoding_a_record_that_does_not_fit_names_the_schema() -> None:
    with pytest.raises(CodecError, match="EntityObserved"):
        encode("EntityObserved", _observed(tenant=None))
