"""The faust app, made from the settings: its configuration and the dead-letter topic; no agents.

At-least-once delivery with idempotent handlers (see ../shared/CONVENTIONS.md, "Exactly once, from at-least-once
parts"); the transport makes producers idempotent (acks=all) and consumers read_committed. Values are raw bytes:
the Avro codec in schemas/ owns the format. The agents are registered on an app by `streams/agents.py`, and the
whole worker is wired in one place, `streams/bootstrap.py`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import faust
from faust.types import TP

from foundation.kafka import security_options
from foundation.paths import project_home
from foundation.settings import Settings
from schemas import topics
from schemas.codec import encode, now
from streams.transport import Transport, faust_credentials
from streams.writers import REBALANCE_TIMEOUT_SECONDS


class SevproApp(faust.App):
    rebalance_listeners: list[Callable[[], None]]

    def on_rebalance_start(self) -> None:
        """faust now stops handing out events and waits for those in hand: tell whoever waits on another agent
        of this worker (which gets no event until the rebalance is over), so that it gives up instead."""
        super().on_rebalance_start()
        for listener in getattr(self, "rebalance_listeners", []):
            listener()

    def _new_transport(self) -> Any:
        return Transport(self.conf.broker_consumer, self)

    def _new_producer_transport(self) -> Any:
        return Transport(self.conf.broker_producer, self)

    async def on_first_start(self) -> None:
        self.conf.datadir.parent.mkdir(parents=True, exist_ok=True)  # faust makes the last folder only
        await super().on_first_start()

    def pause_partition(self, partition: Any) -> None:
        """Fetch no more of this topic partition (an agent's backlog on it); what is fetched still comes. faust's
        own flow control for a full buffer, which hands on what the fetcher already holds (pausing outright would
        drop it)."""
        self.consumer.on_buffer_full(TP(partition.topic, partition.partition))

    def resume_partition(self, partition: Any) -> None:
        """Fetch this topic partition again (after `pause_partition`)."""
        self.consumer.on_buffer_drop(TP(partition.topic, partition.partition))

    def raw_topic(self, *names: str, **kwargs: Any) -> faust.TopicT:
        """A topic of raw bytes (keys and values): the codec decodes them, with a dead letter on failure."""
        return self.topic(*names, value_type=bytes, key_type=bytes, value_serializer="raw", key_serializer="raw",
                          **kwargs)

    async def send_dead_letter(self, event: Any, reason: str, *, tenant: str | None = None,
                               cause: str = "unhandled") -> None:
        """Park a message we cannot handle, with the reason; the agent goes on with the next one. The letter keeps
        the original topic, key and bytes, so `sevpro dead-letters redrive` can publish it again
        (streams/dead_letters.py); `cause` "not-served" is re-driven by a pool when its tenant is served again."""
        message = event.message
        record = {
            "event_id": f"dlq:{message.topic}:{message.partition}:{message.offset}",
            "source_topic": message.topic,
            "partition": message.partition,
            "offset": message.offset,
            "reason": reason[:2000],
            "payload": bytes(message.value or b""),
            "occurred_at": now(),
            "tenant": tenant,
            "cause": cause,
        }
        await self.dead_letters.send(key=message.key, value=encode("DeadLetter", record))

    @functools.cached_property
    def dead_letters(self) -> faust.TopicT:
        return self.raw_topic(topics.dead_letter())


def app_id(settings: Settings) -> str:
    """One consumer group per tenant: a tenant's workers share its partitions and act on its events only; a pool
    (SEVPRO_POOL) is one group for all the deployment's tenants. Under the deployment's prefix, as faust's own
    topics named after it (the leader topic)."""
    return topics.named(settings.app_id or (f"pool-{settings.pool}" if settings.pool else settings.tenant))


def create_app(settings: Settings, bootstrap: str) -> SevproApp:
    """The faust app of one worker, configured from the checked settings and the resolved broker."""
    return SevproApp(
        app_id(settings),
        broker=[f"kafka://{server}" for server in bootstrap.split(",")],
        broker_credentials=faust_credentials(security_options(settings)),
        processing_guarantee="at_least_once",
        value_serializer="raw",
        key_serializer="raw",
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication_factor,
        consumer_auto_offset_reset="earliest",
        store="memory://",
        # Faust's own state folder, under the git-ignored project home instead of the working directory.
        datadir=str(project_home() / "faust" / "{conf.name}-data"),
        web_enabled=False,
        producer_acks=-1,
        # Small batches commit often: a crash re-delivers little.
        broker_commit_every=100,
        broker_commit_interval=1.0,
        # Events fetched for an agent and not yet taken by it. The transfer windows take every event at once and
        # pause a partition with a backlog instead (streams/transfer_window.py): faust's one consumer would wait
        # for a full buffer, and hold every other agent's events too.
        stream_buffer_maxsize=settings.stream_buffer,
        # The writes a worker lets in flight are sized to finish within it (streams/writers.py).
        broker_rebalance_timeout=REBALANCE_TIMEOUT_SECONDS,
        broker_session_timeout=settings.session_timeout_seconds,
        broker_heartbeat_interval=min(3.0, settings.session_timeout_seconds / 3),
    )
