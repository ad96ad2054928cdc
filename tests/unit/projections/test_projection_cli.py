"""The CLI views and the Parquet export over a store fed directly (no Kafka needed to read the models)."""

from __future__ import annotations

import getpass
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from projections import testing as ev
from projections.reprocess import next_reprocess_id, original_request_id
from projections.store import ProjectionStore
from projections.testing import Feed
from sevpro.projections_cli import app

TENANT = "t-cli"
runner = CliRunner()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    feed = Feed()
    _, _, _, ok = ok_req = ev.requested(TENANT, "g-ok", number="2001")
    _, _, _, bad = bad_req = ev.requested(TENANT, "g-bad", number="2002", company="acme-se", seconds=5)
    with ProjectionStore(tmp_path / "proj") as store:
        store.apply_records(feed(
            ok_req, ev.outcome(ok, "failed_transient", seconds=1, error=ev.transient_error()),
            ev.outcome(ok, "succeeded", attempt=2, seconds=9, target_id="8001", target_number="31"),
            bad_req, ev.outcome(bad, "failed_data", seconds=6, error=ev.data_error(value="FI123")),
            ev.linked(TENANT, "customer", "C-7", "700", severa_id="g-c7"),
        ))
        _, _, _, same = same_req = ev.requested(TENANT, "g-same", number="2003", seconds=7)
        store.apply_records(feed(same_req, ev.outcome(same, "skipped", attempt=0, seconds=8, note="unchanged")))
    return tmp_path / "proj"


def test_log_json_lists_every_record_with_reason_and_solution(root: Path) -> None:
    result = runner.invoke(app, ["log", "--json", "--db", str(root)])
    assert result.exit_code == 0, result.output
    entries = {e["severa_id"]: e for e in json.loads(result.output)}
    assert set(entries) == {"g-ok", "g-bad", "g-same"}
    assert entries["g-same"]["state"] == "succeeded" and entries["g-same"]["note"] == "unchanged"
    assert entries["g-ok"]["state"] == "succeeded" and entries["g-ok"]["reason_for_failure"] is None
    assert len(entries["g-ok"]["attempts"]) == 2
    reason = entries["g-bad"]["reason_for_failure"]
    assert entries["g-bad"]["state"] == "failed-data"
    assert reason == {"code": "V001", "field": "customer.businessId", "value": "FI123",
                      "message": "Business ID is not valid", "solution": "Correct the customer's business ID in Severa"}
    filtered = json.loads(runner.invoke(app, ["log", "--json", "--db", str(root), "--state", "failed-data",
                                              "--company", "acme-se"]).output)
    assert [e["severa_id"] for e in filtered] == ["g-bad"]
    assert json.loads(runner.invoke(app, ["log", "--json", "--db", str(root), "--since", "2030-01-01"]).output) == []


def test_log_table_show_and_ids(root: Path) -> None:
    table = runner.invoke(app, ["log", "--db", str(root)], env={"COLUMNS": "250"})
    assert table.exit_code == 0 and "failed-data" in table.output and "Correct the customer" in table.output
    assert "nothing to write: unchanged" in table.output
    shown = runner.invoke(app, ["show", "2001", "--db", str(root), "--json"])
    data = json.loads(shown.output)
    assert [t["procountor_id"] for t in data["transfers"]] == ["8001"]
    assert [h["type"] for h in data["history"]] == ["TransferRequested", "TransferOutcome", "TransferOutcome"]
    assert runner.invoke(app, ["show", "8001", "--db", str(root)], env={"COLUMNS": "250"}).exit_code == 0
    assert runner.invoke(app, ["show", "no-such-thing", "--db", str(root)]).exit_code == 1
    ids = json.loads(runner.invoke(app, ["ids", "--json", "--db", str(root), "--kind", "customer"]).output)
    assert [(m["severa_key"], m["severa_id"], m["procountor_id"]) for m in ids] == [("C-7", "g-c7", "700")]
    assert "C-7" in runner.invoke(app, ["ids", "--db", str(root)]).output


def test_reprocess_dry_run_selects_by_state(root: Path) -> None:
    result = runner.invoke(app, ["reprocess", "--db", str(root), "--state", "failed-data", "--dry-run", "--json"])
    assert result.exit_code == 0, result.output
    [request] = json.loads(result.output)
    assert request["event_id"] == f"{TENANT}:sales-invoice:g-bad:v1:reprocess:1"
    assert request["reason"] == "reprocess" and request["causation_id"] == f"{TENANT}:sales-invoice:g-bad:v1"
    # Who asked is recorded for the audit: the login name, or --by.
    assert request["requested_by"] == getpass.getuser()
    result = runner.invoke(app, ["reprocess", "--db", str(root), "--state", "failed-data", "--dry-run", "--json",
                                 "--by", "alice"])
    assert [r["requested_by"] for r in json.loads(result.output)] == ["alice"]


