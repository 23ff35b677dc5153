"""Core INSERTs and UPDATEs compiled once, then run as driver SQL.

Under a burst the writes that stand between a caller and their text run one after the
other on SQLite's one writer, sharing the GIL with the event loop. Executing a Core
statement costs ~50-90 µs of Python on top of SQLite's ~10 µs (the execution context:
compiled-cache lookup, parameter processing, result set-up), per statement, every
time. :func:`write` compiles a statement once per dialect and set of columns, keeps
the SQL text, the order of its parameters and their types' bind processors (the same
ones SQLAlchemy applies: a SQLite ``DateTime`` is stored as the same text, a ``JSON`` as
the same JSON), and runs it with ``Connection.exec_driver_sql`` on the caller's
connection, inside its transaction.

Only what the statement alone decides is cached; a statement this cannot reproduce
exactly (a column default that is not a plain value, an expanding or literal
parameter) is executed through Core as before, every time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Insert, Table, Update
from sqlalchemy.engine import Dialect

__all__ = ["insert_id", "write"]


@dataclass(frozen=True, slots=True)
class _Prepared:
    sql: str
    names: tuple[str, ...]  # the parameters, in the order the SQL takes them
    positional: bool  # a sequence of values (qmark, format) or a mapping (named, pyformat)
    processors: Mapping[str, Callable[[Any], Any]]
    defaults: Mapping[str, Any]  # column defaults Core would add (plain values only)


# (statement, dialect name, columns given) -> how to run it; None: through Core.
_prepared: dict[tuple[Any, str, frozenset[str]], _Prepared | None] = {}


def write(connection: Connection, statement: Insert | Update, values: Mapping[str, Any]) -> None:
    """Execute ``statement`` with ``values`` on ``connection``, as
    ``connection.execute(statement, values)`` would."""
    prepared = _prepare(statement, connection.dialect, values)
    if prepared is None:
        connection.execute(statement, dict(values))
        return
    connection.exec_driver_sql(prepared.sql, _parameters(prepared, values))


def insert_id(connection: Connection, statement: Insert, values: Mapping[str, Any]) -> int:
    """INSERT one row with ``values`` (``statement`` inserts into a table whose primary
    key is one generated integer column); the new row's id."""
    table = statement.table
    assert isinstance(table, Table)
    (key,) = table.primary_key.columns
    if connection.dialect.insert_returning and connection.dialect.name != "sqlite":
        returning = _returning(statement, key.name)
        prepared = _prepare(returning, connection.dialect, values)
        if prepared is not None:
            row_id = connection.exec_driver_sql(
                prepared.sql, _parameters(prepared, values)
            ).scalar_one()
            return int(row_id)
    else:
        prepared = _prepare(statement, connection.dialect, values)
        if prepared is not None:
            result = connection.exec_driver_sql(prepared.sql, _parameters(prepared, values))
            return int(result.lastrowid)
    inserted = connection.execute(statement, dict(values)).inserted_primary_key
    assert inserted is not None
    return int(inserted[0])


_returnings: dict[Any, Insert] = {}


def _returning(statement: Insert, key: str) -> Insert:
    """``statement`` RETURNING its table's primary key, built once (the cache's key)."""
    found = _returnings.get(statement)
    if found is None:
        table = statement.table
        assert isinstance(table, Table)
        found = _returnings[statement] = statement.returning(table.c[key])
    return found


def _parameters(prepared: _Prepared, values: Mapping[str, Any]) -> Any:
    given = {**prepared.defaults, **values} if prepared.defaults else values
    processors = prepared.processors
    processed = {
        name: processors[name](given[name]) if name in processors else given[name]
        for name in prepared.names
    }
    if prepared.positional:
        return tuple(processed[name] for name in prepared.names)
    return processed


def _prepare(
    statement: Insert | Update, dialect: Dialect, values: Mapping[str, Any]
) -> _Prepared | None:
    key = (statement, dialect.name, frozenset(values))
    try:
        return _prepared[key]
    except KeyError:
        pass
    prepared = _compile(statement, dialect, list(values))
    _prepared[key] = prepared
    return prepared


def _compile(statement: Insert | Update, dialect: Dialect, keys: list[str]) -> _Prepared | None:
    compiled = statement.compile(dialect=dialect, column_keys=keys)
    if compiled.literal_execute_params or compiled.post_compile_params:
        return None
    defaults: dict[str, Any] = {}
    prefetch = [*compiled.insert_prefetch, *compiled.update_prefetch]
    for column in prefetch:
        default = column.default if isinstance(statement, Insert) else column.onupdate
        if default is None or not default.is_scalar:
            return None
        defaults[column.key] = default.arg  # type: ignore[attr-defined]
    names = tuple(compiled.positiontup or compiled.binds)
    binds = compiled.binds
    if any(name not in keys and name not in defaults for name in names):
        return None  # a parameter with a value of its own (none of these statements has one)
    if any(binds[name].key != name for name in names):
        return None  # an escaped or anonymous name
    processors: dict[str, Callable[[Any], Any]] = {}
    for name in names:
        processor = binds[name].type.dialect_impl(dialect).bind_processor(dialect)
        if processor is not None:
            processors[name] = processor
    return _Prepared(
        compiled.string,
        names,
        compiled.positiontup is not None,
        processors,
        defaults,
    )
