"""Reads of one Procountor company that many transfers ask for at once (the duplicate search, the ledger receipt
read): an ask alone is read at once by itself (an idle invoice pays one call, and waits for no batch); while a
shared read is under way, the asks arriving meanwhile wait for the next one, which starts after them (never
stale: no ask is answered by a read that began before it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class AskedTogether(Generic[K, V]):
    """The asks' bookkeeping; a subclass reads what `_waiting` holds in `_read_while_waiting` and answers (or
    fails, with `_fail`) each ask's future."""

    def __init__(self) -> None:
        self._asking = 0
        self._waiting: list[tuple[K, asyncio.Future[V]]] = []
        self._reader: asyncio.Task[None] | None = None

    async def _ask(self, key: K, alone: Callable[[], Awaitable[V]]) -> V:
        """`alone()` when no other ask and no shared read is under way; else the answer of the next shared read."""
        self._asking += 1
        try:
            if self._asking == 1 and not self._reading():
                return await alone()
            future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
            self._waiting.append((key, future))
            if not self._reading():
                self._reader = asyncio.create_task(self._read_while_waiting())
            return await future
        finally:
            self._asking -= 1

    def _reading(self) -> bool:
        return self._reader is not None and not self._reader.done()

    async def _read_while_waiting(self) -> None:
        raise NotImplementedError

    @staticmethod
    def _fail(batch: list[tuple[K, asyncio.Future[V]]], error: BaseException) -> None:
        """A shared read failed: each ask gets the error (its transfer's handling)."""
        for _, future in batch:
            if not future.done():
                future.set_exception(error)
