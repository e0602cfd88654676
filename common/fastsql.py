"""Fast SQL: the few statements where Django's query compiler or its per-value converters cost
more than the database does, written once over the models' own metadata.

Table and column names always come from `Model._meta` (a renamed table or a new field needs no
edit here). Three families:
- row reads of the hot participant path: `columns` + `table` build a SELECT of whole model rows,
  `rows` runs it and `instance` turns a slice of a row into a model instance with the converters
  the ORM would apply;
- writes: `insert`, `insert_many` and `update_fields`, each one statement, and
  `execute_together`, several of them as one statement on PostgreSQL;
- `cursor()`, which runs all of these: on PostgreSQL a prepared statement per SQL text and
  connection (parsed and planned once, then only executed), unless `DATABASE_PREPARED_STATEMENTS`
  is off;
- numeric reads for analysis: `numeric_columns` and `float_matrix` read a `values_list` query
  as numpy arrays (on PostgreSQL one binary COPY parsed in place, no Python object per value),
  `raw_rows` its rows straight from the driver.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.backends.utils import CursorDebugWrapper, CursorWrapper


def _db():
    """The default connection itself. `django.db.connection` is a proxy that looks the connection
    up (a context-local read) on every attribute: dozens of times per request on this path."""
    return connections[DEFAULT_DB_ALIAS]

# --- Whole rows as model instances ----------------------------------------------------------------


def table(model: type) -> str:
    """The model's table name, quoted for SQL."""
    return _db().ops.quote_name(model._meta.db_table)


@dataclass(frozen=True)
class Columns:
    """The concrete columns of `model` under a table alias, in `_meta.concrete_fields` order."""

    model: type
    alias: str
    sql: str  # "alias"."col", ... for a SELECT list
    expressions: tuple
    width: int


@cache
def columns(model: type, alias: str) -> Columns:
    quote = connection.ops.quote_name
    fields = model._meta.concrete_fields
    sql = ", ".join(f"{quote(alias)}.{quote(field.column)}" for field in fields)
    return Columns(model, alias, sql, tuple(field.get_col(alias) for field in fields), len(fields))


def instance(found: Columns, row, start: int):
    """The model instance in `row[start:start + width]` (None for a LEFT JOIN's missing row)."""
    values = list(row[start:start + found.width])
    if values[0] is None:  # the primary key
        return None
    db = _db()
    for position, expression, converters in _converters(found, db):
        value = values[position]
        if value is not None:
            for converter in converters:
                value = converter(value, expression, db)
            values[position] = value
    return found.model.from_db(db.alias, None, values)


_CONVERTERS: dict = {}


def _converters(found: Columns, db) -> list:
    """(position, expression, converters) of the columns that have converters on `db`."""
    key = (found.model, found.alias, db.vendor)
    converting = _CONVERTERS.get(key)
    if converting is None:
        converting = []
        for position, expression in enumerate(found.expressions):
            converters = db.ops.get_db_converters(expression) + expression.get_db_converters(db)
            if converters:
                converting.append((position, expression, tuple(converters)))
        _CONVERTERS[key] = converting
    return converting


def rows(sql: str, params: Sequence) -> list[tuple]:
    """The rows of one SQL statement, as the driver returns them."""
    with cursor() as found:
        found.execute(sql, params)
        return found.fetchall()


def param(model: type, field: str, value):
    """A query parameter as the ORM would send it for `model.field` (datetimes on SQLite...)."""
    return model._meta.get_field(field).get_db_prep_value(value, _db())


#: Executions of one SQL text on a connection before it becomes a prepared statement: 1 prepares
#: on the second (a statement run once is not worth a PREPARE round of its own).
PREPARE_THRESHOLD = 1


def cursor():
    """A cursor for the statements of this module (a context manager, as `connection.cursor()`).

    On PostgreSQL with `settings.DATABASE_PREPARED_STATEMENTS` it binds parameters on the server,
    and psycopg makes each SQL text a prepared statement of the connection from its second
    execution on: the hot participant path's dozen statements are parsed and planned once per
    connection instead of once per request (bench/submit.py). Elsewhere, or with the setting off
    (a PgBouncer in transaction mode older than 1.21 or with `max_prepared_statements = 0`), it is
    `connection.cursor()`. Queries are logged (and counted by tests) either way."""
    db = _db()
    if db.vendor != "postgresql" or not getattr(settings, "DATABASE_PREPARED_STATEMENTS", False):
        return db.cursor()
    from django.db.backends.postgresql.base import ServerBindingCursor

    # What `connection.cursor()` does, with a cursor that binds on the server.
    db.close_if_health_check_failed()
    db.ensure_connection()
    raw = db.connection
    if raw.prepare_threshold is None:  # Django leaves automatic preparation off
        raw.prepare_threshold = PREPARE_THRESHOLD
    db.validate_thread_sharing()
    with db.wrap_database_errors:
        found = ServerBindingCursor(raw)
    return _LoggedCursor(found, db) if db.queries_logged else db.make_cursor(found)


