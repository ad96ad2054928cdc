"""The read models in SQLite: transfer log, ID map, per-record history, and the offsets they were built from.

Why SQLite by default: the projector is one process (it reads every partition itself), the read side is a CLI
and the agents on the same host, and the state and the offsets it was built from must be written in ONE
transaction. SQLite gives that atomicity with no server to run, WAL mode lets readers read while the projector
writes, and a version is one file, so a replay can build a new one beside the live one and switch a pointer.
PostgreSQL would be the choice for several hosts reading over the network; the SQL here is plain enough to
port, and projections/postgres.py runs them on PostgreSQL when `SEVPRO_READ_MODEL_URL` names a database
(README, "Read models on PostgreSQL").
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, cast

from projections import postgres, versions
from projections.apply import (
    OUTCOME_REF_COLUMNS,
    Forgotten,
    TransferKey,
    apply_events,
    forget_person,
    millis,
    outcome_refs,
    recompute_transfers,
    snapshot_texts,
)
from schemas import topics
from schemas.codec import CodecError, decode


# `sevpro forget` writes a tombstone (key tenant/<user guid>, no value) to this compacted topic.
def person_topic() -> str:
    """The compacted topic of the Severa users, under the deployment's prefix (named when asked: the prefix is
    set at start)."""
    return topics.observed("severa", "user")

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS applied_offsets(
  topic TEXT NOT NULL, partition INTEGER NOT NULL, offset INTEGER NOT NULL, PRIMARY KEY(topic, partition));
CREATE TABLE IF NOT EXISTS counters(name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS rejected(
  topic TEXT, partition INTEGER, offset INTEGER, reason TEXT, PRIMARY KEY(topic, partition, offset));
CREATE TABLE IF NOT EXISTS events(
  record_name TEXT NOT NULL, event_id TEXT NOT NULL, topic TEXT, partition INTEGER, offset INTEGER,
  tenant TEXT, company TEXT, kind TEXT, occurred_at INTEGER, correlation_id TEXT, causation_id TEXT,
  summary TEXT, payload TEXT, snapshot_ref TEXT, PRIMARY KEY(record_name, tenant, event_id));
CREATE INDEX IF NOT EXISTS events_correlation ON events(correlation_id);
CREATE INDEX IF NOT EXISTS events_tenant ON events(tenant, occurred_at);
CREATE TABLE IF NOT EXISTS event_refs(
  record_name TEXT NOT NULL, event_id TEXT NOT NULL, tenant TEXT, realm TEXT NOT NULL, ref TEXT NOT NULL,
  PRIMARY KEY(record_name, tenant, event_id, realm, ref));
CREATE INDEX IF NOT EXISTS event_refs_ref ON event_refs(ref, realm);
CREATE TABLE IF NOT EXISTS requests(
  request_id TEXT PRIMARY KEY, tenant TEXT, company TEXT, kind TEXT, source_id TEXT, source_number TEXT,
  source_version TEXT, reason TEXT, requested_at INTEGER, correlation_id TEXT, causation_id TEXT, snapshot TEXT,
  snapshot_ref TEXT);
CREATE INDEX IF NOT EXISTS requests_record ON requests(tenant, kind, source_id);
CREATE TABLE IF NOT EXISTS outcomes(
  event_id TEXT PRIMARY KEY, request_id TEXT, tenant TEXT, company TEXT, kind TEXT, source_id TEXT,
  source_number TEXT, source_version TEXT, attempt INTEGER, state TEXT, step TEXT, target_id TEXT,
  target_number TEXT, adopted INTEGER, error TEXT, occurred_at INTEGER, note TEXT, warning TEXT);
CREATE INDEX IF NOT EXISTS outcomes_request ON outcomes(request_id);
CREATE INDEX IF NOT EXISTS outcomes_source ON outcomes(source_id);
CREATE INDEX IF NOT EXISTS outcomes_source_number ON outcomes(source_number) WHERE source_number IS NOT NULL;
CREATE INDEX IF NOT EXISTS outcomes_target ON outcomes(target_id) WHERE target_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS outcomes_target_number ON outcomes(target_number) WHERE target_number IS NOT NULL;
CREATE TABLE IF NOT EXISTS transfers(
  tenant TEXT NOT NULL, kind TEXT NOT NULL, source_id TEXT NOT NULL, company TEXT, source_number TEXT,
  source_version TEXT, request_id TEXT, reason TEXT, state TEXT, target_id TEXT, target_number TEXT,
  adopted INTEGER, attempts INTEGER, error_code TEXT, error_kind TEXT, error_record TEXT, error_field TEXT,
  error_value TEXT, error_message TEXT, error_solution TEXT, first_requested_at INTEGER, updated_at INTEGER,
  note TEXT, warning TEXT, PRIMARY KEY(tenant, kind, source_id));
CREATE INDEX IF NOT EXISTS transfers_state ON transfers(state, updated_at);
CREATE TABLE IF NOT EXISTS id_links(
  tenant TEXT NOT NULL, company TEXT NOT NULL, kind TEXT NOT NULL, severa_key TEXT NOT NULL, severa_id TEXT,
  procountor_id TEXT NOT NULL, created INTEGER, event_id TEXT, occurred_at INTEGER,
  PRIMARY KEY(tenant, company, kind, severa_key));
CREATE INDEX IF NOT EXISTS id_links_severa_id ON id_links(severa_id);
CREATE TABLE IF NOT EXISTS snapshots(
  tenant TEXT NOT NULL, hash TEXT NOT NULL, text TEXT NOT NULL, PRIMARY KEY(tenant, hash));
CREATE TABLE IF NOT EXISTS forgotten(
  tenant TEXT NOT NULL, severa_id TEXT NOT NULL, forgotten_at INTEGER, PRIMARY KEY(tenant, severa_id));
"""
# Columns added after a version of the tables was released: (table, column, type). Old events carry none of
# them, so adding the empty column to an existing version gives what a replay would build.
# Version 3 keeps each snapshot once, in `snapshots` (by tenant and hash of its text), named by `snapshot_ref`
# from the events and requests that carry it; rows of version 2 keep their own copy (events.payload's
# "snapshot", requests.snapshot), and reading gives the same for both, so an older file needs no rebuild (a
# replay writes every row the new way).
# Since then, outcomes have no rows in `event_refs`: their refs are read from their rows in `outcomes` (indexed by
# each column that holds one). The same tables, so the same schema version: the outcome rows of `event_refs` an
# older file has answer the same, and it needs no rebuild (its new indexes are created when it is opened).
ADDED_COLUMNS = (("outcomes", "note", "TEXT"), ("transfers", "note", "TEXT"), ("outcomes", "warning", "TEXT"),
                 ("transfers", "warning", "TEXT"), ("events", "snapshot_ref", "TEXT"),
                 ("requests", "snapshot_ref", "TEXT"))
