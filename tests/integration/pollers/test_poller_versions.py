"""Versions the public API descriptions allow and our sandboxes did not show (issue 12, "not settled"):
a Procountor product without `version`, a Severa record whose `lastUpdatedDateTime` is null (or without any date),
and Severa date-times without an offset, in the organisation's time zone, across the autumn DST change.

Each poller publishes to the real broker; every test has its own tenant (and the fake ones their own entity)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from connectors.polling import Poller
from connectors.procountor.client import ProcountorClient
from connectors.procountor.poller import procountor_poller
from connectors.severa.client import SeveraClient
from connectors.severa.poller import severa_poller, severa_source
from sandbox.procountor.app import create_app as procountor_app
from sandbox.procountor.demo import DEMO_CLIENT_ID as P_ID
from sandbox.procountor.demo import DEMO_CLIENT_SECRET as P_SECRET
from sandbox.procountor.demo import DEMO_FI_API_KEY
from sandbox.runner import SandboxServer
from sandbox.severa.app import create_app as severa_app
from sandbox.severa.demo import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from schemas import topics

from .kafka_read import read_events

pytestmark = pytest.mark.integration
HELSINKI = ZoneInfo("Europe/Helsinki")


async def _published(bootstrap: str, system: str, entity: str, tenant: str) -> list[dict[str, Any]]:
    return [e for e in await read_events(bootstrap, topics.observed(system, entity)) if e["tenant"] == tenant]


# --------------------------------------------------------------------------- Procountor products: no version


async def test_a_procountor_product_without_version_is_seen_when_it_changes_and_only_then(kafka, unique) -> None:
    """The public `Product` model has no `version` (procountor-api.md §8): the poller tells versions apart by
    content. Before, every product was an ObservationFailed "field 'version' is missing"."""
    tenant = f"prd{unique}"
    with SandboxServer(procountor_app(seed="demo", rate_limit_per_second=None)) as server:
        store = server.app.state.store
        products = store.company("FI").products
        async with ProcountorClient(f"{server.url}/api", P_ID, P_SECRET, DEMO_FI_API_KEY,
                                    requests_per_second=200.0) as client:
            listed = [p async for p in client.iter_products_changed_since(None)]
            assert listed and all("version" not in p for p in listed), "the sandbox answers as the public model"
            async with procountor_poller(kafka.bootstrap, tenant, "FI", client) as poller:
                poller.sources = [s for s in poller.sources if s.entity == "product"]
                first = await poller.poll_once()
                again = await poller.poll_once()
                changed = next(iter(products.values()))
                changed.update(price=changed["price"] + 10, _version=store.next_version())  # edited in Procountor
                after_change = await poller.poll_once()
            # A restarted poller (a new process) reads its watermark record: nothing is published again.
            async with procountor_poller(kafka.bootstrap, tenant, "FI", client) as restarted:
                restarted.sources = [s for s in restarted.sources if s.entity == "product"]
                after_restart = await restarted.poll_once()
    assert first["product"].errors == 0 and first["product"].published == len(products)
    assert again["product"].published == 0 and again["product"].skipped == len(products)
    assert after_change["product"].published == 1
    assert after_restart["product"].published == 0
    events = await _published(kafka.bootstrap, "procountor", "product", f"{tenant}/FI")
    per_product = Counter(e["entity_id"] for e in events)
    assert per_product == Counter({str(i): 2 if i == changed["id"] else 1 for i in products})
    prices = [json.loads(e["snapshot"])["price"] for e in events if e["entity_id"] == str(changed["id"])]
    assert prices == [changed["price"] - 10, changed["price"]]


# ------------------------------------------------------------------- Severa: lastUpdatedDateTime may be null


def _severa(server: SandboxServer) -> SeveraClient:
    return SeveraClient(f"{server.url}/rest-api", DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, requests_per_second=200.0)


async def test_a_severa_record_with_null_last_updated_is_published_once_by_its_created_time(kafka, unique) -> None:
    """`lastUpdatedDateTime` is `string?` in every public output model: such a record was an ObservationFailed
    (lost to the transfers); now its version is `createdDateTime`, published once, and an edit is a new version."""
    tenant = f"nul{unique}"
    with SandboxServer(severa_app(seed="demo", rate_limit_per_second=None)) as server:
        store = server.app.state.store
        product = store.all("products")[0]
        product["lastUpdatedDateTime"] = None
        async with _severa(server) as client:
            async with severa_poller(kafka.bootstrap, tenant, client, entities=["product"]) as poller:
                first = await poller.poll_once()
                again = await poller.poll_once()
                store.update("products", product["guid"], {"name": product["name"] + " (renamed)"})
                after_edit = await poller.poll_once()
                await poller.poll_once()
    assert first["product"].errors == 0 and first["product"].published == len(store.all("products"))
    assert again["product"].published == 0
    assert after_edit["product"].published == 1
    events = [e for e in await _published(kafka.bootstrap, "severa", "product", tenant)
              if e["entity_id"] == product["guid"]]
    assert [e["source_version"] for e in events] == [product["createdDateTime"], product["lastUpdatedDateTime"]]


async def test_a_record_with_null_last_updated_listed_by_every_read_is_published_once(kafka, unique) -> None:
    """The references do not say how `changedSince` treats a null `lastUpdatedDateTime`: a source may list such a
    record on every read. Its version (its old `createdDateTime`) is far behind the watermark, yet it is not
    published again."""
    entity, tenant = f"nullall{unique}", f"nla{unique}"
    clock = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    never_updated = {"guid": "old", "name": "Old", "lastUpdatedDateTime": None,
                     "createdDateTime": "2020-01-01T08:00:00Z"}
    busy: dict[str, Any] = {"guid": "busy", "name": "Busy 0", "createdDateTime": clock.isoformat()}

    async def fetch(since: datetime | None) -> AsyncIterator[dict[str, Any]]:
        yield dict(never_updated)  # whatever `since` is
        if since is None or datetime.fromisoformat(busy["lastUpdatedDateTime"]) >= since:
            yield dict(busy)

    async with Poller(kafka.bootstrap, "fake", tenant, [severa_source(entity, fetch)]) as poller:
        for minute in range(1, 5):  # the watermark moves on by minutes: far past the overlap
            busy.update(name=f"Busy {minute}", lastUpdatedDateTime=(clock + timedelta(minutes=minute)).isoformat())
            await poller.poll_once()
            await poller.poll_once()
    per_record = Counter(e["entity_id"] for e in await _published(kafka.bootstrap, "fake", entity, tenant))
    assert per_record == Counter({"old": 1, "busy": 4})


class NaiveSeveraSystem:
    """A fake Severa entity list answering date-times without an offset, as a clock in `zone` shows them.

    `compare` says how it applies `changedSince` (>=): by the instant ("instant"), or by comparing local clock
    times ("local"): the references say neither, and the poller must be safe under both."""

    def __init__(self, zone: ZoneInfo, compare: str = "instant") -> None:
        self.zone, self.compare = zone, compare
        self.items: dict[str, tuple[datetime, dict[str, Any]]] = {}  # guid -> (instant of the write, record)

    def write(self, guid: str, at: datetime, **fields: Any) -> None:
        local = at.astimezone(self.zone).replace(tzinfo=None).isoformat()
        old = self.items.get(guid, (at, {"createdDateTime": local}))[1]
        self.items[guid] = (at, {**old, "guid": guid, **fields, "lastUpdatedDateTime": local})

    async def changed(self, since: datetime | None) -> AsyncIterator[dict[str, Any]]:
        for at, record in list(self.items.values()):
            if since is None:
                yield dict(record)
            elif self.compare == "instant" and at >= since:
                yield dict(record)
            elif self.compare == "local" and datetime.fromisoformat(record["lastUpdatedDateTime"]) >= (
                    since.astimezone(self.zone).replace(tzinfo=None)):
                yield dict(record)


async def test_a_severa_record_without_any_date_is_versioned_by_its_content(kafka, unique) -> None:
    """Neither `lastUpdatedDateTime` nor a usable `createdDateTime`: a content hash, not an error; the same content
    is not published again, a change is."""
    entity, tenant = f"undated{unique}", f"und{unique}"
    records = {"a": {"guid": "a", "name": "A", "lastUpdatedDateTime": None, "createdDateTime": None}}

    async def fetch(_: datetime | None) -> AsyncIterator[dict[str, Any]]:
        for record in list(records.values()):
            yield dict(record)

    async with Poller(kafka.bootstrap, "fake", tenant, [severa_source(entity, fetch)]) as poller:
        first = await poller.poll_once()
        again = await poller.poll_once()
        records["a"] = {**records["a"], "name": "A2"}
        changed = await poller.poll_once()
        unchanged = await poller.poll_once()
    assert [first[entity].published, again[entity].published, changed[entity].published,
            unchanged[entity].published] == [1, 0, 1, 0]
    assert first[entity].errors == 0
    names = [json.loads(e["snapshot"])["name"] for e in await _published(kafka.bootstrap, "fake", entity, tenant)]
    assert names == ["A", "A2"]


# ----------------------------------------------------------------- Severa: naive date-times, local time zone


async def test_a_naive_severa_time_is_the_organisations_local_time(kafka, unique) -> None:
    """Read as UTC, a Helsinki clock time is two hours ahead of the instant: the next read started after the
    edits of the next two hours, and they were never seen."""
    entity, tenant = f"local{unique}", f"loc{unique}"
    system = NaiveSeveraSystem(HELSINKI)
    noon = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)  # 12:00 in Helsinki
    system.write("a", noon, name="A")
    async with Poller(kafka.bootstrap, "fake", tenant, [severa_source(entity, system.changed)],
                      overlap=timedelta(seconds=30)) as poller:
        await poller.poll_once()
        system.write("a", noon + timedelta(minutes=1), name="A edited a minute later")
        await poller.poll_once()
        await poller.poll_once()
    names = [json.loads(e["snapshot"])["name"] for e in await _published(kafka.bootstrap, "fake", entity, tenant)]
    assert names == ["A", "A edited a minute later"]


@pytest.mark.parametrize("compare", ["instant", "local"])
async def test_the_autumn_hour_that_comes_twice_misses_nothing_and_repeats_nothing(kafka, unique, compare) -> None:
    """Helsinki, 25 Oct 2026: at 04:00 EEST the clocks go back to 03:00 EET. An edit at 03:50 (first pass) and
    another at 03:10 (second pass, 20 minutes later in real time): both are published, each once."""
    entity, tenant = f"dst{compare}{unique}", f"dst{unique}"
    system = NaiveSeveraSystem(HELSINKI, compare)
    first_pass = datetime(2026, 10, 25, 0, 50, tzinfo=UTC)  # 03:50 EEST
    second_pass = datetime(2026, 10, 25, 1, 10, tzinfo=UTC)  # 03:10 EET
    system.write("a", first_pass - timedelta(hours=2), name="A")
    system.write("b", first_pass - timedelta(hours=2), name="B")
    async with Poller(kafka.bootstrap, "fake", tenant, [severa_source(entity, system.changed)],
                      overlap=timedelta(seconds=30)) as poller:
        await poller.poll_once()
        system.write("a", first_pass, name="A at 03:50, first pass")
        await poller.poll_once()
        system.write("b", second_pass, name="B at 03:10, second pass")
        for _ in range(3):
            await poller.poll_once()
        # The last seconds of the second pass, then just after it: still within the next read's reach.
        system.write("b", datetime(2026, 10, 25, 1, 59, 50, tzinfo=UTC), name="B at 03:59:50, second pass")
        await poller.poll_once()
        system.write("a", datetime(2026, 10, 25, 2, 0, 10, tzinfo=UTC), name="A at 04:00:10 EET")
        for _ in range(3):
            await poller.poll_once()
    events = await _published(kafka.bootstrap, "fake", entity, tenant)
    names = [json.loads(e["snapshot"])["name"] for e in events]
    assert sorted(names) == sorted(["A", "B", "A at 03:50, first pass", "B at 03:10, second pass",
                                    "B at 03:59:50, second pass", "A at 04:00:10 EET"])
    assert len({e["event_id"] for e in events}) == len(events)
