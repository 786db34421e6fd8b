"""One way to run SQL on the ledger's database, SQLite or PostgreSQL: what the ledgers'
``transaction()`` / ``reading()`` yield to the stores that keep their tables beside the jobs
(the policy store, the audit log, the owner's alerts, the figures, saved faces, forgetting).

A :class:`SqlConnection` has three calls and a dialect:

* ``await db.execute(sql, args) -> int``: a statement without rows; how many rows it changed.
* ``await db.execute_fetchall(sql, args) -> list[Row]``: every row. A row is indexed by
  position and by column name and has ``keys()`` (``sqlite3.Row``, ``asyncpg.Record``).
* ``await db.fetch_value(sql, args)``: the first column of the first row, None without one;
  ``INSERT ... RETURNING id`` gives the new row's id (SQLite 3.35+ and PostgreSQL alike).
* ``db.dialect``: the few fragments the two write differently (:class:`Dialect`).

SQL is written once, with ``?`` placeholders; for PostgreSQL they become ``$1, $2, ...``
(outside quoted text and comments: :func:`numbered_placeholders`). Write what both speak:
``INSERT ... ON CONFLICT ... DO NOTHING / DO UPDATE`` (not ``INSERT OR ...``), ``RETURNING id``
(not ``lastrowid``), ``CASE WHEN ... THEN 1 ELSE 0 END`` (not a comparison used as a number),
``COALESCE``, ``NULLIF``, ``||``, ``LIKE``, ``LIMIT ?``; times as the ledger's fixed-width UTC
text (``2025-01-02T03:04:05.000006Z``, compared as text: PostgreSQL's time columns are
``COLLATE "C"``); JSON fields through :meth:`Dialect.json_text`. Errors are the driver's own
here; the ledger's context managers turn them into `LedgerError`s.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

__all__ = [
    "POSTGRESQL",
    "SQLITE",
    "Dialect",
    "PostgresConnection",
    "Row",
    "SqlConnection",
    "SqliteConnection",
    "numbered_placeholders",
]

_JSON_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_COLUMN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")


class Row(Protocol):
    """A result row: by position (``row[0]``) or column name (``row["id"]``); iterating it
    gives its values."""

    def __getitem__(self, key: Any, /) -> Any: ...
    def __iter__(self) -> Iterator[Any]: ...
    def __len__(self) -> int: ...
    def keys(self) -> Any: ...


@dataclass(frozen=True)
class Dialect:
    """What differs between the two databases in the stores' SQL. ``name``: ``"sqlite"`` or
    ``"postgresql"``."""

    name: str
    _json_text: str
    _contains: str

    def json_text(self, column: str, key: str) -> str:
        """SQL for the text at ``key`` of the JSON object in ``column`` (NULL when absent):
        the same expression as the ledger's indexes on it, so they are used."""
        if not _COLUMN.fullmatch(column) or not _JSON_KEY.fullmatch(key):
            raise ValueError(f"not a plain column and key: {column!r}, {key!r}")
        return self._json_text.format(column=column, key=key)

    def contains(self, column: str) -> str:
        """SQL that is true when the text in ``column`` holds the next ``?`` argument
        (plain text, no pattern)."""
        if not _COLUMN.fullmatch(column):
            raise ValueError(f"not a plain column: {column!r}")
        return self._contains.format(column=column)


SQLITE = Dialect("sqlite", "json_extract({column}, '$.{key}')", "instr({column}, ?) > 0")
POSTGRESQL = Dialect("postgresql", "({column}::json ->> '{key}')", "strpos({column}, ?) > 0")


class SqlConnection(Protocol):
    """See the module docstring. Arguments are a sequence matching the ``?`` in order."""

    @property
    def dialect(self) -> Dialect: ...

    async def execute(self, sql: str, args: Iterable[Any] = ()) -> int:
        """Run one statement; the number of rows it inserted, updated or deleted."""
        ...

    async def execute_fetchall(self, sql: str, args: Iterable[Any] = ()) -> Sequence[Row]:
        """Run one query; all its rows."""
        ...

    async def fetch_value(self, sql: str, args: Iterable[Any] = ()) -> Any:
        """Run one query; the first column of its first row (None without rows)."""
        ...


class SqliteConnection:
    """:class:`SqlConnection` over an ``aiosqlite`` connection (``row_factory`` =
    ``sqlite3.Row``). Writes go through the connection's ``execute`` (the tests' disk seam
    sits there)."""

    dialect = SQLITE

    def __init__(self, db: Any) -> None:
        self.raw = db

    async def execute(self, sql: str, args: Iterable[Any] = ()) -> int:
        cursor = await self.raw.execute(sql, tuple(args))
        try:
            return int(cursor.rowcount)
        finally:
            await cursor.close()

    async def execute_fetchall(self, sql: str, args: Iterable[Any] = ()) -> Sequence[Row]:
        return list(await self.raw.execute_fetchall(sql, tuple(args)))

    async def fetch_value(self, sql: str, args: Iterable[Any] = ()) -> Any:
        cursor = await self.raw.execute(sql, tuple(args))
        try:
            rows = await cursor.fetchall()  # to the end: an INSERT ... RETURNING completes
        finally:
            await cursor.close()
        return rows[0][0] if rows else None


class PostgresConnection:
    """:class:`SqlConnection` over an ``asyncpg`` connection; ``?`` become ``$n``."""

    dialect = POSTGRESQL

    def __init__(self, conn: Any) -> None:
        self.raw = conn

    async def execute(self, sql: str, args: Iterable[Any] = ()) -> int:
        status = await self.raw.execute(numbered_placeholders(sql), *args)
        return _rows_changed(status)

    async def execute_fetchall(self, sql: str, args: Iterable[Any] = ()) -> Sequence[Row]:
        return list(await self.raw.fetch(numbered_placeholders(sql), *args))

    async def fetch_value(self, sql: str, args: Iterable[Any] = ()) -> Any:
        return await self.raw.fetchval(numbered_placeholders(sql), *args)


def _rows_changed(status: str) -> int:
    """The row count of a command tag: ``"UPDATE 3"`` → 3, ``"INSERT 0 1"`` → 1."""
    last = status.rsplit(" ", 1)[-1] if status else ""
    return int(last) if last.isdigit() else 0


@lru_cache(maxsize=1024)
def numbered_placeholders(sql: str) -> str:
    """``sql`` with each ``?`` outside quoted text (``'...'``, ``"..."``) and comments
    (``--``, ``/* */``) numbered PostgreSQL's way: ``$1``, ``$2``, ... in order."""
    out: list[str] = []
    number = 0
    i, n = 0, len(sql)
    while i < n:
        char = sql[i]
        if char in "'\"":
            end = i + 1
            while end < n:
                if sql[end] == char:
                    if end + 1 < n and sql[end + 1] == char:  # a doubled quote inside
                        end += 2
                        continue
                    break
                end += 1
            out.append(sql[i : end + 1])
            i = end + 1
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            end = n if end < 0 else end
            out.append(sql[i:end])
            i = end
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            end = n if end < 0 else end + 2
            out.append(sql[i:end])
            i = end
        elif char == "?":
            number += 1
            out.append(f"${number}")
            i += 1
        else:
            out.append(char)
            i += 1
    return "".join(out)