SCHEMA_VERSION = "3"
_TABLES = postgres.tables_of(SCHEMA)
# Indexes for the readers only: a replay's build (read by nobody before its switch; it reads by primary key, by
# record and by request) creates them once at its end, in finish_build(), from sorted entries instead of an insert
# at a random place in each for every row (100,008 events: about 0.3 CPU s).
BUILT_AT_THE_END = ("events_correlation", "events_tenant", "event_refs_ref", "outcomes_request",
                    "outcomes_source_number", "outcomes_target", "outcomes_target_number", "transfers_state",
                    "id_links_severa_id")


def _index_statements(built_at_the_end: bool) -> str:
    """The statements of SCHEMA that create the indexes BUILT_AT_THE_END (True), or all the others (False)."""
    return "\n".join(line for line in SCHEMA.splitlines()
                     if any(f" {name} ON " in line for name in BUILT_AT_THE_END) == built_at_the_end)
# The tables that make up the read models (not the bookkeeping), compared entry by entry after a replay.
MODEL_TABLES = {
    "transfers": "tenant, kind, source_id",
    "outcomes": "event_id",
    "requests": "request_id",
    "id_links": "tenant, company, kind, severa_key",
    "events": "record_name, tenant, event_id",
    "snapshots": "tenant, hash",
}


