"""How each event changes the read models. Every function runs inside the caller's SQLite transaction.

The results depend only on the set of events applied, not on the order in which different topics were read:
a request and its outcomes live on different topics, so a live projector and a replay can interleave them
differently, and the two must still agree entry by entry. Hence the transfer row is recomputed from the
stored requests and outcomes each time, and the ID map keeps the link with the newest (occurred_at, event_id).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from foundation.privacy import without_personal_data

TERMINAL = {"succeeded": "succeeded", "skipped": "succeeded", "failed_transient": "failed-transient",
            "failed_config": "failed-config", "failed_data": "failed-data"}
STATES = ("pending", "succeeded", "failed-transient", "failed-config", "failed-data")

# (system, entity) of the source and the target of each transfer kind, so that ids of different entity types
# never match each other in the history (Procountor ids are small integers shared by many registers).
KIND_REALMS: dict[str, tuple[str, str]] = {
    "sales-invoice": ("severa:invoice", "procountor:invoice"),
    "travel-reimbursement": ("severa:travel_reimbursement", "procountor:invoice"),
    "purchase-invoice": ("procountor:purchase_invoice", "severa:purchase_invoice"),
    "dimension-item": ("severa:dimension_item", "procountor:dimension"),
    "sales-invoice-payment": ("procountor:invoice", "severa:invoice"),  # a payment of a transferred invoice
}

TransferKey = tuple[str, str, str]  # (tenant, kind, source_id): one record's row in the transfer log


def systems_of(kind: str) -> tuple[str, str]:
    """(source, target) system of a transfer kind as users name them: ("Procountor", "Severa") for a purchase
    invoice, ("Severa", "Procountor") for the others."""
    source, target = KIND_REALMS.get(kind, ("severa:", "procountor:"))
    return source.split(":")[0].capitalize(), target.split(":")[0].capitalize()


LINK_REALMS: dict[str, tuple[str, str]] = {
    "customer": ("severa:customer", "procountor:business_partner"),
    "product": ("severa:product", "procountor:product"),
    "project_fee": ("severa:project_fee", "procountor:product"),
    "dimension_item": ("severa:dimension_item", "procountor:dimension"),
    "invoice": ("severa:invoice", "procountor:invoice"),
    "person": ("severa:user", "procountor:person"),
}
# Number fields of observed snapshots that users quote when they ask about a record.
SNAPSHOT_NUMBERS: dict[str, dict[str, str]] = {
    "severa:invoice": {"number": "severa:invoice#"},
    "severa:travel_reimbursement": {"number": "severa:travel_reimbursement#"},
    "procountor:invoice": {"invoiceNumber": "procountor:invoice#", "originalInvoiceNumber": "severa:invoice#"},
    "procountor:purchase_invoice": {"invoiceNumber": "procountor:purchase_invoice#"},
    "procountor:sales_invoice": {"invoiceNumber": "procountor:invoice#", "originalInvoiceNumber": "severa:invoice#"},
}


def millis(value: Any) -> int | None:
    """Avro timestamp-millis arrive as aware datetimes; the store keeps integer milliseconds (UTC)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000)
    return int(value)


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    raise TypeError(type(value).__name__)


def to_json(record: dict[str, Any]) -> str:
    """An event (or an error) as the read models keep it: JSON with sorted keys, texts unescaped, datetimes in
    ISO 8601 as isoformat() writes them. orjson: a sixth of the json module's time (a replay encodes every event)."""
    return orjson.dumps(record, default=_json_default, option=orjson.OPT_SORT_KEYS).decode()


# Records whose `snapshot` (the source's record as JSON, about 4 KB for an invoice) is kept once, in the
# `snapshots` table, and named by its hash from the event and the request row: the observed version and the
# request that carries it have the same text, so a transferred record's snapshot was written three times.
SNAPSHOT_RECORDS = ("EntityObserved", "TransferRequested")