class _LoggedCursor(CursorDebugWrapper):
    """Logs (for tests and DEBUG) the SQL as written, placeholders and all: a cursor binding on the
    server has no interpolated text to log."""

    def execute(self, sql, params=None):
        with self.debug_sql(sql, params):
            return CursorWrapper.execute(self, sql, params)


# --- Writes -------------------------------------------------------------------------------------------


#: A statement and its parameters.
Statement = tuple[str, list]


def insert(obj, *, together: Sequence[Statement] = ()) -> None:
    """`obj.save(force_insert=True)` for a model with an automatic primary key, as one INSERT
    (no signals: nothing may rely on them for these models), with `together`'s statements (see
    `execute_together`; on PostgreSQL all of them one statement)."""
    model = type(obj)
    db = _db()
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    quote = db.ops.quote_name
    sql = (f"INSERT INTO {table(model)} ({', '.join(quote(f.column) for f in fields)}) "
           f"VALUES ({', '.join(['%s'] * len(fields))})")
    params = [f.get_db_prep_save(f.pre_save(obj, True), db) for f in fields]
    returning = db.features.can_return_columns_from_insert
    if returning:
        sql += f" RETURNING {quote(model._meta.pk.column)}"
    if together and one_statement_together():
        sql, params = _with_clauses(together, (sql, params))
        together = ()
    with cursor() as inserted:
        inserted.execute(sql, params)
        obj.pk = inserted.fetchone()[0] if returning else inserted.lastrowid
    obj._state.adding = False
    obj._state.db = db.alias
    for statement in together:
        execute(*statement)


def insert_many_statement(objs: Sequence, fields: Sequence[str]) -> Statement | None:
    """`bulk_create(objs)` of the named `fields` as one INSERT (None for no objects); the new ids
    are not read back. Values the rows share (a foreign key, a time stamp) are prepared once."""
    if not objs:
        return None
    model = type(objs[0])
    db = _db()
    found = [model._meta.get_field(name) for name in fields]
    quote = db.ops.quote_name
    placeholders = "(" + ", ".join(["%s"] * len(found)) + ")"
    sql = (f"INSERT INTO {table(model)} ({', '.join(quote(f.column) for f in found)}) "
           f"VALUES {', '.join([placeholders] * len(objs))}")
    prepared: dict = {}

    def prep(field, value):
        key = (field.attname, type(value), value) if isinstance(value, (int, float, str, dt.datetime)) else None
        if key is None:
            return field.get_db_prep_save(value, db)
        if key not in prepared:
            prepared[key] = field.get_db_prep_save(value, db)
        return prepared[key]

    return sql, [prep(field, getattr(obj, field.attname)) for obj in objs for field in found]


def insert_many(objs: Sequence, fields: Sequence[str]) -> None:
    """`bulk_create(objs)` of the named `fields` as one INSERT (`insert_many_statement`)."""
    statement = insert_many_statement(objs, fields)
    if statement is not None:
        execute(*statement)


def update_fields_statement(obj, names: Sequence[str]) -> Statement:
    """`obj.save(update_fields=names)` as one UPDATE by primary key."""
    model = type(obj)
    db = _db()
    found = [model._meta.get_field(name) for name in names]
    quote = db.ops.quote_name
    sql = (f"UPDATE {table(model)} SET {', '.join(f'{quote(f.column)} = %s' for f in found)} "
           f"WHERE {quote(model._meta.pk.column)} = %s")
    return sql, [*(field.get_db_prep_save(getattr(obj, field.attname), db) for field in found), obj.pk]


def update_fields(obj, names: Sequence[str]) -> None:
    """`obj.save(update_fields=names)` as one UPDATE by primary key."""
    execute(*update_fields_statement(obj, names))


def execute(sql: str, params: Sequence) -> None:
    """One statement that returns no rows."""
    with cursor() as running:
        running.execute(sql, params)


def one_statement_together() -> bool:
    """Whether `execute_together` (and `insert(together=...)`) send one statement: on PostgreSQL,
    which is then atomic by itself, inside a transaction or not."""
    return _db().vendor == "postgresql"


def execute_together(statements: Sequence[Statement | None]) -> None:
    """INSERTs and UPDATEs (None: nothing) that need not see one another's effects (each writes
    rows the others neither read nor write): on PostgreSQL one statement of data-modifying WITH
    clauses (one round trip instead of one each), elsewhere one after another. Call inside a
    transaction unless `one_statement_together()`."""
    found = [statement for statement in statements if statement is not None]
    if len(found) > 1 and one_statement_together():
        found = [_with_clauses(found[:-1], found[-1])]
    for statement in found:
        execute(*statement)


