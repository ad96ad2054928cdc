"""The read models on PostgreSQL, for deployments whose console and CLI run on other hosts than the projector.

The same tables as in SQLite, one schema per version, and a one-row pointer that names the current one:

    sevpro.current_version   (version 3): the version readers use
    sevpro_v3                one complete set of the read-model tables per version

A replay builds `sevpro_v<N+1>` beside the live one and then updates the pointer in one statement: a reader
sees either the old complete version or the new one, as with SQLite's `os.replace` of `current`.

The statements of projections/store.py and projections/apply.py are written for SQLite; `Connection` runs them
here after a translation made once per statement text (placeholders, INSERT OR IGNORE/REPLACE, NULLs ordered
as SQLite orders them, the `offset` column quoted), so there is one set of queries for both stores.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # psycopg itself is imported when a PostgreSQL URL is used (0.07 s of every command's start)
    import psycopg

SCHEMES = ("postgresql://", "postgres://")
POINTER = "sevpro.current_version"
SCHEMA_PREFIX = "sevpro_v"
_VERSION_SCHEMA = re.compile(rf"^{SCHEMA_PREFIX}(\d+)$")
CONNECT_TIMEOUT = 10
# (table, its columns, its primary key, the columns' SQLite types) of every read-model table, as tables_of()
# finds them in the schema.
Tables = tuple[tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...]], ...]


class ReadModelUnreachable(RuntimeError):
    """The PostgreSQL server of the read models cannot be reached or refused the connection."""


def is_url(location: object) -> bool:
    return isinstance(location, str) and location.startswith(SCHEMES)


def safe_url(url: str) -> str:
    """The URL without its password, for messages and logs."""
    from psycopg import conninfo

    params = conninfo.conninfo_to_dict(url)
    params.pop("password", None)
    user = f"{params.pop('user')}@" if params.get("user") else ""
    host, port, db = params.pop("host", "localhost"), params.pop("port", None), params.pop("dbname", "")
    query = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
    return f"postgresql://{user}{host}{f':{port}' if port else ''}/{db}" + (f"?{query}" if query else "")


def schema_of(version: int) -> str:
    return f"{SCHEMA_PREFIX}{int(version)}"


# -- rows and the connection ---------------------------------------------------------------------------------
class Row(tuple[Any, ...]):
    """A row read by index or by column name, like sqlite3.Row (and `dict(row)` gives the named columns)."""

    names: dict[str, int]

    def __getitem__(self, key: Any) -> Any:  # type: ignore[override]
        if isinstance(key, str):
            return tuple.__getitem__(self, self.names[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self.names)


def _rows(cursor: Any) -> Any:
    names = {column.name: i for i, column in enumerate(cursor.description or ())}
    row_type = type("Row", (Row,), {"names": names})
    return row_type


class Connection:
    """The part of sqlite3.Connection that the read models use (execute, executemany, rows by index and by name),
    on a psycopg connection in autocommit mode: transactions are begun and committed explicitly, as with SQLite."""

    def __init__(self, url: str, tables: Tables) -> None:
        from psycopg.types.numeric import FloatLoader

        self.tables = tables
        self.raw = connect(url)
        self.raw.row_factory = _rows
        # SQLite gives a float for `x / 1000.0`; numeric would come back as Decimal.
        self.raw.adapters.register_loader("numeric", FloatLoader)

    def execute(self, sql: str, args: Sequence[Any] = ()) -> psycopg.Cursor[Any]:
        text, order = translate(sql, self.tables)
        return self.raw.execute(text, _ordered(args, order))  # type: ignore[arg-type]

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        rows = list(rows)
        if not rows:
            return
        text, order = translate(sql, self.tables)
        many = _MULTI_ROW.match(text)
        if many and order is None and _one_statement_will_do(many, rows, self.tables):
            # One INSERT of every row, one array per column, instead of one per row (a replay inserts every
            # event): the same result, as a row that conflicts with one before it is left out like a later one.
            table, listed, _, tail = many.groups()
            columns = _columns(table, listed, self.tables)
            _, all_columns, _, types = next(t for t in self.tables if t[0] == table)
            kinds = dict(zip(all_columns, types, strict=True))
            # Arrays in binary: large texts (snapshots) need no escaping.
            arrays = ", ".join(f"%b::{'bigint' if kinds[c] == 'INTEGER' else 'text'}[]" for c in columns)
            self.raw.execute(f"INSERT INTO {table}({', '.join(_quoted(c) for c in columns)})"
                             f" SELECT * FROM unnest({arrays}){tail}",
                             [list(values) for values in zip(*rows, strict=True)])
            return
        with self.raw.cursor() as cursor:
            cursor.executemany(text, [_ordered(row, order) for row in rows])  # type: ignore[arg-type]

    def close(self) -> None:
        self.raw.close()


def _columns(table: str, listed: str | None, tables: Tables) -> list[str]:
    """The columns an INSERT names, or all of the table's."""
    all_columns = next(t[1] for t in tables if t[0] == table)
    return [c.strip().strip('"') for c in listed.split(",")] if listed else list(all_columns)


