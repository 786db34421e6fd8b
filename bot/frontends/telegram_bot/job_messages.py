"""The Telegram side of a job's life: its status message, its result and what the member is
told when it fails, is cancelled or waits. Implements the dispatcher's `FrontEnd`.

Exactly once without reading history (the Bot API cannot): right before a result is sent the
job records the intent (``delivery_nonce`` = `SENDING`); an answer that surely means "not
sent" (429, 4xx) clears it again. A job resumed after a restart with the intent still recorded
may or may not be in the chat: `find_delivered` raises `DeliveryUncertain`, and the core keeps
the result for ``/history`` ("Send again") instead of posting it a second time. An album
records its messages (`ALBUM_OUT`) before its buttons message is sent, so a restart in
between only adds the buttons; a whole result in the chat is recorded (`POSTED`) before the
status message is removed, so a restart then finds it delivered. Telegram has no idempotency
key, so a send whose answer was lost (a timeout, a dropped connection, a 5xx) is never made
again either: the result is kept the same way; only a connection that could not be opened is
surely "not sent" and retried.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from aiogram import Bot
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramServerError,
)

from bot.core.jobs.actions import job_options
from bot.core.jobs.delivery import DeliveryDeferred, DeliveryUncertain
from bot.core.jobs.events import Capabilities
from bot.core.jobs.failures import FailureReason, PortraitFailed
from bot.core.jobs.ledger import Clock, Job, utc_now
from bot.core.jobs.runner import Phase, PortraitImage
from bot.core.result.store import ResultStore
from bot.core.result.summary import summarize
from bot.core.wiro import TaskProgress
from bot.services import Services

from .address import PLATFORM, TelegramAddress, message_ids, message_ref
from .delivery import UPLOAD_LIMIT, SendLater, Where, fits_photo, post_images, post_text
from .gate import scope_of, spoiler_results
from .keyboards import result_keyboard, status_keyboard
from .messages import refusal, result_caption, status_text
from .originals import Originals
from .status import StatusBoard
from .text import Cut, fit_html
from .throttle import Pacer, Priority

log = logging.getLogger(__name__)

SENDING = "telegram-sending"  # the result is being sent (recorded before the first call)
ALBUM_OUT = "telegram-album-out"  # the album is in the chat; its buttons message may not be
POSTED = "telegram-posted"  # the whole result is in the chat (``result_message_ref``)
UNCERTAIN = (
    "Your portrait was being posted just as the bot restarted, so it may or may not have "
    "arrived. To be sure it is not posted twice I've kept it for you: use /history to get it."
)
UNDELIVERED = (
    "Your portrait is ready, but I couldn't send it here. I've kept it for you: send me "
    "/history to get it."
)
ANSWER_LOST = (
    "Telegram did not confirm that your portrait arrived, so it may or may not be above. To "
    "be sure it is not posted twice I've kept it for you: use /history to get it."
)
CANCELLED = "🚫 The portrait was cancelled."

CAPABILITIES = Capabilities(
    upload_limit=UPLOAD_LIMIT,  # sendDocument; sendPhoto takes 10 MB (bigger go as documents)
    edit_interval=1.0,  # STATUS_EDIT_INTERVAL sets the pace actually used
    reads_history=False,  # the Bot API cannot read chat history
    buttons_per_message=100,
)
REMOVAL_GRACE = 3.0  # seconds status removals may take to go out when the bot stops
_LAST_STEPS = frozenset({Phase.FINISHING, Phase.DOWNLOADING})
_LATER = (TelegramServerError, TelegramNetworkError, aiohttp.ClientError, TimeoutError)
_GONE = ("chat not found", "bot was blocked", "bot was kicked", "user is deactivated")


def _surely_not_sent(error: BaseException) -> bool:
    """Whether the request never reached Telegram: no connection could be made (aiogram
    raises `TelegramNetworkError` from aiohttp's error). A timeout, a dropped connection or a
    5xx may come after Telegram carried the send out."""
    cause = error.__cause__ if isinstance(error, TelegramNetworkError) else error
    return isinstance(cause, aiohttp.ClientConnectorError)


def no_intent(job_id: int) -> str:
    return f"portrait-{job_id}"


def member_name(job: Job) -> str | None:
    """The name shown in group messages (None in a private chat: it is the member's own)."""
    if TelegramAddress.of(job).is_private:
        return None
    return str(job.params.get("member_name") or "") or None


class TelegramJobMessages:
    """The Telegram `FrontEnd` of the dispatcher."""

    platform = PLATFORM
    capabilities = CAPABILITIES

    def __init__(
        self, bot: Bot, services: Services, *, interval: float, clock: Clock = utc_now
    ) -> None:
        self.bot = bot
        self.services = services
        self._clock = clock
        self.pacer = Pacer()
        self.board = StatusBoard(bot, self.pacer, interval=interval)
        self.originals = Originals(
            ResultStore(services.settings.data_dir / "telegram-originals"),
            keep=timedelta(hours=services.settings.selfie_keep_hours),
            clock=clock,
        )
        self._status_ids: dict[int, int] = {}  # posted by this process, before the ledger has it
        self._removals: set[asyncio.Task[None]] = set()  # status messages going after results

    def clock(self) -> datetime:
        return self._clock()

    async def close(self) -> None:
        await self.board.close()
        if self._removals:  # status removals queued in the pacer: a moment to go out
            await asyncio.wait(self._removals, timeout=REMOVAL_GRACE)
        await self.pacer.close()

    # -- the status --------------------------------------------------------------------------

    def _status_id(self, job: Job) -> int | None:
        ids = message_ids(job.status_message_ref)
        return self._status_ids.get(job.id) or (ids[0] if ids else None)

    async def post_status(self, job: Job, position: int | None) -> str | None:
        """The status message replying to the member's message, with Cancel; its reference
        (None when Telegram refused it: the job goes on without one)."""
        address = TelegramAddress.of(job)
        where = Where.of(address)
        now = self._clock()
        starts_in = (job.not_before - now).total_seconds() if job.not_before else None
        name = member_name(job)
        text = status_text(
            Phase.WAITING,
            position=position,
            starts_in=starts_in if starts_in and starts_in > 0 else None,
            member_name=name,
        )
        try:
            message = await self.pacer.send(
                where.chat_id,
                lambda: self.bot.send_message(
                    where.chat_id,
                    text,
                    parse_mode="HTML",
                    reply_markup=status_keyboard(job.id),
                    **where.kwargs(),
                ),
                group=where.group,
                priority=Priority.FIRST_REPLY,  # a member waits for the first sign of life
            )
        except TelegramAPIError as error:
            log.warning("Could not post the status message of job %s: %s", job.id, error)
            return None
        self._status_ids[job.id] = message.message_id
        self.board.posted(
            job.id,
            where.chat_id,
            message.message_id,
            group=where.group,
            member_name=name,
            shown=text,
            position=position,
            starts_in=starts_in,
        )
        return message_ref(message.message_id)

    async def waiting(self, job: Job, position: int) -> None:
        self._show(job, Phase.WAITING, position=position)

    async def progress(self, job: Job, phase: Phase) -> None:
        if phase in _LAST_STEPS:
            # The result follows within a second or so: an edit now would only make it wait
            # out the chat's spacing (about one message a second) behind that edit.
            return
        self._show(job, phase)

    async def generating(self, job: Job, progress: TaskProgress) -> None:
        self._show(job, Phase.GENERATING, progress=progress)

    def _show(self, job: Job, phase: Phase, **state: Any) -> None:
        status_id = self._status_id(job)
        if status_id is None:
            return
        address = TelegramAddress.of(job)
        self.board.show(
            job.id,
            address.chat_id,
            status_id,
            group=not address.is_private,
            member_name=member_name(job),
            phase=phase,
            **state,
        )

    async def _remove_status(self, job: Job) -> None:
        status_id = self._status_id(job)
        self.board.forget(job.id)
        self._status_ids.pop(job.id, None)
        if status_id is None:
            return
        address = TelegramAddress.of(job)
        try:
            await self.pacer.send(
                address.chat_id,
                lambda: self.bot.delete_message(address.chat_id, status_id),
                group=not address.is_private,
            )
        except TelegramAPIError as error:  # already deleted, or too old: nothing to do
            log.info("Could not remove the status message of job %s: %s", job.id, error)

    # -- the result --------------------------------------------------------------------------

    async def deliver(self, job: Job, images: tuple[PortraitImage, ...], *, last_try: bool) -> str:
        self.board.forget(job.id)  # no more progress edits; the message goes once posted
        ref = await self.post_result(job, images, Where.of(TelegramAddress.of(job)), last_try)
        # The status goes in the background: it waits its turn in the chat (about a second
        # after the result), and until then the job would still count as the member's active
        # one, refusing a Re-roll pressed at once. A restart before it goes leaves a stale
        # status whose Cancel answers that the portrait is finished.
        removal = asyncio.create_task(self._remove_status(job), name=f"status-{job.id}")
        self._removals.add(removal)
        removal.add_done_callback(self._removals.discard)
        return ref

    async def post_result(
        self, job: Job, images: tuple[PortraitImage, ...], where: Where, last_try: bool = True
    ) -> str:
        """Post the portrait at ``where``, recording the intent first (see the module
        docstring); returns the message reference (an album's ids, then its buttons message).
        Raises `DeliveryDeferred` (not on the last try) and `PortraitFailed`. Photos are
        spoilers when the policy of the chat posted in (Send again: perhaps another) says so."""
        await self.originals.save(job.id, images)
        options = job_options(job)
        started = job.submitted_at or job.created_at
        elapsed = ((job.finished_at or self._clock()) - started).total_seconds()
        caption = result_caption(
            summarize(options, self.services.catalog, elapsed), member_name(job)
        )
        checks = await asyncio.gather(*(asyncio.to_thread(fits_photo, i.data) for i in images))
        spoiler = spoiler_results(await self.services.policies.effective(scope_of(where.chat_id)))
        single = len(images) == 1

        async def record_intent() -> None:  # in the chat queue's turn, right before the call
            await self.services.ledger.update(job.id, delivery_nonce=SENDING)

        ids = await self._send(
            job,
            where,
            last_try,
            lambda at: post_images(
                self.bot,
                self.pacer,
                at,
                images,
                as_photos=all(checks),
                caption=caption,
                keyboard=result_keyboard(job.id) if single else None,
                before_send=record_intent,
                spoiler=spoiler,
            ),
        )
        if not single:
            await self.services.ledger.update(
                job.id, delivery_nonce=ALBUM_OUT, result_message_ref=message_ref(*ids)
            )
            buttons = await self._buttons_message(job, where, len(ids))
            ids += [buttons] if buttons is not None else []
        # Known to be in the chat: a restart from here on (removing the status can wait on
        # Telegram) finds it (`find_delivered`) instead of keeping it for "Send again".
        ref = message_ref(*ids)
        await self.services.ledger.update(job.id, delivery_nonce=POSTED, result_message_ref=ref)
        return ref

    async def _send(self, job: Job, where: Where, last_try: bool, send: Any) -> list[int]:
        """Run ``send(where)``, mapping Telegram's answers to the core's outcomes."""
        for attempt in range(2):
            try:
                return list(await send(where))
            except SendLater as later:
                await self._no_intent(job)
                raise DeliveryDeferred(str(later), retry_after=later.retry_after) from None
            except _LATER as error:
                if not _surely_not_sent(error):  # it may be in the chat: never post it again
                    raise PortraitFailed(
                        FailureReason.UNDELIVERED,
                        ANSWER_LOST,
                        f"job {job.id}: Telegram's answer was lost ({error!r})",
                    ) from None
                await self._no_intent(job)
                if last_try:
                    raise self._kept(job, f"Telegram unreachable: {error!r}") from None
                raise DeliveryDeferred(f"Telegram unreachable: {error!r}") from None
            except (TelegramForbiddenError, TelegramNotFound, TelegramBadRequest) as error:
                await self._no_intent(job)
                text = error.message.lower()
                if "thread not found" in text and where.thread_id is not None and attempt == 0:
                    where = Where(where.chat_id, where.group, None, where.reply_to)
                    continue  # the topic was deleted: answer in the chat itself
                if isinstance(error, TelegramBadRequest) and not any(g in text for g in _GONE):
                    log.error("Telegram refused the result of job %s: %s", job.id, error)
                    raise self._kept(job, f"Telegram refused the post: {error.message}") from None
                if last_try:
                    raise self._kept(job, f"the chat is gone: {error.message}") from None
                raise DeliveryDeferred(f"the chat is gone for now: {error.message}") from None
        raise AssertionError("unreachable")

    @staticmethod
    def _kept(job: Job, detail: str) -> PortraitFailed:
        return PortraitFailed(FailureReason.UNDELIVERED, UNDELIVERED, f"job {job.id}: {detail}")

    async def _no_intent(self, job: Job) -> None:
        await self.services.ledger.update(job.id, delivery_nonce=no_intent(job.id))

    async def _buttons_message(self, job: Job, where: Where, count: int) -> int | None:
        """The buttons of an album, in a message right after it (best effort: the album is
        out, so it is never posted again for the sake of its buttons)."""
        parts: list[Any] = [f"⬆️ Your {count} portraits"]
        if (name := member_name(job)) is not None:
            parts += [", ", Cut(name)]
        parts.append(". What next?")
        for _ in range(3):
            try:
                return await post_text(
                    self.bot, self.pacer, where, fit_html(parts), result_keyboard(job.id)
                )
            except SendLater as later:
                await asyncio.sleep(min(later.retry_after, 30.0))
            except TelegramAPIError as error:
                log.warning("The buttons of job %s's album were not posted: %s", job.id, error)
                return None
        return None

    async def find_delivered(self, job: Job) -> str | None:
        """The result already in the chat (an album whose buttons were still to send), None
        when nothing was sent; raises `DeliveryUncertain` when a send may have happened."""
        if job.delivery_nonce == ALBUM_OUT and job.result_message_ref:
            ids = message_ids(job.result_message_ref)
            buttons = await self._buttons_message(job, Where.of(TelegramAddress.of(job)), len(ids))
            await self._remove_status(job)
            return message_ref(*ids, *([buttons] if buttons is not None else []))
        if job.delivery_nonce == POSTED and job.result_message_ref:
            await self._remove_status(job)
            return job.result_message_ref
        if job.delivery_nonce == SENDING:
            raise DeliveryUncertain(UNCERTAIN)
        return None

    # -- endings -----------------------------------------------------------------------------

    async def failed(self, job: Job, failure: PortraitFailed) -> None:
        await self._remove_status(job)
        await self._tell(job, refusal(failure.message))

    async def cancelled(self, job: Job) -> None:
        status_id = self._status_id(job)
        self.board.forget(job.id)
        self._status_ids.pop(job.id, None)
        address = TelegramAddress.of(job)
        if status_id is None:
            await self._tell(job, CANCELLED)
            return

        def call() -> Any:  # without reply_markup: the Cancel button goes
            return self.bot.edit_message_text(
                text=CANCELLED, chat_id=address.chat_id, message_id=status_id
            )

        try:
            await self.pacer.edit(address.chat_id, status_id, call, group=not address.is_private)
        except TelegramAPIError as error:
            log.info("Could not mark job %s as cancelled: %s", job.id, error)

    async def delayed(self, job: Job, message: str) -> None:
        await self._tell(job, fit_html(["⏳ ", Cut(message)]))

    async def _tell(self, job: Job, html: str) -> None:
        """A reply to the member's message; a chat that is gone is only logged."""
        where = Where.of(TelegramAddress.of(job))
        try:
            await post_text(self.bot, self.pacer, where, html, retry=True)
        except TelegramAPIError as error:
            log.warning("Could not tell the member about job %s: %s", job.id, error)
