"""When synchronization runs: continuously (ours), the incumbent's day/evening/night cycle, or custom windows.

The seed's schedule, in Finnish time: day 08:00–19:00 every 10 minutes, evening 19:00–00:00 every hour, night
00:00–08:00 nothing (changes made at night are synchronized from 08:00). A window's runs are slots on the wall
clock of the schedule's time zone, counted from the window's start (08:00, 08:10, ...), so "every 10 minutes"
means what a user in Helsinki reads on the clock, on DST transition days too: a slot that does not exist (the
spring-forward gap) is skipped, and a slot in the repeated hour of the autumn runs in both passes of that hour.

Text forms accepted by ``Schedule.parse``::

    continuous                    every poll opportunity: the pollers' own pace decides (the default)
    continuous/30s                at most every 30 seconds
    incumbent                     the seed's schedule in Europe/Helsinki
    08:00-19:00/10m, 19:00-24:00/1h                      custom windows (Europe/Helsinki)
    Europe/Stockholm: 07:00-18:00/5m                     custom windows in another zone

Pure: no clock is read here; the caller passes every instant (timezone-aware).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

FINNISH_TIME = "Europe/Helsinki"
INCUMBENT = "08:00-19:00/10m, 19:00-24:00/1h"
_DAY = timedelta(days=1)
_UNITS = {"s": 1, "m": 60, "h": 3600}
_WINDOW = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*(?:/|\s+every\s+)\s*(\d+(?:\.\d+)?)\s*([smh])$")
_CONTINUOUS = re.compile(r"^continuous(?:\s*/\s*(\d+(?:\.\d+)?)\s*([smh]))?$")


class ScheduleError(ValueError):
    """A schedule text that cannot be used; the message quotes the part that is wrong."""


@dataclass(frozen=True)
class Window:
    """Runs every ``every`` from ``start`` (inclusive) to ``end`` (exclusive), both offsets from midnight."""

    start: timedelta
    end: timedelta
    every: timedelta

    def __str__(self) -> str:
        return f"{_clock(self.start)}-{_clock(self.end)}/{_duration(self.every)}"


@dataclass(frozen=True)
class Schedule:
    """A synchronization schedule. ``windows`` empty means continuous, at most every ``every`` (0: no limit)."""

    zone: str = FINNISH_TIME
    windows: tuple[Window, ...] = ()
    every: timedelta = timedelta(0)

    # ------------------------------------------------------------------------------------------ building
    @classmethod
    def continuous(cls, every: timedelta = timedelta(0)) -> Schedule:
        return cls(windows=(), every=every)

    @classmethod
    def incumbent(cls) -> Schedule:
        """The seed's schedule (Finnish time)."""
        return cls.parse(INCUMBENT)

    @classmethod
    def parse(cls, text: str) -> Schedule:
        """``continuous[/<n>s|m|h]``, ``incumbent``, or ``[<zone>:] HH:MM-HH:MM/<n>s|m|h, ...``."""
        spec = (text or "").strip()
        lowered = spec.lower()
        if lowered == "incumbent":
            return cls.incumbent()
        if match := _CONTINUOUS.match(lowered):
            every = _seconds(match.group(1), match.group(2)) if match.group(1) else timedelta(0)
            if match.group(1) and every <= timedelta(0):
                raise ScheduleError(f"{text!r}: the interval must be positive")
            return cls.continuous(every)
        zone = FINNISH_TIME
        head, colon, rest = spec.partition(":")
        if colon and "/" in head and not head.strip()[:1].isdigit():  # "Europe/Stockholm: ..."
            zone, spec = head.strip(), rest
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ScheduleError(f"{text!r}: unknown time zone {zone!r}") from error
        parts = [part.strip() for part in re.split(r"[,;]", spec) if part.strip()]
        if not parts:
            raise ScheduleError(f"{text!r}: expected 'continuous', 'incumbent' or windows like 08:00-19:00/10m")
        windows = tuple(sorted((_window(part, text) for part in parts), key=lambda w: w.start))
        for earlier, later in zip(windows, windows[1:], strict=False):
            if later.start < earlier.end:
                raise ScheduleError(f"{text!r}: windows {earlier} and {later} overlap")
        return cls(zone=zone, windows=windows)

    def __str__(self) -> str:
        if not self.windows:
            return f"continuous/{_duration(self.every)}" if self.every else "continuous"
        text = ", ".join(str(w) for w in self.windows)
        return text if self.zone == FINNISH_TIME else f"{self.zone}: {text}"

    @property
    def is_continuous(self) -> bool:
        return not self.windows

    # ------------------------------------------------------------------------------------------ queries
    def next_run(self, after: datetime) -> datetime:
        """The first run after ``after`` (aware), in UTC: strictly after, except plain ``continuous``, whose
        next run is ``after`` itself (the next opportunity).

        UTC because Python compares two datetimes of the same ``tzinfo`` by wall clock, ignoring ``fold``:
        in the repeated autumn hour, 03:40 (summer time) would compare after 03:00 (winter time).
        """
        _aware(after, "after")
        after = after.astimezone(UTC)
        tz = ZoneInfo(self.zone)
        if self.is_continuous:
            return after + self.every
        local_day = after.astimezone(tz).date()
        best: datetime | None = None
        # Yesterday too: a window ending at 24:00 may hold instants after `after` on an autumn DST day.
        # Every window has a slot every day, unless a DST gap swallows it: three days ahead always suffice.
        for offset in range(-1, 3):
            day = local_day + offset * _DAY
            for window in self.windows:
                found = _first_slot_after(day, window, tz, after)
                if found is not None and (best is None or found < best):
                    best = found
        if best is None:  # unreachable: a non-empty schedule has a slot every day
            raise ScheduleError(f"{self}: no run found")
        return best

    def is_due(self, last_run: datetime | None, now: datetime) -> bool:
        """Whether a run is due at ``now`` given the previous run (None: never ran, due inside a window)."""
        _aware(now, "now")
        if last_run is None:
            return self.in_window(now)
        return self.next_run(last_run) <= now.astimezone(UTC)

    def in_window(self, moment: datetime) -> bool:
        """Whether ``moment`` falls inside one of the windows (always, when continuous)."""
        _aware(moment, "moment")
        if self.is_continuous:
            return True
        wall = moment.astimezone(ZoneInfo(self.zone))
        since_midnight = wall.replace(tzinfo=None) - datetime.combine(wall.date(), datetime.min.time())
        return any(w.start <= since_midnight < w.end for w in self.windows)


