"""The Severa client reuses the URL it built last for a route while the path and query are the same (httpx's URL
building was a sixth of a pool worker's polling): every request must still go out with its own path and query."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from connectors.severa.client import SeveraClient

TOKEN = {"access_token": "t", "access_token_type": "Bearer", "access_token_expires_in": 3600,
         "refresh_token": "r"}
BASE = "http://severa/rest-api"


def recording_client(sent: list[httpx.URL], pages: dict[str, list[tuple[list[dict], str | None]]] | None = None
                     ) -> SeveraClient:
    """A client whose answers are empty lists (or `pages` per path: items and the next page's token)."""
    remaining = {path: list(answers) for path, answers in (pages or {}).items()}

    def route(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/v1/token"):
            return httpx.Response(200, json=TOKEN)
        sent.append(request.url)
        answers = remaining.get(request.url.path)
        if answers:
            items, token = answers.pop(0)
            return httpx.Response(200, json=items, headers={"NextPageToken": token} if token else {})
        return httpx.Response(200, json=[])

    return SeveraClient(BASE, "client", "secret", transport=httpx.MockTransport(route), requests_per_second=1000.0)


def url(path: str, **params: object) -> httpx.URL:
    return httpx.URL(f"{BASE}{path}", params=params)


async def test_each_read_goes_out_with_its_own_changed_since_path_and_filters() -> None:
    first, later = datetime(2026, 11, 30, 8, 0, tzinfo=UTC), datetime(2026, 11, 30, 9, 30, 15, tzinfo=UTC)
    sent: list[httpx.URL] = []
    async with recording_client(sent) as severa:
        await severa.list_business_units(changed_since=first)
        await severa.list_business_units(changed_since=first)
        await severa.list_business_units(changed_since=later)  # a change seen: the next read starts later
        await severa.list_business_units()
        await severa.list_invoices(changed_since=first, status_guids=["s1", "s2"])
        await severa.list_invoices(changed_since=first, status_guids=["s1"])
        await severa.list_invoices(changed_since=first, status_guids=["s1"], numbers=[7])
        await severa.get_invoice_rows("a")
        await severa.get_invoice_rows("b")
        await severa.get_invoice_rows("a")
    assert sent == [
        url("/v1/businessunits", changedSince=first.isoformat(), firstRow=0, rowCount=100),
        url("/v1/businessunits", changedSince=first.isoformat(), firstRow=0, rowCount=100),
        url("/v1/businessunits", changedSince=later.isoformat(), firstRow=0, rowCount=100),
        url("/v1/businessunits", firstRow=0, rowCount=100),
        url("/v1/invoices", invoiceStatusGuids=["s1", "s2"], changedSince=first.isoformat(), rowCount=100),
        url("/v1/invoices", invoiceStatusGuids=["s1"], changedSince=first.isoformat(), rowCount=100),
        url("/v1/invoices", invoiceStatusGuids=["s1"], changedSince=first.isoformat(), numbers=["7"], rowCount=100),
        url("/v1/invoices/a/invoicerows", rowCount=100),
        url("/v1/invoices/b/invoicerows", rowCount=100),
        url("/v1/invoices/a/invoicerows", rowCount=100),
    ]


async def test_the_next_page_carries_its_token_and_the_next_read_starts_on_the_first_page() -> None:
    since = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    sent: list[httpx.URL] = []
    pages = {"/rest-api/v1/projects": [([{"guid": "p1"}], "page-2"), ([{"guid": "p2"}], None)]}
    async with recording_client(sent, pages) as severa:
        assert [p["guid"] for p in await severa.list_projects(changed_since=since)] == ["p1", "p2"]
        assert await severa.list_projects(changed_since=since) == []
    assert sent == [
        url("/v1/projects", changedSince=since.isoformat(), rowCount=100),
        url("/v1/projects", changedSince=since.isoformat(), rowCount=100, pageToken="page-2"),
        url("/v1/projects", changedSince=since.isoformat(), rowCount=100),
    ]
