"""The console's pure parts: percentiles, lag arithmetic, escaping helpers, durations, the CLI command."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from console.html import Safe, esc, fmt, record_url, seconds, url
from console.lag import compute_lag, measure_lag
from console.queries import like_escape, percentile
from sevpro.console_cli import app as console_cli


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 21)]  # 1..20
    assert percentile(values, 0.5) == 10 and percentile(values, 0.95) == 19 and percentile(values, 1.0) == 20
    assert percentile([7.0], 0.95) == 7 and percentile([], 0.5) is None
    assert percentile([1.0, 2.0], 0.5) == 1


def test_lag_counts_records_after_the_applied_offset() -> None:
    lag = compute_lag("b", {("t", 0): 10, ("t", 1): 5, ("u", 0): 3}, {("t", 0): 9, ("t", 1): 2})
    assert [(p["topic"], p["partition"], p["lag"]) for p in lag.partitions] == [("t", 0, 0), ("t", 1, 2), ("u", 0, 3)]
    assert lag.total == 5 and lag.as_json()["total"] == 5


async def test_an_unreachable_broker_is_reported_not_raised() -> None:
    async def fail(bootstrap: str) -> dict:
        raise TimeoutError()

    lag = await measure_lag("b:1", {}, fail)
    assert lag.error == "TimeoutError" and lag.as_json()["total"] is None


def test_escaping_helpers() -> None:
    assert esc("<a href='x'>&") == "&lt;a href=&#x27;x&#x27;&gt;&amp;"
    assert esc(Safe("<b>")) == "<b>" and esc(None) == ""
    assert fmt("<td>{v}</td>", v='"><script>') == "<td>&quot;&gt;&lt;script&gt;</td>"
    assert record_url("a/b c", "t 1") == "/records/a%2Fb%20c?tenant=t+1"
    assert url("/x", {"a": "", "b": None, "c": "1"}) == "/x?c=1"
    assert like_escape("50%_\\") == "50\\%\\_\\\\"


@pytest.mark.parametrize(("value", "text"), [(None, "–"), (2.54, "2.5 s"), (42, "42 s"), (65, "1 min 05 s"),
                                             (7260, "2 h 01 min")])
def test_durations(value: float | None, text: str) -> None:
    assert seconds(value) == text


def test_cli_command_is_named_console() -> None:
    result = CliRunner().invoke(console_cli, ["--help"])
    assert result.exit_code == 0
    for option in ("--host", "--port", "--db", "--bootstrap", "user"):
        assert option in result.output
