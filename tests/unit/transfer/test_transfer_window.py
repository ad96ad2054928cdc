"""The sliding window of transfers in flight (streams/transfer_window.py), with stand-in events: what starts
when, in which order, and what is acknowledged (only what has been carried out)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest

from streams import live_settings
from streams.transfer_window import TransferWindow


@dataclass(frozen=True)
class Message:
    topic: str = "transfer.sales-invoice.requested"
    partition: int = 0
    offset: int = 0

    @property
    def tp(self) -> tuple[str, int]:
        return self.topic, self.partition


@dataclass(frozen=True)
class Event:
    key: str
    name: str
    message: Message = field(default_factory=Message)


class Transfers:
    """Each event's transfer waits until the test releases it (or fails `failures[name]` times first)."""

    def __init__(self, failures: dict[str, int] | None = None) -> None:
        self.started: list[str] = []
        self.acked: list[str] = []
        self.failures = dict(failures or {})
        self.release: dict[str, asyncio.Event] = {}

    def gate(self, name: str) -> asyncio.Event:
        return self.release.setdefault(name, asyncio.Event())

    async def handle(self, event: Event) -> None:
        self.started.append(event.name)
        if self.failures.get(event.name, 0) > 0:
            self.failures[event.name] -= 1
            raise ConnectionError("the broker is away")
        await self.gate(event.name).wait()

    async def ack(self, event: Event) -> None:
        self.acked.append(event.name)


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def test_a_later_event_is_not_held_behind_a_slow_one() -> None:
    transfers = Transfers()
    window = TransferWindow(transfers.handle, transfers.ack, running=2, held=8)
    await window.admit("A", Event("A", "slow", Message(partition=1)))
    await window.admit("B", Event("B", "quick"))
    transfers.gate("quick").set()
    await settle()
    await window.admit("C", Event("C", "later"))  # the slot of "quick" is free again
    transfers.gate("later").set()
    await settle()
    assert transfers.acked == ["quick", "later"]  # "slow" is still under way, and not acknowledged
    transfers.gate("slow").set()
    await settle()
    assert transfers.acked == ["quick", "later", "slow"]


async def test_one_keys_events_run_in_order_and_at_most_running_keys_at_once() -> None:
    transfers = Transfers()
    window = TransferWindow(transfers.handle, transfers.ack, running=2, held=8)
    for name in ("a1", "a2"):
        await window.admit("A", Event("A", name))
    await window.admit("B", Event("B", "b1"))
    await window.admit("C", Event("C", "c1"))
    await settle()
    assert transfers.started == ["a1", "b1"]  # a2 waits for a1; c1 for a free slot
    transfers.gate("a1").set()
    await settle()
    assert transfers.started == ["a1", "b1", "a2"]  # A keeps its slot for its next request, in order
    for name in ("a2", "b1", "c1"):
        transfers.gate(name).set()
        await settle()
    assert transfers.started == ["a1", "b1", "a2", "c1"]
    assert transfers.acked == ["a1", "a2", "b1", "c1"]


