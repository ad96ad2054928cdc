"""Error e-mails from the leader, fed from Kafka: nothing lost when a host goes, nothing sent twice.

One worker of a tenant's group, the faust leader, sends the error e-mails. Its feed reads every partition of
the transfer-outcome topics and of `notify.sent` itself (`assign()`, not a consumer group) into the
NotificationLog, which remembers per partition how far it has read. A host that has never been the leader
starts the outcome topics `max_age` ago (older failures are not e-mailed anyway) and `notify.sent` at the
beginning. Each e-mail, once delivered, is published to `notify.sent` (acks=all) before it is marked sent
locally. So when the leadership moves, or a host and its disk are lost, the new leader learns from Kafka
alone which failures are pending and which were e-mailed: it sends what was pending and nothing twice. The
one gap is a crash after the SMTP server took a message and before its `NotificationSent` was written.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from email.message import EmailMessage
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from foundation.company import CompanySettings
from foundation.kafka import idempotent_producer, read_committed_consumer
from foundation.logs import get_logger
from schemas import topics
from schemas.codec import CodecError, decode, encode, now
from streams.notification_text import Failure
from streams.notify import Notifier, on_outcome

log = get_logger(__name__)


class NotificationFeed:
    """Feeds a Notifier from the outcome topics and `notify.sent`, and records what it sends."""

    def __init__(self, bootstrap: str, notifier: Notifier,
                 companies: Mapping[str, CompanySettings] | Callable[[str], Mapping[str, CompanySettings]],
                 ours: Callable[[str], bool] = lambda tenant: True, *, catch_up_limit: float = 120.0) -> None:
        self.bootstrap = bootstrap
        self.notifier = notifier
        self.companies = companies  # or tenant → its companies (a pool's tenants)
        self.ours = ours  # the tenants this worker sends for
        self.catch_up_limit = catch_up_limit
        self.topics = [topics.transfer_outcome(kind) for kind in topics.TRANSFER_KINDS] + [topics.notifications_sent()]
        self.assigned: list[TopicPartition] = []
        self.consumer: AIOKafkaConsumer | None = None
        self.producer: AIOKafkaProducer | None = None
        self._retry_at = 0.0
        notifier.on_sent = self._record_sent

    async def start(self) -> None:
        self.producer = idempotent_producer(self.bootstrap)
        await self.producer.start()
        self.consumer = read_committed_consumer(self.bootstrap, client_id="sevpro-notifier")
        await self.consumer.start()
        metadata = await self.consumer._client.fetch_all_metadata()  # noqa: SLF001 (no public "all topics")
        self.assigned = [TopicPartition(topic, partition) for topic in self.topics
                         for partition in sorted(metadata.partitions_for_topic(topic) or ())]
        self.consumer.assign(self.assigned)
        stored = self.notifier.store.feed_offsets()
        fresh_sent, fresh_outcomes = [], []
        for tp in self.assigned:
            if (tp.topic, tp.partition) in stored:
                self.consumer.seek(tp, stored[(tp.topic, tp.partition)] + 1)
            elif tp.topic == topics.notifications_sent():
                fresh_sent.append(tp)
            else:
                fresh_outcomes.append(tp)
        if fresh_sent:
            await self.consumer.seek_to_beginning(*fresh_sent)
        if fresh_outcomes:
            since_ms = int((self.notifier.clock() - self.notifier.config.max_age_seconds) * 1000)
            found = await self.consumer.offsets_for_times({tp: since_ms for tp in fresh_outcomes})
            ends = await self.consumer.end_offsets(fresh_outcomes)
            for tp in fresh_outcomes:
                at = found.get(tp)
                self.consumer.seek(tp, at.offset if at is not None else ends[tp])
        log.info("notifier.started", partitions=len(self.assigned), resumed=len(stored))

    async def stop(self) -> None:
        for client in (self.consumer, self.producer):
            if client is not None:
                await client.stop()
        self.consumer = self.producer = None
        await self.notifier.aclose()

    async def __aenter__(self) -> NotificationFeed:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def catch_up(self) -> int:
        """Read every partition up to the end offsets seen now; the number of records read."""
        assert self.consumer is not None, "start() the feed first"
        end = await self.consumer.end_offsets(self.assigned) if self.assigned else {}
        handled, deadline = 0, time.monotonic() + self.catch_up_limit
        while any([await self.consumer.position(tp) < offset for tp, offset in end.items()]):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the notifier did not reach the end offsets within {self.catch_up_limit} s")
            fetched = await self.consumer.getmany(timeout_ms=200, max_records=500)
            for tp, records in fetched.items():
                for record in records:
                    await self._apply(record)
                handled += len(records)
                self.notifier.store.save_feed_offsets({(tp.topic, tp.partition): records[-1].offset})
        return handled

    async def tick(self) -> int:
        """Catch up, then send the batches that are due; the number of e-mails sent."""
        await self.catch_up()
        clock, config = self.notifier.clock, self.notifier.config
        if clock() < self._retry_at:
            return 0
        sent = await self.notifier.flush_due()
        oldest = self.notifier.store.oldest_pending()
        if oldest is not None and oldest + config.batch_seconds <= clock():
            self._retry_at = clock() + config.retry_seconds  # a delivery failed: do not retry every tick
        return sent

    async def _apply(self, record: Any) -> None:
        try:
            name, event = decode(record.value)
        except CodecError as error:
            log.warning("notifier.undecodable", topic=record.topic, partition=record.partition,
                        offset=record.offset, error=str(error))
            return
        if not self.ours(event.get("tenant") or ""):
            return
        if name == "NotificationSent":
            self.notifier.store.sent_elsewhere(event["tenant"], event["company"],
                                               [n["key"] for n in event["notifications"]], event["message_id"],
                                               event["occurred_at"].timestamp())
        elif name == "TransferOutcome":
            companies = self.companies(event["tenant"]) if callable(self.companies) else self.companies
            await on_outcome(event, companies, self.notifier)

    async def _record_sent(self, message: EmailMessage, failures: list[Failure]) -> None:
        assert self.producer is not None
        first = failures[0]
        message_id = str(message["Message-ID"])
        event = {
            "event_id": f"notify:{message_id}", "correlation_id": message_id, "causation_id": None,
            "tenant": first.tenant, "company": first.company, "recipient": first.recipient,
            "message_id": message_id, "occurred_at": now(),
            "notifications": [{"key": f.key, "kind": f.kind, "source_id": f.source_id, "record": f.record,
                               "request_id": f.request_id, "code": f.code} for f in failures],
        }
        await self.producer.send_and_wait(topics.notifications_sent(), key=topics.key(first.tenant, first.company),
                                          value=encode("NotificationSent", event))
