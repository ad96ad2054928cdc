"""Procountor allows 20 requests a second per API client and suspends the client beyond that (reference §1):
the client must never burst, not even after an idle spell, and the companies that share one API client
share one pace."""

from __future__ import annotations

import asyncio
import time

import httpx

from connectors.procountor.client import ProcountorClient, procountor_pacer
from foundation.settings import Settings

PROCOUNTOR_LIMIT_PER_SECOND = 20


def most_in_one_second(times: list[float]) -> int:
    """The most requests any 1-second window [t, t + 1) holds."""
    times = sorted(times)
    return max(sum(1 for u in times[i:] if u < t + 1.0) for i, t in enumerate(times))


def recording_transport(seen: list[float]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/oauth/token"):
            return httpx.Response(200, json={"access_token": "t", "token_type": "bearer", "expires_in": 3600})
        seen.append(time.monotonic())
        return httpx.Response(200, json={"name": "Kumpula Consulting Oy"})

    return httpx.MockTransport(handle)


async def test_no_burst_after_an_idle_spell_across_companies_sharing_the_api_client() -> None:
    seen: list[float] = []
    rate = Settings().procountor_requests_per_second
    pacer = procountor_pacer(rate)
    clients = [
        ProcountorClient("http://procountor/api", "client", "secret", key, limiter=pacer,
                         transport=recording_transport(seen))
        for key in ("fi-key", "se-key")
    ]
    try:
        for client in clients:  # log in first, so that only API calls are counted
            await client._access_token()  # noqa: SLF001
        await asyncio.sleep(1.2)  # idle: a bucket with capacity would fill up here
        await asyncio.gather(*(clients[i % 2].get_company() for i in range(45)))
    finally:
        for client in clients:
            await client.aclose()
    assert len(seen) == 45
    assert most_in_one_second(seen) <= PROCOUNTOR_LIMIT_PER_SECOND


async def test_client_default_pace_never_bursts() -> None:
    seen: list[float] = []
    client = ProcountorClient("http://procountor/api", "client", "secret", "key", transport=recording_transport(seen))
    try:
        await client._access_token()  # noqa: SLF001
        await asyncio.sleep(1.1)
        await asyncio.gather(*(client.get_company() for _ in range(30)))
    finally:
        await client.aclose()
    assert most_in_one_second(seen) <= PROCOUNTOR_LIMIT_PER_SECOND
