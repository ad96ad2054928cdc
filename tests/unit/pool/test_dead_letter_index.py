"""What a pool worker keeps of the dead-letter topic: the `not-served` letters still parked, and nothing of a
letter once it is re-driven. Every worker reads the whole topic, payloads included, and before this it kept
every letter ever parked (undecodable and unhandled ones too, which only an operator re-drives) for as long as it
ran. The CLI's index keeps everything: `sevpro dead-letters list --all` shows the re-drives."""

from __future__ import annotations

from typing import Any

from schemas.codec import encode, now
from streams.dead_letters import NOT_SERVED, DeadLetterIndex


def _letter(index: DeadLetterIndex, offset: int, cause: str, tenant: str = "t1") -> str:
    event_id = f"dlq:own.severa.invoice.observed:0:{offset}"
    record = {"event_id": event_id, "source_topic": "own.severa.invoice.observed", "partition": 0, "offset": offset,
              "reason": "why", "payload": b"x" * 10_000, "occurred_at": now(), "tenant": tenant, "cause": cause}
    index._take(f"{tenant}/guid{offset}".encode(), encode("DeadLetter", record), offset)
    return event_id


def _redriven(index: DeadLetterIndex, event_id: str, offset: int) -> dict[str, Any]:
    record = {"event_id": f"redrive:{event_id}:1", "dead_letter_id": event_id, "tenant": "t1",
              "source_topic": "own.severa.invoice.observed", "redriven_by": "pool p", "why": "served again",
              "occurred_at": now()}
    index._take(b"t1/guid", encode("DeadLetterRedriven", record), offset)
    return record


def test_a_pool_workers_index_keeps_only_the_not_served_letters_still_parked() -> None:
    index = DeadLetterIndex("unused:9092", still_parked_of=NOT_SERVED)
    first = _letter(index, 1, NOT_SERVED)
    _letter(index, 2, "undecodable")
    _letter(index, 3, "unhandled")
    second = _letter(index, 4, NOT_SERVED, tenant="t2")
    assert [p.event_id for p in index.parked()] == [first, second]

    _redriven(index, first, 5)  # read back from the topic
    assert list(index.letters) == [second]
    [parked] = index.parked(tenant="t2", cause=NOT_SERVED)
    index.redriven(parked, {"dead_letter_id": second})  # re-driven by this worker, before it reads it back
    assert index.letters == {} and index.parked() == []


def test_the_operators_index_keeps_every_letter_and_its_redrives() -> None:
    index = DeadLetterIndex("unused:9092")
    first = _letter(index, 1, NOT_SERVED)
    undecodable = _letter(index, 2, "undecodable")
    record = _redriven(index, first, 3)
    assert [p.event_id for p in index.parked()] == [undecodable]
    assert [(p.event_id, [r["event_id"] for r in p.redriven]) for p in index.parked(still_parked=False)] == [
        (first, [record["event_id"]]), (undecodable, [])]
