"""Alerts to the bot's owner, at most one an hour per kind (a Wiro health state), across
restarts: the last one sent of each kind is remembered in the ledger's database (table
``owner_alerts``, migration ``0010_audit_log.sql``) before the next is allowed.

Alerts go through `FrontEnds.tell_owners` to every registered `OwnerContact` (a Discord DM to
the application's owner or team, Telegram's `TELEGRAM_OWNER_IDS`). One no contact took is not
remembered, so it is tried again at the next occasion.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from bot.core.insight.audit import from_text, to_text
from bot.core.jobs.ledger import Clock, LedgerError, utc_now

if TYPE_CHECKING:
    from bot.core.jobs.sql_ledger import SqlLedger

__all__ = ["ALERT_EVERY", "OwnerAlerts", "OwnersReach"]

log = logging.getLogger(__name__)

ALERT_EVERY = timedelta(hours=1)


class OwnersReach(Protocol):
    """What sends to the owner: `FrontEnds` (returns how many contacts took the text)."""

    async def tell_owners(self, text: str) -> int: ...


class OwnerAlerts:
    """Sends an alert of a kind unless one of that kind went less than `every` ago."""

    def __init__(
        self,
        ledger: SqlLedger,
        owners: OwnersReach,
        *,
        clock: Clock = utc_now,
        every: timedelta = ALERT_EVERY,
    ) -> None:
        self._ledger = ledger
        self._owners = owners
        self._clock = clock
        self.every = every
        self._lock = asyncio.Lock()  # two occasions at once send one alert

    async def send(self, kind: str, text: str) -> bool:
        """Tell the owner `text` unless an alert of `kind` went within `every`; True when a
        contact took it. Never raises for a failing contact or database (logged)."""
        async with self._lock:
            now = self._clock()
            try:
                last = await self.last_sent(kind)
            except LedgerError as error:
                log.warning("Cannot read when the owner was last alerted: %s", error)
                return False
            if last is not None and now - last < self.every:
                log.debug("Owner alert %s not repeated: one went at %s", kind, to_text(last))
                return False
            told = await self._owners.tell_owners(text)
            if not told:
                log.warning("Owner alert %s reached no owner (no contact took it)", kind)
                return False
            try:
                async with self._ledger.transaction() as db:
                    await db.execute(
                        "INSERT INTO owner_alerts (state, sent_at, text) VALUES (?, ?, ?) "
                        "ON CONFLICT (state) DO UPDATE SET sent_at = excluded.sent_at, "
                        "text = excluded.text",
                        (kind, to_text(now), text),
                    )
            except LedgerError as error:
                log.warning("Cannot remember the owner alert %s: %s", kind, error)
            log.info("Told the bot's owner (%s) through %d contact(s)", kind, told)
            return True

    async def last_sent(self, kind: str) -> datetime | None:
        """When the last alert of `kind` went, if one is remembered."""
        async with self._ledger.reading() as db:
            rows = await db.execute_fetchall(
                "SELECT sent_at FROM owner_alerts WHERE state = ?", (kind,)
            )
        return from_text(rows[0][0]) if rows else None