def _one_statement_will_do(insert: re.Match[str], rows: list[Sequence[Any]], tables: Tables) -> bool:
    """True when inserting the rows in one statement gives what inserting them one by one gives: always for DO
    NOTHING; for an upsert only when no two rows have the same key (PostgreSQL refuses to update a row twice
    in one statement, where one by one the later row would update the earlier)."""
    table, listed, _, tail = insert.groups()
    if "DO UPDATE" not in tail:
        return True
    target = re.search(r"ON CONFLICT\s*\(([^)]*)\)", tail)
    if target is None:
        return False
    columns = _columns(table, listed, tables)
    at = [columns.index(k.strip().strip('"')) for k in target.group(1).split(",")]
    return len({tuple(row[i] for i in at) for row in rows}) == len(rows)


def lost(db: object) -> bool:
    """True when the server dropped this connection (`Connection` as the store holds it)."""
    return isinstance(db, Connection) and db.raw.closed


def connect(url: str) -> psycopg.Connection[Any]:
    import psycopg

    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT)
    except psycopg.OperationalError as exc:
        reason = "; ".join(line.strip() for line in str(exc).splitlines() if line.strip()) or type(exc).__name__
        raise ReadModelUnreachable(f"the read models' PostgreSQL at {safe_url(url)} cannot be used: {reason}"
                                   " (SEVPRO_READ_MODEL_URL)") from None


def _ordered(args: Sequence[Any], order: tuple[int, ...] | None) -> list[Any]:
    return list(args) if order is None else [args[i] for i in order]


# -- translation of the SQLite statements ----------------------------------------------------------------------
_LITERAL = re.compile(r"('(?:[^']|'')*')")
_PLACEHOLDER = re.compile(r"\?(\d+)?")
_INSERT = re.compile(r"^\s*INSERT OR (IGNORE|REPLACE) INTO (\w+)(\s*\(([^)]*)\))?", re.S)
_MAX2 = re.compile(r"\bmax\(([^(),]+),([^(),]+)\)")
_OFFSET_COLUMN = re.compile(r"(?<!\")\boffset\b(?!\")(?!\s*(?:\?|%s|\d))")
_MULTI_ROW = re.compile(r"^\s*INSERT INTO (\w+)\s*(?:\(([^)]*)\))?\s*VALUES\s*\((%s(?:\s*,\s*%s)*)\)(.*)$", re.S)
_UPSERT = re.compile(r"\bDO UPDATE SET\b(.*)$", re.S)
_BARE_NAME = re.compile(r'(?<![.\w"])("?)(\w+)\1(?![\w"(.])')
_ORDER_BY = re.compile(r"\bORDER BY\s+(.+?)(?=\s+LIMIT\b|\)|$)", re.S)


