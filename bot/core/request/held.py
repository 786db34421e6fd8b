"""Requests held back by the face check, waiting for the member's "use it anyway".

When `bot.core.request.face_check` finds no face in a prepared selfie, the front end does not
queue the job (nothing is spent) but tells the member at once, with a button to go ahead if
they are sure (detectors miss faces). Between the two, the request waits here: the prepared
selfie in the selfie store (``BOT_DATA_DIR/selfies``, ``0600``) and a row in the ledger's
database (table ``held_requests``, migration ``0012_held_requests.sql``) with the front end's
own ``params`` (JSON: the options, spoiler, ...). So the button still works after a restart,
for `HOLD_TIME`; after that, or once used, the press is answered with `HoldGone`.

Only the member who asked may go ahead (`take` checks the requester). Expired holds are
deleted by the dispatcher's housekeeping (`prune`), and a forgotten member's holds with their
data (`forget`).

Errors: `HoldGone`, `HoldNotYours`, `LedgerError` from the database, `OSError` from the disk
(`hold`: nothing is kept).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.core.jobs.job_rows import from_time, time_text
from bot.core.jobs.ledger import Clock, LedgerError, utc_now
from bot.core.jobs.sql_ledger import SqlLedger
from bot.core.request.selfie_store import SelfieStore

__all__ = ["HOLD_TIME", "HeldRequest", "HeldRequests", "HoldGone", "HoldNotYours"]

log = logging.getLogger(__name__)

# How long a held request waits for the member's click. Long enough to read the tips and
# decide, short enough that a photo nobody wanted is not kept.
HOLD_TIME = timedelta(minutes=30)


class HoldGone(LookupError):
    """The held request expired (`HOLD_TIME`), was used already, or its member was forgotten."""


class HoldNotYours(PermissionError):
    """Someone other than the member who sent the photo pressed its button."""


@dataclass(frozen=True)
class HeldRequest:
    """One held request (not its selfie). ``params``: what the front end stored with it;
    times UTC."""

    id: int
    platform: str
    requester: str
    scope: str | None
    params: dict[str, Any]
    created_at: datetime
    expires_at: datetime


class HeldRequests:
    """See the module docstring. ``selfies``: the store the prepared selfies are kept in."""

    def __init__(
        self,
        ledger: SqlLedger,
        selfies: SelfieStore,
        *,
        hold_time: timedelta = HOLD_TIME,
        clock: Clock = utc_now,
    ) -> None:
        self._ledger = ledger
        self._selfies = selfies
        self.hold_time = hold_time
        self._clock = clock

    async def hold(
        self,
        *,
        platform: str,
        requester: str,
        scope: str | None,
        params: Mapping[str, Any],
        prepared: bytes,
    ) -> HeldRequest:
        """Keep ``prepared`` (a `PreparedSelfie`'s bytes) and ``params`` (JSON-able) for
        `hold_time`. Returns the hold; its ``id`` goes into the button. Raises `OSError` (the
        disk) or `LedgerError`; nothing is kept then."""
        if not requester:
            raise LedgerError("a held request needs its requester")
        text = json.dumps(dict(params), separators=(",", ":"))
        now = self._clock().astimezone(UTC)
        expires = now + self.hold_time
        path = await asyncio.to_thread(self._selfies.save, bytes(prepared))
        try:
            async with self._ledger.transaction() as db:
                rows = await db.execute_fetchall(
                    "INSERT INTO held_requests (platform, requester, scope, params, "
                    "selfie_path, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
                    "RETURNING id",
                    (
                        platform,
                        requester,
                        scope,
                        text,
                        path,
                        time_text("time", now),
                        time_text("time", expires),
                    ),
                )
                hold_id = int(next(iter(rows))[0])
        except BaseException:
            await asyncio.to_thread(self._selfies.delete, path)
            raise
        return HeldRequest(hold_id, platform, requester, scope, json.loads(text), now, expires)

    async def take(self, hold_id: int, requester: str) -> tuple[HeldRequest, bytes]:
        """Hand over the held request ``hold_id`` and its selfie's bytes, once: the row and the
        file are deleted. Raises `HoldNotYours` (kept for its member), `HoldGone` (expired,
        used, forgotten, or the file is missing) or `LedgerError`."""
        now = time_text("time", self._clock())
        async with self._ledger.transaction() as db:
            rows = list(
                await db.execute_fetchall(
                    "SELECT id, platform, requester, scope, params, selfie_path, created_at, "
                    "expires_at FROM held_requests WHERE id = ?",
                    (int(hold_id),),
                )
            )
            if not rows:
                raise HoldGone(hold_id)
            row = rows[0]
            if row[2] != requester:
                raise HoldNotYours(hold_id)
            await db.execute("DELETE FROM held_requests WHERE id = ?", (int(hold_id),))
        path = str(row[5])
        data = await asyncio.to_thread(self._selfies.load, path)
        await asyncio.to_thread(self._selfies.delete, path)
        if str(row[7]) <= now or data is None:
            raise HoldGone(hold_id)
        held = HeldRequest(
            id=int(row[0]),
            platform=str(row[1]),
            requester=str(row[2]),
            scope=row[3],
            params=json.loads(row[4]),
            created_at=from_time(row[6]),
            expires_at=from_time(row[7]),
        )
        return held, data

    async def prune(self) -> int:
        """Delete the holds whose time is up, with their selfies; returns how many."""
        return await self._delete("expires_at <= ?", (time_text("time", self._clock()),))

    async def forget(self, requester: str) -> int:
        """Delete every hold of ``requester``, with their selfies; returns how many."""
        return await self._delete("requester = ?", (requester,))

    async def _delete(self, where: str, args: tuple[object, ...]) -> int:
        async with self._ledger.transaction() as db:
            rows = await db.execute_fetchall(
                f"DELETE FROM held_requests WHERE {where} RETURNING selfie_path", args
            )
            paths = [str(row[0]) for row in rows]
        for path in paths:
            await asyncio.to_thread(self._selfies.delete, path)
        return len(paths)