def snapshot_hash(text: str) -> str:
    """The key of a snapshot's text in the `snapshots` table (per tenant)."""
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def snapshot_texts(db: sqlite3.Connection, wanted: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """{(tenant, hash): text} of these snapshots (a few statements, each a look-up in the primary key)."""
    wanted = set(wanted)
    tenants, hashes = sorted({t for t, _ in wanted}), sorted({h for _, h in wanted})
    out: dict[tuple[str, str], str] = {}
    for start in range(0, len(hashes), 500):
        chunk = hashes[start:start + 500]
        for owner, ref, text in db.execute(
                f"SELECT tenant, hash, text FROM snapshots WHERE tenant IN ({','.join('?' * len(tenants))})"
                f" AND hash IN ({','.join('?' * len(chunk))})", [*tenants, *chunk]):
            if (owner, ref) in wanted:
                out[(owner, ref)] = text
    return out


def _realms(kind: str) -> tuple[str, str]:
    return KIND_REALMS.get(kind, (f"source:{kind}", f"target:{kind}"))


def occurred_at(name: str, event: dict[str, Any]) -> int | None:
    field = {"TransferRequested": "requested_at", "EntityObserved": "observed_at", "PollerWatermark": "updated_at"}
    return millis(event.get(field.get(name, "occurred_at")))


def _parsed(text: str) -> Any:
    """JSON text parsed (orjson: twice as fast), or None. What orjson refuses and the json module reads (NaN, integers
    beyond 64 bits) is read by the json module, as before."""
    try:
        return orjson.loads(text)
    except ValueError:
        try:
            return json.loads(text)
        except ValueError:
            return None


def refs_of(name: str, event: dict[str, Any]) -> list[tuple[str, str]]:
    """(realm, value) pairs by which a user or auditor can find this event."""
    refs: list[tuple[str, str | None]] = []
    if name in ("TransferRequested", "TransferOutcome"):
        source, target = _realms(event["kind"])
        refs += [(source, event["source_id"]), (source + "#", event.get("source_number"))]
        refs.append(("request", event["event_id"] if name == "TransferRequested" else event["request_id"]))
        if name == "TransferOutcome":
            refs += [(target, event.get("target_id")), (target + "#", event.get("target_number"))]
    elif name == "IdLinked":
        severa, procountor = LINK_REALMS.get(event["kind"], (f"severa:{event['kind']}", f"procountor:{event['kind']}"))
        refs += [(severa, event.get("severa_id")), (severa + "#", event["severa_key"]),
                 (procountor, event["procountor_id"])]
    elif name == "NotificationSent":  # the e-mail appears in the history of every record it told about
        for notified in event["notifications"]:
            refs += [(_realms(notified["kind"])[0], notified.get("source_id")), ("request", notified["request_id"])]
    elif name in ("EntityObserved", "ObservationFailed"):
        realm = f"{event['source_system']}:{event['entity']}"
        refs.append((realm, event.get("entity_id")))
        numbers = SNAPSHOT_NUMBERS.get(realm)
        if numbers and name == "EntityObserved":
            snapshot = _parsed(event["snapshot"])
            if isinstance(snapshot, dict):
                refs += [(ref_realm, snapshot.get(field)) for field, ref_realm in numbers.items()]
    return [(realm, str(value)) for realm, value in refs if value not in (None, "")]


# The columns of an outcome's row that hold its refs (refs_of): an outcome's refs are read from its row in `outcomes`
# (store.history), not kept in `event_refs` as well. A transfer has about ten outcomes, each naming the record, its
# number and the request, as the request does: these were 24 of a transferred invoice's 37 rows of `event_refs`, a
# row in three indexed B-trees each, and the largest part of a replay's inserts.
OUTCOME_REF_COLUMNS = ("source_id", "source_number", "request_id", "target_id", "target_number")


def outcome_refs(row: Any) -> list[tuple[str, str]]:
    """refs_of an outcome, from its row in `outcomes` (kind and the OUTCOME_REF_COLUMNS)."""
    return refs_of("TransferOutcome", {"kind": row["kind"], **{column: row[column] for column in OUTCOME_REF_COLUMNS}})


def summary_of(name: str, event: dict[str, Any]) -> str:
    """One line for the history view."""
    if name == "TransferRequested":
        by = f" by {event['requested_by']}" if event.get("requested_by") else ""
        return f"transfer requested ({event.get('reason')}{by}) of version {event['source_version']}"
    if name == "TransferOutcome":
        text = f"attempt {event['attempt']}: {event['state']}"
        if event.get("step"):
            text += f" {event['step']}"
        if event.get("note"):
            text += f" ({event['note']})"
        if event.get("warning"):
            text += f" warning: {event['warning']}"
        if event.get("target_id"):
            text += f" -> Procountor {event['target_id']}" + (" (adopted)" if event.get("adopted") else "")
        error = event.get("error")
        if error:
            text += f" [{error['code']}] {error['message']}"
        return text
    if name == "IdLinked":
        how = "created" if event["created"] else "matched"
        return f"{event['kind']} {event['severa_key']} linked to Procountor {event['procountor_id']} ({how})"
    if name == "EntityObserved":
        return f"{event['source_system']} {event['entity']} observed, version {event['source_version']}"
    if name == "ObservationFailed":
        return f"{event['source_system']} {event['entity']} could not be read: {event['error']}"
    if name == "DeadLetter":
        return f"dead letter from {event['source_topic']}: {event['reason']}"
    if name == "DeadLetterRedriven":
        return f"dead letter {event['dead_letter_id']} re-driven to {event['source_topic']} by {event['redriven_by']}"
    if name == "NotificationSent":
        told = ", ".join(f"{n['record']} [{n['code']}]" for n in event["notifications"])
        return f"error e-mail sent to {event['recipient']}: {told}"
    return name


@dataclass
class Applied:
    """What a batch did: events new to the read models, duplicates, and the records whose log row changed."""

    applied: int = 0
    duplicates: int = 0
    changed: set[TransferKey] = field(default_factory=set)


def apply_events(db: sqlite3.Connection, batch: list[tuple[str, dict[str, Any], str, int, int]], *,
                 recompute: bool = True) -> Applied:
    """Apply decoded events (name, event, topic, partition, offset) in order; an event whose id was applied before
    is a duplicate (at-least-once delivery) and changes nothing.

    One statement per table for the whole batch (executemany), and each touched record's transfer-log row
    recomputed once at the end (a transfer has about ten outcomes, usually in one batch), not once per event:
    this is what makes a replay fast. The result is the same as applying the events one by one. With
    `recompute=False` the rows of the records in `changed` are left to the caller (a replay's build computes
    them once at its end)."""
    result = Applied()
    # Deduplicated per tenant: conventional observed ids (system:entity:id:version) do not name the tenant,
    # and two Procountor environments can both have an invoice 123 at version 1.
    keyed = [((name, event.get("tenant") or "", event["event_id"]), name, without_personal_data(name, event), topic,
              partition, offset) for name, event, topic, partition, offset in batch if event.get("event_id")]
    result.duplicates = len(batch) - len(keyed)
    # A forgotten person's own events (user versions, person links) read after the forget are not kept.
    kept = [item for item in keyed if not _of_forgotten(db, item[1], item[2])]
    result.duplicates += len(keyed) - len(kept)
    seen = _stored(db, [key for key, *_ in kept])
    # An outcome's refs are its row's (outcome_refs), unless another tenant's outcome holds its event id (the
    # outcomes table is keyed by event id alone): then they are kept in event_refs, as other events' are.
    outcome_tenants = _outcome_tenants(db, [key[2] for key, name, *_ in kept if name == "TransferOutcome"])
    # One pass over the new events builds the rows of every table, each in the order of the batch.
    events, refs = [], []
    snapshots: dict[tuple[str, str], str] = {}
    rows: dict[str, list[tuple[Any, ...]]] = {name: [] for name in _TABLES}
    for key, name, event, topic, partition, offset in kept:
        if key in seen:
            result.duplicates += 1
            continue
        seen.add(key)
        tenant, event_id = key[1], key[2]
        payload, snapshot_ref = event, None
        if name in SNAPSHOT_RECORDS and isinstance(event.get("snapshot"), str):
            snapshot_ref = snapshot_hash(event["snapshot"])
            snapshots[(tenant, snapshot_ref)] = event["snapshot"]
            payload = {k: v for k, v in event.items() if k != "snapshot"}
        events.append((name, event_id, topic, partition, offset, tenant, event.get("company"),
                       event.get("kind") or event.get("entity"), occurred_at(name, event), event.get("correlation_id"),
                       event.get("causation_id"), summary_of(name, event), to_json(payload), snapshot_ref))
        if name != "TransferOutcome" or outcome_tenants.setdefault(event_id, tenant) != tenant:
            refs += [(name, event_id, tenant, realm, ref) for realm, ref in refs_of(name, event)]
        if name in rows:
            rows[name].append(_TABLES[name][1](event, snapshot_ref))
            if name in ("TransferRequested", "TransferOutcome"):
                result.changed.add((event["tenant"], event["kind"], event["source_id"]))
    db.executemany("INSERT OR IGNORE INTO snapshots(tenant, hash, text) VALUES (?,?,?)",
                   [(tenant, ref, text) for (tenant, ref), text in snapshots.items()])
    db.executemany(
        "INSERT OR IGNORE INTO events(record_name, event_id, topic, partition, offset, tenant, company, kind,"
        " occurred_at, correlation_id, causation_id, summary, payload, snapshot_ref)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", events)
    db.executemany("INSERT OR IGNORE INTO event_refs(record_name, event_id, tenant, realm, ref) VALUES (?,?,?,?,?)",
                   refs)
    for name, (sql, _) in _TABLES.items():
        db.executemany(sql, rows[name])
    if recompute:
        recompute_transfers(db, result.changed)
    result.applied = len(events)
    return result


def _stored(db: sqlite3.Connection, keys: list[tuple[str, str, str]]) -> set[tuple[str, str, str]]:
    """Which of these (record name, tenant, event id) the read models have already. The whole key goes into the
    query, so that each is one look-up in the primary key (by event id alone, every batch read the whole index:
    a replay slowed down with every event it had applied)."""
    found: set[tuple[str, str, str]] = set()
    names, tenants = sorted({k[0] for k in keys}), sorted({k[1] for k in keys})
    ids = sorted({event_id for _, _, event_id in keys})
    prefix = (f"SELECT record_name, tenant, event_id FROM events WHERE record_name IN ({','.join('?' * len(names))})"
              f" AND tenant IN ({','.join('?' * len(tenants))}) AND event_id IN (")
    for start in range(0, len(ids), 500):  # SQLite allows a limited number of parameters per statement
        chunk = ids[start:start + 500]
        found.update(db.execute(prefix + ",".join("?" * len(chunk)) + ")", [*names, *tenants, *chunk]))
    return {(row[0], row[1], row[2]) for row in found} & set(keys)


def _outcome_tenants(db: sqlite3.Connection, event_ids: list[str]) -> dict[str, str]:
    """{event id: tenant} of the outcomes stored with these event ids."""
    found: dict[str, str] = {}
    for start in range(0, len(event_ids), 500):
        chunk = event_ids[start:start + 500]
        found.update((row[0], row[1] or "") for row in db.execute(
            f"SELECT event_id, tenant FROM outcomes WHERE event_id IN ({','.join('?' * len(chunk))})", chunk))
    return found


def _request_row(event: dict[str, Any], snapshot_ref: str | None) -> tuple[Any, ...]:
    # The snapshot itself is in `snapshots` (snapshot_ref); only a request without one keeps its own text.
    return (event["event_id"], event["tenant"], event["company"], event["kind"], event["source_id"],
            event.get("source_number"), event["source_version"], event.get("reason") or "status",
            millis(event["requested_at"]), event["correlation_id"], event.get("causation_id"),
            None if snapshot_ref else event["snapshot"], snapshot_ref)


def _outcome_row(event: dict[str, Any], _: str | None = None) -> tuple[Any, ...]:
    error = event.get("error")
    return (event["event_id"], event["request_id"], event["tenant"], event["company"], event["kind"],
            event["source_id"], event.get("source_number"), event["source_version"], event["attempt"],
            event["state"], event.get("step"), event.get("target_id"), event.get("target_number"),
            int(bool(event.get("adopted"))), to_json(error) if error else None, millis(event["occurred_at"]),
            event.get("note"), event.get("warning"))


def _link_row(event: dict[str, Any], _: str | None = None) -> tuple[Any, ...]:
    return (event["tenant"], event["company"], event["kind"], event["severa_key"], event.get("severa_id"),
            event["procountor_id"], int(bool(event["created"])), event["event_id"], millis(event["occurred_at"]))


RowOf = Callable[[dict[str, Any], str | None], tuple[Any, ...]]  # (event, its snapshot_ref) -> the row
_TABLES: dict[str, tuple[str, RowOf]] = {
    "TransferRequested": (
        "INSERT OR IGNORE INTO requests(request_id, tenant, company, kind, source_id, source_number, source_version,"
        " reason, requested_at, correlation_id, causation_id, snapshot, snapshot_ref)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        _request_row),
    "TransferOutcome": (
        "INSERT OR IGNORE INTO outcomes(event_id, request_id, tenant, company, kind, source_id, source_number,"
        " source_version, attempt, state, step, target_id, target_number, adopted, error, occurred_at, note,"
        " warning) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        _outcome_row),
    # Upsert only when newer, so that the winner does not depend on the order the links were read in.
    "IdLinked": (
        "INSERT INTO id_links(tenant, company, kind, severa_key, severa_id, procountor_id, created, event_id,"
        " occurred_at) VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT(tenant, company, kind, severa_key) DO UPDATE SET"
        " severa_id=excluded.severa_id, procountor_id=excluded.procountor_id, created=excluded.created,"
        " event_id=excluded.event_id, occurred_at=excluded.occurred_at"
        " WHERE (excluded.occurred_at, excluded.event_id) > (id_links.occurred_at, id_links.event_id)",
        _link_row),
}


_REQUEST_COLUMNS = ("tenant", "kind", "source_id", "request_id", "company", "source_number", "source_version",
                    "reason", "requested_at")  # not the snapshot: the log does not need it, and it is large
_OUTCOME_COLUMNS = ("tenant", "kind", "source_id", "event_id", "request_id", "company", "source_number",
                    "source_version", "attempt", "state", "target_id", "target_number", "adopted", "error",
                    "occurred_at", "note", "warning")


def _rows_by_record(db: sqlite3.Connection, table: str, columns: tuple[str, ...],
                    keys: set[TransferKey]) -> dict[TransferKey, list[dict[str, Any]]]:
    """The rows of `table` of these records, as dicts, grouped by record: a few statements for a whole batch
    (each an index look-up per record), not one per record."""
    out: dict[TransferKey, list[dict[str, Any]]] = {}
    tenants, kinds = sorted({k[0] for k in keys}), sorted({k[1] for k in keys})
    sources = sorted({k[2] for k in keys})
    prefix = (f"SELECT {', '.join(columns)} FROM {table} WHERE tenant IN ({','.join('?' * len(tenants))})"
              f" AND kind IN ({','.join('?' * len(kinds))}) AND source_id IN (")
    for start in range(0, len(sources), 500):
        chunk = sources[start:start + 500]
        for row in db.execute(prefix + ",".join("?" * len(chunk)) + ")", [*tenants, *kinds, *chunk]):
            key = (row[0], row[1], row[2])
            if key in keys:  # the IN lists also match other combinations of tenant, kind and id
                out.setdefault(key, []).append(dict(zip(columns, row, strict=True)))
    return out


def recompute_transfers(db: sqlite3.Connection, keys: Iterable[TransferKey]) -> None:
    """The transfer-log rows of these records, each from every request and outcome stored for it."""
    wanted = set(keys)
    if not wanted:
        return
    requests = _rows_by_record(db, "requests", _REQUEST_COLUMNS, wanted)
    outcomes = _rows_by_record(db, "outcomes", _OUTCOME_COLUMNS, wanted)
    db.executemany(
        "INSERT OR REPLACE INTO transfers(tenant, kind, source_id, company, source_number, source_version,"
        " request_id, reason, state, target_id, target_number, adopted, attempts, error_code, error_kind,"
        " error_record, error_field, error_value, error_message, error_solution, first_requested_at, updated_at,"
        " note, warning) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        [_transfer_row(key, requests.get(key, []), outcomes.get(key, [])) for key in sorted(wanted)])


def recompute_transfer(db: sqlite3.Connection, tenant: str, kind: str, source_id: str) -> None:
    """The transfer-log row of one record, from every request and outcome stored for it."""
    recompute_transfers(db, [(tenant, kind, source_id)])


def _in_sql_order(value: Any) -> tuple[bool, Any]:
    return value is not None, value  # NULL first, as ORDER BY sorts it


def _transfer_row(key: TransferKey, requests: list[dict[str, Any]],
                  outcomes: list[dict[str, Any]]) -> tuple[Any, ...]:
    tenant, kind, source_id = key
    outcomes = sorted(outcomes, key=lambda o: (_in_sql_order(o["attempt"]), _in_sql_order(o["occurred_at"]),
                                               o["event_id"]))
    # A request is known from its own event, or (when the outcome topic was read first) from its outcomes.
    request_time: dict[str, int] = {r["request_id"]: r["requested_at"] for r in requests}
    for outcome in outcomes:
        request_time.setdefault(outcome["request_id"], outcome["occurred_at"])
        request_time[outcome["request_id"]] = min(request_time[outcome["request_id"]], outcome["occurred_at"])
    latest_id = max(request_time, key=lambda rid: (request_time[rid], rid))
    latest = next((r for r in requests if r["request_id"] == latest_id), None)
    decisive = [o for o in outcomes if o["request_id"] == latest_id and o["state"] in TERMINAL]
    state = TERMINAL[decisive[-1]["state"]] if decisive else "pending"
    by_time = sorted(outcomes, key=lambda o: (o["occurred_at"], o["event_id"]))
    targets = [o for o in by_time if o["target_id"]]
    numbers = [o["target_number"] for o in by_time if o["target_number"]]
    errors = [o["error"] for o in by_time if o["error"]]
    last_error = json.loads(errors[-1]) if errors else {}
    basis = latest or next(o for o in reversed(by_time) if o["request_id"] == latest_id)
    times = [r["requested_at"] for r in requests] + [o["occurred_at"] for o in outcomes]
    return (
        tenant, kind, source_id, basis["company"], basis["source_number"], basis["source_version"], latest_id,
        latest["reason"] if latest else None, state,
        targets[-1]["target_id"] if targets else None, numbers[-1] if numbers else None,
        int(any(o["adopted"] for o in targets)),
        len({(o["request_id"], o["attempt"]) for o in outcomes}),
        last_error.get("code"), last_error.get("kind"), last_error.get("record"), last_error.get("field"),
        last_error.get("value"), last_error.get("message"), last_error.get("solution"),
        min((r["requested_at"] for r in requests), default=None), max(times),
        decisive[-1]["note"] if decisive else None,
        # The latest request's warning (e.g. totals that differ), from whichever of its outcomes carries it.
        next((o["warning"] for o in reversed(by_time) if o["request_id"] == latest_id and o["warning"]), None),
    )


# -- forgetting a person ------------------------------------------------------------------------------------
FORGOTTEN = "(forgotten person)"
# Text columns where a person may be named (a failure's message, a request's snapshot, the history); and the
# snapshots table, which the events and requests name by hash.
_SNAPSHOT_TABLES = ("events", "requests")
_NAMING_COLUMNS = {"requests": ("snapshot",), "outcomes": ("error",),
                   "transfers": ("error_value", "error_message", "error_solution", "error_record"),
                   "events": ("payload", "summary")}


@dataclass
class Forgotten:
    events: int = 0  # the person's own events (user versions, person links) removed
    links: int = 0  # ID map entries removed
    redacted: int = 0  # other rows whose texts named the person


def _of_forgotten(db: sqlite3.Connection, name: str, event: dict[str, Any]) -> bool:
    if name in ("EntityObserved", "ObservationFailed") and (event.get("source_system"), event.get("entity")) == (
            "severa", "user"):
        person = event.get("entity_id")
    elif name == "IdLinked" and event.get("kind") == "person":
        person = event.get("severa_id")
    else:
        return False
    return person is not None and db.execute("SELECT 1 FROM forgotten WHERE tenant=? AND severa_id=?",
                                             (event.get("tenant") or "", person)).fetchone() is not None


def forget_person(db: sqlite3.Connection, tenant: str, severa_id: str) -> Forgotten:
    """Remove a Severa user from the read models (inside the caller's transaction): their versions and person
    links go, their name, e-mail and employee number are replaced in what else names them (the transfers of
    their travel reimbursements stay: bookkeeping records), and their events read later are not kept."""
    db.execute("INSERT OR IGNORE INTO forgotten(tenant, severa_id, forgotten_at) VALUES (?,?,?)",
               (tenant, severa_id, int(time.time() * 1000)))
    keys = db.execute("SELECT DISTINCT record_name, tenant, event_id FROM event_refs WHERE tenant=? AND"
                      " realm IN ('severa:user', 'severa:user#') AND ref=?", (tenant, severa_id)).fetchall()
    texts: set[str] = {severa_id}
    codes: set[str] = set()
    for key in keys:
        row = db.execute("SELECT payload, snapshot_ref FROM events WHERE record_name=? AND tenant=? AND event_id=?",
                         tuple(key)).fetchone()
        payload = json.loads(row[0]) if row else {}
        if row and row[1]:
            payload["snapshot"] = snapshot_texts(db, [(key[1], row[1])]).get((key[1], row[1]))
        if key[0] == "IdLinked":
            codes.add(str(payload.get("severa_key") or ""))
        try:
            user = json.loads(payload.get("snapshot") or "{}") if key[0] == "EntityObserved" else {}
        except ValueError:
            user = {}
        person = " ".join(str(user.get(k) or "").strip() for k in ("firstName", "lastName")).strip()
        code = str(user.get("code") or "").strip()
        codes.add(code)
        texts |= {person, str(user.get("email") or ""), f"{code} ({person})" if code and person else ""}
    removed = Forgotten()
    for key in keys:
        removed.events += db.execute("DELETE FROM events WHERE record_name=? AND tenant=? AND event_id=?",
                                     tuple(key)).rowcount
        db.execute("DELETE FROM event_refs WHERE record_name=? AND tenant=? AND event_id=?", tuple(key))
    removed.links = db.execute("DELETE FROM id_links WHERE tenant=? AND kind='person' AND severa_id=?",
                               (tenant, severa_id)).rowcount
    # JSON written with json.dumps' defaults spells the letters outside ASCII as \u escapes ("Meik\u00e4l..."):
    # a text naming the person so is redacted too.
    texts |= {json.dumps(text)[1:-1] for text in texts}
    # Longest first, so that "E042 (Maija M)" goes whole before "Maija M"; an employee number only as a word.
    patterns = [re.escape(t) for t in sorted(texts - {""}, key=len, reverse=True)]
    patterns += [rf"(?<![\w-]){re.escape(c)}(?![\w-])" for c in sorted(codes - {""}, key=len, reverse=True)]
    pattern = re.compile("|".join(patterns))
    scope, scope_args = "(tenant=? OR substr(tenant, 1, ?)=?)", (tenant, len(tenant) + 1, f"{tenant}/")
    moved = _redact_snapshots(db, scope, scope_args, pattern)
    for table, columns in _NAMING_COLUMNS.items():
        for column in columns:
            # A row that names a redacted snapshot counts as redacted with its first text column (as it did when
            # it held the snapshot's text itself).
            with_ref = table in _SNAPSHOT_TABLES and column == columns[0]
            ref = "snapshot_ref" if with_ref else "NULL"
            rows = db.execute(f"SELECT rowid, tenant, {column}, {ref} FROM {table} WHERE {scope} AND ({column} IS NOT"
                              f" NULL{' OR snapshot_ref IS NOT NULL' if with_ref else ''})", scope_args).fetchall()
            for rowid, owner, text, snapshot_ref in rows:
                redacted = None if text is None else pattern.sub(FORGOTTEN, text)
                new_ref = moved.get((owner, snapshot_ref), snapshot_ref)
                if redacted != text or new_ref != snapshot_ref:
                    db.execute(f"UPDATE {table} SET {column}=?{', snapshot_ref=?' if with_ref else ''} WHERE rowid=?",
                               (redacted, new_ref, rowid) if with_ref else (redacted, rowid))
                    removed.redacted += 1
    _drop_unreferenced_snapshots(db, scope, scope_args)
    return removed


def _redact_snapshots(db: sqlite3.Connection, scope: str, scope_args: tuple[Any, ...],
                      pattern: re.Pattern[str]) -> dict[tuple[str, str], str]:
    """Redact the snapshots of a tenant that name the person; {(tenant, old hash): new hash}. The redacted text is
    kept under its own hash (the rows that named the old one are moved to it by the caller), so that the same
    text read again later is stored as it was read, as it was when each row held its own copy."""
    moved: dict[tuple[str, str], str] = {}
    rows = db.execute(f"SELECT tenant, hash, text FROM snapshots WHERE {scope}", scope_args).fetchall()
    for owner, old, text in rows:
        redacted = pattern.sub(FORGOTTEN, text)
        if redacted != text:
            moved[(owner, old)] = snapshot_hash(redacted)
            db.execute("INSERT OR IGNORE INTO snapshots(tenant, hash, text) VALUES (?,?,?)",
                       (owner, moved[(owner, old)], redacted))
    return moved


def _drop_unreferenced_snapshots(db: sqlite3.Connection, scope: str, scope_args: tuple[Any, ...]) -> None:
    """Delete a tenant's snapshots no event or request names any more: the forgotten person's own versions, and
    the texts that named them before they were redacted."""
    named = {(r[0], r[1]) for table in _SNAPSHOT_TABLES for r in db.execute(
        f"SELECT DISTINCT tenant, snapshot_ref FROM {table} WHERE {scope} AND snapshot_ref IS NOT NULL", scope_args)}
    for owner, ref in db.execute(f"SELECT tenant, hash FROM snapshots WHERE {scope}", scope_args).fetchall():
        if (owner, ref) not in named:
            db.execute("DELETE FROM snapshots WHERE tenant=? AND hash=?", (owner, ref))
