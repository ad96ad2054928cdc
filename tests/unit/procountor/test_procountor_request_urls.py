"""The Procountor client reuses the URL it built last for a route while the path and query are the same
(connectors/prepared_urls.py): every request must still go out with its own path and query."""

from __future__ import annotations

from datetime import datetime

import httpx

from connectors.procountor.client import ProcountorClient

BASE = "http://procountor/api"


def recording_client(sent: list[httpx.URL], results: list[list[dict]] | None = None) -> ProcountorClient:
    """A client whose searches answer `results` page by page (then nothing) and whose batch reads echo the ids."""
    pages = list(results or [])

    def route(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/oauth/token"):
            return httpx.Response(200, json={"access_token": "t", "expires_in": 3600})
        sent.append(request.url)
        if request.url.path.startswith("/api/invoices/"):
            return httpx.Response(200, json=[{"id": int(i)} for i in request.url.path.rsplit("/", 1)[1].split(",")])
        return httpx.Response(200, json={"results": pages.pop(0) if pages else []})

    return ProcountorClient(BASE, "client", "secret", "key", transport=httpx.MockTransport(route),
                            requests_per_second=1000.0)


def url(path: str, **params: object) -> httpx.URL:
    return httpx.URL(f"{BASE}{path}", params=params)


async def test_each_read_goes_out_with_its_own_version_start_date_filters_and_ids() -> None:
    first, later = datetime(2026, 11, 30, 8, 0), datetime(2026, 11, 30, 9, 30, 15)
    sent: list[httpx.URL] = []
    async with recording_client(sent) as procountor:
        for since, types in ((first, "PURCHASE_INVOICE"), (first, "PURCHASE_INVOICE"), (later, "PURCHASE_INVOICE"),
                             (later, "SALES_INVOICE")):
            assert [i async for i in procountor.iter_invoices_changed_since(since, types=types, page_size=2)] == []
        assert [i["id"] for i in await procountor.get_invoices([1, 2])] == [1, 2]
        assert [i["id"] for i in await procountor.get_invoices([3, 4])] == [3, 4]
    search = {"orderById": "ASC", "size": 2}
    assert sent == [
        url("/invoices", versionStartDate="2026-11-30T08:00:00", types="PURCHASE_INVOICE", **search),
        url("/invoices", versionStartDate="2026-11-30T08:00:00", types="PURCHASE_INVOICE", **search),
        url("/invoices", versionStartDate="2026-11-30T09:30:15", types="PURCHASE_INVOICE", **search),
        url("/invoices", versionStartDate="2026-11-30T09:30:15", types="SALES_INVOICE", **search),
        url("/invoices/1,2"),
        url("/invoices/3,4"),
    ]


async def test_the_next_page_starts_after_the_last_id_and_the_next_read_from_the_first() -> None:
    since = datetime(2026, 11, 30, 8, 0)
    sent: list[httpx.URL] = []
    async with recording_client(sent, [[{"id": 1}, {"id": 2}], [{"id": 3}]]) as procountor:
        assert [i["id"] async for i in procountor.iter_invoices_changed_since(since, page_size=2)] == [1, 2, 3]
        assert [i async for i in procountor.iter_invoices_changed_since(since, page_size=2)] == []
    assert sent == [
        url("/invoices", versionStartDate="2026-11-30T08:00:00", orderById="ASC", size=2),
        url("/invoices", versionStartDate="2026-11-30T08:00:00", orderById="ASC", size=2, previousId=2),
        url("/invoices", versionStartDate="2026-11-30T08:00:00", orderById="ASC", size=2),
    ]
