"""Every Telegram button: Cancel under a status message; Re-roll, Less/More like me, Restyle,
Edit prompt, Details, Original file and Delete under a result; Send again in ``/history``;
the ``/settings`` menus (`chat_admin`); saved faces' and the face check's (`face_presses`);
Forget me (`privacy`).

Payloads carry only the job id (`callbacks`), the job comes from the ledger, so buttons work
after restarts and for days. Who may press: Cancel and Delete, the member who asked or a chat
administrator (``getChatMember``); every other button, the member who asked (a result's
files and settings are theirs). Anyone else gets an alert saying why not, and nothing is
spent: refusals are decided before a selfie is read or a job is queued.
"""

from __future__ import annotations

import logging

from aiogram import Router
from aiogram.exceptions import TelegramAPIError
from aiogram.types import BufferedInputFile, CallbackQuery, Message

from bot.core.jobs.actions import (
    ActionRefused,
    forget_result,
    job_options,
    likeness_step,
    may_delete,
    rerolled,
)
from bot.core.jobs.dispatcher import CancelOutcome
from bot.core.jobs.ledger import Job
from bot.services import Services

from .address import TelegramAddress, message_ids
from .callbacks import Action, CancelButton, ResultButton
from .chat_admin import settings_router
from .delivery import post_documents, send_once
from .edits import ask_new_prompt_for, edits_router, show_result_keyboard
from .face_presses import face_router
from .job_messages import TelegramJobMessages
from .kept import kept_router
from .messages import details, not_yours
from .presses import (
    Tools,
    alert,
    find_job,
    is_chat_admin,
    pressed_by_owner,
    pressed_where,
    start_from_press,
    tell,
)
from .privacy import privacy_router
from .requests import TelegramJobStarter
from .text import fit_html

__all__ = ["buttons_router"]

log = logging.getLogger(__name__)

CANCEL_ANSWERS = {
    CancelOutcome.CANCELLED: "Cancelled. It was still waiting in line, so nothing was spent.",
    CancelOutcome.STOPPING: "Stopping it at Wiro… the status message will say when it's done.",
    CancelOutcome.FINISHED: "Too late to cancel: this portrait has already finished.",
    CancelOutcome.UNKNOWN: "I can't find that portrait any more.",
}
NOT_YOURS_CANCEL = "Only the member who asked or a chat administrator can cancel this portrait."
NOT_YOURS_DELETE = "Only the member who asked or a chat administrator can delete this portrait."
DELETED = "Deleted. The kept copy of the selfie is gone too."
UNKNOWN_BUTTON = "This button no longer works. Send /help to see what you can do."
FILES_GONE = (
    "The original files of this portrait are no longer kept (they are kept for a limited "
    "time, and not after Delete)."
)
_NOT_YOURS = {
    Action.REROLL: "re-roll this portrait",
    Action.LESS_LIKE_ME: "change this portrait",
    Action.MORE_LIKE_ME: "change this portrait",
    Action.EDIT_PROMPT: "edit this prompt",
    Action.DETAILS: "see these details",
    Action.ORIGINAL: "get the original file",
    Action.BACK: "restyle this portrait",
}


def buttons_router(
    services: Services, frontend: TelegramJobMessages, starter: TelegramJobStarter
) -> Router:
    """The router of every button (and of the replies to Edit prompt's question); include it
    before any catch-all message handler."""
    tools = Tools(services, frontend, starter)
    router = Router(name="telegram-buttons")

    @router.callback_query(CancelButton.filter())
    async def cancel(query: CallbackQuery, callback_data: CancelButton) -> None:
        job = await find_job(tools, query, callback_data.job)
        if job is None:
            return
        if not await _may_delete(tools, job, query):
            await alert(query, NOT_YOURS_CANCEL)
            return
        outcome = await services.dispatcher.cancel(job.id)
        log.info("Job %s: cancel by %s -> %s", job.id, query.from_user.id, outcome)
        await query.answer(CANCEL_ANSWERS[outcome])

    @router.callback_query(ResultButton.filter())
    async def result_button(
        query: CallbackQuery, callback_data: ResultButton, origin: str | None = None
    ) -> None:
        job = await find_job(tools, query, callback_data.job)
        if job is None:
            return
        action = callback_data.action
        if action is Action.DELETE:
            await _delete(tools, query, job)
            return
        if not pressed_by_owner(job, query):
            await alert(query, not_yours(_NOT_YOURS.get(action, "use this button")))
            return
        options = job_options(job)
        if action is Action.REROLL:
            await start_from_press(tools, query, job, rerolled(options), origin)
        elif action in (Action.LESS_LIKE_ME, Action.MORE_LIKE_ME):
            try:
                changed = likeness_step(options, up=action is Action.MORE_LIKE_ME)
            except ActionRefused as refused:
                await alert(query, refused.message)
                return
            await start_from_press(tools, query, job, changed, origin)
        elif action is Action.EDIT_PROMPT:
            await ask_new_prompt_for(tools, query, job)
        elif action is Action.DETAILS:
            await _details(tools, query, job)
        elif action is Action.ORIGINAL:
            await _original(tools, query, job)
        elif action is Action.BACK:
            await query.answer()
            await show_result_keyboard(tools, query, job)

    router.include_router(edits_router(tools))
    router.include_router(kept_router(tools))
    router.include_router(settings_router(tools))
    router.include_router(face_router(tools))
    router.include_router(privacy_router(tools))
    router.include_router(_unknown_buttons_router())
    return router


