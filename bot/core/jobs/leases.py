"""Leases: named rights that one bot process holds at a time, kept in the ledger's database
(table ``leases``, migration ``0013_leases.sql``) so they hold across processes.

A process takes a lease for ``ttl`` and renews it while it lives (`hold_while`); if it dies,
the lease simply expires and another process takes it. Used for the Telegram long polling of
one bot (Telegram answers 409 Conflict to a second ``getUpdates`` with the same token: Bot
API, "getUpdates") and for each process's heartbeat, which keeps its claimed jobs its own.

Taking a lease is one upsert that succeeds only when the lease is free, expired or already the
caller's: ``INSERT ... ON CONFLICT (name) DO UPDATE ... WHERE holder = excluded.holder OR
expires_at <= now`` (SQLite 3.24+ and PostgreSQL alike). Clocks: each process's own UTC
clock; keep them in sync (NTP), the ttl is many seconds for that reason.

Errors: `LedgerError` from the database (`acquire`); `hold_while` treats one as a lost lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta

from bot.core.jobs.job_rows import time_text
from bot.core.jobs.ledger import Clock, LedgerError, utc_now
from bot.core.jobs.sql_ledger import SqlLedger

__all__ = ["DEFAULT_TTL", "Leases", "process_holder"]

log = logging.getLogger(__name__)

DEFAULT_TTL = timedelta(seconds=30)


def process_holder() -> str:
    """This process's name as a holder: ``<host>:<pid>:<8 random hex>``."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Leases:
    """The leases of one process (``holder``) on ``ledger``'s database."""

    def __init__(
        self, ledger: SqlLedger, holder: str | None = None, *, clock: Clock = utc_now
    ) -> None:
        self._ledger = ledger
        self.holder = holder or process_holder()
        self._clock = clock

    async def acquire(self, name: str, ttl: timedelta = DEFAULT_TTL) -> bool:
        """Take or renew ``name`` until now + ``ttl``; False when another process holds it.
        Raises `LedgerError`."""
        now = self._clock()
        async with self._ledger.transaction() as db:
            await db.execute(
                "INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, "
                "expires_at = excluded.expires_at "
                "WHERE leases.holder = excluded.holder OR leases.expires_at <= ?",
                (name, self.holder, time_text("time", now + ttl), time_text("time", now)),
            )
            rows = await db.execute_fetchall("SELECT holder FROM leases WHERE name = ?", (name,))
        return bool(rows) and next(iter(rows))[0] == self.holder

    async def holder_of(self, name: str) -> str | None:
        """Who holds ``name`` now (None: nobody, or it expired)."""
        async with self._ledger.reading() as db:
            rows = list(
                await db.execute_fetchall(
                    "SELECT holder FROM leases WHERE name = ? AND expires_at > ?",
                    (name, time_text("time", self._clock())),
                )
            )
        return str(rows[0][0]) if rows else None

    async def release(self, name: str) -> None:
        """Give ``name`` up now, if this process holds it (errors are logged)."""
        try:
            async with self._ledger.transaction() as db:
                await db.execute(
                    "DELETE FROM leases WHERE name = ? AND holder = ?", (name, self.holder)
                )
        except LedgerError as error:
            log.warning("Could not release the lease %s (it expires by itself): %s", name, error)

    async def hold_while(
        self,
        name: str,
        work: Callable[[asyncio.Event], Awaitable[None]],
        stop: asyncio.Event,
        *,
        ttl: timedelta = DEFAULT_TTL,
        retry: float | None = None,
    ) -> None:
        """Until ``stop`` is set: wait for the lease ``name`` (asking again every ``retry``
        seconds, default a third of ``ttl``), then run ``work(lost)`` while renewing it every
        third of ``ttl``. ``lost`` is set when the lease cannot be renewed (another process
        took it, or the database failed) or ``stop`` is set: ``work`` must then return soon.
        After ``work`` returns, the lease is released and, unless stopping, waited for again."""
        every = ttl.total_seconds() / 3
        retry = every if retry is None else retry
        while not stop.is_set():
            try:
                held = await self.acquire(name, ttl)
            except LedgerError as error:
                log.warning("Could not take the lease %s: %s", name, error)
                held = False
            if not held:
                await _pause(stop, retry)
                continue
            log.info("This process holds %s", name)
            lost = asyncio.Event()
            keeper = asyncio.create_task(self._renew(name, ttl, every, lost, stop))
            try:
                await work(lost)
            finally:
                keeper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await keeper
                await self.release(name)

    async def _renew(
        self, name: str, ttl: timedelta, every: float, lost: asyncio.Event, stop: asyncio.Event
    ) -> None:
        while not stop.is_set():
            await _pause(stop, every)
            if stop.is_set():
                break
            try:
                if await self.acquire(name, ttl):
                    continue
                log.warning("Another process took the lease %s", name)
            except LedgerError as error:
                log.warning("Could not renew the lease %s: %s", name, error)
            break
        lost.set()


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
