"""The leader's notifier fed from Kafka: a new leader on another host loses nothing and repeats nothing."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from outcomes import outcome, smtp
from pydantic import SecretStr
from smtp_sink import SmtpSink

from connectors.polling import behind
from foundation.company import CompanySettings
from foundation.kafka import ensure_topics
from schemas import topics
from schemas.codec import decode, encode
from streams.notification_feed import NotificationFeed
from streams.notification_log import NotificationLog
from streams.notify import Notifier

pytestmark = pytest.mark.integration


@pytest.fixture
async def publish(kafka: Any) -> AsyncIterator[Any]:
    await ensure_topics(kafka.bootstrap)
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap, enable_idempotence=True, acks="all")
    await producer.start()

    async def send(record: dict[str, Any]) -> None:
        await producer.send_and_wait(topics.transfer_outcome(record["kind"]),
                                     key=topics.key(record["tenant"], record["source_id"]),
                                     value=encode("TransferOutcome", record))

    yield send
    await producer.stop()


async def sent_events(bootstrap: str, tenant: str) -> list[dict[str, Any]]:
    """The tenant's NotificationSent events, read to the end of notify.sent."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, isolation_level="read_committed",
                                enable_auto_commit=False)
    await consumer.start()
    try:
        metadata = await consumer._client.fetch_all_metadata()  # noqa: SLF001
        tps = [TopicPartition(topics.notifications_sent(), p)
               for p in sorted(metadata.partitions_for_topic(topics.notifications_sent()) or ())]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end, events = await consumer.end_offsets(tps), []
        while await behind(consumer, end):
            for records in (await consumer.getmany(timeout_ms=300)).values():
                events += [decode(r.value)[1] for r in records]
        return [e for e in events if e["tenant"] == tenant]
    finally:
        await consumer.stop()


def host(kafka: Any, sink: SmtpSink, companies: dict[str, CompanySettings], disk: Path,
         tenant: str) -> NotificationFeed:
    """One worker host's notifier: its own SQLite file, the same broker and SMTP server."""
    notifier = Notifier(smtp(sink, batch_seconds=0.0), NotificationLog(disk / "notifications.sqlite3"))
    return NotificationFeed(kafka.bootstrap, notifier, companies, lambda t: t == tenant)


async def test_a_new_leader_sends_what_the_old_one_left_pending(
        kafka: Any, publish: Any, smtp_sink: SmtpSink, companies: dict[str, CompanySettings], tmp_path: Path,
        unique: str) -> None:
    tenant = f"feed{unique}"
    await publish(outcome("10007", tenant=tenant))
    await publish(outcome("10008", code="ERROR_BRN_CODE", tenant=tenant))
    async with host(kafka, smtp_sink, companies, tmp_path / "a", tenant) as first:
        assert await first.catch_up() >= 2
        assert first.notifier.store.oldest_pending() is not None
    # That host is gone before its batch went out, and its disk with it.
    async with host(kafka, smtp_sink, companies, tmp_path / "b", tenant) as second:
        assert await second.tick() == 1
    [received] = await smtp_sink.wait_for(1)
    text = received.message.get_content()
    assert "10007" in text and "10008" in text


async def test_what_one_leader_sent_no_other_sends_again(
        kafka: Any, publish: Any, smtp_sink: SmtpSink, companies: dict[str, CompanySettings], tmp_path: Path,
        unique: str) -> None:
    tenant = f"feed{unique}"
    await publish(outcome("10007", tenant=tenant))
    async with host(kafka, smtp_sink, companies, tmp_path / "a", tenant) as first:
        assert await first.tick() == 1
    # Another host, a fresh disk: it re-reads the outcomes, and notify.sent tells it what went out.
    async with host(kafka, smtp_sink, companies, tmp_path / "b", tenant) as second:
        assert await second.tick() == 0
        await publish(outcome("10009", code="ERROR_BRN_CODE", tenant=tenant))  # a new failure: it sends that one
        assert await second.tick() == 1
        assert await second.tick() == 0
    received = await smtp_sink.wait_for(2)
    assert ["10007" in r.message.get_content() for r in received] == [True, False]
    assert "10009" in received[1].message.get_content()

    sent = await sent_events(kafka.bootstrap, tenant)
    assert [[n["record"] for n in e["notifications"]] for e in sent] == [["sales invoice 10007"],
                                                                        ["sales invoice 10009"]]
    assert all(e["recipient"] == "billing@kumpula.example" for e in sent)


async def test_a_restarted_leader_resumes_where_it_read_and_ignores_old_failures(
        kafka: Any, publish: Any, smtp_sink: SmtpSink, companies: dict[str, CompanySettings], tmp_path: Path,
        unique: str) -> None:
    tenant = f"feed{unique}"
    await publish(outcome("10005", tenant=tenant, occurred_at=datetime.now(UTC) - timedelta(days=3)))
    await publish(outcome("10007", tenant=tenant))
    async with host(kafka, smtp_sink, companies, tmp_path / "a", tenant) as feed:
        assert await feed.tick() == 1
    # The same host again: it starts after what it has read.
    async with host(kafka, smtp_sink, companies, tmp_path / "a", tenant) as again:
        assert await again.tick() == 0
    [received] = await smtp_sink.wait_for(1)
    assert "10007" in received.message.get_content() and "10005" not in received.message.get_content()


async def test_a_refused_delivery_waits_for_the_retry_interval_not_the_next_tick(
        kafka: Any, publish: Any, smtp_sink: SmtpSink, companies: dict[str, CompanySettings], tmp_path: Path,
        unique: str) -> None:
    tenant = f"feed{unique}"
    smtp_sink.user, smtp_sink.password = "sevpro", "the-right-one"
    later = [0.0]  # seconds added to the notifier's clock
    config = smtp(smtp_sink, smtp_user="sevpro", smtp_password=SecretStr("a-wrong-one"), batch_seconds=0.0,
                  retry_seconds=60.0)
    notifier = Notifier(config, NotificationLog(tmp_path / "n.sqlite3"), clock=lambda: time.time() + later[0])
    await publish(outcome("10007", tenant=tenant))
    async with NotificationFeed(kafka.bootstrap, notifier, companies, lambda t: t == tenant) as feed:
        assert await feed.tick() == 0  # refused: logged, left pending
        smtp_sink.password = "a-wrong-one"  # the server would take it now
        assert await feed.tick() == 0  # but not a minute has passed
        later[0] = 61.0
        assert await feed.tick() == 1
    [received] = await smtp_sink.wait_for(1)
    assert "10007" in received.message.get_content()
