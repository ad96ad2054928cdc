"""The organisation's time zone for Severa date-times without an offset (issue 12): a setting, Europe/Helsinki by
default, that the poller's sources use. The polling itself: tests/integration/pollers/test_poller_versions.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from connectors.polling import latest_reading, parse_version, repeated_hour_margin
from connectors.severa.client import SeveraClient
from connectors.severa.poller import severa_sources
from foundation.settings import Settings

HELSINKI = ZoneInfo("Europe/Helsinki")


def test_the_default_is_helsinki_and_a_deployment_sets_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().severa_time_zone == "Europe/Helsinki"
    monkeypatch.setenv("SEVPRO_SEVERA_TIME_ZONE", "Europe/Stockholm")
    assert Settings().severa_time_zone == "Europe/Stockholm"


def test_an_unknown_zone_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEVPRO_SEVERA_TIME_ZONE", "Europe/Helsingfors-ish")
    with pytest.raises(ValidationError, match="severa_time_zone") as caught:
        Settings()
    assert "not a time zone name such as Europe/Helsinki" in str(caught.value)


def test_every_incremental_severa_source_reads_naive_times_in_the_zone() -> None:
    client = SeveraClient("http://127.0.0.1:9/rest-api", "id", "secret")
    sources = [s for s in severa_sources(client, "Europe/Stockholm") if s.incremental]
    assert sources and all(s.zone == ZoneInfo("Europe/Stockholm") for s in sources)
    assert all(s.fallback_version_fields == ("createdDateTime",) and s.hash_unversioned for s in sources)


def test_naive_and_offset_versions() -> None:
    assert parse_version("2026-11-30T12:00:00", HELSINKI) == datetime(2026, 11, 30, 10, tzinfo=UTC)
    assert parse_version("2026-11-30T12:00:00Z", HELSINKI) == datetime(2026, 11, 30, 12, tzinfo=UTC)
    assert parse_version("2026-11-30T12:00:00.123+02:00", HELSINKI) == datetime(2026, 11, 30, 10, 0, 0, 123000,
                                                                                 tzinfo=UTC)
    assert parse_version("2026-11-30T12:00:00") == datetime(2026, 11, 30, 12, tzinfo=UTC)  # UTC by default
    # 03:30 on 25 Oct 2026 happens twice in Helsinki: the earlier and the later instant.
    assert parse_version("2026-10-25T03:30:00", HELSINKI) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert latest_reading("2026-10-25T03:30:00", HELSINKI) == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)


def test_a_read_starting_in_the_first_pass_of_the_repeated_hour_starts_an_hour_earlier() -> None:
    first_pass, second_pass = datetime(2026, 10, 25, 0, 30, tzinfo=UTC), datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
    assert repeated_hour_margin(first_pass, HELSINKI) == timedelta(hours=1)
    assert repeated_hour_margin(second_pass, HELSINKI) == timedelta(0)
    assert repeated_hour_margin(datetime(2026, 3, 29, 0, 30, tzinfo=UTC), HELSINKI) == timedelta(0)  # spring
    assert repeated_hour_margin(first_pass, UTC) == timedelta(0)
