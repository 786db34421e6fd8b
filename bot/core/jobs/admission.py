"""Admission: turning an accepted request into a queued job, for every front end.

The one path shared by every command and button that starts new work, so all of them go
through the same limits, quotas and queue. The selfie waits in the data folder (owner-only)
and goes to Wiro only when the job is started, right before its run call: Wiro can delete
files only with their task, so a job refused, cancelled or lost before then never leaves the
member's face at a public URL.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from bot.core.faces.store import FACE_PARAM, SavedFace
from bot.core.insight.audit import place_of, style_of
from bot.core.jobs.ledger import Clock, Job, JobLedger, LedgerError, utc_now
from bot.core.jobs.limits import FairUse, LimitReached, check_fair_use
from bot.core.request.selfie_store import SelfieStore

if TYPE_CHECKING:
    from bot.core.insight.audit import AuditLog

__all__ = ["Admission", "LimitReached", "NotSaved", "Requester"]

log = logging.getLogger(__name__)


class NotSaved(Exception):
    """The request could not be stored (a full or failing disk or database); nothing was
    queued and nothing was sent to Wiro."""


@dataclass(frozen=True)
class Requester:
    """Who asks and where the answer goes, in the ledger's platform-neutral terms.

    platform: ``"discord"`` or ``"telegram"``. requester: a key no other platform's member
    can have (``"telegram:<user id>"``). scope: where the job was asked (a server, a chat).
    quota_scope: the scope whose shared daily quota applies, None when only the member's
    own limits do (a private chat). reply_address: JSON-able, the platform's ids.
    reply_secret: the part of the address that must never be logged (an interaction token),
    "" when there is none."""

    platform: str
    requester: str
    scope: str
    quota_scope: str | None
    reply_address: Mapping[str, Any]
    reply_secret: str = ""

    def __repr__(self) -> str:  # the secret never reaches a log line
        return f"Requester({self.platform!r}, {self.requester!r}, scope={self.scope!r})"


class Admission:
    """Checks the fair-use limits and queues jobs (one at a time, so two quick requests
    cannot both slip past a limit).

    `fair_use`: the owner's limits. `fair_use_for`: the limits that hold in a scope (the
    request's `Requester.scope`), such as `Policies.fair_use`, which tightens them by the
    server's or chat's policy; default: `fair_use` everywhere. `quota_mark`: the key a
    forgotten member's recent jobs are counted under (`QuotaMarks.key_for`), so forgetting
    does not reset a daily quota."""

    def __init__(
        self,
        ledger: JobLedger,
        fair_use: FairUse,
        selfies: SelfieStore,
        *,
        selfie_keep: timedelta,
        wake: Callable[[], None],
        clock: Clock = utc_now,
        fair_use_for: Callable[[str], Awaitable[FairUse]] | None = None,
        quota_mark: Callable[[str], str] | None = None,
    ) -> None:
        self._ledger = ledger
        self._fair_use = fair_use
        self._fair_use_for = fair_use_for
        self._quota_mark = quota_mark
        self._selfies = selfies
        self._selfie_keep = selfie_keep
        self._wake = wake
        self._clock = clock
        self._lock = asyncio.Lock()
        # The audit log (`bot.core.insight.audit`): queued requests and fair-use refusals.
        self.audit: AuditLog | None = None

    async def over_limit(
        self, who: Requester, params: Mapping[str, Any] | None = None
    ) -> LimitReached | None:
        """The first fair-use limit the member is over, if any (a cooldown is not one: the
        job waits for it). Checked before a selfie is downloaded or anything is spent.
        `params` (the job's, as far as known) give the audit log the prompt and style."""
        try:
            await self._start_time(who)
        except LimitReached as limit:
            await self._record(who, params or {}, "refused", reason=limit.kind.value)
            return limit
        return None

    async def admit(
        self,
        who: Requester,
        params: Mapping[str, Any],
        selfie: bytes | SavedFace,
        *,
        selfie_expires_at: datetime | None = None,
        post_status: Callable[[Job, int | None], Awaitable[str | None]],
    ) -> Job:
        """Save the selfie, queue the job, post its status (`post_status` returns the
        status message's reference) and wake the queue. Returns the job.

        Raises `LimitReached` (checked again under the admission lock) and `NotSaved`; in
        both cases the selfie is gone and nothing was queued. The saved copy is kept for the
        result buttons until `selfie_expires_at` (default: `selfie_keep` from now).

        `selfie` may be one of the member's saved faces instead of a photo's bytes: the job
        then names it (``params["face_id"]``), nothing is written here, and the dispatcher
        decrypts it only when the job is started (`SavedFaces.read`)."""
        path: str | None = None
        expires_at: datetime | None = None
        if isinstance(selfie, SavedFace):
            if selfie.requester != who.requester:
                raise ValueError("a saved face is used only by the member who saved it")
            params = {**params, FACE_PARAM: selfie.id}
        else:
            try:
                path = await asyncio.to_thread(self._selfies.save, selfie)
            except OSError as error:
                log.error("Cannot save a selfie in %s: %s", self._selfies.folder, error)
                raise NotSaved from None
            expires_at = selfie_expires_at or self._clock() + self._selfie_keep
        try:
            async with self._lock:
                not_before = await self._start_time(who)
                job = await self._ledger.create(
                    platform=who.platform,
                    requester=who.requester,
                    scope=who.scope,
                    reply_address=who.reply_address,
                    reply_secret=who.reply_secret,
                    params=params,
                    selfie_path=path,
                    selfie_expires_at=expires_at,
                    not_before=not_before,
                )
                await self._record(who, params, "queued", job_id=job.id)
        except LimitReached as limit:
            await asyncio.to_thread(self._selfies.delete, path)
            await self._record(who, params, "refused", reason=limit.kind.value)
            raise
        except LedgerError as error:
            log.error("Cannot queue a job: %s", error)
            await asyncio.to_thread(self._selfies.delete, path)
            raise NotSaved from None
        position = await self._ledger.queue_position(job.id)
        status_ref = await post_status(job, position)
        if status_ref is not None:
            job = await self._ledger.update(job.id, status_message_ref=status_ref)
        self._wake()
        return job

    async def _record(
        self,
        who: Requester,
        params: Mapping[str, Any],
        outcome: str,
        *,
        reason: str | None = None,
        job_id: int | None = None,
    ) -> None:
        """One audit log entry for this request (nothing without an audit log)."""
        if self.audit is None:
            return
        options = params.get("options") or {}
        await self.audit.request(
            who,
            member_name=str(params.get("member_name") or ""),
            place=place_of(who.reply_address),
            prompt=str(options.get("prompt") or ""),
            style=style_of(options) if options else "",
            outcome=outcome,
            reason=reason,
            job_id=job_id,
        )

    async def _start_time(self, who: Requester) -> datetime | None:
        rules = self._fair_use
        if self._fair_use_for is not None:
            rules = await self._fair_use_for(who.scope)
        return await check_fair_use(
            self._ledger,
            rules,
            requester=who.requester,
            quota_scope=who.quota_scope,
            now=self._clock(),
            also_counted_as=self._quota_mark(who.requester) if self._quota_mark else None,
        )
