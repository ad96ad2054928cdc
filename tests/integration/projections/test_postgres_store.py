"""The read models on a real PostgreSQL server (SEVPRO_READ_MODEL_URL): the same events give what SQLite gives,
versions switch atomically, and the CLI and the console read them from another process.

The server is started by the session fixture `postgres_server` (tests/postgres_server.py); every test has a
database of its own."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from console.queries import ConsoleQueries, TransferFilter
from projections import testing as ev
from projections import versions
from projections.store import ProjectionStore
from projections.testing import Feed, Record
from sandbox.runner import free_port
from schemas import topics

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[3]
TENANT = "t-pg"
USER_GUID = "0b6b8a3e-2f6e-4a57-9d0c-5f1e1f0c2a11"


def many_events() -> list[tuple]:
    """Every kind of event the read models take, with what makes stores differ: NULLs, retries, a newer link
    read before an older one, a company tenant, personal data to forget, numbers users quote."""
    events: list[tuple] = []
    for i in range(40):
        _, _, _, request = req = ev.requested(TENANT, f"inv-{i:02d}", number=str(3000 + i), seconds=i,
                                              company="acme-fi" if i % 3 else "acme-se")
        events += [req, ev.outcome(request, "attempting", attempt=1, seconds=i + 1)]
        if i % 4 == 0:
            events.append(ev.outcome(request, "failed_transient", attempt=1, seconds=i + 2,
                                     error=ev.transient_error(f"Procountor answered 503 ({i}%)")))
        elif i % 4 == 1:
            events.append(ev.outcome(request, "failed_data", attempt=1, seconds=i + 2,
                                     error=ev.data_error(value=None if i % 8 == 1 else "FI_1")))
        elif i % 4 == 2:
            events.append(ev.outcome(request, "succeeded", attempt=1, seconds=i + 2, target_id=str(9000 + i),
                                     target_number=str(i), adopted=i % 8 == 2, warning="totals differ" if i == 6
                                     else None))
        else:
            events.append(ev.outcome(request, "skipped", attempt=0, seconds=i + 2, note="unchanged"))
    _, _, _, later = later_req = ev.requested(TENANT, "inv-00", version="v2", number="3000", seconds=500,
                                              reason="reprocess")
    events += [later_req, ev.outcome(later, "succeeded", attempt=1, seconds=501, target_id="9999")]
    _, _, _, buy = buy_req = ev.requested(f"{TENANT}/FI", "buy-1", kind="purchase-invoice", number="77")
    events += [buy_req, ev.outcome(buy, "failed_transient", error=ev.transient_error())]
    events += [ev.linked(TENANT, "customer", "C-9", "400", seconds=5, severa_id="g-9"),
               ev.linked(TENANT, "customer", "C-9", "399", seconds=1, severa_id="g-9"),
               ev.linked(TENANT, "product", "P-1", "12", severa_id="g-p1", created=True),
               ev.linked(TENANT, "person", "E042", "701", severa_id=USER_GUID, created=True, seconds=2)]
    user = {"guid": USER_GUID, "firstName": "Maija", "lastName": "Meikäläinen", "code": "E042",
            "email": "maija@kumpula.example", "lastUpdatedDateTime": "2026-11-20T10:00:00Z"}
    events.append(ev.observed(TENANT, "severa", "user", USER_GUID, user, version="v1"))
    # The reimbursement's snapshot names the person: its observed version and its request share one stored text.
    claim = {"guid": "tr-1", "number": 55, "user": {"guid": USER_GUID, "email": "maija@kumpula.example"}}
    _, _, _, travel = travel_req = ev.requested(TENANT, "tr-1", kind="travel-reimbursement", number="55",
                                                snapshot=claim)
    events += [ev.observed(TENANT, "severa", "travel_reimbursement", "tr-1", claim, version="v1")]
    events += [travel_req, ev.outcome(travel, "failed_data", error=ev.data_error(
        code="MISSING_BANK_ACCOUNT", message="the bank account of user E042 (Maija Meikäläinen) is missing"))]
    return events


def records_in_batches(seed: int) -> list[list[Record]]:
    """The events as records (at-least-once: some twice, two undecodable), shuffled across topics, in batches."""
    feed = Feed()
    events = many_events()
    records = feed(*events) + feed(*events[:15])
    records.append(Record(topics.transfer_outcome("sales-invoice"), 0, 10_000, b"\x00garbage"))
    records.append(Record(topics.registry_links(), 0, 10_000, b""))
    random.Random(seed).shuffle(records)
    return [records[i:i + 7] for i in range(0, len(records), 7)]


def fill(store: ProjectionStore, seed: int = 1) -> None:
    for batch in records_in_batches(seed):
        store.apply_records(batch)
    store.forget_person(TENANT, USER_GUID)


def reads(store: ProjectionStore) -> dict:
    """Everything the CLI, the worker and the export read, for comparing two stores."""
    return {
        "dump": store.dump(), "counters": store.counters(), "offsets": sorted(store.offsets().items()),
        "log": store.transfers(), "log_tenant": store.transfers(tenant=TENANT),
        "failed": store.transfers(state="failed-data", company="acme-fi"),
        "since": store.transfers(since=datetime(2026, 11, 25, 8, 0, 20, tzinfo=UTC)),
        "history": [store.history(ref) for ref in ("inv-00", "3001", "9002", "77", USER_GUID, "C-9", "nope")],
        "find": [store.find_transfers(ref, tenant=TENANT) for ref in ("3002", "9999", "inv-03")],
        "ids": store.id_map(), "lookup": store.lookup_id(TENANT, "acme-fi", "customer", "C-9"),
        "events": store.events(TENANT), "event_count": store.event_count(), "forgotten": store.forgotten(),
        "succeeded": [store.succeeded_request(f"{TENANT}:sales-invoice:inv-{i:02d}:v1") for i in range(8)],
    }


def test_postgres_gives_what_sqlite_gives_for_the_same_events(read_model_url: str, tmp_path: Path) -> None:
    with ProjectionStore(read_model_url) as pg, ProjectionStore(tmp_path / "sqlite") as lite:
        fill(pg)
        fill(lite)
        on_postgres, on_sqlite = reads(pg), reads(lite)
        assert pg.on_postgres and not lite.on_postgres
    assert len(on_sqlite["dump"]["transfers"]) == 42 and on_sqlite["counters"]["undecodable"] == 2
    for name in on_sqlite:
        assert on_postgres[name] == on_sqlite[name], name
    for named in ("Meikäläinen", "maija@kumpula.example"):  # forgotten on PostgreSQL too, shared snapshots too
        assert named not in json.dumps(on_postgres, ensure_ascii=False), named
    assert "(forgotten person)" in pg_request_snapshot(on_postgres)


def pg_request_snapshot(reads: dict) -> str:
    """The travel reimbursement's snapshot as its history shows it (the request event's payload)."""
    return next(e["payload"]["snapshot"] for e in reads["events"] if e["type"] == "TransferRequested"
                and e["payload"]["source_id"] == "tr-1")


def test_one_record_per_transaction_gives_what_batches_give(postgres_server, tmp_path) -> None:
    """The live projector's batches are as large as Kafka hands them: their size changes nothing."""
    with ProjectionStore(postgres_server.database()) as pg:
        for batch in records_in_batches(1):
            for record in batch:
                pg.apply_records([record])
        pg.forget_person(TENANT, USER_GUID)
        one_by_one = pg.dump()
    with ProjectionStore(tmp_path / "sqlite") as lite:
        fill(lite, 1)
        assert one_by_one == lite.dump()


