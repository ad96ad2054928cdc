"""The Severa client where the public description is silent (issue 12): what a download asks for, and how it
backs off when the shared quota answers 429."""

from __future__ import annotations

import asyncio
import time

import httpx

from connectors.severa.client import SeveraClient
from foundation.settings import Settings

TOKEN = {"access_token": "t", "access_token_type": "Bearer", "access_token_expires_in": 3600,
         "refresh_token": "r"}


def client_over(handle, **options) -> SeveraClient:  # type: ignore[no-untyped-def]
    def route(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/v1/token"):
            return httpx.Response(200, json=TOKEN)
        return handle(request)

    options.setdefault("requests_per_second", 1000.0)
    return SeveraClient("http://severa/rest-api", "client", "secret", transport=httpx.MockTransport(route), **options)


async def test_downloads_ask_for_their_own_type_and_json_calls_for_json() -> None:
    accepted: dict[str, str] = {}

    def handle(request: httpx.Request) -> httpx.Response:
        accepted[request.url.path.rsplit("/", 1)[-1]] = request.headers.get("accept", "")
        if request.url.path.endswith(("/pdf", "/filedata")):
            return httpx.Response(200, content=b"%PDF-1.4", headers={"content-type": "application/pdf"})
        return httpx.Response(200, json={"guid": "g"})

    async with client_over(handle) as severa:
        await severa.get_invoice_pdf("i")
        await severa.get_travel_reimbursement_pdf("t")
        await severa.get_file_data("f")
        await severa.get_invoice("g")
    assert accepted == {"pdf": "application/pdf", "filedata": "*/*", "g": "application/json"}


def refusing_the_first(sent: list[float]):  # type: ignore[no-untyped-def]
    """A handler noting when each request came: the first is refused with a 429 and `Retry-After: 1`."""

    def handle(request: httpx.Request) -> httpx.Response:
        sent.append(time.monotonic())
        if len(sent) == 1:
            return httpx.Response(429, text="API calls quota exceeded! maximum admitted 10 per 1s.",
                                  headers={"Retry-After": "1"})
        return httpx.Response(200, json={"guid": "g"})

    return handle


async def test_a_429_holds_every_request_for_its_retry_after() -> None:
    sent: list[float] = []
    async with client_over(refusing_the_first(sent), requests_per_second=50.0) as severa:
        await asyncio.gather(*(severa.get_invoice(f"g{i}") for i in range(6)))
    refused_at = sent[0]
    later = sent[1:]
    assert len(later) == 6 and min(later) >= refused_at + 0.95, [round(t - refused_at, 2) for t in later]


def test_the_default_pace_leaves_room_in_the_shared_quota() -> None:
    assert Settings().severa_requests_per_second <= 5.0


async def test_after_a_429s_hold_the_requests_leave_at_the_pace_not_all_at_once() -> None:
    """The requests that queued during the hold go one after the other at the pace when it ends. Before, they
    passed the pacer during the hold, waited it out past it and went all at once: more than the quota in one
    second, a 429 again, a hold again (100 429s in one benchmark drain at 9.5 a second)."""
    sent: list[float] = []
    async with client_over(refusing_the_first(sent), requests_per_second=10.0) as severa:
        await asyncio.gather(*(severa.get_invoice(f"g{i}") for i in range(16)))
    later = sent[1:]
    assert len(later) == 16 and min(later) >= sent[0] + 0.95
    most_in_a_second = max(sum(1 for t in later if start <= t < start + 1.0) for start in later)
    assert most_in_a_second <= 11, [round(t - sent[0], 2) for t in later]  # the pace's 10, and one of burst