class RawRecord(Protocol):
    """What the store needs of a Kafka record (aiokafka's ConsumerRecord has it)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


@dataclass
class BatchResult:
    records: int = 0
    applied: int = 0
    duplicates: int = 0
    undecodable: int = 0
    offsets: dict[tuple[str, int], int] = field(default_factory=dict)


def default_db_path() -> Path:
    """`<project home>/projections`, the folder of versions; `SEVPRO_HOME` moves the project home."""
    from foundation.paths import project_home

    return project_home() / "projections"


READ_MODEL_URL = "SEVPRO_READ_MODEL_URL"
# A replay's build leaves the transfer-log rows of at most this many records for later (its memory stays bounded).
UNFINISHED_AT_MOST = 50_000


def read_models_at(root: Path | str | None = None) -> Path | str:
    """Where the read models live: `root` when given (a folder of SQLite versions, or a postgresql:// URL), else
    the PostgreSQL database `SEVPRO_READ_MODEL_URL` names, else SQLite under the project home."""
    if root is None:
        root = os.environ.get(READ_MODEL_URL, "").strip() or default_db_path()
        if isinstance(root, str) and not postgres.is_url(root):
            raise ValueError(f"{READ_MODEL_URL} is not a PostgreSQL URL (it starts {root.split(':')[0]!r}, not"
                             " postgresql://user@host:5432/database); leave it unset for SQLite")
    return root if postgres.is_url(root) else Path(root)


def iso(ms: int | None) -> str | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


def _since_ms(value: datetime | int | None) -> int | None:
    if isinstance(value, datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return millis(value)


class ProjectionStore:
    """One version of the read models. With `follow` (readers), every query first follows the `current` pointer,
    so a replay's switch is seen at once; the projector opens a fixed version and switches explicitly."""

    def __init__(self, root: Path | str | None = None, *, version: int | None = None, follow: bool | None = None,
                 building: bool = False):
        self.root = read_models_at(root)
        # A replay's new version, read by nobody before the switch: the transfer-log rows of the records a batch
        # touched are computed later, in one go (a record's request and outcomes are on different topics, so a
        # replay meets most records in two or more batches), at the latest by finish_build() before the switch.
        self.building = building
        self._unfinished: set[TransferKey] = set()
        self.on_postgres = isinstance(self.root, str)
        if isinstance(self.root, Path):
            self.root.mkdir(parents=True, exist_ok=True)
        self.follow = version is None if follow is None else follow
        if version is None:
            version = versions.current_version(self.root)
            if version is None:  # first start: version 1 becomes current
                version = versions.reserve_next(self.root)
                self._open(version)
                versions.switch_to(self.root, version)
                return
        self._open(version)

    # -- connection and versions ---------------------------------------------------------------------------
    def _open(self, version: int) -> None:
        self.version = version
        if isinstance(self.root, str):
            self._open_postgres(self.root, version)
            return
        self.path: Path | str = versions.version_path(self.root, version)
        # Autocommit mode: transactions are begun and committed explicitly, so one batch is one transaction.
        self.db = sqlite3.connect(self.path, isolation_level=None, timeout=30.0)
        self.db.row_factory = sqlite3.Row
        # 16 KiB pages for a new version (an existing one keeps its own): an event with a snapshot (about 4.5 KB)
        # fits in a page instead of spilling into a mostly empty overflow page, and each commit writes fewer,
        # fuller pages (a replay of 100,000 events: about 15 % less CPU).
        self.db.execute("PRAGMA page_size=16384")
        # A replay's build, read by nobody before its switch, keeps its rollback journal in memory: WAL would
        # write every page twice (into the log, then into the file at each checkpoint). finish_build() turns
        # WAL on before the switch; a build that dies midway is never switched to.
        self.db.execute("PRAGMA journal_mode=MEMORY" if self.building else "PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode survives a killed process (only power loss may drop the last commits, and then
        # state and offsets go back together). A build's commits are not synced (OFF): a build that dies, even
        # with the machine, is never switched to; finish_build() syncs the whole file once, before the switch
        # (100,008 events: about 0.3 CPU s less).
        self.db.execute("PRAGMA synchronous=OFF" if self.building else "PRAGMA synchronous=NORMAL")
        self.db.executescript(_index_statements(False) if self.building else SCHEMA)
        for table, column, kind in ADDED_COLUMNS:
            if column not in {row[1] for row in self.db.execute(f"PRAGMA table_info({table})")}:
                self.db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
        self.db.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,))

    def _open_postgres(self, url: str, version: int) -> None:
        schema = postgres.schema_of(version)
        self.path = f"{postgres.safe_url(url)} (schema {schema})"
        # The SQLite statements run through a translating connection that speaks the same interface.
        self.db = cast(sqlite3.Connection, postgres.Connection(url, _TABLES))
        present = {tuple(r) for r in self.db.execute("SELECT table_name, column_name FROM information_schema.columns"
                                                     " WHERE table_schema=?", (schema,))}
        if present >= {(table, column) for table, columns, *_ in _TABLES for column in columns}:
            # Complete already: readers need no more than read access (GRANT pg_read_all_data TO ...).
            self.db.execute(f"SET search_path TO {schema}")
            return
        self.db.execute("BEGIN")
        try:
            self.db.execute("SELECT pg_advisory_xact_lock(hashtext(?))", (schema,))  # one creator at a time
            self.db.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            self.db.execute(f"SET search_path TO {schema}")
            for statement in postgres.ddl(_index_statements(False) if self.building else SCHEMA).split(";"):
                if statement.strip():
                    self.db.execute(statement)
            for table, column, kind in ADDED_COLUMNS:
                self.db.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {postgres.ddl(column + ' ' + kind)}")
            self.db.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
        except BaseException:
            self.db.execute("ROLLBACK")
            self.db.close()
            raise
        self.db.execute("COMMIT")

    def _current_version(self) -> int | None:
        if self.on_postgres:  # on the open connection: readers ask before every query
            return postgres.pointer(cast(postgres.Connection, self.db))
        return versions.current_version(self.root)

    def _begin_write(self) -> None:
        """A write transaction; writers of one version take turns (SQLite: the database lock)."""
        def begin() -> None:
            if self.on_postgres:
                self.db.execute("BEGIN")
                self.db.execute("SELECT pg_advisory_xact_lock(hashtext(current_schema()))")
            else:
                self.db.execute("BEGIN IMMEDIATE")
        self._begin(begin)

    def _begin(self, begin: Callable[[], None]) -> None:
        """Begin a transaction; on PostgreSQL once more on a new connection when the server dropped the old one (a
        restart, a fail-over, an idle time-out): nothing was done in it yet, so beginning again is safe."""
        try:
            begin()
        except Exception:
            if not (self.on_postgres and postgres.lost(self.db)):
                raise
            self.db.close()
            self._open(self.version)
            begin()

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> ProjectionStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def is_current(self) -> bool:
        return self._current_version() == self.version

    def reopen_current(self) -> bool:
        """Switch to the version `current` names; True when that changed anything."""
        current = self._current_version()
        if current is None or current == self.version:
            return False
        self.db.close()
        self._open(current)
        return True

    @contextmanager
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """One consistent snapshot for a query that reads several tables (of the current version when following)."""
        def begin() -> None:
            if self.follow:
                self.reopen_current()
            self.db.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" if self.on_postgres else "BEGIN")
        self._begin(begin)
        try:
            yield self.db
        finally:
            self.db.execute("COMMIT")

    # -- writing -------------------------------------------------------------------------------------------
    def apply_records(self, records: Iterable[RawRecord]) -> BatchResult:
        """Apply a batch and record its offsets in ONE transaction: a crash keeps both or neither."""
        result = BatchResult()
        self._begin_write()
        try:
            batch = []
            forgotten: list[tuple[str, str]] = []
            for record in records:
                result.records += 1
                key = (record.topic, record.partition)
                result.offsets[key] = max(result.offsets.get(key, -1), record.offset)
                if record.value is None and record.topic == person_topic() and record.key:
                    tenant, _, person = record.key.decode().partition("/")  # `sevpro forget`'s tombstone
                    forgotten.append((tenant, person))
                    continue
                try:
                    name, event = decode(record.value)  # type: ignore[arg-type]
                except CodecError as exc:
                    result.undecodable += 1
                    self.db.execute("INSERT OR IGNORE INTO rejected VALUES (?,?,?,?)",
                                    (record.topic, record.partition, record.offset, str(exc)[:500]))
                    continue
                batch.append((name, event, record.topic, record.partition, record.offset))
            applied = apply_events(self.db, batch, recompute=not self.building)
            result.applied, result.duplicates = applied.applied + len(forgotten), applied.duplicates
            if self.building:
                self._unfinished |= applied.changed
            if forgotten or len(self._unfinished) >= UNFINISHED_AT_MOST:
                self._finish_transfers()  # a forget redacts the rows as they are, as the live projector's would
            for tenant, person in forgotten:  # after the batch: also the person's versions read with it go
                forget_person(self.db, tenant, person)
            self.db.executemany(
                "INSERT INTO applied_offsets VALUES (?,?,?) ON CONFLICT(topic, partition) DO UPDATE"
                " SET offset=max(offset, excluded.offset)",
                [(topic, partition, offset) for (topic, partition), offset in result.offsets.items()])
            for name in ("records", "applied", "duplicates", "undecodable"):
                self.db.execute("INSERT INTO counters VALUES (?, ?) ON CONFLICT(name) DO UPDATE"
                                " SET value=value+excluded.value", (name, getattr(result, name)))
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")
        return result

    def _finish_transfers(self) -> None:
        """Compute the transfer-log rows a build left for later (inside the caller's transaction)."""
        keys = sorted(self._unfinished)
        for start in range(0, len(keys), 500):  # the rows of a few hundred records in memory at a time
            recompute_transfers(self.db, keys[start:start + 500])
        self._unfinished.clear()

    def finish_build(self) -> None:
        """Complete a replay's version (the transfer-log rows left for later, the indexes for the readers) in one
        transaction; from here on every batch updates its rows at once, as the live projector does."""
        self._begin_write()
        try:
            self._finish_transfers()
            for statement in _index_statements(True).splitlines():
                self.db.execute(postgres.ddl(statement) if self.on_postgres else statement)
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")
        if not self.on_postgres:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            with open(self.path, "rb") as written:  # every page the build wrote on disk before anyone reads it
                os.fsync(written.fileno())
        self.building = False

    def forget_person(self, tenant: str, severa_id: str) -> Forgotten:
        """Remove a Severa user from this version of the read models (see projections.apply.forget_person)."""
        self._begin_write()
        try:
            self._finish_transfers()
            removed = forget_person(self.db, tenant, severa_id)
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")
        return removed

    def forgotten(self) -> list[tuple[str, str]]:
        """(tenant, Severa user guid) of every person forgotten, to carry into a replay's new version."""
        with self.snapshot() as db:
            return [(r[0], r[1]) for r in db.execute("SELECT tenant, severa_id FROM forgotten ORDER BY 1, 2")]

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    # -- bookkeeping ---------------------------------------------------------------------------------------
    def offsets(self) -> dict[tuple[str, int], int]:
        """The last applied offset of every partition read so far."""
        with self.snapshot() as db:
            return {(r["topic"], r["partition"]): r["offset"] for r in db.execute("SELECT * FROM applied_offsets")}

    def counters(self) -> dict[str, int]:
        with self.snapshot() as db:
            return {r["name"]: r["value"] for r in db.execute("SELECT * FROM counters")}

    def event_count(self, upto: dict[tuple[str, int], int] | None = None) -> int:
        """The events held; with `upto`, only those at or before these offsets (all of a partition not in it)."""
        with self.snapshot() as db:
            rows = db.execute("SELECT topic, partition, offset FROM events").fetchall()
        if upto is None:
            return len(rows)
        return sum(1 for topic, partition, offset in rows
                   if offset is None or offset <= upto.get((topic, partition), offset))

    def meta(self) -> dict[str, str]:
        with self.snapshot() as db:
            return {r["key"]: r["value"] for r in db.execute("SELECT * FROM meta")}

    # -- transfer log --------------------------------------------------------------------------------------
    def transfer(self, tenant: str, kind: str, source_id: str) -> dict[str, Any] | None:
        """One record's transfer-log entry with its attempts, or None."""
        with self.snapshot() as db:
            row = db.execute("SELECT * FROM transfers WHERE tenant=? AND kind=? AND source_id=?",
                             (tenant, kind, source_id)).fetchone()
            return _transfer(db, row) if row else None

    def transfers(self, company: str | None = None, kind: str | None = None, state: str | None = None,
                  since: datetime | None = None, until: datetime | None = None,
                  tenant: str | None = None) -> list[dict[str, Any]]:
        """The transfer log, newest first. The period [since, until) applies to the record's last event."""
        where, args = _scoped(tenant, company=company, kind=kind, state=state)
        if since is not None:
            where.append("updated_at >= ?")
            args.append(_since_ms(since))
        if until is not None:
            where.append("updated_at < ?")
            args.append(_since_ms(until))
        sql = "SELECT * FROM transfers" + (" WHERE " + " AND ".join(where) if where else "")
        with self.snapshot() as db:
            rows = db.execute(sql + " ORDER BY updated_at DESC, tenant, kind, source_id", args).fetchall()
            return [_transfer(db, row) for row in rows]

    def find_transfers(self, ref: str, tenant: str | None = None) -> list[dict[str, Any]]:
        """Records whose Severa id or number, Procountor id or number, or request id is `ref`."""
        sql = ("SELECT * FROM transfers WHERE (source_id=?1 OR source_number=?1 OR target_id=?1 OR target_number=?1"
               " OR request_id=?1 OR EXISTS (SELECT 1 FROM requests q WHERE q.request_id=?1 AND q.tenant="
               "transfers.tenant AND q.kind=transfers.kind AND q.source_id=transfers.source_id))")
        args: list[Any] = [ref]
        if tenant:
            condition, tenant_args = tenant_scope(tenant)
            sql += " AND " + condition
            args += tenant_args
        with self.snapshot() as db:
            return [_transfer(db, row) for row in db.execute(sql + " ORDER BY tenant, kind, source_id", args)]

    def request(self, request_id: str) -> dict[str, Any] | None:
        """A TransferRequested as applied (with its snapshot), or None."""
        with self.snapshot() as db:
            row = db.execute("SELECT * FROM requests WHERE request_id=?", (request_id,)).fetchone()
            return _requests(db, [row])[0] if row else None

    def requests_of(self, tenant: str, kind: str, source_id: str) -> list[dict[str, Any]]:
        with self.snapshot() as db:
            return _requests_of(db, tenant, kind, source_id)

    def transfer_and_requests(self, tenant: str, kind: str, source_id: str) -> tuple[dict[str, Any] | None,
                                                                                      list[dict[str, Any]]]:
        """A record's transfer-log entry and its requests, read in one snapshot: what decides on the entry's state
        and numbers a new request after the known ones must not see a request newer than that state."""
        with self.snapshot() as db:
            row = db.execute("SELECT * FROM transfers WHERE tenant=? AND kind=? AND source_id=?",
                             (tenant, kind, source_id)).fetchone()
            return (_transfer(db, row) if row else None), _requests_of(db, tenant, kind, source_id)

    def succeeded_request(self, request_id: str) -> bool:
        """True when this request already succeeded (or was skipped as done): the agent makes no API call."""
        with self.snapshot() as db:
            return db.execute("SELECT 1 FROM outcomes WHERE request_id=? AND state IN ('succeeded', 'skipped')"
                              " LIMIT 1", (request_id,)).fetchone() is not None

    # -- ID map --------------------------------------------------------------------------------------------
    def id_map(self, kind: str | None = None, tenant: str | None = None,
               company: str | None = None) -> list[dict[str, Any]]:
        where, args = _scoped(tenant, kind=kind, company=company)
        sql = "SELECT * FROM id_links" + (" WHERE " + " AND ".join(where) if where else "")
        with self.snapshot() as db:
            return [_link(r) for r in db.execute(sql + " ORDER BY tenant, company, kind, severa_key", args)]

    def lookup_id(self, tenant: str, company: str, kind: str, severa_key: str) -> str | None:
        """The Procountor id linked to a Severa key (customer number, product code, ...), or None."""
        with self.snapshot() as db:
            row = db.execute("SELECT procountor_id FROM id_links WHERE tenant=? AND company=? AND kind=?"
                             " AND severa_key=?", (tenant, company, kind, severa_key)).fetchone()
            return row["procountor_id"] if row else None

    def lookup_severa_id(self, tenant: str, kind: str, severa_id: str, company: str | None = None) -> str | None:
        """The Procountor id linked to a Severa guid, or None."""
        where, args = _filters(tenant=tenant, kind=kind, severa_id=severa_id, company=company)
        with self.snapshot() as db:
            row = db.execute("SELECT procountor_id FROM id_links WHERE " + " AND ".join(where)
                             + " ORDER BY occurred_at DESC LIMIT 1", args).fetchone()
            return row["procountor_id"] if row else None

    # -- history -------------------------------------------------------------------------------------------
    def history(self, record: str, tenant: str | None = None) -> list[dict[str, Any]]:
        """Every event that concerns a record (Severa guid, Procountor id, or number), oldest first.

        The events naming `record` are the anchors; the transfer and link events among them bridge to the
        other system's ids and to their correlation ids, whose events are included too: asking for a Severa
        invoice shows the Procountor invoice it became, and everything done in that business transaction."""
        with self.snapshot() as db:
            where, args = _scoped(tenant)
            naming = _outcomes_naming(db, record)
            anchors: set[tuple[str, str, str]] = {tuple(r) for r in db.execute(  # type: ignore[misc]
                "SELECT DISTINCT record_name, tenant, event_id FROM event_refs WHERE ref=?"
                + "".join(" AND " + w for w in where), [record, *args])}
            anchors |= {key for key, refs in naming.items() if _in_scope(key[1], tenant)
                        and any(ref == record for _, ref in refs)}
            if not anchors:
                return []
            tenants = {a[1] for a in anchors}
            linked: set[tuple[str, str]] = set()
            correlations: set[str] = set()
            for anchor in anchors:
                if anchor[0] not in ("TransferRequested", "TransferOutcome", "IdLinked"):
                    linked |= {(r["realm"], r["ref"]) for r in db.execute(
                        "SELECT realm, ref FROM event_refs WHERE record_name=? AND tenant=? AND event_id=? AND ref=?",
                        (*anchor, record))}
                    continue
                linked |= {(r["realm"], r["ref"]) for r in db.execute(
                    "SELECT realm, ref FROM event_refs WHERE record_name=? AND tenant=? AND event_id=?", anchor)}
                linked |= set(naming.get(anchor, ()))
                if anchor[0] != "IdLinked":
                    correlations |= {r[0] for r in db.execute(
                        "SELECT correlation_id FROM events WHERE record_name=? AND tenant=? AND event_id=?",
                        anchor) if r[0]}
            keys = set(anchors)
            for realm, ref in linked:
                keys |= {tuple(r) for r in db.execute(  # type: ignore[misc]
                    "SELECT record_name, tenant, event_id FROM event_refs WHERE ref=? AND realm=?", (ref, realm))
                    if r[1] in tenants}
                keys |= {key for key, refs in _outcomes_naming(db, ref).items()
                         if key[1] in tenants and (realm, ref) in refs}
            for correlation in correlations:
                keys |= {tuple(r) for r in db.execute(  # type: ignore[misc]
                    "SELECT record_name, tenant, event_id FROM events WHERE correlation_id=?", (correlation,))
                    if r[1] in tenants}
            rows = [db.execute("SELECT * FROM events WHERE record_name=? AND tenant=? AND event_id=?", key).fetchone()
                    for key in keys]
            rows.sort(key=lambda r: (r["occurred_at"] or 0, r["topic"], r["partition"], r["offset"]))
            return _events(db, rows)

    def events(self, tenant: str | None = None) -> list[dict[str, Any]]:
        """Every applied event (for export), in time order."""
        where, args = _scoped(tenant)
        sql = "SELECT * FROM events" + (" WHERE " + " AND ".join(where) if where else "")
        with self.snapshot() as db:
            return _events(db, db.execute(sql + " ORDER BY occurred_at, topic, partition, offset", args).fetchall())

    def dump(self, tenant: str | None = None) -> dict[str, list[tuple[Any, ...]]]:
        """Every read-model row, sorted: two stores built from the same events must dump equal."""
        out: dict[str, list[tuple[Any, ...]]] = {}
        with self.snapshot() as db:
            where, args = _scoped(tenant)
            condition = " WHERE " + " AND ".join(where) if where else ""
            for table, order in MODEL_TABLES.items():
                out[table] = [tuple(r) for r in db.execute(f"SELECT * FROM {table}{condition} ORDER BY {order}", args)]
        return out


