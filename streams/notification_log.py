"""The record of error notifications: pending (waiting for their batch window) and sent, in SQLite.

It lives next to the projections (``<project home>/notifications.sqlite3``). Outcomes arrive at least once,
so every insert is keyed: the notification by its key (``data:<request id>``, ``transient:<record version>``),
a transient failure by the outcome's ``event_id``. A failure is recorded before the Kafka offset is
committed and sent later, so a worker that stops with a batch pending sends it when it starts again.
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from pathlib import Path

from streams.notification_text import Failure

_SCHEMA = """
CREATE TABLE IF NOT EXISTS notifications (
    key TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    company TEXT NOT NULL,
    record_key TEXT NOT NULL,
    failure TEXT NOT NULL,
    recorded_at REAL NOT NULL,
    sent_at REAL,
    message_id TEXT,
    claimed_at REAL,  -- a worker is sending it: another worker on this host leaves it alone
    parked TEXT  -- why no e-mail can be made of it: left out of every batch (added later: see _add_parked)
);
CREATE INDEX IF NOT EXISTS notifications_pending ON notifications (sent_at, tenant, company);
CREATE TABLE IF NOT EXISTS transient_failures (
    event_id TEXT PRIMARY KEY,
    record_key TEXT NOT NULL,
    recorded_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS transient_failures_record ON transient_failures (record_key);
CREATE TABLE IF NOT EXISTS feed_offsets (  -- the last offset the leader's feed has read, per partition
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    offset INTEGER NOT NULL,
    PRIMARY KEY (topic, partition)
);
"""

Group = tuple[str, str, str]  # tenant, company, recipient: one email each


def default_path() -> Path:
    from foundation.paths import project_home

    return project_home() / "notifications.sqlite3"


class NotificationLog:
    """Pending and sent notifications, and transient failures counted per record version."""

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path is not None else default_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None)  # autocommit; explicit BEGIN where needed
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        _add_parked(self._db)

    def count_transient(self, event_id: str, record_key: str, now: float) -> int:
        """Record one transient failure (a redelivery counts once); how many this record version has had."""
        self._db.execute("INSERT OR IGNORE INTO transient_failures VALUES (?, ?, ?)", (event_id, record_key, now))
        (count,) = self._db.execute(
            "SELECT count(*) FROM transient_failures WHERE record_key = ?", (record_key,)).fetchone()
        return int(count)

    def add(self, failure: Failure, record_key: str, now: float) -> bool:
        """Queue a notification; False when its key is known already (pending or sent)."""
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO notifications (key, tenant, company, record_key, failure, recorded_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (failure.key, failure.tenant, failure.company, record_key, json.dumps(failure.to_json()), now))
        return cursor.rowcount == 1

    def cancel_pending(self, record_key: str) -> int:
        """The record version was transferred after all: drop what was not sent yet (sent ones stay)."""
        cursor = self._db.execute(
            "DELETE FROM notifications WHERE record_key = ? AND sent_at IS NULL", (record_key,))
        return cursor.rowcount

    def pending(self) -> dict[Group, list[tuple[Failure, float]]]:
        """Unsent failures grouped by email, oldest first."""
        groups: dict[Group, list[tuple[Failure, float]]] = defaultdict(list)
        rows = self._db.execute(
            "SELECT failure, recorded_at FROM notifications WHERE sent_at IS NULL AND parked IS NULL"
            " ORDER BY recorded_at, key")
        for text, recorded_at in rows:
            failure = Failure.from_json(json.loads(text))
            groups[(failure.tenant, failure.company, failure.recipient)].append((failure, recorded_at))
        return dict(groups)

    def claim_due(self, window: float, now: float, *, force: bool = False,
                  stale_after: float = 300.0) -> dict[Group, list[Failure]]:
        """Take the batches whose window has passed, so that no other worker sharing this file sends them too.

        A claim older than ``stale_after`` seconds is a worker that died mid-send: the batch is taken again.
        """
        self._db.execute("BEGIN IMMEDIATE")
        try:
            rows = self._db.execute(
                "SELECT failure, recorded_at FROM notifications WHERE sent_at IS NULL AND parked IS NULL "
                "AND (claimed_at IS NULL OR claimed_at < ?) ORDER BY recorded_at, key", (now - stale_after,))
            groups: dict[Group, list[tuple[Failure, float]]] = defaultdict(list)
            for text, recorded_at in rows:
                failure = Failure.from_json(json.loads(text))
                groups[(failure.tenant, failure.company, failure.recipient)].append((failure, recorded_at))
            due = {group: [failure for failure, _ in entries] for group, entries in groups.items()
                   if force or entries[0][1] + window <= now}
            self._db.executemany("UPDATE notifications SET claimed_at = ? WHERE key = ?",
                                 [(now, failure.key) for failures in due.values() for failure in failures])
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        return due

    def release(self, keys: list[str]) -> None:
        """A delivery failed: the batch is pending again for the next try."""
        self._db.executemany("UPDATE notifications SET claimed_at = NULL WHERE key = ?", [(k,) for k in keys])

    def park(self, key: str, reason: str) -> None:
        """No e-mail can be made of this notification: keep it, with why, out of every batch from now on."""
        self._db.execute("UPDATE notifications SET parked = ?, claimed_at = NULL WHERE key = ?", (reason, key))

    def parked(self) -> list[dict[str, str]]:
        """Every parked notification (key, reason): for support, and `sevpro log` shows the failures anyway."""
        rows = self._db.execute("SELECT key, parked FROM notifications WHERE parked IS NOT NULL ORDER BY key")
        return [{"key": key, "reason": reason} for key, reason in rows]

    def oldest_pending(self) -> float | None:
        (oldest,) = self._db.execute(
            "SELECT min(recorded_at) FROM notifications WHERE sent_at IS NULL AND parked IS NULL").fetchone()
        return oldest

    def mark_sent(self, keys: list[str], message_id: str, now: float) -> None:
        self._db.execute("BEGIN")
        self._db.executemany("UPDATE notifications SET sent_at = ?, message_id = ?, claimed_at = NULL WHERE key = ?",
                             [(now, message_id, key) for key in keys])
        self._db.execute("COMMIT")

    def sent_elsewhere(self, tenant: str, company: str, keys: list[str], message_id: str, sent_at: float) -> None:
        """Another worker (or this one, before a restart) sent these: never queue or send them again here."""
        self._db.execute("BEGIN")
        self._db.executemany(
            "INSERT INTO notifications (key, tenant, company, record_key, failure, recorded_at, sent_at, message_id)"
            " VALUES (?, ?, ?, '', 'null', ?, ?, ?) ON CONFLICT (key) DO UPDATE SET sent_at = excluded.sent_at,"
            " message_id = excluded.message_id, claimed_at = NULL WHERE notifications.sent_at IS NULL",
            [(key, tenant, company, sent_at, sent_at, message_id) for key in keys])
        self._db.execute("COMMIT")

    def feed_offsets(self) -> dict[tuple[str, int], int]:
        return {(topic, partition): offset
                for topic, partition, offset in self._db.execute("SELECT topic, partition, offset FROM feed_offsets")}

    def save_feed_offsets(self, offsets: dict[tuple[str, int], int]) -> None:
        self._db.executemany("INSERT INTO feed_offsets VALUES (?, ?, ?) ON CONFLICT (topic, partition)"
                             " DO UPDATE SET offset = excluded.offset",
                             [(topic, partition, offset) for (topic, partition), offset in offsets.items()])

    def sent(self) -> list[dict[str, object]]:
        """Every sent notification (key, message id, when): for tests and support."""
        rows = self._db.execute(
            "SELECT key, message_id, sent_at FROM notifications WHERE sent_at IS NOT NULL ORDER BY sent_at, key")
        return [{"key": key, "message_id": message_id, "sent_at": sent_at} for key, message_id, sent_at in rows]

    def close(self) -> None:
        self._db.close()


def _add_parked(db: sqlite3.Connection) -> None:
    """A record made before notifications could be parked gets the column (two workers may race to add it)."""
    if "parked" not in {row[1] for row in db.execute("PRAGMA table_info(notifications)")}:
        try:
            db.execute("ALTER TABLE notifications ADD COLUMN parked TEXT")
        except sqlite3.OperationalError as error:
            if "duplicate column" not in str(error):
                raise
