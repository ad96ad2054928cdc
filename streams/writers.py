"""How many of one tenant's transfers a worker lets write at once: few enough to finish within a rebalance.

When the worker group starts to rebalance, transfers that have not made their create end at once with nothing
written, and those past it finish their writes (streams/registers.py), all of them before the broker's rebalance
timeout, or the broker drops the worker while it still writes and another worker carries out the same requests.
Those writes go through the tenant's API paces, and a pool worker paces at its share of them (streams/pool.py):
at 128 transfers in flight and a share of 1/4, finishing them all would take over a minute. So the transfers in
flight (`transfer_concurrency`, the window) are one bound, and the transfers past their create another: a
transfer waits for a writer's slot right before its create, and gives it back when the attempt ends. The slots
are as many as the tenant's paces finish in half the rebalance timeout (the other half: the calls of transfers
not yet writing, queued ahead in the paces when the rebalance starts).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections import deque
from collections.abc import AsyncIterator
from contextvars import ContextVar

REBALANCE_TIMEOUT_SECONDS = 60.0  # faust's broker_rebalance_timeout (set in streams/app.py)
WRITES_WITHIN_SECONDS = REBALANCE_TIMEOUT_SECONDS / 2
# The calls left to a transfer past its create, at most: Severa's guard read and PATCH; Procountor's create,
# ledger receipt read and PUT, and attachment.
SEVERA_CALLS_WRITING = 2
PROCOUNTOR_CALLS_WRITING = 4


def writers_within(severa_per_second: float, procountor_per_second: float,
                   seconds: float = WRITES_WITHIN_SECONDS) -> int:
    """How many transfers past their create the paces finish within `seconds` (at least one)."""
    return max(1, math.floor(seconds * min(severa_per_second / SEVERA_CALLS_WRITING,
                                           procountor_per_second / PROCOUNTOR_CALLS_WRITING)))


class _Slot:
    """One attempt's claim on a writer's slot: taken at most once, given back at the attempt's end."""

    __slots__ = ("taken",)

    def __init__(self) -> None:
        self.taken = False


_attempt_slot: ContextVar[_Slot | None] = ContextVar("writer_slot", default=None)


class Writers:
    """The slots of one tenant's transfers past their create, on this worker; `limit` follows the paces. First
    come, first served: a transfer that waits is not overtaken by one that asks later."""

    def __init__(self, limit: int | None = None) -> None:
        self.limit = limit  # None: no bound (transfers built without a runtime, as in tests)
        self.writing = 0
        self._waiting: deque[asyncio.Future[None]] = deque()

    def set_limit(self, limit: int) -> None:
        """A new bound (the pace share changed) from now on: writers beyond it finish, none more start."""
        self.limit = limit
        self._wake()

    def _free(self) -> bool:
        return self.limit is None or self.writing < self.limit

    def _wake(self) -> None:
        while self._waiting and self._free():
            waiter = self._waiting.popleft()
            if not waiter.done():  # else cancelled while it waited
                self.writing += 1
                waiter.set_result(None)

    @contextlib.asynccontextmanager
    async def attempt(self) -> AsyncIterator[None]:
        """Around one transfer attempt: the slot it takes with `take` is given back when it ends, however."""
        slot = _Slot()
        token = _attempt_slot.set(slot)
        try:
            yield
        finally:
            _attempt_slot.reset(token)
            if slot.taken:
                self.writing -= 1
                self._wake()

    async def take(self) -> None:
        """Right before the attempt's create: wait while `limit` transfers write. Once per attempt."""
        slot = _attempt_slot.get()
        if slot is None:
            raise RuntimeError("Writers.take outside Writers.attempt")
        if slot.taken:
            return
        if self._free() and not self._waiting:
            self.writing += 1
        else:
            waiter = asyncio.get_running_loop().create_future()
            self._waiting.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():  # given a slot as it was cancelled: give it back
                    self.writing -= 1
                    self._wake()
                raise
        slot.taken = True
