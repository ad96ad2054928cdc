"""The SQLite statements of the read models as PostgreSQL runs them (projections/postgres.py); the integration
tests (tests/integration/projections/test_postgres_*.py) run them on a real server."""

from __future__ import annotations

import pytest

from projections import postgres
from projections.store import SCHEMA

TABLES = postgres.tables_of(SCHEMA)


def pg(sql: str) -> tuple[str, tuple[int, ...] | None]:
    return postgres.translate(sql, TABLES)


def test_numbered_and_bare_placeholders_take_the_arguments_sqlite_gives_them() -> None:
    text, order = pg("SELECT * FROM transfers WHERE (source_id=?1 OR request_id=?1) AND (tenant=? OR"
                     " substr(tenant, 1, ?)=?)")
    assert text.count("%s") == 5 and order == (0, 0, 1, 2, 3)
    assert pg("SELECT 1 FROM t WHERE a=? AND b=?") == ("SELECT 1 FROM t WHERE a=%s AND b=%s", None)


def test_literals_are_left_alone_and_percent_signs_escaped() -> None:
    text, _ = pg("SELECT kind FROM transfers WHERE state LIKE 'failed-%' AND note = 'why?' AND kind=?")
    assert text == "SELECT kind FROM transfers WHERE state ILIKE 'failed-%%' AND note = 'why?' AND kind=%s"


def test_insert_or_replace_becomes_an_upsert_on_the_primary_key() -> None:
    text, _ = pg("INSERT OR REPLACE INTO meta VALUES (?, ?)")
    assert text == "INSERT INTO meta VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value=excluded.value"
    text, _ = pg("INSERT OR IGNORE INTO rejected VALUES (?,?,?,?)")
    assert text == "INSERT INTO rejected VALUES (%s,%s,%s,%s) ON CONFLICT DO NOTHING"


def test_an_upsert_names_the_existing_row_and_the_offset_column_is_quoted() -> None:
    text, _ = pg("INSERT INTO applied_offsets VALUES (?,?,?) ON CONFLICT(topic, partition) DO UPDATE"
                 " SET offset=max(offset, excluded.offset)")
    assert text.endswith('DO UPDATE SET "offset"=GREATEST(applied_offsets."offset", excluded."offset")')
    text, _ = pg("INSERT INTO counters VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value=value+excluded.value")
    assert text.endswith("SET value=counters.value+excluded.value")


@pytest.mark.parametrize(("order_by", "expected"), [
    ("ORDER BY updated_at DESC, tenant, kind", "ORDER BY updated_at DESC NULLS LAST, tenant NULLS FIRST,"
                                               " kind NULLS FIRST"),
    ("ORDER BY occurred_at, topic LIMIT ? OFFSET ?", "ORDER BY occurred_at NULLS FIRST, topic NULLS FIRST"
                                                     " LIMIT %s OFFSET %s"),
])
def test_nulls_are_ordered_as_sqlite_orders_them(order_by: str, expected: str) -> None:
    assert pg(f"SELECT * FROM transfers {order_by}")[0] == f"SELECT * FROM transfers {expected}"


def test_the_url_in_messages_has_no_password() -> None:
    assert postgres.safe_url("postgresql://reader:s3cret@db.example:5433/models?sslmode=require") == \
        "postgresql://reader@db.example:5433/models?sslmode=require"