class Flow:
    """The consumer's flow control as the window drives it: which partitions are paused, in what order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[str, int]]] = []

    def pause(self, partition: tuple[str, int]) -> None:
        self.calls.append(("pause", partition))

    def resume(self, partition: tuple[str, int]) -> None:
        self.calls.append(("resume", partition))


async def test_a_partition_with_held_events_not_done_is_paused_and_the_stream_never_waits() -> None:
    """One slow tenant's backlog must not stop the stream: faust's one consumer feeds every agent and waits while
    any agent's buffer is full. The backlog's partition is paused instead, and resumed once half of it is done."""
    transfers, flow = Transfers(), Flow()
    window = TransferWindow(transfers.handle, transfers.ack, running=2, held=4, pause=flow.pause,
                            resume=flow.resume)
    for n in range(6):  # one key: one after the other, only a0 runs
        await asyncio.wait_for(window.admit("A", Event("A", f"a{n}", Message(offset=n))), timeout=1)
    await asyncio.wait_for(window.admit("B", Event("B", "b", Message(partition=1))), timeout=1)
    transfers.gate("b").set()
    await settle()
    backlog = ("transfer.sales-invoice.requested", 0)
    assert flow.calls == [("pause", backlog)] * 3  # at its 4th, 5th and 6th event held
    assert transfers.acked == ["b"]  # the other partition's event goes through
    for n in range(3):
        transfers.gate(f"a{n}").set()
        await settle()
    assert flow.calls[3:] == []  # 3 of 6 held still: more than half of 4
    transfers.gate("a3").set()
    await settle()
    assert flow.calls[3:] == [("resume", backlog)]
    for n in (4, 5):
        transfers.gate(f"a{n}").set()
    await settle()
    assert transfers.acked == ["b", "a0", "a1", "a2", "a3", "a4", "a5"] and flow.calls[4:] == []


async def test_a_transfer_that_raises_is_tried_again_and_acknowledged_only_when_done(monkeypatch) -> None:
    monkeypatch.setattr(live_settings, "RETRY_MAX_SECONDS", 0.0)  # no waiting between the attempts here
    transfers = Transfers(failures={"a": 2})
    window = TransferWindow(transfers.handle, transfers.ack, running=1, held=4)
    await window.admit("A", Event("A", "a"))
    await window.admit("A", Event("A", "a-next"))
    await settle()
    assert transfers.started == ["a", "a", "a"] and transfers.acked == []
    transfers.gate("a").set()
    transfers.gate("a-next").set()
    await settle()
    assert transfers.acked == ["a", "a-next"]


async def test_close_stops_what_is_in_flight_without_acknowledging_it() -> None:
    transfers = Transfers()
    window = TransferWindow(transfers.handle, transfers.ack, running=2, held=4)
    await window.admit("A", Event("A", "a"))
    await window.admit("A", Event("A", "a-next"))
    await window.admit("B", Event("B", "b"))
    await settle()
    await window.close()
    assert transfers.acked == []  # all of them come again from the last committed offset
    transfers.gate("a").set()
    await settle()
    assert transfers.started == ["a", "b"] and transfers.acked == []


async def test_a_partitions_events_are_acknowledged_in_their_order_whichever_ends_first() -> None:
    """The committed offset may never pass an event that is not done (faust's own gap check lets it)."""
    transfers = Transfers()
    window = TransferWindow(transfers.handle, transfers.ack, running=4, held=8)
    await window.admit("A", Event("A", "first", Message(offset=5)))
    await window.admit("B", Event("B", "second", Message(offset=6)))
    await window.admit("C", Event("C", "elsewhere", Message(partition=1, offset=6)))
    await window.admit("D", Event("D", "third", Message(offset=7)))
    for name in ("second", "elsewhere", "third"):
        transfers.gate(name).set()
    await settle()
    assert transfers.started == ["first", "second", "elsewhere", "third"]
    assert transfers.acked == ["elsewhere"]  # second and third are done, but first is not
    transfers.gate("first").set()
    await settle()
    assert transfers.acked == ["elsewhere", "first", "second", "third"]


@pytest.mark.parametrize("running", [1, 3])
async def test_every_event_is_carried_out_and_acknowledged_once(running: int) -> None:
    transfers = Transfers()
    window = TransferWindow(transfers.handle, transfers.ack, running=running, held=5)
    names = [f"{key}{n}" for n in range(4) for key in "ABCDEF"]
    for name in names:
        transfers.gate(name).set()
    for name in names:
        await window.admit(name[0], Event(name[0], name))
    await settle()
    assert sorted(transfers.acked) == sorted(names)
    for key in "ABCDEF":
        assert [n for n in transfers.acked if n[0] == key] == [f"{key}{n}" for n in range(4)]
