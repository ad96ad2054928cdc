"""The Severa client's pace (issue 16): Severa admits 10 requests a second (reference §3.6). After a quiet spell an
idle invoice's few calls go at once rather than one per 1/rps, never more in one second than the quota admits;
and the client says when its pace is the bottleneck (a backlog), which the pollers and the invoice reads use."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.severa.client import PacerLoad, SeveraClient
from foundation.settings import Settings

SEVERA_QUOTA_PER_SECOND = 10
TOKEN = {"access_token": "t", "access_token_type": "Bearer", "access_token_expires_in": 3600,
         "refresh_token": "r"}


def most_in_one_second(times: list[float]) -> int:
    times = sorted(times)
    return max(sum(1 for u in times[i:] if u < t + 1.0) for i, t in enumerate(times))


def recording_client(seen: list[float], requests_per_second: float) -> SeveraClient:
    def route(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/v1/token"):
            return httpx.Response(200, json=TOKEN)
        seen.append(time.monotonic())
        return httpx.Response(200, json={"guid": "g"})

    return SeveraClient("http://severa/rest-api", "client", "secret", transport=httpx.MockTransport(route),
                        requests_per_second=requests_per_second)


async def test_an_idle_clients_first_calls_go_at_once() -> None:
    seen: list[float] = []
    async with recording_client(seen, Settings().severa_requests_per_second) as severa:
        await severa._access_token()  # noqa: SLF001
        await asyncio.sleep(1.0)  # quiet
        await asyncio.gather(*(severa.get_invoice(f"g{i}") for i in range(3)))
        # None of them waited at the pacer (evenly spaced at 5/s, the second would wait 0.2 s, the third 0.4 s).
        assert severa.load.waited() < 0.05, severa.load.waited()


async def test_no_second_holds_more_than_the_quota_admits() -> None:
    seen: list[float] = []
    async with recording_client(seen, Settings().severa_requests_per_second) as severa:
        await severa._access_token()  # noqa: SLF001
        await asyncio.sleep(0.7)  # quiet: the bucket fills
        await asyncio.gather(*(severa.get_invoice(f"g{i}") for i in range(12)))
    assert len(seen) == 12
    assert most_in_one_second(seen) <= SEVERA_QUOTA_PER_SECOND - 1  # pace 5 + burst 3, and one at the edge


async def test_a_backlog_saturates_the_pace_and_an_idle_invoice_does_not() -> None:
    seen: list[float] = []
    async with recording_client(seen, 20.0) as severa:
        await severa._access_token()  # noqa: SLF001
        await asyncio.gather(*(severa.get_invoice(f"g{i}") for i in range(4)))
        assert not severa.saturated()  # a few calls at once: waits of a fraction of a second
        backlog = [asyncio.create_task(severa.get_invoice(f"b{i}")) for i in range(30)]
        for _ in range(300):
            if severa.saturated():
                break
            await asyncio.sleep(0.01)
        assert severa.saturated()
        await asyncio.gather(*backlog)


def test_the_load_forgets_waits_older_than_its_window() -> None:
    load = PacerLoad(window=5.0)
    for second in range(6):
        load.note(1.0, at=100.0 + second)
    assert load.saturated(at=105.0)
    assert not load.saturated(at=111.0)


@given(st.lists(st.tuples(st.floats(min_value=0, max_value=3), st.floats(min_value=0, max_value=2),
                          st.booleans()), max_size=60))
def test_the_load_is_the_sum_of_the_waits_within_its_window(steps: list[tuple[float, float, bool]]) -> None:
    load, noted, at = PacerLoad(window=5.0), [], 0.0
    for advance, waited, ask in steps:
        at += advance
        load.note(waited, at)
        noted.append((at, waited))
        if ask:
            assert load.waited(at) == pytest.approx(sum(w for t, w in noted if t >= at - 5.0), abs=1e-9)
