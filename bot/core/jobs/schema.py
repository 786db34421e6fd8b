"""The ledger's schema migrations: numbered SQL files, the same numbers for both databases.

``bot/core/jobs/migrations/NNNN_name.sql`` are SQLite's; PostgreSQL's are
``bot/core/jobs/migrations/postgresql/NNNN_name.sql``, one for every number (the same tables,
columns and indexes in PostgreSQL's words: ``BIGINT GENERATED ... AS IDENTITY`` ids, ``DOUBLE
PRECISION`` for SQLite's ``REAL``, time text ``COLLATE "C"``, the audit trigger in PL/pgSQL).
Numbers run 1, 2, 3... without gaps; a new migration adds a file to both folders. Each ledger
applies the files in order at start-up, each in one transaction with its version record
(SQLite: ``PRAGMA user_version``; PostgreSQL: the ``ledger_schema`` table).
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from importlib import resources

from bot.core.jobs.ledger import LedgerError

__all__ = [
    "MIGRATIONS_PACKAGE",
    "POSTGRES_MIGRATIONS_PACKAGE",
    "Migration",
    "load_migrations",
    "too_new",
]

MIGRATIONS_PACKAGE = "bot.core.jobs.migrations"
POSTGRES_MIGRATIONS_PACKAGE = "bot.core.jobs.migrations.postgresql"
_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True)
class Migration:
    number: int
    name: str
    sql: str

    def statements(self) -> list[str]:
        """SQLite's file split into single statements (``sqlite3.complete_statement``
        decides). PostgreSQL runs a file whole."""
        statements: list[str] = []
        pending = ""
        *pieces, rest = self.sql.split(";")
        for piece in pieces:
            pending += piece + ";"
            if sqlite3.complete_statement(pending):
                if _has_code(pending):
                    statements.append(pending.strip())
                pending = ""
        pending += rest
        if _has_code(pending):
            raise LedgerError(f"migration {self.name} ends with an incomplete statement")
        return statements


def _has_code(sql: str) -> bool:
    lines = (line.split("--", 1)[0].strip() for line in sql.splitlines())
    return any(line and line != ";" for line in lines)


def load_migrations(package: str = MIGRATIONS_PACKAGE) -> list[Migration]:
    """The package's ``NNNN_name.sql`` files in number order; numbers must run 1, 2, 3..."""
    found: list[Migration] = []
    for entry in resources.files(package).iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match and entry.is_file():
            found.append(Migration(int(match[1]), entry.name, entry.read_text(encoding="utf-8")))
    found.sort(key=lambda migration: migration.number)
    for expected, migration in enumerate(found, start=1):
        if migration.number != expected:
            raise LedgerError(
                f"migrations must be numbered 1, 2, 3... without gaps or repeats; "
                f"found {migration.name} where number {expected} belongs"
            )
    return found


def too_new(version: int, known: int) -> str:
    """The message for a database whose schema is newer than this code knows."""
    return (
        f"the job database is at schema version {version}, but this bot knows only "
        f"{known}: it was written by a newer version of the bot; upgrade the bot"
    )