@pytest.mark.parametrize("together", [True, False])
def test_the_newest_link_wins_in_one_batch_or_in_two_in_either_order(postgres_server, together: bool) -> None:
    """The ID map's upsert keeps the newest link: when both arrive in one batch (one statement per row, as two
    updates of one key cannot be one statement) and when each comes alone (one statement for the batch)."""
    newer = ev.linked(TENANT, "customer", "C-9", "400", seconds=5, severa_id="g-9")
    older = ev.linked(TENANT, "customer", "C-9", "399", seconds=1, severa_id="g-9")
    for events in ((newer, older), (older, newer)):
        with ProjectionStore(postgres_server.database()) as pg:
            records = Feed()(*events)
            for batch in ([records] if together else [[r] for r in records]):
                pg.apply_records(batch + Feed()(ev.linked(TENANT, "product", f"P-{len(batch)}", "1")))
            assert pg.lookup_id(TENANT, "acme-fi", "customer", "C-9") == "400"


def test_the_console_reads_the_same_from_postgres(read_model_url: str, tmp_path: Path) -> None:
    for root in (read_model_url, tmp_path / "sqlite"):
        with ProjectionStore(root) as store:
            fill(store)
    now = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    pages = []
    for root in (read_model_url, tmp_path / "sqlite"):
        queries = ConsoleQueries(root)
        overview = queries.overview(now)
        overview["projector"].pop("path")
        pages.append((overview, queries.facets(), queries.latency().as_json(),
                      queries.transfer_page(TransferFilter(text="30_"), per_page=5).as_json(),
                      queries.transfer_page(TransferFilter(text="INV-0", state="failed-data")).as_json(),
                      queries.transfer_page(TransferFilter(tenant=TENANT), page=3, per_page=7).as_json(),
                      queries.id_page(kind="customer").as_json(), queries.record("3001")))
        queries.store.close()
    assert pages[0] == pages[1]
    assert pages[0][3]["total"] == 0 and pages[0][4]["total"] == 3  # `_` is literal; case ignored as in SQLite


