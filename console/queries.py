"""What the console asks of the read models: the store's own queries, plus aggregates and paging in SQL.

The store's `transfers()` returns every matching record with its attempts (one query per record), which suits
the CLI. A console page and a Prometheus scrape want counts, percentiles and one page of fifty: those run as
GROUP BY / LIMIT queries on the same database (SQLite, or PostgreSQL through the store's connection), in one
read transaction of the store's connection (after
following `current`, so a replay's switch is seen at once). Records are still shaped by `store.transfer()`, so
the console and the CLI show the same thing.
"""

from __future__ import annotations

import math
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from projections.apply import STATES
from projections.store import ProjectionStore, iso, tenant_scope

# Outcome states that end an attempt well; their first one after a request is its "done" time.
DONE_STATES = ("succeeded", "skipped")
# Events that say a part of the pipeline could not do its job (besides the transfer failures).
TROUBLE_EVENTS = ("ObservationFailed", "DeadLetter")


@dataclass
class TransferFilter:
    """The transfer log's filters, as given in the query string."""

    tenant: str | None = None
    company: str | None = None
    kind: str | None = None
    state: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    text: str | None = None  # part of a Severa/Procountor number or id, or of a request id

    def sql(self) -> tuple[str, list[Any]]:
        where: list[str] = []
        args: list[Any] = []
        for column in ("company", "kind", "state"):
            value = getattr(self, column)
            if value:
                where.append(f"{column}=?")
                args.append(value)
        if self.tenant:  # with its companies' purchase imports, as everywhere (projections/store.py)
            condition, tenant_args = tenant_scope(self.tenant)
            where.append(condition)
            args += tenant_args
        if self.since is not None:
            where.append("updated_at >= ?")
            args.append(_ms(self.since))
        if self.until is not None:
            where.append("updated_at < ?")
            args.append(_ms(self.until))
        if self.text:
            pattern = "%" + like_escape(self.text.strip()) + "%"
            where.append("(" + " OR ".join(f"{c} LIKE ? ESCAPE '\\'" for c in (
                "source_number", "target_number", "source_id", "target_id", "request_id")) + ")")
            args += [pattern] * 5
        return (" WHERE " + " AND ".join(where)) if where else "", args


@dataclass
class Page:
    items: list[dict[str, Any]]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    def as_json(self) -> dict[str, Any]:
        return {"total": self.total, "page": self.page, "per_page": self.per_page, "pages": self.pages,
                "items": self.items}


@dataclass
class Latency:
    """Request → first succeeded/skipped outcome, in seconds."""

    count: int = 0
    p50: float | None = None
    p95: float | None = None
    max: float | None = None
    samples: list[float] = field(default_factory=list, repr=False)

    def as_json(self) -> dict[str, Any]:
        return {"count": self.count, "p50_seconds": self.p50, "p95_seconds": self.p95, "max_seconds": self.max}


