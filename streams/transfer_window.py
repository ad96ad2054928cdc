"""Transfers in flight as a sliding window over a stream's events.

Up to `running` events are carried out at once, one key's events (one invoice's requests) in their order, and
each event is acknowledged only once it and every event before it on its partition have been carried out, so the
committed offset never passes an event that is not done: a crash or a rebalance delivers again what was not done
(at least once, as before; the transfers are idempotent). The acknowledgements go in offset order because
faust's own gap check does not hold: with no offset committed yet, or one offset missing right after the
committed one, it commits past an event that was never acknowledged (seen: a worker killed mid-transfer, its
invoice never redone). A new event starts as soon as a slot is free: unlike taking the events in batches and
starting the next batch when the slowest of the last one has ended, no invoice waits for an unrelated slow one.

The window never makes the stream wait. faust feeds every agent of a worker from one consumer, and that consumer
waits while any agent's buffer is full: a window that stopped taking events (one tenant's backlog of slow
transfers) held every other agent's events too, other tenants' invoices included. Instead, a partition with
`held` events taken and not acknowledged is paused (the consumer fetches no more of it, and still hands on what
it has fetched), and resumed once half of them are: one tenant's backlog holds at most the tenants that share its
partition of that one topic.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

from streams.live_settings import retried_for_ever

Handle = Callable[[Any], Awaitable[Any]]
FlowControl = Callable[[Any], None]  # of a topic partition: pause or resume its fetching


def _nothing(partition: Any) -> None:
    """No flow control (a window fed by hand, as in the unit tests)."""


class _Taken:
    """An event taken from the stream, and whether it has been carried out."""

    __slots__ = ("done", "event")

    def __init__(self, event: Any) -> None:
        self.event, self.done = event, False


class TransferWindow:
    """Carry out events concurrently: at most `running` keys at once, one key's events in order, each partition's
    events acknowledged in their order; a partition with `held` events not yet acknowledged is paused until half
    of them are (back-pressure for that partition alone)."""

    def __init__(self, handle: Handle, ack: Handle, *, running: int, held: int, pause: FlowControl = _nothing,
                 resume: FlowControl = _nothing) -> None:
        self._handle, self._ack = handle, ack
        self._running = asyncio.Semaphore(running)
        self._held, self._pause, self._resume = held, pause, resume
        self._paused: set[Any] = set()
        self._queues: dict[Hashable, deque[_Taken]] = {}
        self._partitions: dict[Any, deque[_Taken]] = {}  # per partition, in offset order: what is not acknowledged
        self._tasks: set[asyncio.Task[None]] = set()

    async def admit(self, key: Hashable, event: Any) -> None:
        """Take `event` in; it starts at once when a slot is free and no earlier event of `key` is unfinished.
        Never waits: events of a paused partition already fetched are taken in too."""
        taken = _Taken(event)
        partition = event.message.tp
        held = self._partitions.setdefault(partition, deque())
        held.append(taken)
        if len(held) >= self._held:  # again for each event beyond: a rebalance may have resumed the partition
            self._paused.add(partition)
            self._pause(partition)
        queue = self._queues.get(key)
        if queue is not None:
            queue.append(taken)
            return
        self._queues[key] = deque([taken])
        task = asyncio.get_running_loop().create_task(self._carry_out(key), name="transfer")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """Stop what is in flight (the worker stops): nothing unfinished is acknowledged, so it comes again."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _carry_out(self, key: Hashable) -> None:
        queue = self._queues[key]
        try:
            async with self._running:
                while queue:
                    taken = queue[0]
                    await self._carried_out(taken.event)
                    queue.popleft()
                    taken.done = True
                    await self._acknowledge_done(taken.event.message.tp)
        finally:
            del self._queues[key]

    async def _acknowledge_done(self, partition: Any) -> None:
        """Acknowledge the partition's events from the first on, as far as they are done."""
        taken = self._partitions[partition]
        while taken and taken[0].done:
            await self._ack(taken.popleft().event)
        if partition in self._paused and len(taken) <= self._held // 2:
            self._paused.discard(partition)
            self._resume(partition)

    async def _carried_out(self, event: Any) -> None:
        """`handle` publishes every outcome and raises only when it cannot (the broker is away): try again with
        back-off until it can (handle itself checks, before any write, that the event is still this worker's)."""
        message = event.message
        await retried_for_ever(lambda: self._handle(event), "transfer could not be completed, trying again",
                               topic=message.topic, partition=message.partition, offset=message.offset)
