"""The owner's side of registry creation (`Registers.carry_out`) takes several requests at once (the
registry_create agent's concurrency, issue 14): requests of other keys go on while one hangs in Procountor, and
a second request of the same key waits for the first, then finds what it created: one record per key still.
Procountor is a stub here (when each call happens is the point); tests/integration/pool/ has the real worker."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from streams.registers import Registers


class _Procountor:
    """Business partners by customer number; a create waits for its key's gate when one is set."""

    def __init__(self) -> None:
        self.partners: dict[str, dict[str, Any]] = {}
        self.gates: dict[str, asyncio.Event] = {}
        self.creating: set[str] = set()
        self.creates = 0

    async def find_business_partner(self, key: str) -> dict[str, Any] | None:
        return self.partners.get(key)

    async def create_business_partner(self, body: dict[str, Any]) -> dict[str, Any]:
        key = body["invoicingInfo"]["customerNumber"]
        self.creating.add(key)
        if key in self.gates:
            await self.gates[key].wait()
        self.creates += 1
        self.partners[key] = {"id": 100 + self.creates, **body}
        return self.partners[key]


@dataclass
class _Settings:
    name: str = "FI"


@dataclass
class _Context:
    client: _Procountor
    settings: _Settings = field(default_factory=_Settings)
    partners: dict[str, Any] = field(default_factory=dict)

    async def ensure_loaded(self) -> None:
        return None


def _asked(key: str, n: int) -> dict[str, Any]:
    body = json.dumps({"name": f"Customer {key}", "invoicingInfo": {"customerNumber": key}})
    return {"event_id": f"ask-{key}-{n}", "correlation_id": key, "causation_id": f"request-{key}-{n}",
            "tenant": "t", "company": "FI", "registry": "customer", "key": key, "severa_id": None,
            "record": f"customer {key}", "requested_at": "2026-11-30T12:00:00+00:00", "body": body}


async def _until(condition: Any) -> None:
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition not met")


async def test_a_hanging_create_holds_only_the_requests_of_its_own_key() -> None:
    procountor, emitted = _Procountor(), []
    contexts = {"FI": _Context(procountor)}
    registers = Registers()

    async def emit(name: str, record: dict[str, Any]) -> None:
        emitted.append(name)

    procountor.gates["1"] = asyncio.Event()  # customer 1's create hangs in Procountor
    first = asyncio.create_task(registers.carry_out(emit, _asked("1", 1), contexts))
    await _until(lambda: "1" in procountor.creating)
    again = asyncio.create_task(registers.carry_out(emit, _asked("1", 2), contexts))  # the same key, retried

    other = await asyncio.wait_for(registers.carry_out(emit, _asked("2", 1), contexts), 30)  # another key: at once
    assert other["created"] and other["error"] is None
    assert not first.done() and not again.done()

    procountor.gates["1"].set()
    answers = await asyncio.wait_for(asyncio.gather(first, again), 30)
    assert [a["created"] for a in answers] == [True, False] and answers[0]["target"] == answers[1]["target"]
    assert procountor.creates == 2  # one partner per key
    assert registers._owning == {}  # noqa: SLF001 - nothing kept for keys no longer in hand
