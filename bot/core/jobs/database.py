"""Which database holds the job ledger: ``DATABASE_URL`` decides.

Empty (the default): the embedded SQLite file ``BOT_DATA_DIR/jobs.sqlite3``
(:class:`~bot.core.jobs.sqlite_ledger.SqliteLedger`). ``postgresql://user:password@host:port/db``
(or ``postgres://``): that PostgreSQL database
(:class:`~bot.core.jobs.postgres_ledger.PostgresLedger`). Either way every table of the bot
(jobs, the update inbox, policies, the audit log, alerts, saved faces) is in it, and the files
(selfies, kept results, saved faces' encrypted images, keys) stay in ``BOT_DATA_DIR``.
"""

from __future__ import annotations

from os import PathLike

from bot.core.jobs.database_url import describe_url
from bot.core.jobs.ledger import Clock, utc_now
from bot.core.jobs.sql_ledger import SqlLedger
from bot.core.jobs.sqlite_ledger import SqliteLedger

__all__ = ["describe_database", "open_ledger"]


async def open_ledger(
    database_url: str, data_dir: str | PathLike[str], *, clock: Clock = utc_now
) -> SqlLedger:
    """Open (and migrate) the ledger ``database_url`` names, or the SQLite file in
    ``data_dir`` when it is empty. Raises `LedgerError` (`LedgerUnavailable` when a server
    cannot be reached); messages never hold the URL's password."""
    if database_url.strip():
        # Imported here: SQLite's users never load the PostgreSQL driver.
        from bot.core.jobs.postgres_ledger import PostgresLedger

        return await PostgresLedger.open(database_url, clock=clock)
    return await SqliteLedger.open(SqliteLedger.default_path(data_dir), clock=clock)


def describe_database(database_url: str, data_dir: str | PathLike[str]) -> str:
    """Where the ledger is, for logs and messages: the SQLite file's path, or the PostgreSQL
    URL without its password."""
    if database_url.strip():
        return describe_url(database_url)
    return str(SqliteLedger.default_path(data_dir))
