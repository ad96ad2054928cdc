"""Export the events and the read models to Parquet for analysis (pandas, DuckDB, Spark...)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from projections.store import ProjectionStore

_TS = pa.timestamp("ms", tz="UTC")

EVENTS = pa.schema([
    ("type", pa.string()), ("event_id", pa.string()), ("at", _TS), ("tenant", pa.string()),
    ("company", pa.string()), ("kind", pa.string()), ("correlation_id", pa.string()),
    ("causation_id", pa.string()), ("summary", pa.string()), ("topic", pa.string()), ("partition", pa.int32()),
    ("offset", pa.int64()), ("payload", pa.string()),
])
TRANSFERS = pa.schema([
    ("tenant", pa.string()), ("company", pa.string()), ("kind", pa.string()), ("severa_id", pa.string()),
    ("severa_number", pa.string()), ("source_version", pa.string()), ("procountor_id", pa.string()),
    ("procountor_number", pa.string()), ("adopted", pa.bool_()), ("state", pa.string()),
    ("request_id", pa.string()), ("reason", pa.string()), ("attempt_count", pa.int32()),
    ("error_code", pa.string()), ("error_field", pa.string()), ("error_value", pa.string()),
    ("error_message", pa.string()), ("error_solution", pa.string()), ("note", pa.string()),
    ("warning", pa.string()), ("first_requested_at", _TS), ("updated_at", _TS),
])
ATTEMPTS = pa.schema([
    ("tenant", pa.string()), ("kind", pa.string()), ("severa_id", pa.string()), ("request_id", pa.string()),
    ("attempt", pa.int32()), ("first_at", _TS), ("last_at", _TS), ("result", pa.string()),
    ("error_code", pa.string()),
])
ID_MAP = pa.schema([
    ("tenant", pa.string()), ("company", pa.string()), ("kind", pa.string()), ("severa_key", pa.string()),
    ("severa_id", pa.string()), ("procountor_id", pa.string()), ("created", pa.bool_()), ("linked_at", _TS),
])


def _ts(value: str | None) -> Any:
    return datetime.fromisoformat(value) if value else None


def export(store: ProjectionStore, out_dir: Path | str, tenant: str | None = None) -> dict[str, Path]:
    """Write events, transfers, attempts and id_map .parquet files into `out_dir`; returns their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    events = [e | {"at": _ts(e["at"]), "payload": json.dumps(e["payload"], ensure_ascii=False)}
              for e in store.events(tenant)]
    transfers = store.transfers(tenant=tenant)
    rows = [t | {f"error_{k}": (t["last_error"] or {}).get(k) for k in ("code", "field", "value", "message",
                                                                          "solution")}
            | {"first_requested_at": _ts(t["first_requested_at"]), "updated_at": _ts(t["updated_at"])}
            for t in transfers]
    attempts = [{"tenant": t["tenant"], "kind": t["kind"], "severa_id": t["severa_id"], **a,
                 "first_at": _ts(a["first_at"]), "last_at": _ts(a["last_at"]),
                 "error_code": (a["error"] or {}).get("code")} for t in transfers for a in t["attempts"]]
    links = [m | {"linked_at": _ts(m["linked_at"])} for m in store.id_map(tenant=tenant)]
    written = {}
    for name, schema, data in (("events", EVENTS, events), ("transfers", TRANSFERS, rows),
                               ("attempts", ATTEMPTS, attempts), ("id_map", ID_MAP, links)):
        table = pa.Table.from_pylist([{f: row.get(f) for f in schema.names} for row in data], schema=schema)
        path = out / f"{name}.parquet"
        pq.write_table(table, path)
        written[name] = path
    return written
