"""TEMPORARY stand-in for `bot.frontends.telegram_bot.job_messages.TelegramJobMessages` (being
written on the tg-jobs branch), so the application can be wired and tested end to end before
it lands. The lead deletes this module at merge; `app.py` then uses the real class (same
constructor: ``TelegramJobMessages(bot, services, interval=...)``, ``await close()``).

Only the simplest behaviour: a status message (replying to the member's message, in its forum
topic, with Cancel) edited on each stage, the portrait(s) posted as a reply, failures and
cancellations written into the status message. No throttling, no exactly-once delivery."""

from __future__ import annotations

import contextlib
import logging

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import BufferedInputFile, InputMediaPhoto, ReplyParameters

from bot.core.jobs.events import Capabilities
from bot.core.jobs.failures import PortraitFailed
from bot.core.jobs.ledger import Job
from bot.core.jobs.runner import Phase, PortraitImage
from bot.core.wiro import TaskProgress
from bot.services import Services

from .address import PLATFORM, TelegramAddress, message_ids, message_ref
from .keyboards import status_keyboard
from .messages import refusal, status_text

log = logging.getLogger(__name__)

CAPABILITIES = Capabilities(
    upload_limit=10 * 1024 * 1024,
    edit_interval=1.0,
    reads_history=False,
    buttons_per_message=100,
)


class TelegramJobMessages:
    """A minimal `FrontEnd` for Telegram jobs (see the module docstring)."""

    platform = PLATFORM
    capabilities = CAPABILITIES

    def __init__(self, bot: Bot, services: Services, *, interval: float) -> None:
        self._bot = bot
        self._services = services
        self._interval = interval

    async def close(self) -> None:
        return None

    def _where(self, job: Job) -> tuple[TelegramAddress, dict[str, object]]:
        address = TelegramAddress.of(job)
        kwargs: dict[str, object] = {"chat_id": address.chat_id}
        if address.thread_id is not None:
            kwargs["message_thread_id"] = address.thread_id
        if address.message_id is not None:
            kwargs["reply_parameters"] = ReplyParameters(
                message_id=address.message_id, allow_sending_without_reply=True
            )
        return address, kwargs

    def _name(self, job: Job) -> str | None:
        return str(job.params.get("member_name") or "") or None

    async def post_status(self, job: Job, position: int | None) -> str | None:
        _, kwargs = self._where(job)
        text = status_text(Phase.WAITING, position=position, member_name=self._name(job))
        sent = await self._bot.send_message(
            text=text, reply_markup=status_keyboard(job.id), **kwargs
        )
        return message_ref(sent.message_id)

    async def _edit(self, job: Job, text: str, *, keep_cancel: bool = True) -> None:
        fresh = await self._services.ledger.get(job.id) or job
        ids = message_ids(fresh.status_message_ref)
        if not ids:
            return
        address = TelegramAddress.of(fresh)
        with contextlib.suppress(TelegramAPIError):
            await self._bot.edit_message_text(
                text=text,
                chat_id=address.chat_id,
                message_id=ids[0],
                reply_markup=status_keyboard(job.id) if keep_cancel else None,
            )

    async def waiting(self, job: Job, position: int) -> None:
        await self._edit(job, status_text(Phase.WAITING, position=position))

    async def progress(self, job: Job, phase: Phase) -> None:
        await self._edit(job, status_text(phase, member_name=self._name(job)))

    async def generating(self, job: Job, progress: TaskProgress) -> None:
        await self._edit(job, status_text(Phase.GENERATING, progress=progress))

    async def deliver(self, job: Job, images: tuple[PortraitImage, ...], *, last_try: bool) -> str:
        _, kwargs = self._where(job)
        caption = f"Portrait #{job.id}"
        if len(images) == 1:
            file = BufferedInputFile(images[0].data, images[0].filename)
            sent = await self._bot.send_photo(photo=file, caption=caption, **kwargs)
            ref = message_ref(sent.message_id)
        else:
            media = [
                InputMediaPhoto(
                    media=BufferedInputFile(image.data, image.filename),
                    caption=caption if index == 0 else None,
                )
                for index, image in enumerate(images[:10])
            ]
            album = await self._bot.send_media_group(media=media, **kwargs)
            ref = message_ref(*(m.message_id for m in album))
        await self._remove_status(job)
        return ref

    async def _remove_status(self, job: Job) -> None:
        fresh = await self._services.ledger.get(job.id) or job
        ids = message_ids(fresh.status_message_ref)
        if ids:
            with contextlib.suppress(TelegramAPIError):
                await self._bot.delete_message(TelegramAddress.of(fresh).chat_id, ids[0])

    async def find_delivered(self, job: Job) -> str | None:
        return None  # the Bot API cannot read chat history

    async def failed(self, job: Job, failure: PortraitFailed) -> None:
        await self._edit(job, refusal(failure.message), keep_cancel=False)

    async def cancelled(self, job: Job) -> None:
        await self._edit(job, "🚫 Cancelled.", keep_cancel=False)

    async def delayed(self, job: Job, message: str) -> None:
        await self._edit(job, refusal(message))