def tenant_scope(tenant: str) -> tuple[str, list[Any]]:
    """The condition (and its arguments) for a tenant with its companies. A tenant's Procountor pollers publish
    as `<tenant>/<company>` (each company its own watermarks), so its purchase invoices' records carry that
    tenant: what a user or the retry asks of a tenant includes them."""
    return "(tenant=? OR substr(tenant, 1, ?)=?)", [tenant, len(tenant) + 1, f"{tenant}/"]


def _filters(**values: Any) -> tuple[list[str], list[Any]]:
    where = [f"{name}=?" for name, value in values.items() if value is not None]
    return where, [value for value in values.values() if value is not None]


def _scoped(tenant: str | None, **values: Any) -> tuple[list[str], list[Any]]:
    """`_filters` for what users (and the retry) ask: a tenant with its companies."""
    where, args = _filters(**values)
    if tenant:
        condition, tenant_args = tenant_scope(tenant)
        where.append(condition)
        args += tenant_args
    return where, args


def _requests_of(db: sqlite3.Connection, tenant: str, kind: str, source_id: str) -> list[dict[str, Any]]:
    return _requests(db, db.execute("SELECT * FROM requests WHERE tenant=? AND kind=? AND source_id=?"
                                    " ORDER BY requested_at, request_id", (tenant, kind, source_id)).fetchall())


