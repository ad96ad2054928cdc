"""The writers' slots (streams/writers.py): how many of a tenant's transfers a worker lets past their create at
once, so that those writing when the group rebalances finish within faust's rebalance timeout."""

from __future__ import annotations

import asyncio

import pytest

from streams.writers import (
    PROCOUNTOR_CALLS_WRITING,
    REBALANCE_TIMEOUT_SECONDS,
    SEVERA_CALLS_WRITING,
    Writers,
    writers_within,
)


def test_the_slots_are_what_the_paces_finish_in_half_the_rebalance_timeout() -> None:
    # The drain benchmark's paces: Procountor binds (4 calls each at 18/s), 30 s of it.
    assert writers_within(9.5, 18.0) == 135
    # The product's Severa pace (5/s, 2 calls each) binds at its defaults.
    assert writers_within(5.0, 18.0) == 75
    # A pool worker of four paces at a quarter: a quarter of the slots, as the writes would take four times as long.
    assert writers_within(9.5 / 4, 18.0 / 4) == 33
    assert writers_within(0.01, 0.01) == 1  # never none: a transfer must be able to write


@pytest.mark.parametrize("severa", [0.5, 2.5, 5.0, 9.5, 20.0])
@pytest.mark.parametrize("procountor", [1.0, 4.5, 9.0, 18.0, 60.0])
def test_the_writes_of_every_slot_finish_within_half_the_rebalance_timeout(severa: float, procountor: float) -> None:
    """At any paces, the calls left to the transfers holding the slots take no longer than half the timeout on
    either API, and one slot more would not (the slots are as many as fit)."""
    slots = writers_within(severa, procountor)
    budget = REBALANCE_TIMEOUT_SECONDS / 2

    def longest(writers: int) -> float:
        return max(writers * SEVERA_CALLS_WRITING / severa, writers * PROCOUNTOR_CALLS_WRITING / procountor)

    assert longest(slots) <= budget or slots == 1
    assert longest(slots + 1) > budget


async def _attempt(writers: Writers, inside: asyncio.Event, release: asyncio.Event, log: list[str],
                   name: str) -> None:
    async with writers.attempt():
        await writers.take()
        await writers.take()  # a second take of one attempt (an adopted invoice's later step) is no new slot
        log.append(name)
        inside.set()
        await release.wait()


async def test_beyond_the_limit_a_transfer_waits_and_goes_in_order_as_slots_free() -> None:
    writers = Writers(limit=2)
    release = {name: asyncio.Event() for name in "abcd"}
    inside = {name: asyncio.Event() for name in "abcd"}
    log: list[str] = []
    tasks = {}
    for name in "abcd":
        tasks[name] = asyncio.create_task(_attempt(writers, inside[name], release[name], log, name))
        await asyncio.sleep(0)  # in this order
    await asyncio.wait_for(asyncio.gather(inside["a"].wait(), inside["b"].wait()), 1)
    await asyncio.sleep(0.05)
    assert log == ["a", "b"] and writers.writing == 2  # c and d wait

    release["b"].set()  # b's attempt ends: c (first to wait) goes, not d
    await asyncio.wait_for(inside["c"].wait(), 1)
    await asyncio.sleep(0.05)
    assert log == ["a", "b", "c"] and not inside["d"].is_set()

    for name in "acd":
        release[name].set()
    await asyncio.wait_for(asyncio.gather(*tasks.values()), 1)
    assert log == ["a", "b", "c", "d"] and writers.writing == 0


async def test_a_failed_or_cancelled_attempt_gives_its_slot_back() -> None:
    writers = Writers(limit=1)

    async def fails() -> None:
        async with writers.attempt():
            await writers.take()
            raise RuntimeError("the create failed")

    with pytest.raises(RuntimeError):
        await fails()
    assert writers.writing == 0

    holder_in, holder_out = asyncio.Event(), asyncio.Event()
    holder = asyncio.create_task(_attempt(writers, holder_in, holder_out, [], "holder"))
    await holder_in.wait()
    waiter = asyncio.create_task(_attempt(writers, asyncio.Event(), asyncio.Event(), [], "waiter"))
    await asyncio.sleep(0.05)
    waiter.cancel()  # cancelled while it waits for a slot (the worker stops)
    with pytest.raises(asyncio.CancelledError):
        await waiter
    holder_out.set()
    await holder
    assert writers.writing == 0

    async with writers.attempt():  # nothing leaked: the one slot is free
        await asyncio.wait_for(writers.take(), 1)


async def test_a_lower_limit_starts_no_new_writer_until_the_writing_are_below_it() -> None:
    writers = Writers(limit=3)
    release = asyncio.Event()
    inside = [asyncio.Event() for _ in range(4)]
    tasks = [asyncio.create_task(_attempt(writers, inside[i], release, [], str(i))) for i in range(3)]
    await asyncio.wait_for(asyncio.gather(*(e.wait() for e in inside[:3])), 1)
    writers.set_limit(1)  # a second worker joined: this worker's share of the paces halved, and more
    late = asyncio.create_task(_attempt(writers, inside[3], asyncio.Event(), [], "late"))
    await asyncio.sleep(0.05)
    assert writers.writing == 3 and not inside[3].is_set()  # the three writing finish; none more starts
    release.set()
    await asyncio.wait_for(inside[3].wait(), 1)
    assert writers.writing == 1
    late.cancel()
    await asyncio.gather(*tasks, late, return_exceptions=True)
    assert writers.writing == 0


async def test_a_higher_limit_lets_the_waiting_in_at_once() -> None:
    writers = Writers(limit=1)
    release = asyncio.Event()
    inside = [asyncio.Event() for _ in range(3)]
    tasks = [asyncio.create_task(_attempt(writers, inside[i], release, [], str(i))) for i in range(3)]
    await asyncio.wait_for(inside[0].wait(), 1)
    writers.set_limit(3)  # the other worker left: this one paces at the whole of each client's limit again
    await asyncio.wait_for(asyncio.gather(inside[1].wait(), inside[2].wait()), 1)
    release.set()
    await asyncio.gather(*tasks)
    assert writers.writing == 0


async def test_no_limit_without_a_runtime_and_take_belongs_inside_an_attempt() -> None:
    writers = Writers()
    async with writers.attempt():
        await asyncio.wait_for(writers.take(), 1)
    with pytest.raises(RuntimeError, match="outside"):
        await writers.take()