def test_a_replay_on_postgres_switches_readers_at_once_and_keeps_one_previous_version(read_model_url: str) -> None:
    reader = ProjectionStore(read_model_url)
    assert reader.version == 1 and versions.current_version(read_model_url) == 1
    for expected in (2, 3):
        new = versions.reserve_next(read_model_url)
        assert new == expected and versions.reserve_next(read_model_url) == expected + 1  # claimed: never twice
        versions.remove(read_model_url, expected + 1)
        with ProjectionStore(read_model_url, version=new) as builder:
            builder.apply_records(Feed()(ev.requested(TENANT, f"x{new}")))
            assert reader.transfers() == [] or reader.version == new - 1  # never a half-built version
            versions.switch_to(read_model_url, new)
        assert reader.transfer(TENANT, "sales-invoice", f"x{new}") is not None and reader.version == new
        versions.prune(read_model_url)
    assert versions.versions(read_model_url) == [2, 3]
    with ProjectionStore(read_model_url, version=2, follow=False) as pinned:
        assert [t["severa_id"] for t in pinned.transfers()] == ["x2"]
    reader.close()


def test_readers_and_the_projector_carry_on_after_the_server_dropped_their_connections(read_model_url: str) -> None:
    """A restart or fail-over of PostgreSQL closes every connection: the next read or batch opens a new one."""
    import psycopg

    feed = Feed()
    with ProjectionStore(read_model_url) as writer, ProjectionStore(read_model_url) as reader:
        writer.apply_records(feed(ev.requested(TENANT, "before")))
        assert reader.transfer(TENANT, "sales-invoice", "before") is not None
        with psycopg.connect(read_model_url, autocommit=True) as admin:
            # Waits (up to 10 s) until each backend has exited: the next statement meets a dropped connection.
            dropped = admin.execute("SELECT count(pg_terminate_backend(pid, 10000)) FROM pg_stat_activity"
                                    " WHERE datname = current_database() AND pid <> pg_backend_pid()").fetchone()
        assert dropped is not None and dropped[0] >= 2
        writer.apply_records(feed(ev.requested(TENANT, "after")))
        assert [t["severa_id"] for t in reader.transfers(tenant=TENANT)] == ["before", "after"] or [
            t["severa_id"] for t in reader.transfers(tenant=TENANT)] == ["after", "before"]
        assert writer.offsets() == reader.offsets()


def _cli(*args: str, url: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SEVPRO_READ_MODEL_URL"} | {
        "PYTHONPATH": str(REPO), "COLUMNS": "250"}
    if url:
        env["SEVPRO_READ_MODEL_URL"] = url
    return subprocess.run([sys.executable, "-m", "sevpro.cli", *args], env=env, capture_output=True, text=True,
                          timeout=120, check=False)


