"""The synchronization schedule: the seed's day/evening/night cycle in Finnish time, DST days, custom windows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from foundation.schedule import Schedule, ScheduleError, slots

HELSINKI = ZoneInfo("Europe/Helsinki")
INCUMBENT = Schedule.incumbent()
# DST days of Finland: the last Sundays of March (03:00 → 04:00) and October (04:00 → 03:00).
SPRING, AUTUMN = date(2025, 3, 30), date(2025, 10, 26)


def fi(text: str, fold: int = 0) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=HELSINKI, fold=fold)


def local(moment: datetime) -> str:
    return moment.astimezone(HELSINKI).strftime("%Y-%m-%d %H:%M%z")


@pytest.mark.parametrize(("after", "expected"), [
    ("2025-06-10 08:00", "2025-06-10 08:10+0300"),  # day: every 10 minutes, on the clock's tens
    ("2025-06-10 08:04:59", "2025-06-10 08:10+0300"),
    ("2025-06-10 18:50", "2025-06-10 19:00+0300"),  # 19:00 is the first evening run
    ("2025-06-10 19:00", "2025-06-10 20:00+0300"),  # evening: every hour
    ("2025-06-10 22:59", "2025-06-10 23:00+0300"),
    ("2025-06-10 23:00", "2025-06-11 08:00+0300"),  # night: nothing until 08:00
    ("2025-06-11 03:17", "2025-06-11 08:00+0300"),  # a change made at night waits for 08:00
    ("2025-01-15 07:59:59", "2025-01-15 08:00+0200"),  # winter time
    ("2025-03-30 02:30", "2025-03-30 08:00+0300"),  # spring DST night
    ("2025-10-26 03:30", "2025-10-26 08:00+0200"),  # autumn DST night
])
def test_incumbent_next_run(after: str, expected: str) -> None:
    assert local(INCUMBENT.next_run(fi(after))) == expected


def test_incumbent_day_has_66_day_runs_and_5_evening_runs() -> None:
    runs = list(slots(INCUMBENT, fi("2025-06-10 00:00"), fi("2025-06-11 00:00")))
    hours = [r.astimezone(HELSINKI).hour for r in runs]
    assert len([h for h in hours if 8 <= h < 19]) == 66
    assert [h for h in hours if h >= 19] == [19, 20, 21, 22, 23]
    assert not [h for h in hours if h < 8]


def test_is_due_gates_a_poll_timer() -> None:
    last = fi("2025-06-10 08:10:00.3")
    assert not INCUMBENT.is_due(last, fi("2025-06-10 08:19:59"))
    assert INCUMBENT.is_due(last, fi("2025-06-10 08:20"))
    # A run at 23:00 is the last one until the morning: the whole night is not due.
    assert not INCUMBENT.is_due(fi("2025-06-10 23:00"), fi("2025-06-11 07:59:59"))
    assert INCUMBENT.is_due(fi("2025-06-10 23:00"), fi("2025-06-11 08:00"))
    # Never ran: due inside a window, not at night.
    assert INCUMBENT.is_due(None, fi("2025-06-10 12:34"))
    assert not INCUMBENT.is_due(None, fi("2025-06-10 03:00"))


def test_continuous_is_the_default_and_never_holds_a_poll_back() -> None:
    schedule = Schedule.parse("continuous")
    now = datetime(2025, 6, 10, 1, 0, tzinfo=UTC)  # night in Finland: continuous does not care
    assert schedule.is_continuous and schedule.in_window(now) and str(schedule) == "continuous"
    assert schedule.next_run(now) == now
    assert schedule.is_due(None, now) and schedule.is_due(now, now + timedelta(milliseconds=1))
    assert Schedule() == schedule
    paced = Schedule.parse("continuous/30s")
    assert paced.next_run(now) == now + timedelta(seconds=30) and str(paced) == "continuous/30s"
    assert not paced.is_due(now, now + timedelta(seconds=29)) and paced.is_due(now, now + timedelta(seconds=30))


def test_custom_windows_and_zone() -> None:
    schedule = Schedule.parse("Europe/Stockholm: 07:00-18:00/5m; 18:00-00:00/30m")
    stockholm = ZoneInfo("Europe/Stockholm")
    assert str(schedule) == "Europe/Stockholm: 07:00-18:00/5m, 18:00-24:00/30m"
    after = datetime(2025, 6, 10, 6, 0, tzinfo=stockholm)
    assert schedule.next_run(after) == datetime(2025, 6, 10, 7, 0, tzinfo=stockholm)
    assert schedule.next_run(datetime(2025, 6, 10, 23, 31, tzinfo=stockholm)) == datetime(
        2025, 6, 11, 7, 0, tzinfo=stockholm)
    assert Schedule.parse(str(INCUMBENT)) == INCUMBENT
    assert Schedule.parse("08:00-19:00 every 10m, 19:00-00:00 every 1h") == INCUMBENT


@pytest.mark.parametrize("text", [
    "", "sometimes", "08:00-19:00", "19:00-08:00/1h", "08:00-19:00/0m", "08:00-25:00/1h",
    "08:00-12:00/10m, 11:00-13:00/10m", "Mars/Olympus: 08:00-19:00/10m", "continuous/0s",
])
def test_rejects_unusable_text(text: str) -> None:
    with pytest.raises(ScheduleError):
        Schedule.parse(text)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        INCUMBENT.next_run(datetime(2025, 6, 10, 8, 0))


def test_spring_forward_skips_the_missing_hour() -> None:
    schedule = Schedule.parse("00:00-24:00/20m")
    runs = [local(r) for r in slots(schedule, fi("2025-03-30 02:30"), fi("2025-03-30 04:30"))]
    assert runs == ["2025-03-30 02:40+0200", "2025-03-30 04:00+0300", "2025-03-30 04:20+0300"]


def test_autumn_runs_in_both_passes_of_the_repeated_hour() -> None:
    schedule = Schedule.parse("00:00-24:00/20m")
    runs = [local(r) for r in slots(schedule, fi("2025-10-26 03:25"), fi("2025-10-26 04:00", fold=0))]
    assert runs == ["2025-10-26 03:40+0300", "2025-10-26 03:00+0200", "2025-10-26 03:20+0200",
                    "2025-10-26 03:40+0200", "2025-10-26 04:00+0200"]


# ------------------------------------------------------------------------------------------- properties
instants = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31),
                        timezones=st.just(UTC))
dst_days = st.sampled_from([date(y, 3, d) for y, d in ((2024, 31), (2025, 30), (2026, 29))]
                           + [date(y, 10, d) for y, d in ((2024, 27), (2025, 26), (2026, 25))])
schedules = st.sampled_from([
    INCUMBENT, Schedule.parse("00:00-24:00/7m"), Schedule.parse("02:30-04:30/10m, 06:00-06:01/1m"),
    Schedule.parse("03:00-04:00/15m"), Schedule.parse("Europe/Stockholm: 01:00-03:30/25m"),
])


@settings(max_examples=150, deadline=None)
@given(after=instants, schedule=schedules)
def test_next_run_is_after_and_inside_a_window(after: datetime, schedule: Schedule) -> None:
    run = schedule.next_run(after)
    assert run > after
    assert schedule.in_window(run)
    assert run - after <= timedelta(days=2)


@settings(max_examples=150, deadline=None)
@given(after=instants)
def test_incumbent_never_runs_at_night(after: datetime) -> None:
    run = INCUMBENT.next_run(after).astimezone(HELSINKI)
    assert run.hour >= 8
    assert run.second == 0 and run.microsecond == 0
    # Nothing is skipped: no run of the schedule lies between `after` and the returned one.
    assert not INCUMBENT.is_due(after, run - timedelta(microseconds=1))
    assert INCUMBENT.is_due(after, run)


@settings(max_examples=40, deadline=None)
@given(day=dst_days, schedule=schedules, minute=st.integers(0, 24 * 60 - 1))
def test_dst_days_runs_strictly_increase_and_exist(day: date, schedule: Schedule, minute: int) -> None:
    tz = ZoneInfo(schedule.zone)
    start = datetime.combine(day, datetime.min.time()).replace(tzinfo=tz).astimezone(UTC) + timedelta(minutes=minute)
    runs = list(slots(schedule, start, start + timedelta(hours=6)))
    assert all(a < b for a, b in zip(runs, runs[1:], strict=False))
    for run in runs:
        wall = run.astimezone(tz)
        # The instant round-trips through the zone: no run at a wall time the gap swallowed.
        assert wall.replace(tzinfo=None).replace(tzinfo=tz, fold=wall.fold).astimezone(UTC) == run
        assert schedule.in_window(run)
