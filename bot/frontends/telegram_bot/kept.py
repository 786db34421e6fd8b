"""Results Telegram would not take (the member blocked the bot, the chat was gone, a restart
in the middle of posting), offered again from ``/history``.

``/history`` attaches `kept_keyboard(jobs)`: a "📨 Send #N again" button for each kept result
(state KEPT, images in ``BOT_DATA_DIR/results/<job id>/``). The button is for the member who
asked; it posts the portrait where the history was shown, as a reply to it. The job is claimed
first (KEPT -> DELIVERING, the ledger's compare-and-set), so a double press posts once; the
post records its intent like any delivery (a restart in the middle keeps it again); a post
that fails puts it back to KEPT.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from aiogram import Router
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardMarkup

from bot.core.jobs.delivery import DeliveryDeferred
from bot.core.jobs.failures import PortraitFailed
from bot.core.jobs.ledger import Job, JobState, StaleTransition

from .job_messages import no_intent
from .keyboards import button
from .messages import not_yours, refusal
from .presses import Tools, alert, find_job, pressed_by_owner, pressed_where, tell

__all__ = ["SendAgain", "kept_keyboard", "kept_router"]

log = logging.getLogger(__name__)

MAX_BUTTONS = 10  # /history shows the last 10
ALREADY_DELIVERED = "This portrait has been delivered already."
IMAGES_GONE = "I no longer have the images of this portrait. Send a selfie with /portrait again."
NOT_SENT = "I couldn't send it just now; please press Send again in a while."


class SendAgain(CallbackData, prefix="pa"):
    job: int


def kept_keyboard(jobs: Sequence[Job]) -> InlineKeyboardMarkup | None:
    """A "Send #N again" button per kept result among ``jobs`` (at most 10), one per row;
    None when none is kept. For ``/history``'s message."""
    kept = [job for job in jobs if job.state is JobState.KEPT][:MAX_BUTTONS]
    if not kept:
        return None
    rows = [[button(f"📨 Send #{job.id} again", SendAgain(job=job.id).pack())] for job in kept]
    return InlineKeyboardMarkup(inline_keyboard=rows)


def kept_router(tools: Tools) -> Router:
    router = Router(name="telegram-send-again")

    @router.callback_query(SendAgain.filter())
    async def send_again(query: CallbackQuery, callback_data: SendAgain) -> None:
        job = await find_job(tools, query, callback_data.job)
        if job is None:
            return
        if not pressed_by_owner(job, query):
            await alert(query, not_yours("have this portrait sent"))
            return
        if job.state is not JobState.KEPT:
            await alert(query, ALREADY_DELIVERED)
            return
        images = tools.services.results.load(job.id)
        if images is None:
            await alert(query, IMAGES_GONE)
            return
        ledger = tools.services.ledger
        try:
            job = await ledger.transition(
                job.id,
                JobState.DELIVERING,
                expected=JobState.KEPT,
                note="sent again",
                delivery_nonce=no_intent(job.id),
                result_message_ref=None,
            )
        except StaleTransition:
            await alert(query, ALREADY_DELIVERED)
            return
        await query.answer("📨 Sending it…")
        where = pressed_where(job, query)
        try:
            ref = await tools.frontend.post_result(job, images, where)
        except (PortraitFailed, DeliveryDeferred) as error:
            log.info("Kept result of job %s not sent again: %s", job.id, error)
            await ledger.transition(
                job.id, JobState.KEPT, expected=JobState.DELIVERING, note="send again failed"
            )
            await tell(tools, where, refusal(NOT_SENT))
            return
        except BaseException:
            await ledger.transition(
                job.id, JobState.KEPT, expected=JobState.DELIVERING, note="send again failed"
            )
            raise
        await ledger.transition(
            job.id, JobState.DELIVERED, expected=JobState.DELIVERING, result_message_ref=ref
        )
        tools.services.results.delete(job.id)
        log.info("Kept result of job %s sent again as %s", job.id, ref)

    return router