def test_sevpro_log_and_show_read_postgres_from_another_process(read_model_url: str, tmp_path: Path) -> None:
    for root in (read_model_url, tmp_path / "sqlite"):
        with ProjectionStore(root) as store:
            fill(store)
    sqlite = ("--db", str(tmp_path / "sqlite"))
    for command in (("log", "--json"), ("log", "--json", "--state", "failed-data", "--tenant", TENANT),
                    ("show", "3001", "--json"), ("show", "inv-00", "--json"), ("ids", "--json")):
        on_postgres, on_sqlite = _cli(*command, url=read_model_url), _cli(*command, *sqlite)
        assert on_postgres.returncode == 0, on_postgres.stderr
        assert json.loads(on_postgres.stdout) == json.loads(on_sqlite.stdout) and json.loads(on_postgres.stdout)
    given = _cli("log", "--json", "--db", read_model_url)  # --db takes the URL too, before the variable
    assert given.returncode == 0 and json.loads(given.stdout) == json.loads(_cli("log", "--json", *sqlite).stdout)
    table = _cli("log", "--tenant", TENANT, "--state", "failed-data", url=read_model_url)
    assert table.returncode == 0 and "Business ID is not valid" in table.stdout and "Transfer log" in table.stdout
    shown = _cli("show", "3001", url=read_model_url)
    assert shown.returncode == 0 and "History" in shown.stdout and "failed_data" in shown.stdout


def test_the_cli_of_another_host_needs_read_access_only_also_after_a_replay(read_model_url: str) -> None:
    """A console or CLI host may use a role that can only read (pg_read_all_data covers the schemas replays add)."""
    import uuid

    import psycopg

    with ProjectionStore(read_model_url) as store:
        fill(store)
    role = f"reader_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(read_model_url, autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {role} LOGIN")
        admin.execute(f"GRANT pg_read_all_data TO {role}")
    reader_url = read_model_url.replace("://sevpro@", f"://{role}@")
    before = _cli("log", "--json", "--tenant", TENANT, url=reader_url)
    assert before.returncode == 0, before.stderr
    assert len(json.loads(before.stdout)) == 42
    new = versions.reserve_next(read_model_url)
    with ProjectionStore(read_model_url, version=new) as builder:
        builder.apply_records(Feed()(ev.requested(TENANT, "rebuilt")))
    versions.switch_to(read_model_url, new)
    after = _cli("log", "--json", "--tenant", TENANT, url=reader_url)
    assert after.returncode == 0, after.stderr
    assert [e["severa_id"] for e in json.loads(after.stdout)] == ["rebuilt"]


def test_a_read_model_server_that_cannot_be_reached_is_one_line_without_the_password() -> None:
    url = f"postgresql://reader:s3cret-pw@127.0.0.1:{free_port()}/models"
    result = _cli("log", url=url)
    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert "Traceback" not in output and "s3cret-pw" not in output
    assert f"postgresql://reader@127.0.0.1:{url.rsplit(':', 1)[1].split('/')[0]}/models" in output
    wrong = _cli("log", url="mysql://somewhere/db")
    assert wrong.returncode == 1 and "SEVPRO_READ_MODEL_URL" in wrong.stdout + wrong.stderr


def test_a_test_session_killed_before_its_teardown_leaves_no_postgres_running(postgres_server) -> None:
    """The server of a session that a time-out or SIGKILL ended is stopped by its watchdog, folder and all."""
    import signal
    import time

    code = ("import sys, time; sys.path.insert(0, sys.argv[1]); from tests.postgres_server import PostgresServer;"
            " s = PostgresServer(); s.start(); print(s.pid, s.folder, flush=True); time.sleep(600)")
    session = subprocess.Popen([sys.executable, "-c", code, str(REPO)], stdout=subprocess.PIPE, text=True)
    try:
        assert session.stdout is not None
        pid, folder = session.stdout.readline().split()
        assert Path(f"/proc/{pid}").exists()
        session.send_signal(signal.SIGKILL)
        session.wait(10)
        deadline = time.monotonic() + 60
        while (Path(f"/proc/{pid}").exists() or Path(folder).exists()) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not Path(f"/proc/{pid}").exists() and not Path(folder).exists()
    finally:
        session.kill()
        session.wait()