@lru_cache(maxsize=512)
def translate(sql: str, tables: Tables) -> tuple[str, tuple[int, ...] | None]:
    """(PostgreSQL statement, the argument order for numbered placeholders or None) of a SQLite statement."""
    parts = _LITERAL.split(sql)
    order: list[int] = []
    numbered = False
    highest = 0
    out = []
    for i, part in enumerate(parts):
        part = part.replace("%", "%%")
        if i % 2:  # a string literal: as it is
            out.append(part)
            continue

        def placeholder(match: re.Match[str]) -> str:
            # SQLite: `?N` is argument N; a bare `?` is the one after the highest numbered so far.
            nonlocal numbered, highest
            if match.group(1):
                numbered = True
                highest = max(highest, int(match.group(1)))
                order.append(int(match.group(1)) - 1)
            else:
                highest += 1
                order.append(highest - 1)
            return "%s"

        part = _PLACEHOLDER.sub(placeholder, part)
        part = _MAX2.sub(r"GREATEST(\1,\2)", part)
        part = _OFFSET_COLUMN.sub('"offset"', part)
        part = re.sub(r"\browid\b", "ctid", part)
        part = part.replace(" LIKE ", " ILIKE ")  # SQLite's LIKE ignores the case of ASCII letters
        part = _ORDER_BY.sub(lambda m: "ORDER BY " + _nulls_as_sqlite(m.group(1)), part)
        out.append(part)
    text = "".join(out)
    insert = _INSERT.match(text)
    if insert:
        how, table, column_list, columns = insert.groups()
        text = f"INSERT INTO {table}{column_list or ''}" + text[insert.end():]
        if how == "IGNORE":
            text += " ON CONFLICT DO NOTHING"
        else:
            all_columns, key = next((c, k) for t, c, k, _ in tables if t == table)
            named = [c.strip() for c in columns.split(",")] if columns else list(all_columns)
            update = ", ".join(f"{_quoted(c)}=excluded.{_quoted(c)}" for c in named if c not in key)
            text += f" ON CONFLICT ({', '.join(_quoted(k) for k in key)}) DO UPDATE SET {update}"
    upsert = _UPSERT.search(text)
    if upsert:
        text = text[:upsert.start(1)] + _qualified(upsert.group(1), text, tables)
    return text, tuple(order) if numbered else None


def _qualified(clause: str, statement: str, tables: Tables) -> str:
    """An upsert's SET and WHERE with the table's columns named as `table.column`: PostgreSQL finds a bare name
    there ambiguous (the existing row, or the one proposed?); SQLite takes the existing row."""
    table = re.match(r"\s*INSERT INTO (\w+)", statement).group(1)  # type: ignore[union-attr]
    columns = next(c for t, c, _, _ in tables if t == table)

    def qualify(expression: str) -> str:
        return _BARE_NAME.sub(lambda m: f"{table}.{m.group(0)}" if m.group(2) in columns else m.group(0),
                              expression)

    where = re.search(r"\bWHERE\b", clause)
    sets, condition = (clause[:where.start()], clause[where.start():]) if where else (clause, "")
    assignments = []
    for assignment in re.split(r",(?![^(]*\))", sets):
        target, value = assignment.split("=", 1)
        assignments.append(f"{target}={qualify(value)}")
    return ",".join(assignments) + qualify(condition)


def _quoted(column: str) -> str:
    return '"offset"' if column == "offset" else column


def _nulls_as_sqlite(terms: str) -> str:
    """SQLite orders NULL before every value; PostgreSQL after, unless told."""
    out = []
    for term in re.split(r",(?![^(]*\))", terms):
        term = term.strip()
        if "NULLS" not in term.upper():
            term += " NULLS LAST" if term.upper().endswith(" DESC") else " NULLS FIRST"
        out.append(term)
    return ", ".join(out)