def _unknown_buttons_router() -> Router:
    """Last: a press no handler took (a keyboard from another version of the bot, or data a
    modified client made up) is still answered, or the button keeps spinning."""
    router = Router(name="telegram-unknown-buttons")

    @router.callback_query()
    async def unknown(query: CallbackQuery) -> None:
        log.info("Unknown button data %r from %s", (query.data or "")[:64], query.from_user.id)
        await alert(query, UNKNOWN_BUTTON)

    return router


async def _may_delete(tools: Tools, job: Job, query: CallbackQuery) -> bool:
    """The member who asked, or an administrator of the job's own chat. Not of the chat the
    press came from: ``callback_data`` is whatever the client sends (Bot API, CallbackQuery:
    the message "can contain no callback buttons with this data"), so an administrator of
    their own group could otherwise cancel or delete anyone's portrait by its id."""
    if pressed_by_owner(job, query):
        return True
    where = TelegramAddress.of(job)
    admin = await is_chat_admin(tools.bot, where.chat_id, where.chat_type, query.from_user.id)
    return may_delete(job, f"telegram:{query.from_user.id}", moderator=admin)


async def _delete(tools: Tools, query: CallbackQuery, job: Job) -> None:
    """Delete the result's messages, the kept selfie and the kept original files."""
    if not await _may_delete(tools, job, query):
        await alert(query, NOT_YOURS_DELETE)
        return
    # The job's own messages, in the job's chat; the pressed message only when it really
    # carries this button (Telegram sends its keyboard with the press; the data is the
    # client's): a forged press on another member's result must not delete that one.
    where = TelegramAddress.of(job)
    ids = message_ids(job.result_message_ref)
    chat_id, group = where.chat_id, not where.is_private
    message = query.message
    if isinstance(message, Message) and _carries(message, query.data):
        # Perhaps sent again from /history in another chat (kept.py): it is where it was.
        chat_id, group = message.chat.id, message.chat.type != "private"
        if message.message_id not in ids:
            ids.append(message.message_id)
    for message_id in ids:

        def call(message_id: int = message_id) -> object:
            return tools.bot.delete_message(chat_id, message_id)

        try:
            await tools.frontend.pacer.send(chat_id, call, group=group)
        except TelegramAPIError as error:  # already gone, or too old to delete
            log.info("Could not delete message %s of job %s: %s", message_id, job.id, error)
    await forget_result(job, tools.services.ledger, tools.services.selfies, tools.services.results)
    await tools.frontend.originals.delete(job.id)
    log.info("Result of job %s deleted by %s", job.id, query.from_user.id)
    await query.answer(DELETED)


def _carries(message: Message, data: str | None) -> bool:
    """Whether ``message``'s inline keyboard (as Telegram sent it with the press) has a button
    with ``data``."""
    markup = message.reply_markup
    if markup is None or data is None:
        return False
    return any(key.callback_data == data for row in markup.inline_keyboard for key in row)


async def _details(tools: Tools, query: CallbackQuery, job: Job) -> None:
    await query.answer()
    shown = details(job_options(job), job.id, tools.services.catalog)
    where = pressed_where(job, query)
    if shown.document is None or shown.filename is None:
        await tell(tools, where, shown.html)
        return
    document = BufferedInputFile(shown.document, filename=shown.filename)
    try:
        await send_once(
            tools.frontend.pacer,
            where,
            lambda: tools.bot.send_document(
                where.chat_id, document, caption=shown.html, parse_mode="HTML", **where.kwargs()
            ),
        )
    except Exception as error:
        log.warning("Could not send the details of job %s: %s", job.id, error)
        await tell(tools, where, shown.html)


async def _original(tools: Tools, query: CallbackQuery, job: Job) -> None:
    images = await tools.frontend.originals.load(job) or tools.services.results.load(job.id)
    if images is None:
        await alert(query, FILES_GONE)
        return
    await query.answer("📄 Sending the original file…")
    where = pressed_where(job, query)
    caption = fit_html([f"📄 The original file{'s' if len(images) > 1 else ''} of #{job.id}"])
    try:
        await post_documents(tools.bot, tools.frontend.pacer, where, images, caption)
    except Exception as error:
        log.warning("Could not send the original files of job %s: %s", job.id, error)
        await tell(tools, where, "⚠️ I couldn't send the file just now; please try again.")