def _in_scope(owner: str, tenant: str | None) -> bool:
    """tenant_scope in Python: no tenant asked, or this tenant or one of its companies."""
    return not tenant or owner == tenant or owner.startswith(f"{tenant}/")


_OUTCOME_REF_SQL = " UNION ".join(
    f"SELECT event_id, tenant, kind, {', '.join(OUTCOME_REF_COLUMNS)} FROM outcomes WHERE {column}=?"
    for column in OUTCOME_REF_COLUMNS)


def _outcomes_naming(db: sqlite3.Connection, ref: str) -> dict[tuple[str, str, str], list[tuple[str, str]]]:
    """{event key: its refs} of the outcomes with `ref` among their refs (in any realm): an outcome's refs are read
    from its row (apply.outcome_refs), not from event_refs (where a version written before schema 4 has them too)."""
    if ref == "":  # refs_of keeps no empty value
        return {}
    out = {}
    for row in db.execute(_OUTCOME_REF_SQL, [ref] * len(OUTCOME_REF_COLUMNS)):
        out[("TransferOutcome", row["tenant"] or "", row["event_id"])] = outcome_refs(row)
    return out


def _attempts(db: sqlite3.Connection, tenant: str, kind: str, source_id: str) -> list[dict[str, Any]]:
    """Distinct (request, attempt) with first and last time and result, in order."""
    rows = db.execute("SELECT * FROM outcomes WHERE tenant=? AND kind=? AND source_id=?"
                      " ORDER BY occurred_at, attempt, event_id", (tenant, kind, source_id)).fetchall()
    attempts: dict[tuple[str, int], dict[str, Any]] = {}
    for row in rows:
        entry = attempts.setdefault((row["request_id"], row["attempt"]), {
            "request_id": row["request_id"], "attempt": row["attempt"], "first_at": row["occurred_at"],
            "last_at": row["occurred_at"], "result": row["state"], "steps": [], "error": None, "terminal": False})
        entry["last_at"] = max(entry["last_at"], row["occurred_at"])
        if row["step"]:
            entry["steps"].append(row["step"])
        if not entry["terminal"]:  # the first terminal outcome of an attempt decides its result
            entry["result"] = row["state"]
            entry["terminal"] = row["state"] in ("succeeded", "skipped", "failed_transient", "failed_config",
                                                 "failed_data")
        if row["error"]:
            entry["error"] = json.loads(row["error"])
    out = sorted(attempts.values(), key=lambda a: (a["first_at"], a["request_id"], a["attempt"]))
    for entry in out:
        entry["first_at"], entry["last_at"] = iso(entry["first_at"]), iso(entry["last_at"])
        del entry["terminal"]
    return out


