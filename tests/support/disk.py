"""A fault seam for the job ledger's SQLite connection: writes fail as on a full disk."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

from bot.core.jobs.sqlite_ledger import SqliteLedger


class Disk:
    """A fault seam on the ledger's connection: while `refuse(sql, parameters)` says so, a
    write fails as SQLite's does on a full disk (nothing else about the ledger changes)."""

    WRITES = ("INSERT", "UPDATE", "DELETE")

    def __init__(self, db: Any) -> None:
        self._db = db
        self.refuse: Callable[[str, tuple[Any, ...]], bool] | None = None
        self.refused = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)

    async def execute(self, sql: str, parameters: Any = ()) -> Any:
        write = sql.lstrip().upper().startswith(self.WRITES)
        if write and self.refuse is not None and self.refuse(sql, tuple(parameters)):
            self.refused += 1
            raise sqlite3.OperationalError("database or disk is full")
        return await self._db.execute(sql, parameters)

    @classmethod
    def under(cls, ledger: Any) -> Disk:
        """Put a seam under ``ledger`` (a SqliteLedger, or a wrapper with ``_inner``)."""
        inner: SqliteLedger = getattr(ledger, "_inner", ledger)
        disk = cls(inner._db)
        inner._db = disk  # type: ignore[assignment]
        return disk
