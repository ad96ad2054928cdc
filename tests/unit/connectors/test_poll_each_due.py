"""One round of a tenant's pollers (`connectors.polling.poll_each_due`), shared by the single-tenant worker and
the pool: a poller that fails backs off on its own, exponentially, and the others are still read each round."""

from __future__ import annotations

from typing import Any

from connectors.polling import poll_each_due


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
