"""Transfers in flight as a sliding window over a stream's events.

Up to `running` events are carried out at once, one key's events (one invoice's requests) in their order, and
each event is acknowledged only once it has been carried out. faust commits a partition's offset only up to the
first event not yet acknowledged, so a crash or a rebalance delivers again what was not done (at least once,
as before; the transfers are idempotent). A new event starts as soon as a slot is free: unlike taking the
events in batches and starting the next batch when the slowest of the last one has ended, no invoice waits for
an unrelated slow one.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

from streams.live_settings import retried_for_ever

Handle = Callable[[Any], Awaitable[Any]]


class TransferWindow:
    """Carry out events concurrently: at most `running` keys at once, one key's events in order, at most `held`
    events taken from the stream and not yet acknowledged (the stream waits beyond that: back-pressure)."""

    def __init__(self, handle: Handle, ack: Handle, *, running: int, held: int) -> None:
        self._handle, self._ack = handle, ack
        self._running = asyncio.Semaphore(running)
        self._held = asyncio.Semaphore(held)
        self._queues: dict[Hashable, deque[Any]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def admit(self, key: Hashable, event: Any) -> None:
        """Take `event` in; it starts at once when a slot is free and no earlier event of `key` is unfinished."""
        await self._held.acquire()
        queue = self._queues.get(key)
        if queue is not None:
            queue.append(event)
            return
        self._queues[key] = deque([event])
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
                    event = queue[0]
                    await self._carried_out(event)
                    await self._ack(event)
                    queue.popleft()
                    self._held.release()
        finally:
            del self._queues[key]

    async def _carried_out(self, event: Any) -> None:
        """`handle` publishes every outcome and raises only when it cannot (the broker is away): try again with
        back-off until it can (handle itself checks, before any write, that the event is still this worker's)."""
        message = event.message
        await retried_for_ever(lambda: self._handle(event), "transfer could not be completed, trying again",
                               topic=message.topic, partition=message.partition, offset=message.offset)