def test_reprocess_ids() -> None:
    assert original_request_id("a:b:reprocess:3") == "a:b" and original_request_id("a:b") == "a:b"
    assert next_reprocess_id("a:b", ["a:b", "a:b:reprocess:1", "a:b:reprocess:4", "x:reprocess:9"]) == \
        "a:b:reprocess:5"


def test_export_writes_parquet(root: Path, tmp_path: Path) -> None:
    out = tmp_path / "export"
    result = runner.invoke(app, ["export", "--db", str(root), "--out", str(out)])
    assert result.exit_code == 0, result.output
    events = pq.read_table(out / "events.parquet").to_pylist()
    transfers = {t["severa_id"]: t for t in pq.read_table(out / "transfers.parquet").to_pylist()}
    assert len(events) == 8 and {e["type"] for e in events} >= {"TransferRequested", "IdLinked"}
    assert json.loads(events[0]["payload"])["event_id"] == events[0]["event_id"]
    assert transfers["g-bad"]["error_value"] == "FI123" and transfers["g-ok"]["state"] == "succeeded"
    assert transfers["g-same"]["note"] == "unchanged"
    assert pq.read_table(out / "attempts.parquet").num_rows == 4
    assert pq.read_table(out / "id_map.parquet").to_pylist()[0]["procountor_id"] == "700"


@pytest.mark.parametrize(("args", "option"), [
    (["log", "--state", "failed"], "--state"),
    (["log", "--kind", "invoice"], "--kind"),
    (["reprocess", "--dry-run", "--state", "broken"], "--state"),
])
def test_unknown_state_or_kind_is_refused_naming_the_option_and_the_choices(root: Path, args: list[str],
                                                                           option: str) -> None:
    result = runner.invoke(app, [*args, "--db", str(root)], env={"COLUMNS": "300"})
    assert result.exit_code == 2
    choice = "failed-transient" if option == "--state" else "travel-reimbursement"
    assert option in result.output and repr(args[args.index(option) + 1]) in result.output
    assert choice in result.output


def test_state_is_taken_with_underscores_as_the_events_spell_it(root: Path) -> None:
    result = runner.invoke(app, ["log", "--json", "--state", "failed_data", "--db", str(root)])
    assert result.exit_code == 0, result.output
    assert [e["severa_id"] for e in json.loads(result.output)] == ["g-bad"]


