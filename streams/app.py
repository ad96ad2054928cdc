"""The faust app: one place for its configuration and its topics; agents live in their own modules.

At-least-once delivery with idempotent handlers (see CONVENTIONS.md); the transport makes producers idempotent
(acks=all) and consumers read_committed. Values are raw bytes: the Avro codec in schemas/ owns the format.
"""

from __future__ import annotations

import os
from typing import Any

import faust

from foundation.paths import project_home
from foundation.settings import get_settings
from schemas import topics
from schemas.codec import CodecError, decode, encode, now
from streams.transport import Transport


class SevproApp(faust.App):
    def _new_transport(self) -> Any:
        return Transport(self.conf.broker_consumer, self)

    def _new_producer_transport(self) -> Any:
        return Transport(self.conf.broker_producer, self)

    async def on_first_start(self) -> None:
        self.conf.datadir.parent.mkdir(parents=True, exist_ok=True)  # faust makes the last folder only
        await super().on_first_start()


def _bootstrap() -> str:
    return os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")


_settings = get_settings()  # `sevpro worker` has checked them before it imports this module
app = SevproApp(
    # One consumer group per tenant: a tenant's workers share its partitions and act on its events only.
    os.environ.get("SEVPRO_APP_ID") or f"sevpro-{_settings.tenant}",
    broker=[f"kafka://{server}" for server in _bootstrap().split(",")],
    processing_guarantee="at_least_once",
    value_serializer="raw",
    key_serializer="raw",
    topic_partitions=_settings.topic_partitions,
    topic_replication_factor=1,
    consumer_auto_offset_reset="earliest",
    store="memory://",
    # Faust's own state folder, under the git-ignored project home instead of the working directory.
    datadir=str(project_home() / "faust" / "{conf.name}-data"),
    web_enabled=False,
    producer_acks=-1,
    # Small batches commit often: a crash re-delivers little.
    broker_commit_every=100,
    broker_commit_interval=1.0,
    broker_session_timeout=_settings.session_timeout_seconds,
    broker_heartbeat_interval=min(3.0, _settings.session_timeout_seconds / 3),
)


def topic(name: str, **kwargs: Any) -> faust.TopicT:
    return app.topic(name, value_type=bytes, key_type=bytes, value_serializer="raw", key_serializer="raw", **kwargs)


dead_letter_topic = topic(topics.DEAD_LETTER)


async def send_dead_letter(event: Any, reason: str) -> None:
    """Park a message we cannot handle, with the reason; the agent goes on with the next one."""
    message = event.message
    record = {
        "event_id": f"dlq:{message.topic}:{message.partition}:{message.offset}",
        "source_topic": message.topic,
        "partition": message.partition,
        "offset": message.offset,
        "reason": reason[:2000],
        "payload": bytes(message.value or b""),
        "occurred_at": now(),
    }
    await dead_letter_topic.send(key=message.key, value=encode("DeadLetter", record))


smoke_in = topic(topics.SMOKE_IN)
smoke_out = topic(topics.SMOKE_OUT)


@app.agent(smoke_in)
async def smoke(stream: Any) -> None:
    """Echo an EntityObserved to the smoke output, caused by the input: proves the app runs on the broker."""
    async for event in stream.events():
        try:
            _, record = decode(event.value)
        except CodecError as exc:
            await send_dead_letter(event, f"undecodable: {exc}")
            continue
        echoed = {**record, "event_id": f"smoke:{record['event_id']}", "causation_id": record["event_id"]}
        await smoke_out.send(key=event.key, value=encode("EntityObserved", echoed))


def load_agents() -> None:
    """Import the modules that register agents on `app` (kept out of import time for the smoke test)."""
    import streams.agents  # noqa: F401
