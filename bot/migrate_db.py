"""`python -m bot migrate-db --to postgresql://...`: move the job ledger from the SQLite file of
``BOT_DATA_DIR`` into an empty PostgreSQL database, for a bot that will run with
``DATABASE_URL`` (issue 14). Every job with its events, the update inbox, each server's and
chat's settings, the audit log, the owner's alerts, saved faces and held requests are copied,
ids kept (`bot.core.jobs.ledger_copy`).

Refused, with one line and exit code 1 (2 for a ``--to`` that is not a PostgreSQL URL), and
nothing written anywhere:

* a bot is using the SQLite file: the data folder's lock (`bot.storage.exclusive_use`) is held.
  The command holds it itself for the whole copy, so no bot can start on the folder meanwhile;
* a bot is using the target (a live lease in its ``leases`` table), or it already holds rows;
* the SQLite file is missing, unreadable, or newer than this code.

The SQLite file is only read, never changed: it stays as the backup. It is copied first
(SQLite's online backup) into a temporary folder inside ``BOT_DATA_DIR``, and that copy is
brought to the current schema if it is older. The target is migrated to the current schema
(`PostgresLedger.open`) only after its checks. Files (selfies, kept results, saved faces'
encrypted images, the faces' key) are not in the database: they stay in ``BOT_DATA_DIR``,
which the PostgreSQL bot keeps using. The URL's password is never printed.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from bot.core.jobs.database_url import describe_url, passwords_in, redacted
from bot.core.jobs.ledger import Clock, LedgerError, utc_now
from bot.core.jobs.schema import load_migrations, too_new
from bot.core.jobs.sqlite_ledger import SqliteLedger
from bot.settings import Settings, SettingsError, SettingsReader
from bot.storage import DataDirError, exclusive_use

if TYPE_CHECKING:
    from bot.core.jobs.ledger_copy import CopyResult

__all__ = ["add_migrate_db_arguments", "migrate_db"]

# What each table holds, for the summary.
_WHAT = {
    "jobs": "portrait requests, every state",
    "job_events": "the jobs' state changes",
    "inbox": "Telegram updates received",
    "scope_policy": "servers' and chats' settings",
    "audit_log": "the audit log",
    "owner_alerts": "alerts sent to the owner",
    "saved_faces": "saved faces (their images stay in files)",
    "held_requests": "requests awaiting a member's answer",
}


def add_migrate_db_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--to",
        required=True,
        metavar="URL",
        help="the empty PostgreSQL database to copy into: "
        "postgresql://user:password@host:5432/database",
    )


def target_url_problem(url: str) -> str | None:
    """Why ``url`` cannot be the target (one line, never the URL: it may hold a password), or
    None. The same rule as ``DATABASE_URL`` (`bot.settings`), and a database must be named:
    ``postgresql://`` alone would pick the login's default database."""
    wanted = "--to must name a PostgreSQL database: postgresql://user:password@host:5432/database"
    try:
        SettingsReader({"--to": url}).database_url("--to")
        parsed = urlparse(url.strip())
    except SettingsError as error:
        return "--to is not a valid URL." if "valid URL" in str(error) else wanted
    except ValueError:
        return "--to is not a valid URL."
    return wanted if not url.strip() or not parsed.path.strip("/") else None


async def migrate_db(
    settings: Settings, args: argparse.Namespace, *, clock: Clock = utc_now
) -> int:
    """Copy the SQLite ledger of ``settings.data_dir`` into ``args.to``; print a summary.
    Exit codes: 0 copied; 1 refused or failed (nothing written); 2 ``--to`` is not a
    PostgreSQL URL."""
    # Here, not at the top: the other commands never load the PostgreSQL driver.
    from bot.core.jobs.ledger_copy import CopyRefused

    url = str(args.to).strip()
    problem = target_url_problem(url)
    if problem is not None:
        return _refuse(problem, url, code=2)
    path = SqliteLedger.default_path(settings.data_dir)
    if not path.is_file():
        return _refuse(f"no job database at {path} (BOT_DATA_DIR): nothing to copy", url)
    try:
        with exclusive_use(settings.data_dir):
            result = await _copy(path, url, clock)
    except DataDirError as error:
        return _refuse(f"{error}: stop the bot first", url)
    except CopyRefused as error:
        return _refuse(str(error), url)
    except (LedgerError, OSError) as error:
        print(redacted(f"Error: {error}; nothing was copied", url), file=sys.stderr)
        return 1
    print(_summary(result, path, settings.data_dir, url))
    return 0


def _refuse(reason: str, url: str, *, code: int = 1) -> int:
    print(redacted(f"Refused: {reason}", url), file=sys.stderr)
    return code


async def _copy(path: Path, url: str, clock: Clock) -> CopyResult:
    """Under the data folder's lock: check both sides, snapshot the SQLite file, migrate the
    target, copy. Raises `CopyRefused`, `LedgerError` or `OSError`."""
    from bot.core.jobs.ledger_copy import CopyRefused, check_source, check_target, copy_ledger
    from bot.core.jobs.postgres_ledger import PostgresLedger

    known = len(load_migrations())
    with tempfile.TemporaryDirectory(prefix=".migrate-db-", dir=path.parent) as folder:
        snapshot = Path(folder) / path.name
        try:
            version = await asyncio.to_thread(_snapshot, path, snapshot, known)
        except sqlite3.Error as error:
            raise CopyRefused(f"cannot read the job database {path}: {error}") from None
        if version > known:
            raise CopyRefused(f"{path}: {too_new(version, known)}")
        if version == 0:
            raise CopyRefused(f"{path} holds no job ledger (schema version 0)")
        async with await SqliteLedger.open(snapshot) as source:  # migrated if older
            await check_source(source)
            await check_target(url, clock=clock)
            async with await PostgresLedger.open(url, max_size=2) as target:  # migrated
                return await copy_ledger(source, target, clock=clock)


def _snapshot(path: Path, into: Path, known: int) -> int:
    """Copy the SQLite file at ``path`` (opened read-only) into the new file ``into`` with
    SQLite's online backup (the last commits in its WAL included), unless its schema version
    is above ``known``; returns that version. Raises `sqlite3.Error`."""
    source = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        version = int(source.execute("PRAGMA user_version").fetchone()[0])
        if 0 < version <= known:
            copy = sqlite3.connect(into)
            try:
                source.backup(copy)
            finally:
                copy.close()
        return version
    finally:
        source.close()


def _summary(result: CopyResult, path: Path, data_dir: Path, url: str) -> str:
    """What was copied, where the files are, and what to set next (no password)."""
    from bot.core.jobs.ledger_copy import SKIPPED_TABLES

    lines = [f"Copied {path} into {describe_url(url)} (schema version {result.version}):"]
    for table, count in result.counts.items():
        lines.append(f"  {table:<14} {count:>9}  {_WHAT.get(table, '')}")
    for table, why in SKIPPED_TABLES.items():
        lines.append(f"  {table:<14} {'-':>9}  not copied ({why})")
    shown = redacted(url, url)
    hidden = " (*** is the URL's password)" if passwords_in(url) else ""
    lines += [
        f"Files are not in the database and stay in BOT_DATA_DIR ({data_dir.resolve()}): "
        "selfies, kept results, saved faces' images and their key. Start the PostgreSQL bot "
        "with the same BOT_DATA_DIR.",
        f"{path} is unchanged: keep it as a backup.",
        f"Next: set DATABASE_URL={shown} in .env{hidden}, then start the bot.",
    ]
    return "\n".join(lines)
