"""A pool worker's pollers share one reader of the watermark topic (issue 14): each poller's start catches it up
to the topic's end and takes its own keys, instead of every poller reading the whole compacted topic from its
beginning (a thousand tenants' pollers read it a thousand times over, O(tenants²)). A watermark another worker
committed after the reader's last read (a tenant's polling handed over) is the one a poller starts from."""

from __future__ import annotations

import pytest

from connectors.polling import EntitySource, Poller, WatermarkReader

from .test_poller_exactly_once import FakeSystem

pytestmark = pytest.mark.integration


async def test_pollers_sharing_a_reader_start_from_the_latest_watermark_of_their_own(kafka, unique) -> None:
    system, entity = FakeSystem(), f"shared{unique}"
    system.write("a", name="A")

    def source() -> EntitySource:
        return EntitySource(entity, system.changed, "guid", "lastUpdatedDateTime")

    reader = WatermarkReader(kafka.bootstrap)
    try:
        async with Poller(kafka.bootstrap, "fake", f"one{unique}", [source()], watermarks=reader) as one:
            assert (await one.poll_once())[entity].published == 1
        # Another worker polls tenant two, after this worker's reader has read the topic.
        async with Poller(kafka.bootstrap, "fake", f"two{unique}", [source()]) as elsewhere:
            await elsewhere.poll_once()
        system.write("b", name="B")
        async with Poller(kafka.bootstrap, "fake", f"two{unique}", [source()]) as elsewhere:
            assert (await elsewhere.poll_once())[entity].published == 1
            latest = elsewhere.watermarks[entity]

        # Tenant two's polling is handed over to this worker: it starts from that latest watermark.
        async with Poller(kafka.bootstrap, "fake", f"two{unique}", [source()], watermarks=reader) as two:
            assert two.watermarks[entity] == latest
            assert (await two.poll_once())[entity].published == 0  # nothing published twice
        async with Poller(kafka.bootstrap, "fake", f"one{unique}", [source()], watermarks=reader) as again:
            assert again.watermarks[entity].published == {f"a@{system.items['a']['lastUpdatedDateTime']}"}
    finally:
        await reader.stop()
