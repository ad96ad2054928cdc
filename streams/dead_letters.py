"""The dead-letter topic, read and re-driven: which parked records are still parked, and publishing them again.

A parked record (`DeadLetter`, streams/app.py) keeps its original topic, key and bytes. Re-driving publishes those
bytes to that topic with that key, so the agents read it again as the original, with every check they make
(its tenant served, its record decodable), and then records a `DeadLetterRedriven` on the dead-letter topic, with
the same key (so after its letter, on the same partition): a reader of the topic knows what is still parked.
A record re-driven twice (a crash between the two writes, an operator re-driving it again) is handled twice:
the transfers are idempotent (a request done is skipped, and each write is preceded by a search for it).

Used by a pool worker (streams/pool.py: the letters of a tenant not served are re-driven when it is served
again) and by `sevpro dead-letters list|redrive` (sevpro/dead_letters_cli.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from foundation.kafka import from_the_beginning, idempotent_producer
from foundation.logs import get_logger
from foundation.types import Json
from schemas import topics
from schemas.codec import CodecError, decode, encode, now

log = get_logger(__name__)

NOT_SERVED = "not-served"  # the cause of a letter whose tenant was not served (streams/agents.py, not_served)


@dataclass
class Parked:
    """One DeadLetter, with its key and the re-drives recorded after it."""

    letter: Json
    key: bytes | None
    redriven: list[Json] = field(default_factory=list)

    @property
    def event_id(self) -> str:
        return str(self.letter["event_id"])

    @property
    def tenant(self) -> str | None:
        return self.letter.get("tenant")


class DeadLetterIndex:
    """Every letter of the dead-letter topic and its re-drives, read from the beginning (no consumer group: each
    reader needs them all) and followed with `poll`."""

    def __init__(self, bootstrap: str, *, security: Mapping[str, Any] | None = None,
                 still_parked_of: str | None = None) -> None:
        """`still_parked_of`: keep only the letters of this cause not re-driven yet (a pool worker's index: it
        re-drives those only, and a topic's whole history, payloads included, would grow without end in every
        worker); None keeps every letter and its re-drives (the CLI's `list --all`)."""
        self.bootstrap, self.security = bootstrap, security
        self.still_parked_of = still_parked_of
        self.letters: dict[str, Parked] = {}
        self._consumer: AIOKafkaConsumer | None = None
        self._partitions: list[TopicPartition] = []

    async def __aenter__(self) -> DeadLetterIndex:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    async def start(self) -> None:
        self._consumer, self._partitions = await from_the_beginning(self.bootstrap, [topics.dead_letter()],
                                                                    security=self.security)

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None

    async def catch_up(self) -> None:
        """Read up to the end each partition has now."""
        assert self._consumer is not None, "start() first"
        if not self._partitions:
            return
        end = await self._consumer.end_offsets(self._partitions)
        while [tp for tp in self._partitions if await self._consumer.position(tp) < end[tp]]:
            await self.poll(wait_seconds=1.0)

    async def poll(self, wait_seconds: float = 0.0) -> None:
        """Take in what arrived (within `wait_seconds`)."""
        assert self._consumer is not None, "start() first"
        if not self._partitions:
            return
        batches = await self._consumer.getmany(*self._partitions, timeout_ms=int(wait_seconds * 1000))
        for messages in batches.values():
            for message in messages:
                self._take(message.key, message.value, message.offset)

    def _take(self, key: bytes | None, value: bytes | None, offset: int) -> None:
        try:
            name, record = decode(value or b"")
        except CodecError as error:  # only our own records are written here: say so, and go on
            log.error("dead-letter topic: a record cannot be read, ignored", offset=offset, error=str(error))
            return
        if name == "DeadLetter":
            if self.still_parked_of in (None, record.get("cause")):
                self.letters.setdefault(record["event_id"], Parked(record, key))
        elif name == "DeadLetterRedriven" and record["dead_letter_id"] in self.letters:
            self.redriven(self.letters[record["dead_letter_id"]], record)

    def redriven(self, parked: Parked, record: Json) -> None:
        """`parked` was re-driven (`record`, its DeadLetterRedriven): noted, or let go when only the letters
        still parked are kept."""
        if self.still_parked_of is None:
            parked.redriven.append(record)
        else:
            self.letters.pop(parked.event_id, None)

    def parked(self, *, tenant: str | None = None, cause: str | None = None, still_parked: bool = True,
               event_ids: set[str] | None = None) -> list[Parked]:
        """The letters that match, in the order they were parked (per partition); `still_parked`: only those
        not re-driven since."""
        return [parked for parked in self.letters.values()
                if (tenant is None or parked.tenant == tenant)
                and (cause is None or parked.letter.get("cause") == cause)
                and (event_ids is None or parked.event_id in event_ids)
                and not (still_parked and parked.redriven)]


async def redrive(bootstrap: str, letters: list[Parked], *, by: str, why: str,
                  security: Mapping[str, Any] | None = None) -> list[Json]:
    """Publish each letter's record again to its topic with its key, then record the re-drive; the
    DeadLetterRedriven records written."""
    producer = idempotent_producer(bootstrap, security=security)
    await producer.start()
    written = []
    try:
        for parked in letters:
            letter = parked.letter
            await producer.send_and_wait(letter["source_topic"], key=parked.key, value=bytes(letter["payload"]))
            record = {"event_id": f"redrive:{letter['event_id']}:{uuid.uuid4().hex[:12]}",
                      "dead_letter_id": letter["event_id"], "tenant": letter.get("tenant"),
                      "source_topic": letter["source_topic"], "redriven_by": by, "why": why[:1000],
                      "occurred_at": now()}
            await producer.send_and_wait(topics.dead_letter(), key=parked.key, value=encode("DeadLetterRedriven",
                                                                                            record))
            log.info("parked record re-driven", dead_letter=letter["event_id"], tenant=letter.get("tenant"),
                     topic=letter["source_topic"], by=by, why=why[:200])
            written.append(record)
    finally:
        await producer.stop()
    return written