def test_an_unusable_folder_is_one_clear_line_not_a_traceback(root: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    read = runner.invoke(app, ["log", "--db", str(blocker / "projections")])
    assert read.exit_code == 1 and "Traceback" not in read.output
    assert f"the read models' folder {str(blocker / 'projections')!r} cannot be used: Not a directory" in read.output
    written = runner.invoke(app, ["export", "--db", str(root), "--out", str(blocker / "export")])
    assert written.exit_code == 1 and "Traceback" not in written.output
    assert f"the export cannot be written to {str(blocker / 'export')!r}" in written.output


@pytest.mark.parametrize("args", [["sandbox", "severa", "--port", "70000"], ["demo", "--kafka-port", "65536"],
                                  ["kafka", "up", "--port", "65535"]])
def test_a_port_out_of_range_is_refused_by_its_option(args: list[str]) -> None:
    from sevpro.cli import app as sevpro_app

    result = runner.invoke(sevpro_app, args)
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--" in result.output and "port" in result.output


@pytest.mark.parametrize("command", [["replay"], ["project"], ["reprocess", "--state", "failed-data"]])
def test_a_broker_that_cannot_be_reached_is_one_clear_line(root: Path, command: list[str]) -> None:
    from projections import versions

    current = versions.current_version(root)
    result = runner.invoke(app, [*command, "--db", str(root), "--bootstrap", "127.0.0.1:1"])
    assert result.exit_code == 1, result.output
    assert "Kafka at 127.0.0.1:1 cannot be reached" in result.output and "Traceback" not in result.output
    assert versions.current_version(root) == current  # a replay that could not start switched nothing


def test_reprocess_with_nothing_selected_looks_for_no_broker(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sevpro.kafka_broker

    def no_broker_wanted(explicit: str | None = None) -> None:
        raise AssertionError("a broker was looked for (and might have been started) with nothing to publish")

    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    monkeypatch.setattr(sevpro.kafka_broker, "find_bootstrap", no_broker_wanted)
    result = runner.invoke(app, ["reprocess", "--state", "pending", "--db", str(root)])
    assert result.exit_code == 0, result.output
    assert "0 transfer(s) requested again" in result.output


def test_the_log_table_names_each_kind_s_systems(tmp_path: Path) -> None:
    feed = Feed()
    _, _, _, sale = sale_req = ev.requested(TENANT, "g-sale", number="2001")
    _, _, _, buy = buy_req = ev.requested(f"{TENANT}/FI", "771", kind="purchase-invoice", number="771", seconds=1)
    with ProjectionStore(tmp_path / "proj") as store:
        store.apply_records(feed(
            sale_req, ev.outcome(sale, "succeeded", seconds=2, target_id="8001", target_number="31"),
            buy_req, ev.outcome(buy, "succeeded", seconds=3, target_id="fee-guid-1", target_number="2026002")))
    table = runner.invoke(app, ["log", "--db", str(tmp_path / "proj"), "--tenant", TENANT], env={"COLUMNS": "250"})
    assert table.exit_code == 0, table.output
    assert "Severa 2001" in table.output and "Procountor 8001 (no. 31)" in table.output
    assert "Procountor 771" in table.output and "Severa fee-guid-1 (no. 2026002)" in table.output


def test_a_totals_warning_shows_in_log_show_and_export(tmp_path: Path) -> None:
    feed, root = Feed(), tmp_path / "proj"
    warning = "Procountor's totals differ: VAT Severa 0.13, Procountor 0.15"
    _, _, _, odd = odd_req = ev.requested(TENANT, "g-odd", number="2004")
    _, _, _, ok = ok_req = ev.requested(TENANT, "g-ok", number="2005")
    with ProjectionStore(root) as store:
        # On the invoice step: a later failure and retry of the same request keep it on the log.
        store.apply_records(feed(odd_req, ev.outcome(odd, "step", seconds=2, step="invoice", target_id="8004",
                                                     warning=warning),
                                 ev.outcome(odd, "failed_transient", seconds=3, error=ev.transient_error()),
                                 ev.outcome(odd, "succeeded", attempt=2, seconds=4, target_id="8004"),
                                 ok_req, ev.outcome(ok, "succeeded", seconds=5, target_id="8005")))  # fmt: skip
    entries = {e["severa_id"]: e for e in json.loads(runner.invoke(app, ["log", "--json", "--db", str(root)]).output)}
    assert (entries["g-odd"]["warning"], entries["g-ok"]["warning"]) == (warning, None)
    assert f"warning: {warning}" in runner.invoke(app, ["log", "--db", str(root)], env={"COLUMNS": "250"}).output
    shown = runner.invoke(app, ["show", "2004", "--db", str(root)], env={"COLUMNS": "250"})
    assert shown.exit_code == 0 and f"warning: {warning}" in shown.output
    assert "warning" not in runner.invoke(app, ["show", "2005", "--db", str(root)], env={"COLUMNS": "250"}).output
    runner.invoke(app, ["export", "--db", str(root), "--out", str(tmp_path / "export")])
    exported = {t["severa_id"]: t for t in pq.read_table(tmp_path / "export" / "transfers.parquet").to_pylist()}
    assert exported["g-odd"]["warning"] == warning


def test_a_replay_on_sqlite_starts_without_what_it_does_not_use(tmp_path: Path) -> None:
    """`sevpro replay` (and the other read-model commands) on SQLite: no PostgreSQL driver, no registry checks, no
    API clients, no stream processor or console imported at the start (they made 0.2 of its 0.5 CPU seconds)."""
    import subprocess
    import sys

    unwanted = ("psycopg", "registry", "connectors", "streams", "faust", "console", "httpx")
    code = ("import sys, sevpro.cli, projections.replay; from projections.store import ProjectionStore;"
            f" ProjectionStore({str(tmp_path / 'proj')!r}).close();"
            f" print(sorted({{m.split('.')[0] for m in sys.modules}} & set({unwanted!r})))")
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert found.stdout.strip() == "[]", found.stdout + found.stderr


def test_a_record_requested_again_since_it_was_listed_is_not_requested_a_third_time(root: Path) -> None:
    """The accountant presses Retry twice: the second press read the record while it was still failed, and
    its requests after the projector had seen the first press's request. It is left out, not requested again
    under the next number (a second request of one press, seen in the console's test under load)."""
    from projections.reprocess import requests_again
    from schemas import topics

    with ProjectionStore(root) as store:
        listed = store.transfer(TENANT, "sales-invoice", "g-bad")
        assert listed is not None and listed["state"] == "failed-data"
        [first] = requests_again(store, [listed], "alice")  # the first press
        # ... projected before the second press reads the record's requests
        store.apply_records(Feed()((topics.transfer_requested("sales-invoice"), topics.key(TENANT, "g-bad"),
                                    "TransferRequested", first)))
        assert requests_again(store, [listed], "alice") == []
        fresh = store.transfer(TENANT, "sales-invoice", "g-bad")
        assert fresh is not None and fresh["state"] == "pending" and fresh["request_id"] == first["event_id"]