def _with_clauses(first: Sequence[Statement], last: Statement) -> Statement:
    clauses = ", ".join(f"w{k} AS ({sql})" for k, (sql, _params) in enumerate(first))
    return f"WITH {clauses} {last[0]}", [value for _sql, params in (*first, last) for value in params]


# --- Numbers for analysis -------------------------------------------------------------------------


def raw_rows(queryset) -> list[tuple]:
    """The rows of a values_list query straight from the database driver, skipping Django's
    per-value converters (numbers and NULLs need none, and they can cost more than the query)."""
    sql, params = queryset.query.sql_with_params()
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


#: Rows per fetch where there is no binary COPY (SQLite).
FETCH_ROWS = 200_000


def numeric_columns(queryset, kinds: str) -> tuple[np.ndarray, ...]:
    """The columns of a `values_list` query as numpy arrays, in the query's row order: for each
    column a kind, ``i`` (int64, never NULL: ids, counts) or ``f`` (float64, NULL as NaN).

    On PostgreSQL the rows travel as one binary COPY whose fixed-width records numpy reads in
    place (a million rows of three columns: about 25 MB, no Python object per value); elsewhere
    they are fetched in chunks of FETCH_ROWS."""
    if not kinds or set(kinds) - {"i", "f"}:
        raise ValueError(f"kinds must be a string of 'i' and 'f', not {kinds!r}")
    sql, params = queryset.query.sql_with_params()
    database = connections[queryset.db]
    if database.vendor == "postgresql":
        return _copy_columns(database, sql, params, kinds)
    return _fetched_columns(database, sql, params, kinds)


def float_matrix(queryset, width: int) -> np.ndarray:
    """The rows of a values_list query of `width` numeric columns as one float array (NULL = NaN)."""
    return np.column_stack(numeric_columns(queryset, "f" * width)).reshape(-1, width)


def _fetched_columns(database, sql: str, params, kinds: str) -> tuple[np.ndarray, ...]:
    parts: list[np.ndarray] = []
    with database.cursor() as cursor:
        cursor.execute(sql, params)
        while chunk := cursor.fetchmany(FETCH_ROWS):
            parts.append(np.array(chunk, dtype=float).reshape(-1, len(kinds)))  # None -> NaN
    matrix = np.concatenate(parts) if parts else np.empty((0, len(kinds)))
    integers = [k for k, kind in enumerate(kinds) if kind == "i"]
    if np.isnan(matrix[:, integers]).any():
        raise ValueError(_NULL_INTEGER)
    return tuple(matrix[:, k].astype(np.int64) if kind == "i" else np.ascontiguousarray(matrix[:, k])
                 for k, kind in enumerate(kinds))


_NULL_INTEGER = "a NULL in an integer column of numeric_columns (read it as 'f')"

#: PostgreSQL's binary COPY: an 11-byte signature, 32-bit flags and header-extension length; each
#: row a 16-bit field count, then per field its 32-bit byte length and its big-endian value; a
#: 16-bit -1 at the end.
_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
_COPY_HEADER = 19
_COPY_TRAILER = 2


def _copy_columns(database, sql: str, params, kinds: str) -> tuple[np.ndarray, ...]:
    names = ", ".join(f"c{k}" for k in range(len(kinds)))
    # Every value as a fixed-width, never-NULL binary field: bigint, or double precision with NaN.
    select = ", ".join(f"CAST(c{k} AS bigint)" if kind == "i" else f"COALESCE(CAST(c{k} AS double precision), 'NaN')"
                       for k, kind in enumerate(kinds))
    record = np.dtype([("fields", ">i2")] + [field for k, kind in enumerate(kinds)
                                             for field in ((f"n{k}", ">i4"), (f"c{k}", ">i8" if kind == "i" else ">f8"))])
    buffer = bytearray()
    with database.cursor() as cursor:
        with cursor.cursor.copy(f"COPY (SELECT {select} FROM ({sql}) AS q ({names})) TO STDOUT (FORMAT binary)",
                                params) as copy:
            for block in copy:
                buffer += block
    if bytes(buffer[:11]) != _COPY_SIGNATURE or int.from_bytes(buffer[15:19], "big") != 0:
        raise RuntimeError("unexpected header of a binary COPY")
    # A NULL (only possible in an integer column) is a field of length -1 and no value: the
    # records no longer line up.
    count, leftover = divmod(len(buffer) - _COPY_HEADER - _COPY_TRAILER, record.itemsize)
    if leftover or buffer[-2:] != b"\xff\xff":
        raise ValueError(_NULL_INTEGER)
    records = np.frombuffer(buffer, dtype=record, offset=_COPY_HEADER, count=count)
    if count and not (np.all(records["fields"] == len(kinds))
                      and all(np.all(records[f"n{k}"] == 8) for k in range(len(kinds)))):
        raise ValueError(_NULL_INTEGER)
    found = tuple(records[f"c{k}"].astype(np.int64 if kind == "i" else np.float64) for k, kind in enumerate(kinds))
    del records, buffer
    return found
