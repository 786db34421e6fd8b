"""The result buttons that change settings: Restyle (the result's keyboard turns into a paged
list of models and LoRAs; a pick makes the portrait again in that style, same face, prompt and
seed) and Edit prompt (the bot asks with a forced reply; the member's reply is the new prompt,
flags allowed as in a ``/portrait`` caption, and starts the job).

The question names the portrait ("Portrait #12"), so a reply is matched to its job from the
replied-to message alone, after a restart too. Both go through the same checks as
``/portrait`` (`bot.core.jobs.actions`), the same limits and the same queue.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from aiogram import F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.types import CallbackQuery, ForceReply, InlineKeyboardMarkup, Message

from bot.core.jobs.actions import ActionRefused, edited_prompt, job_options, restyled
from bot.core.jobs.ledger import Job
from bot.core.request.options import OptionError

from .address import PLATFORM, TelegramAddress, address_of, requester
from .callbacks import RestylePage, RestylePick, offered, resolve_pick
from .command import FACE, check_names, gives_private_inputs, split_arguments
from .delivery import Where
from .gate import Gate
from .keyboards import restyle_keyboard, result_keyboard
from .messages import BOLD, BOLD_, ask_new_prompt, not_yours, refusal
from .presses import (
    FORGOTTEN,
    Tools,
    alert,
    find_job,
    pressed_by_owner,
    start_again,
    start_from_press,
    tell,
)
from .text import fit_html

log = logging.getLogger(__name__)

STYLES_CHANGED = "The list of styles has changed since; here it is again. Pick one."
NOT_YOUR_PROMPT = "Only the member who asked for this portrait can edit its prompt."
NO_FACE_CHANGE = (
    "A new prompt keeps the portrait's face. For another saved face, send /portrait --face "
    "<name> with the prompt."
)
QUESTION = re.compile(r"^Portrait #(\d+)\n✏️ Reply to this message with the new prompt")


def edits_router(tools: Tools) -> Router:
    router = Router(name="telegram-result-edits")

    @router.callback_query(RestylePage.filter())
    async def restyle_page(query: CallbackQuery, callback_data: RestylePage) -> None:
        job = await find_job(tools, query, callback_data.job)
        if job is None:
            return
        if not pressed_by_owner(job, query):
            await alert(query, not_yours("restyle this portrait"))
            return
        await query.answer()
        keyboard = await _restyle(tools, job, callback_data.page)
        await _set_keyboard(tools, query, job, keyboard)

    @router.callback_query(RestylePick.filter())
    async def restyle_pick(
        query: CallbackQuery, callback_data: RestylePick, origin: str | None = None
    ) -> None:
        job = await find_job(tools, query, callback_data.job)
        if job is None:
            return
        if not pressed_by_owner(job, query):
            await alert(query, not_yours("restyle this portrait"))
            return
        catalog = tools.services.catalog
        choice = resolve_pick(callback_data, catalog)
        if choice is None:
            await alert(query, STYLES_CHANGED)
            await _set_keyboard(tools, query, job, await _restyle(tools, job, 0))
            return
        try:
            options = restyled(job_options(job), catalog, choice.kind, choice.id)
        except ActionRefused as refused:
            await alert(query, refused.message)
            return
        await start_from_press(tools, query, job, options, origin)
        await show_result_keyboard(tools, query, job)

    @router.message(F.text, F.reply_to_message.text.regexp(QUESTION).as_("asked"))
    async def new_prompt(message: Message, asked: re.Match[str], origin: str | None = None) -> None:
        replied = message.reply_to_message
        if replied is None or replied.from_user is None or replied.from_user.id != tools.bot.id:
            return
        if (message.text or "").startswith("/"):
            return  # a command: not a prompt
        await _new_prompt(tools, message, int(asked[1]), origin)

    return router


async def _restyle(tools: Tools, job: Job, page: int) -> InlineKeyboardMarkup:
    """The restyle keyboard with only the styles the chat's policy offers (where the result
    was asked: its chat's policy decides, as for the job the pick starts)."""
    options = job_options(job)
    policy = await tools.services.policies.effective(job.scope)
    return restyle_keyboard(
        job.id,
        tools.services.catalog,
        page,
        current=(options.model_id, options.lora_id),
        offered=lambda choice: offered(policy, choice),
    )


async def show_result_keyboard(tools: Tools, query: CallbackQuery, job: Job) -> None:
    await _set_keyboard(tools, query, job, result_keyboard(job.id))


async def _set_keyboard(
    tools: Tools, query: CallbackQuery, job: Job, keyboard: InlineKeyboardMarkup
) -> None:
    message = query.message
    if message is None:
        return
    chat_id, message_id = message.chat.id, message.message_id

    def call() -> Any:
        return tools.bot.edit_message_reply_markup(
            chat_id=chat_id, message_id=message_id, reply_markup=keyboard
        )

    try:
        await tools.frontend.pacer.edit(
            chat_id, message_id, call, group=message.chat.type != "private", kind="markup"
        )
    except TelegramAPIError as error:
        log.info("Could not change the keyboard of job %s's result: %s", job.id, error)


async def ask_new_prompt_for(tools: Tools, query: CallbackQuery, job: Job) -> None:
    """Ask for the new prompt with a forced reply, answering the member's own message (so
    ``selective`` shows the reply field to them only in a group)."""
    await query.answer()
    old = TelegramAddress.of(job)
    message = query.message
    where = Where.of(old)
    if message is not None and message.chat.id != old.chat_id:
        where = Where(message.chat.id, message.chat.type != "private", None, message.message_id)
    text = fit_html([BOLD, f"Portrait #{job.id}", BOLD_, "\n"]) + ask_new_prompt(
        job_options(job).prompt
    )
    force = ForceReply(force_reply=True, selective=True, input_field_placeholder="New prompt…")
    try:
        await tools.frontend.pacer.send(
            where.chat_id,
            lambda: tools.bot.send_message(
                where.chat_id, text, parse_mode="HTML", reply_markup=force, **where.kwargs()
            ),
            group=where.group,
        )
    except TelegramAPIError as error:
        log.warning("Could not ask for a new prompt for job %s: %s", job.id, error)


async def _new_prompt(
    tools: Tools, message: Message, job_id: int, origin: str | None = None
) -> None:
    """The member's answer to the question: a new version with that prompt (and flags)."""
    address = address_of(message)
    where = Where.of(address)
    job = await tools.services.ledger.get(job_id)
    if job is None or job.platform != PLATFORM:
        await tell(tools, where, refusal(FORGOTTEN))
        return
    if job.requester != requester(address.user_id):
        await tell(tools, where, refusal(NOT_YOUR_PROMPT))
        return
    catalog = tools.services.catalog
    if gives_private_inputs(message.text or "", catalog):  # as /portrait: before parsing
        name = str(job.params.get("member_name") or "") or "a member"
        gate = await Gate.open(tools.services, tools.bot, address, name)
        refused_use = await gate.refuse_use(private_inputs=True)
        if refused_use is not None:
            await tell(tools, where, refusal(refused_use))
            return
    try:
        prompt, values = split_arguments(message.text or "", catalog)
        if FACE in values:
            raise OptionError(NO_FACE_CHANGE)
        check_names(values, catalog)
        options = edited_prompt(job_options(job), catalog, prompt, values)
    except OptionError as error:
        await tell(tools, where, refusal(error.message))
        return
    except ActionRefused as refused:
        await tell(tools, where, refusal(refused.message))
        return
    refused_text = await start_again(tools, job, options, address, origin=origin)
    if refused_text is not None:
        await tell(tools, where, refusal(refused_text))
