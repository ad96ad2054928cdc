"""A worker's pace (streams/runtime.py `Pace`) under a busy event loop: a request woken late by the loop's other
work (Kafka, JSON, the other transfers) must not push every later request back by as much, or a 9.5/s pace sends
9 or fewer (a late wake-up's lost time was never made up); and no second may hold more than the API admits
(Severa 10, reference §3.6). The loop's clock is stubbed: this is about the pace's arithmetic, not the machine."""

from __future__ import annotations

import random

from streams.runtime import Pace

SEVERA_QUOTA_PER_SECOND = 10


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def time(self) -> float:
        return self.now

    def is_closed(self) -> bool:
        return False


def _paced(rate: float) -> tuple[Pace, Clock]:
    pace, clock = Pace(rate), Clock()
    pace._event_loop = clock  # type: ignore[assignment]  # noqa: SLF001
    return pace, clock


def _take(pace: Pace, clock: Clock, at: float) -> bool:
    """What `acquire` does at `at` when it finds capacity."""
    clock.now = at
    if not pace.has_capacity():
        return False
    pace._level += 1  # noqa: SLF001
    return True


def _earliest(pace: Pace, clock: Clock) -> float:
    """When the next request may go (what aiolimiter's waker computes)."""
    clock.now = clock.now  # leak up to now
    pace.has_capacity()
    needed = pace._level + 1 - pace.max_rate  # noqa: SLF001
    return clock.now + max(0.0, needed) / pace.rate


def most_in_one_second(times: list[float]) -> int:
    return max(sum(1 for u in times[i:] if u < t + 1.0) for i, t in enumerate(times))


def test_a_request_woken_late_does_not_delay_the_next_one() -> None:
    pace, clock = _paced(9.5)
    interval = 1 / 9.5
    assert _take(pace, clock, 0.0)
    assert _take(pace, clock, interval + 0.03)  # the loop was busy: 30 ms late
    assert _take(pace, clock, 2 * interval), "the next request waited for the late one's lost 30 ms"


def test_late_wake_ups_keep_the_pace_and_no_second_holds_more_than_the_quota() -> None:
    rng = random.Random(7)
    pace, clock = _paced(9.5)
    times: list[float] = []
    at = 0.0
    while len(times) < 2000:
        at = _earliest(pace, clock) + rng.uniform(0.0, 0.04)  # each wake-up up to 40 ms late
        if rng.random() < 0.01:
            at += rng.uniform(0.5, 3.0)  # now and then an idle spell
        assert _take(pace, clock, at)
        times.append(at)
    busy = [b - a for a, b in zip(times, times[1:], strict=False) if b - a < 0.5]
    assert len(busy) / sum(busy) >= 0.97 * 9.5, len(busy) / sum(busy)
    assert most_in_one_second(times) <= SEVERA_QUOTA_PER_SECOND


def test_the_catch_up_never_lets_a_second_hold_one_request_more_than_the_bucket_alone() -> None:
    for rate, burst in ((9.5, 1), (9.7, 1), (5.0, 3), (18.0, 1), (19.5, 1), (2.5, 1)):
        pace = Pace(rate, burst)
        assert int(burst + rate + pace.catch_up) == int(burst + rate), (rate, burst, pace.catch_up)
        assert pace.catch_up > 0.2, (rate, burst)
