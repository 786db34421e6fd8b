"""The Discord side of a job's life: its status message, its result, and what the member is
told when it fails or is cancelled. Implements the dispatcher's `JobEvents`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

import discord

from bot.core.catalog import Catalog
from bot.core.jobs import Phase, PortraitFailed, PortraitImage, PortraitResult
from bot.core.jobs.events import Capabilities
from bot.core.jobs.ledger import Clock, Job, utc_now
from bot.core.policy.model import EffectivePolicy
from bot.core.request.options import PortraitOptions
from bot.core.result.files import DEFAULT_UPLOAD_LIMIT
from bot.core.wiro import TaskProgress
from bot.frontends.discord_bot.address import PLATFORM, DiscordAddress, message_id, message_ref
from bot.frontends.discord_bot.buttons import status_view
from bot.frontends.discord_bot.delivery import (
    SplitParts,
    as_spoilers,
    post_failure,
    post_result,
    read_marker,
    wants_spoilers,
)
from bot.frontends.discord_bot.reply import Reply, ReplyTarget
from bot.frontends.discord_bot.result_buttons import result_view
from bot.frontends.discord_bot.status import StatusBoard, render_status

log = logging.getLogger(__name__)

# How far back in the channel a result posted just before a crash is looked for.
HISTORY_DEPTH = 100
# Seconds a resumed delivery waits for the gateway's guild cache (to know its permissions).
READY_WAIT = 30.0


CAPABILITIES = Capabilities(
    upload_limit=DEFAULT_UPLOAD_LIMIT,  # per server it may be more (boosts): read at posting
    edit_interval=1.0,  # STATUS_EDIT_INTERVAL sets the pace actually used
    reads_history=True,  # where the bot has Read Message History
    buttons_per_message=25,  # 5 action rows of 5 (Discord's component limit)
)


class JobMessages:
    """The Discord `FrontEnd` of the dispatcher."""

    platform = PLATFORM
    capabilities = CAPABILITIES

    def __init__(
        self,
        client: discord.Client,
        catalog: Callable[[], Catalog],
        *,
        interval: float,
        clock: Clock = utc_now,
        policy: Callable[[str], Awaitable[EffectivePolicy]] | None = None,
    ) -> None:
        """`policy`: a scope's effective policy, so Restyle offers only its styles."""
        self._client = client
        self._catalog = catalog
        self._policy = policy
        self._clock = clock
        self.board = StatusBoard(interval=interval, clock=clock)
        # Status ids posted by this process, for job rows read before the id was saved.
        self._status_ids: dict[int, int] = {}
        self._unreadable: set[int] = set()  # channels warned about (once each)
        # Parts of split results found in the channel, for the resumed delivery to skip.
        self._posted_parts: dict[int, SplitParts] = {}

    def _status_id(self, job: Job) -> int | None:
        # This process's own id first: a status message may have been replaced (30046).
        return self._status_ids.get(job.id) or message_id(job.status_message_ref)

    def reply_for(self, job: Job) -> Reply:
        address = DiscordAddress.of(job)
        return Reply(
            self._client,
            ReplyTarget(
                application_id=self._client.application_id or 0,
                token=job.reply_secret,
                expires_at=address.token_expires_at,
                guild_id=address.guild_id,
                channel_id=address.channel_id,
                member_id=address.user_id,
                member_name=str(job.params.get("member_name") or "a member"),
            ),
        )

    async def post_status(self, job: Job, position: int | None) -> str | None:
        """The public status message, with its Cancel button; returns its reference."""
        reply = self.reply_for(job)
        starts_at = job.not_before if job.not_before and job.not_before > self._clock() else None
        text = render_status(reply.mention, Phase.WAITING, 0, position, starts_at=starts_at)
        message = await reply.public(
            content=text, view=status_view(job.id), allowed_mentions=discord.AllowedMentions.none()
        )
        self._status_ids[job.id] = message.id
        self._show(job, Phase.WAITING, position, shown=text)
        return message_ref(message.id)

    async def waiting(self, job: Job, position: int) -> None:
        # Called for every waiting job whose place changed, at each move of the queue: for a
        # status already followed this only notes the place (shown at the waiting pace).
        if not self.board.move(job.id, position):
            self._show(job, Phase.WAITING, position)

    async def progress(self, job: Job, phase: Phase) -> None:
        self._show(job, phase)

    async def generating(self, job: Job, progress: TaskProgress) -> None:
        self._show(job, Phase.GENERATING, progress=progress)

    def _show(
        self,
        job: Job,
        phase: Phase,
        position: int | None = None,
        progress: TaskProgress | None = None,
        shown: str = "",
    ) -> None:
        message_id = self._status_id(job)
        if message_id is not None:
            self.board.show(
                job.id,
                self.reply_for(job),
                message_id,
                started=job.created_at.timestamp(),
                phase=phase,
                position=position,
                progress=progress,
                starts_at=job.not_before,
                renew=lambda: self._renew_status(job, message_id),
                shown=shown,
            )

    async def _renew_status(self, job: Job, old_id: int) -> int | None:
        """A fresh status message when Discord allows no more edits of the old one."""
        reply = self.reply_for(job)
        try:
            message = await reply.public(
                content=render_status(reply.mention, Phase.QUEUED, 0),
                view=status_view(job.id),
                allowed_mentions=discord.AllowedMentions.none(),
            )
        except (discord.HTTPException, discord.RateLimited) as error:
            log.info("Could not post a fresh status message for job %s: %s", job.id, error)
            return None
        self._status_ids[job.id] = message.id
        with contextlib.suppress(discord.HTTPException, discord.RateLimited):
            await reply.delete(old_id)
        return message.id

    async def deliver(self, job: Job, images: tuple[PortraitImage, ...], *, last_try: bool) -> str:
        self.board.forget(job.id)  # no more progress edits; the message goes once posted
        reply = self.reply_for(job)
        if wants_spoilers(job.params):
            images = as_spoilers(images)
        result = job_result(job, images, self._clock())
        catalog = self._catalog()
        offered = await self._policy(job.scope) if self._policy is not None else None
        message = await post_result(
            reply,
            result,
            catalog,
            job_id=job.id,
            nonce=job.delivery_nonce,
            view=result_view(job.id, catalog, offered),
            last_try=last_try,
            posted_parts=self._posted_parts.get(job.id),
        )
        self._posted_parts.pop(job.id, None)
        await self._remove_status(job)
        return message_ref(message.id)

    async def find_delivered(self, job: Job) -> str | None:
        """Look for the result in the channel's history, where the bot may read it; a result
        split one image per message counts only when every part is there (the parts found
        are remembered, so the resumed delivery posts only the missing ones). Elsewhere the
        resend's nonces let Discord return the messages already posted."""
        me = self._client.user
        with contextlib.suppress(TimeoutError):
            # Resumed at start-up, before the gateway filled the guild cache permissions need.
            await asyncio.wait_for(self._client.wait_until_ready(), READY_WAIT)
        if me is None:
            me = self._client.user
        if me is None:
            return None
        address = DiscordAddress.of(job)
        if self.reply_for(job).may_read_history() is False:
            self._warn_unreadable(address.channel_id)
            return None
        channel = self._client.get_partial_messageable(
            address.channel_id, guild_id=address.guild_id
        )
        parts: dict[int, discord.Message] = {}
        count = 0
        try:
            async for message in channel.history(
                limit=HISTORY_DEPTH, after=discord.Object(address.interaction_id)
            ):
                if message.author.id != me.id:
                    continue
                for embed in message.embeds:
                    found = read_marker(embed.footer.text or "", job.id)
                    if found is not None:
                        part, count = found
                        parts.setdefault(part, message)
        except discord.HTTPException as error:
            log.info("Cannot read the channel to check job %s was posted: %s", job.id, error)
            self._warn_unreadable(address.channel_id)
            return None
        if parts and set(parts) >= set(range(count)):
            await self._remove_status(job)  # its result is out: the status has done
            return message_ref(parts[0].id)
        if parts:  # a split result cut off part-way: the resumed delivery posts the rest
            self._posted_parts[job.id] = SplitParts(count, parts)
            log.info(
                "Job %s: %d of %d parts were posted; posting the rest", job.id, len(parts), count
            )
        return None

    def _warn_unreadable(self, channel_id: int) -> None:
        if channel_id in self._unreadable:
            return
        self._unreadable.add(channel_id)
        log.warning(
            "The bot cannot read the message history of channel %s, where a result is being "
            "delivered: only Discord's nonce (a few minutes) guards against posting it twice "
            "after a restart. Grant the bot Read Message History there.",
            channel_id,
        )

    async def failed(self, job: Job, failure: PortraitFailed) -> None:
        await self._remove_status(job)
        await post_failure(self.reply_for(job), failure)

    async def delayed(self, job: Job, message: str) -> None:
        try:
            await self.reply_for(job).private(message)
        except discord.HTTPException as error:
            log.warning("Could not tell the member job %s is on hold: %s", job.id, error)

    async def cancelled(self, job: Job) -> None:
        self._forget(job)
        message_id = self._status_id(job)
        if message_id is None:
            return
        reply = self.reply_for(job)
        try:
            await reply.edit(
                message_id,
                content=f"🚫 The portrait for {reply.mention} was cancelled.",
                view=None,
            )
        except discord.HTTPException as error:
            log.info("Could not mark job %s as cancelled: %s", job.id, error)

    def _forget(self, job: Job) -> None:
        self.board.forget(job.id)
        self._status_ids.pop(job.id, None)

    async def _remove_status(self, job: Job) -> None:
        message_id = self._status_id(job)
        self._forget(job)
        if message_id is None:
            return
        try:
            await self.reply_for(job).delete(message_id)
        except discord.HTTPException as error:
            log.info("Could not remove the status message of job %s: %s", job.id, error)

    async def close(self) -> None:
        await self.board.close()


def job_result(job: Job, images: tuple[PortraitImage, ...], now: datetime) -> PortraitResult:
    """The job's result as posted: its options, images and the time it took until ``now``
    (or until it ended, for a kept result sent again later)."""
    started = job.submitted_at or job.created_at
    return PortraitResult(
        options=PortraitOptions.from_params(job.params["options"]),
        images=images,
        task_id=job.wiro_task_id or "?",
        elapsed=((job.finished_at or now) - started).total_seconds(),
        cost=job.cost,
    )