def ddl(schema_sql: str) -> str:
    """The SQLite tables for PostgreSQL: 64-bit integers (milliseconds), byte-wise text order as in SQLite."""
    text = re.sub(r"\bINTEGER\b", "BIGINT", schema_sql)
    return re.sub(r"\bTEXT\b", 'TEXT COLLATE "C"', text)


def tables_of(schema_sql: str) -> Tables:
    """(table, columns, primary key, column types) of each CREATE TABLE statement (for INSERT OR REPLACE)."""
    found = []
    for table, body in re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)\s*\((.*?)\);", schema_sql, re.S):
        key_match = re.search(r"PRIMARY KEY\s*\(([^)]*)\)", body)
        columns, types, key = [], [], [k.strip() for k in key_match.group(1).split(",")] if key_match else []
        for item in re.split(r",(?![^(]*\))", body):
            words = item.split()
            if not words or words[0] == "PRIMARY":
                continue
            columns.append(words[0])
            types.append(words[1])
            if "PRIMARY KEY" in item:
                key = [words[0]]
        found.append((table, tuple(columns), tuple(key), tuple(types)))
    return tuple(found)


def check(url: str) -> None:
    """ReadModelUnreachable, with the reason, unless the server at `url` answers."""
    with _admin(url) as db:
        db.execute("SELECT 1")


# -- versions ------------------------------------------------------------------------------------------------
@contextmanager
def _admin(url: str) -> Iterator[psycopg.Connection[Any]]:
    db = connect(url)
    try:
        yield db
    finally:
        db.close()


def pointer(db: psycopg.Connection[Any] | Connection) -> int | None:
    """The version the pointer names, or None before the first one (read on an open connection)."""
    from psycopg import errors

    raw = db.raw if isinstance(db, Connection) else db
    try:
        row = raw.execute(f"SELECT version FROM {POINTER}").fetchone()
    except errors.UndefinedTable:
        return None
    return None if row is None else int(row[0])


def current_version(url: str) -> int | None:
    with _admin(url) as db:
        return pointer(db)


def versions(url: str) -> list[int]:
    with _admin(url) as db:
        names = [r[0] for r in db.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE %s",
                                          (f"{SCHEMA_PREFIX}%",))]
    return sorted(int(m.group(1)) for m in map(_VERSION_SCHEMA.match, names) if m)


def switch_to(url: str, version: int) -> None:
    """Make `version` current in one statement."""
    with _admin(url) as db, db.transaction():
        _ensure_pointer(db)
        db.execute(f"INSERT INTO {POINTER}(one, version) VALUES (TRUE, %s)"
                   " ON CONFLICT (one) DO UPDATE SET version=excluded.version", (version,))


def _ensure_pointer(db: psycopg.Connection[Any]) -> None:
    # Two first starts at once would both create it: one waits for the other.
    db.execute("SELECT pg_advisory_xact_lock(hashtext('sevpro.current_version'))")
    db.execute("CREATE SCHEMA IF NOT EXISTS sevpro")
    db.execute(f"CREATE TABLE IF NOT EXISTS {POINTER}(one BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),"
               " version INTEGER NOT NULL)")


def reserve_next(url: str) -> int:
    """A new version number whose schema nobody else has created (two replays at once get different ones)."""
    from psycopg import errors

    with _admin(url) as db:
        names = [r[0] for r in db.execute("SELECT nspname FROM pg_namespace")]
        known = [int(m.group(1)) for m in map(_VERSION_SCHEMA.match, names) if m]
        candidate = max(known + [pointer(db) or 0]) + 1
        while True:
            try:
                db.execute(f"CREATE SCHEMA {schema_of(candidate)}")
                return candidate
            except errors.DuplicateSchema:
                candidate += 1


def remove(url: str, version: int) -> None:
    with _admin(url) as db:
        db.execute(f"DROP SCHEMA IF EXISTS {schema_of(version)} CASCADE")