def _transfer(db: sqlite3.Connection, row: sqlite3.Row) -> dict[str, Any]:
    error = None
    if row["error_code"]:
        error = {k: row[f"error_{k}"] for k in ("code", "kind", "record", "field", "value", "message", "solution")}
    return {
        "tenant": row["tenant"], "company": row["company"], "kind": row["kind"],
        "severa_id": row["source_id"], "severa_number": row["source_number"],
        "source_version": row["source_version"], "procountor_id": row["target_id"],
        "procountor_number": row["target_number"], "adopted": bool(row["adopted"]), "state": row["state"],
        "request_id": row["request_id"], "reason": row["reason"], "note": row["note"], "warning": row["warning"],
        "attempt_count": row["attempts"],
        "attempts": _attempts(db, row["tenant"], row["kind"], row["source_id"]),
        "last_error": error, "first_requested_at": iso(row["first_requested_at"]),
        "updated_at": iso(row["updated_at"]),
    }


def _link(row: sqlite3.Row) -> dict[str, Any]:
    return {"tenant": row["tenant"], "company": row["company"], "kind": row["kind"],
            "severa_key": row["severa_key"], "severa_id": row["severa_id"], "procountor_id": row["procountor_id"],
            "created": bool(row["created"]), "event_id": row["event_id"], "linked_at": iso(row["occurred_at"])}