# ---------------------------------------------------------------------------------------------- helpers
def _first_slot_after(day: date, window: Window, tz: ZoneInfo, after: datetime) -> datetime | None:
    midnight = datetime.combine(day, datetime.min.time())
    start, end = midnight + window.start, midnight + window.end
    # Wall-clock and real time differ by the day's DST shift at most: look that far back and ahead.
    shift = _dst_shift(day, tz)
    wall_after = after.astimezone(tz).replace(tzinfo=None)
    first = 0 if wall_after < start else max(0, math.floor((wall_after - shift - start) / window.every))
    upper = max(wall_after, start) + shift + window.every
    best: datetime | None = None
    k = first
    while True:
        wall = start + k * window.every
        if wall >= end or wall > upper:
            return best
        for instant in _instants(day, wall - midnight, tz):
            if instant > after and (best is None or instant < best):
                best = instant
        k += 1


def _instants(day: date, since_midnight: timedelta, tz: ZoneInfo) -> list[datetime]:
    """The real instants (UTC) a wall-clock time has on ``day``: none in a gap, two in the repeated hour."""
    wall = datetime.combine(day, datetime.min.time()) + since_midnight
    found = []
    for fold in (0, 1):
        candidate = wall.replace(tzinfo=tz, fold=fold)
        instant = candidate.astimezone(UTC)
        if instant.astimezone(tz).replace(tzinfo=None) == wall and instant not in found:
            found.append(instant)
    return sorted(found)


def _dst_shift(day: date, tz: ZoneInfo) -> timedelta:
    midnight = datetime.combine(day, datetime.min.time())
    before = midnight.replace(tzinfo=tz).utcoffset() or timedelta(0)
    after = (midnight + _DAY).replace(tzinfo=tz).utcoffset() or timedelta(0)
    return abs(after - before)


def _window(part: str, text: str) -> Window:
    match = _WINDOW.match(part.lower())
    if not match:
        raise ScheduleError(f"{text!r}: {part!r} is not a window like 08:00-19:00/10m")
    h1, m1, h2, m2 = (int(match.group(i)) for i in range(1, 5))
    start, end = timedelta(hours=h1, minutes=m1), timedelta(hours=h2, minutes=m2)
    if end == timedelta(0):
        end = _DAY  # "19:00-00:00": until midnight
    if m1 > 59 or m2 > 59 or start >= _DAY or end > _DAY:
        raise ScheduleError(f"{text!r}: {part!r} has a time outside 00:00-24:00")
    if start >= end:
        raise ScheduleError(f"{text!r}: {part!r} ends before it starts (split a window across midnight in two)")
    every = _seconds(match.group(5), match.group(6))
    if every <= timedelta(0):
        raise ScheduleError(f"{text!r}: {part!r} needs a positive interval")
    return Window(start, end, every)


def _seconds(number: str, unit: str) -> timedelta:
    return timedelta(seconds=float(number) * _UNITS[unit])


def _aware(moment: datetime, name: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {moment!r}")


def _clock(offset: timedelta) -> str:
    minutes = int(offset.total_seconds() // 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _duration(every: timedelta) -> str:
    seconds = every.total_seconds()
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def slots(schedule: Schedule, start: datetime, end: datetime) -> Iterator[datetime]:
    """Every run in (start, end]: for listings (``sevpro schedule``) and tests."""
    moment = start
    while (moment := schedule.next_run(moment)) <= end:
        yield moment