def like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def percentile(sorted_values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile (no interpolation: every figure shown is a latency that happened)."""
    if not sorted_values:
        return None
    rank = math.ceil(fraction * len(sorted_values) - 1e-9)
    return sorted_values[min(max(rank, 1), len(sorted_values)) - 1]


def _ms(value: datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp() * 1000)


class ConsoleQueries:
    """Read-only queries for one projection folder. Safe to share between threads: each thread gets its own
    store (SQLite connections belong to the thread that opened them)."""

    def __init__(self, root: Path | str) -> None:
        self.root = root
        self._local = threading.local()

    @property
    def store(self) -> ProjectionStore:
        store = getattr(self._local, "store", None)
        if store is None:
            store = self._local.store = ProjectionStore(self.root)
        return store

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self.store.snapshot() as db:
            yield db

    # -- the transfer log --------------------------------------------------------------------------------
    def transfer_page(self, filters: TransferFilter, page: int = 1, per_page: int = 50) -> Page:
        where, args = filters.sql()
        with self._read() as db:
            total = db.execute("SELECT COUNT(*) FROM transfers" + where, args).fetchone()[0]
            keys = db.execute("SELECT tenant, kind, source_id FROM transfers" + where
                              + " ORDER BY updated_at DESC, tenant, kind, source_id LIMIT ? OFFSET ?",
                              [*args, per_page, (page - 1) * per_page]).fetchall()
        items = [self.store.transfer(*key) for key in keys]
        return Page([i for i in items if i is not None], total, page, per_page)

    def record(self, ref: str, tenant: str | None = None) -> dict[str, Any]:
        return {"transfers": self.store.find_transfers(ref, tenant=tenant),
                "history": self.store.history(ref, tenant=tenant)}

    def id_page(self, kind: str | None = None, tenant: str | None = None, company: str | None = None,
                text: str | None = None, page: int = 1, per_page: int = 50) -> Page:
        links = self.store.id_map(kind=kind, tenant=tenant, company=company)
        if text:
            needle = text.strip().lower()
            links = [m for m in links if any(needle in (m[k] or "").lower()
                                             for k in ("severa_key", "severa_id", "procountor_id"))]
        start = (page - 1) * per_page
        return Page(links[start:start + per_page], len(links), page, per_page)

    def facets(self) -> dict[str, list[str]]:
        """The values the filters can take, for the drop-downs."""
        with self._read() as db:
            out = {column: [r[0] for r in db.execute(
                f"SELECT DISTINCT {column} FROM transfers WHERE {column} IS NOT NULL ORDER BY 1")]
                for column in ("tenant", "company", "kind")}
            out["link_kind"] = [r[0] for r in db.execute("SELECT DISTINCT kind FROM id_links ORDER BY 1")]
        out["state"] = list(STATES)
        return out

    # -- aggregates ----------------------------------------------------------------------------------------
    def state_counts(self) -> list[dict[str, Any]]:
        """Records per tenant, company, kind and state."""
        with self._read() as db:
            return [dict(r) for r in db.execute(
                "SELECT tenant, company, kind, state, COUNT(*) AS count FROM transfers"
                " GROUP BY tenant, company, kind, state ORDER BY tenant, company, kind, state")]

    def failures(self, state: str, limit: int = 50) -> tuple[int, list[dict[str, Any]]]:
        """(how many, the newest `limit`) records in a failed state, with what went wrong."""
        with self._read() as db:
            total = db.execute("SELECT COUNT(*) FROM transfers WHERE state=?", (state,)).fetchone()[0]
            rows = db.execute(
                "SELECT tenant, company, kind, source_id, source_number, target_id, attempts, error_code,"
                " error_kind, error_record, error_field, error_value, error_message, error_solution, updated_at"
                " FROM transfers WHERE state=? ORDER BY updated_at DESC, tenant, kind, source_id LIMIT ?",
                (state, limit)).fetchall()
        return total, [dict(r) | {"updated_at": iso(r["updated_at"])} for r in rows]

    def failures_by_code(self) -> list[dict[str, Any]]:
        """Records failed now, per kind and error code."""
        with self._read() as db:
            return [dict(r) for r in db.execute(
                "SELECT kind, state, COALESCE(error_code, '') AS code, COUNT(*) AS count FROM transfers"
                " WHERE state LIKE 'failed-%' GROUP BY kind, state, code ORDER BY count DESC, kind, code")]

    def oldest_pending(self) -> dict[str, Any] | None:
        """The record pending longest (a stuck worker shows here first)."""
        with self._read() as db:
            row = db.execute("SELECT tenant, kind, source_id, source_number, updated_at FROM transfers"
                             " WHERE state='pending' ORDER BY updated_at, tenant, kind, source_id LIMIT 1").fetchone()
        return dict(row) | {"updated_at": iso(row["updated_at"])} if row else None

    def activity(self, since: datetime) -> dict[str, int]:
        """Requests, outcomes by state and trouble events at or after `since`."""
        at = _ms(since)
        with self._read() as db:
            out = {"requests": db.execute("SELECT COUNT(*) FROM requests WHERE requested_at >= ?",
                                          (at,)).fetchone()[0]}
            for row in db.execute("SELECT state, COUNT(*) FROM outcomes WHERE occurred_at >= ? AND state IN"
                                  " ('succeeded', 'skipped', 'failed_transient', 'failed_config', 'failed_data')"
                                  " GROUP BY state",
                                  (at,)):
                out[row[0]] = row[1]
            for row in db.execute("SELECT record_name, COUNT(*) FROM events WHERE occurred_at >= ? AND record_name"
                                  f" IN ({','.join('?' * len(TROUBLE_EVENTS))}) GROUP BY record_name",
                                  (at, *TROUBLE_EVENTS)):
                out[row[0]] = row[1]
        return out

    def event_totals(self) -> tuple[list[tuple[str, int]], list[tuple[str, str, int]]]:
        """All-time (kind, requests) and (kind, terminal outcome state, outcomes)."""
        with self._read() as db:
            requests = db.execute("SELECT kind, COUNT(*) FROM requests GROUP BY kind ORDER BY kind").fetchall()
            outcomes = db.execute("SELECT kind, state, COUNT(*) FROM outcomes WHERE state IN ('succeeded',"
                                  " 'skipped', 'failed_transient', 'failed_config', 'failed_data') GROUP BY kind, state"
                                  " ORDER BY kind, state").fetchall()
        return [tuple(r) for r in requests], [tuple(r) for r in outcomes]  # type: ignore[misc]

    def latency(self, since: datetime | None = None) -> Latency:
        """Request → its first succeeded (or skipped) outcome, for requests made at or after `since`."""
        sql = ("SELECT (MIN(o.occurred_at) - q.requested_at) / 1000.0 FROM requests q JOIN outcomes o"
               " ON o.request_id = q.request_id AND o.state IN ('succeeded', 'skipped')")
        args: list[Any] = []
        if since is not None:
            sql += " WHERE q.requested_at >= ?"
            args.append(_ms(since))
        with self._read() as db:
            samples = sorted(max(0.0, r[0]) for r in db.execute(sql + " GROUP BY q.request_id", args))
        if not samples:
            return Latency()
        return Latency(len(samples), percentile(samples, 0.5), percentile(samples, 0.95), samples[-1], samples)

    def projector(self) -> dict[str, Any]:
        """Which version is read, how far the projector got, and its counters."""
        store = self.store
        store.reopen_current()
        with self._read() as db:
            last_event = db.execute("SELECT MAX(occurred_at) FROM events").fetchone()[0]
            rejected = db.execute("SELECT COUNT(*) FROM rejected").fetchone()[0]
        offsets = store.offsets()
        return {"version": store.version, "path": str(store.path), "meta": store.meta(),
                "counters": store.counters(), "rejected": rejected, "last_event_at": iso(last_event),
                "offsets": [{"topic": t, "partition": p, "offset": o} for (t, p), o in sorted(offsets.items())]}

    def overview(self, now: datetime) -> dict[str, Any]:
        data_total, data_failures = self.failures("failed-data")
        transient_total, transient_failures = self.failures("failed-transient", limit=20)
        config_total, config_failures = self.failures("failed-config", limit=20)
        return {
            "now": now.isoformat(timespec="seconds"),
            "counts": self.state_counts(),
            "failed_data": {"total": data_total, "items": data_failures},
            "failed_config": {"total": config_total, "items": config_failures},
            "failed_transient": {"total": transient_total, "items": transient_failures},
            "failures_by_code": self.failures_by_code(),
            "oldest_pending": self.oldest_pending(),
            "activity": {"last_hour": self.activity(now - timedelta(hours=1)),
                         "last_24h": self.activity(now - timedelta(hours=24))},
            "latency": {"last_24h": self.latency(now - timedelta(hours=24)).as_json(),
                        "all_time": self.latency().as_json()},
            "projector": self.projector(),
        }