def _snapshots_of(db: sqlite3.Connection, rows: list[sqlite3.Row]) -> dict[tuple[str, str], str]:
    """The texts of the snapshots these rows name (rows of schema version 2 name none: they hold their own)."""
    return snapshot_texts(db, {(r["tenant"], r["snapshot_ref"]) for r in rows if r["snapshot_ref"]})


def _requests(db: sqlite3.Connection, rows: list[sqlite3.Row]) -> list[dict[str, Any]]:
    """Requests as applied, each with its snapshot's text."""
    texts = _snapshots_of(db, rows)
    out = []
    for row in rows:
        request = dict(row)
        ref = request.pop("snapshot_ref")
        if ref:
            request["snapshot"] = texts.get((row["tenant"], ref))
        out.append(request)
    return out


def _events(db: sqlite3.Connection, rows: list[sqlite3.Row]) -> list[dict[str, Any]]:
    """Events as applied, each payload with its snapshot's text, its keys in order as when it was stored whole."""
    texts = _snapshots_of(db, rows)
    out = []
    for row in rows:
        payload = json.loads(row["payload"])
        if row["snapshot_ref"]:
            payload["snapshot"] = texts.get((row["tenant"], row["snapshot_ref"]))
            payload = dict(sorted(payload.items()))
        out.append({"type": row["record_name"], "event_id": row["event_id"], "at": iso(row["occurred_at"]),
                    "tenant": row["tenant"] or None, "company": row["company"], "kind": row["kind"],
                    "correlation_id": row["correlation_id"], "causation_id": row["causation_id"],
                    "summary": row["summary"], "topic": row["topic"], "partition": row["partition"],
                    "offset": row["offset"], "payload": payload})
    return out

