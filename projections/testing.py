"""Builders of well-formed events for tests and demonstrations of the read models.

They fill every required field with a plausible value; keyword arguments override any field. Event ids follow
the conventions (`tenant:kind:source_id:source_version` for requests), so the same call twice yields the same
event: exactly what at-least-once delivery looks like.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas import topics
from schemas.codec import encode

BASE_TIME = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    """A fixed instant `seconds` after BASE_TIME (deterministic timestamps make runs comparable)."""
    return BASE_TIME + timedelta(seconds=seconds)


def requested(tenant: str, source_id: str, *, kind: str = "sales-invoice", company: str = "acme-fi",
              version: str = "v1", number: str | None = "1001", seconds: float = 0, reason: str = "status",
              snapshot: dict[str, Any] | None = None, **override: Any) -> tuple[str, bytes, str, dict[str, Any]]:
    """(topic, key, record name, record) of a TransferRequested."""
    event_id = f"{tenant}:{kind}:{source_id}:{version}"
    record = {
        "event_id": event_id, "correlation_id": f"corr-{tenant}-{source_id}", "causation_id": None,
        "tenant": tenant, "company": company, "kind": kind, "source_id": source_id, "source_number": number,
        "source_version": version, "reason": reason,
        "snapshot": json.dumps(snapshot or {"guid": source_id, "number": number, "totalIncludingTax": 124.0}),
        "requested_at": at(seconds),
    } | override
    return topics.transfer_requested(kind), topics.key(tenant, source_id), "TransferRequested", record


def outcome(request: dict[str, Any], state: str, *, attempt: int = 1, seconds: float = 1, step: str | None = None,
            target_id: str | None = None, target_number: str | None = None, error: dict[str, Any] | None = None,
            adopted: bool = False, **override: Any) -> tuple[str, bytes, str, dict[str, Any]]:
    """A TransferOutcome of the request record `request` (the 4th item of `requested(...)`)."""
    suffix = f"{state}:{step}" if step else state
    record = {
        "event_id": f"{request['event_id']}:{attempt}:{suffix}", "correlation_id": request["correlation_id"],
        "causation_id": request["event_id"], "tenant": request["tenant"], "company": request["company"],
        "kind": request["kind"], "request_id": request["event_id"], "source_id": request["source_id"],
        "source_number": request["source_number"], "source_version": request["source_version"],
        "attempt": attempt, "state": state, "step": step, "target_id": target_id, "target_number": target_number,
        "adopted": adopted, "error": error, "occurred_at": at(seconds),
    } | override
    return topics.transfer_outcome(request["kind"]), topics.key(request["tenant"], request["source_id"]), \
        "TransferOutcome", record


def data_error(code: str = "V001", field: str = "customer.businessId", value: str | None = "123",
               message: str = "Business ID is not valid", solution: str = "Correct the customer's business ID in"
               " Severa") -> dict[str, Any]:
    return {"code": code, "kind": "data", "record": "invoice", "field": field, "value": value, "message": message,
            "solution": solution}


def transient_error(message: str = "Procountor answered 503") -> dict[str, Any]:
    return {"code": "T503", "kind": "transient", "record": None, "field": None, "value": None, "message": message,
            "solution": "Nothing to do: the transfer is retried automatically."}


def linked(tenant: str, kind: str, severa_key: str, procountor_id: str, *, company: str = "acme-fi",
           severa_id: str | None = None, created: bool = False, seconds: float = 0,
           correlation_id: str | None = None, **override: Any) -> tuple[str, bytes, str, dict[str, Any]]:
    record = {
        "event_id": f"link:{tenant}:{company}:{kind}:{severa_key}:{procountor_id}",
        "correlation_id": correlation_id or f"corr-{tenant}-{kind}-{severa_key}", "causation_id": None,
        "tenant": tenant, "company": company, "kind": kind, "severa_id": severa_id, "severa_key": severa_key,
        "procountor_id": procountor_id, "created": created, "occurred_at": at(seconds),
    } | override
    return topics.registry_links(), topics.key(tenant, company, kind, severa_key), "IdLinked", record


def observed(tenant: str, system: str, entity: str, entity_id: str, snapshot: dict[str, Any], *,
             version: str = "v1", seconds: float = 0, company: str | None = "acme-fi",
             **override: Any) -> tuple[str, bytes, str, dict[str, Any]]:
    record = {
        "event_id": f"{system}:{entity}:{entity_id}:{version}", "correlation_id": f"obs-{tenant}-{entity_id}",
        "causation_id": None, "tenant": tenant, "source_system": system, "entity": entity, "entity_id": entity_id,
        "source_version": version, "observed_at": at(seconds), "snapshot": json.dumps(snapshot),
        "company": company,
    } | override
    return topics.observed(system, entity), topics.key(tenant, entity_id), "EntityObserved", record


def tombstone(tenant: str, system: str, entity: str, entity_id: str) -> tuple[str, bytes, str, Any]:
    """A record with no value for an entity's key (what `sevpro forget` writes to the compacted user topic)."""
    return topics.observed(system, entity), topics.key(tenant, entity_id), "", None


@dataclass
class Record:
    """A Kafka record as the store sees it (for feeding a ProjectionStore without a broker)."""

    topic: str
    partition: int
    offset: int
    value: bytes | None
    key: bytes | None = None


class Feed:
    """Turns built events into records numbered per topic, like a one-partition topic would."""

    def __init__(self) -> None:
        self.offsets: dict[str, itertools.count[int]] = {}

    def __call__(self, *events: tuple[str, bytes, str, dict[str, Any]]) -> list[Record]:
        out = []
        for topic, key, name, record in events:
            counter = self.offsets.setdefault(topic, itertools.count())
            out.append(Record(topic, 0, next(counter), None if record is None else encode(name, record), key))
        return out
