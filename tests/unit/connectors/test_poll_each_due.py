"""One round of a tenant's pollers (`connectors.polling.poll_each_due`), shared by the single-tenant worker and
the pool: a poller that fails backs off on its own, exponentially, and the others are still read each round."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from connectors.polling import TICK_SLACK, EntitySource, Poller, PollStats, next_round, poll_each_due


class _Poller:
    def __init__(self, system: str, fails: bool) -> None:
        self.system, self.tenant, self.fails, self.rounds = system, "t", fails, 0

    async def poll_due(self) -> dict[str, Any]:
        self.rounds += 1
        if self.fails:
            raise RuntimeError("API down")
        return {}


async def test_a_failing_poller_backs_off_and_the_other_is_read_every_round() -> None:
    down, up = _Poller("severa", fails=True), _Poller("procountor", fails=False)
    backoff: dict[int, tuple[int, float]] = {}

    for _ in range(3):
        await poll_each_due([down, up], backoff)  # type: ignore[list-item]

    assert up.rounds == 3
    assert down.rounds == 1  # then 2 s of back-off: not read in the rounds right after
    assert backoff[id(down)][0] == 1 and id(up) not in backoff


async def test_a_poller_that_recovers_loses_its_back_off() -> None:
    poller = _Poller("severa", fails=True)
    backoff: dict[int, tuple[int, float]] = {}
    await poll_each_due([poller], backoff)  # type: ignore[list-item]
    poller.fails = False
    backoff[id(poller)] = (1, 0.0)  # its back-off has passed

    await poll_each_due([poller], backoff)  # type: ignore[list-item]

    assert poller.rounds == 2 and backoff == {}


async def test_the_next_round_is_due_when_a_source_is_or_a_back_off_ends() -> None:
    """A pool worker starts a tenant's round only when one of its pollers has a source due (`next_round`): a
    round every tick for each of a thousand tenants, most of them reading nothing, cost more than the reads."""

    async def nothing(_: Any):  # type: ignore[no-untyped-def]
        return
        yield

    fast = Poller("unused:9092", "severa", "t", [EntitySource("invoice", nothing, "guid", "v", interval=10.0),
                                                 EntitySource("customer", nothing, "guid", "v", interval=60.0)])
    slow = Poller("unused:9092", "procountor", "t/FI", [EntitySource("product", nothing, "id", "v", interval=60.0)])
    for poller in (fast, slow):
        poller._poll_source = _stats  # type: ignore[method-assign]  # noqa: SLF001
    backoff: dict[int, tuple[int, float]] = {}
    assert next_round([fast, slow], backoff) == float("-inf")  # never read: due now

    started = asyncio.get_running_loop().time()
    await poll_each_due([fast, slow], backoff)
    assert started + 10.0 - TICK_SLACK <= next_round([fast, slow], backoff) <= started + 10.0  # the invoices
    backoff[id(fast)] = (1, started + 30.0)  # the Severa poller failed: nothing of it before its back-off ends
    assert next_round([fast, slow], backoff) == pytest.approx(started + 30.0, abs=0.01)


async def _stats(source: EntitySource) -> PollStats:
    return PollStats()
