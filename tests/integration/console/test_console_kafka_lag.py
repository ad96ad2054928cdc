"""The console's lag on the real broker: end offsets against what the projector applied."""

from __future__ import annotations

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from console import testing as sample_log
from console.app import create_app
from console.lag import kafka_end_offsets
from foundation.kafka import ensure_topics
from projections import testing as ev
from projections.projector import Projector
from sandbox.runner import SandboxServer
from schemas import topics
from schemas.codec import encode

pytestmark = pytest.mark.integration


async def test_lag_on_the_broker_goes_to_zero_when_projected(kafka, unique, tmp_path) -> None:
    await ensure_topics(kafka.bootstrap, partitions=1)
    start = (await kafka_end_offsets(kafka.bootstrap)).get((topics.registry_links(), 0), 0)
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap, acks="all")
    await producer.start()
    try:
        for n in range(3):  # to partition 0 whatever the topic's partition count (other tests may have made it)
            topic, key, name, record = ev.linked(f"lag-{unique}", "customer", f"C-{n}", str(n))
            await producer.send_and_wait(topic, encode(name, record), key=key, partition=0)
    finally:
        await producer.stop()

    ends = await kafka_end_offsets(kafka.bootstrap)
    assert ends[(topics.registry_links(), 0)] == start + 3

    root = tmp_path / "proj"
    app = create_app(root, kafka.bootstrap, auth=sample_log.auth())
    with SandboxServer(app) as server:  # read as a scraper would: HTTP Basic credentials
        async with httpx.AsyncClient(base_url=server.url, timeout=20,
                                     auth=(sample_log.USER, sample_log.PASSWORD)) as http:
            before = (await http.get("/api/overview")).json()["lag"]
            assert before["error"] is None and before["total"] >= 3  # nothing applied yet
            async with Projector(kafka.bootstrap, root) as projector:
                await projector.catch_up()
            after = (await http.get("/api/overview")).json()["lag"]
            links = next(p for p in after["partitions"] if p["topic"] == topics.registry_links())
            assert links["lag"] == 0 and links["applied_offset"] == links["end_offset"] - 1
            text = (await http.get("/metrics")).text
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(text) for s in family.samples}
    assert samples[("sevpro_kafka_up", ())] == 1
    assert samples[("sevpro_projection_lag", (("partition", "0"), ("topic", topics.registry_links())))] == 0
