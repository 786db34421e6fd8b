"""The Telegram commands: ``/portrait`` (a photo's caption, a reply to a photo, or in a private
chat a photo without a caption), ``/start`` and ``/help``, ``/styles``, ``/history`` and
``/cancel``, saved faces' ``/face`` and ``/faces`` (`face_commands`), ``/privacy`` and
``/forgetme`` (`privacy`), and the administrators' ``/settings``, ``/stats`` and ``/log``
(`chat_admin`); every answer replies to the member's message, in its forum topic.

``/portrait`` checks, in this order and all before anything reaches Wiro: the bot is taking
work (not restarting), who may use the bot in this chat (`gate`: admins only), the flags
(`command.parse_portrait`, with the chat's defaults), the request against the chat's policy
(`gate`: styles offered, private styles, LoRA URLs, the safety gate), the member's fair-use
limits, the photo (present, the member's own, an image, within the download and selfie limits:
`photos.fetch_selfie`), then the face check (`FaceIntake.start_checked`: no face -> held with
"Use it anyway"); then `TelegramJobStarter.start` queues the job. Without a photo, the member's
default face (or ``--face <name>``) stands in for it (`FaceIntake.saved_face`); a photo and
``--face`` both are refused. Each refusal says what to fix. In groups (privacy mode on) the bot
hears commands, replies to its messages and mentions; it answers only commands, and commands
for another bot (``/portrait@OtherBot``) are not for it. Members' text reaches messages only
through `messages`/`text` (escaped).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable

from aiogram import Bot, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.types import Message

from bot.core.faces import SavedFace
from bot.core.jobs.dispatcher import CancelOutcome
from bot.core.jobs.ledger import Job, JobState
from bot.core.request.options import PortraitOptions
from bot.core.request.selfie import SelfieRejected
from bot.services import Services

from .address import TelegramAddress, address_of, requester, thread_of
from .chat_admin import ADMIN_COMMANDS, AdminCommands
from .command import PORTRAIT, gives_private_inputs, parse_command, parse_portrait
from .face_commands import FACE_COMMANDS, FaceCommands
from .face_intake import FaceIntake
from .face_views import PICK_ONE
from .gate import Gate
from .kept import kept_keyboard
from .messages import HISTORY_LENGTH, HistoryEntry, help_text, history_text, refusal, styles_pages
from .photos import fetch_selfie, photo_message
from .privacy import PRIVACY_COMMANDS, PrivacyCommands
from .replies import answer
from .requests import TelegramJobStarter
from .text import fit_html
from .throttle import Pacer

log = logging.getLogger(__name__)

RESTARTING = "I'm restarting right now. Please send it again in a minute."
NOT_YOUR_PHOTO = (
    "I can only use a photo you sent yourself: answer your own photo with /portrait, or send "
    "the photo with /portrait as its caption."
)
CAPTION_HINT = (
    "To make a portrait, send this photo again with /portrait as its caption (anything after "
    "/portrait is the prompt). /help shows how."
)
TEXT_HINT = (
    "Send me a selfie (with /portrait and a prompt as its caption, if you like). /help shows how."
)
NO_ACTIVE_JOB = "You have no portrait in progress."
_HISTORY_STATES = {
    JobState.QUEUED: "waiting",
    JobState.SUBMITTING: "running",
    JobState.RUNNING: "running",
    JobState.DELIVERING: "running",
    JobState.DELIVERED: "delivered",
    JobState.FAILED: "failed",
    JobState.CANCELLED: "cancelled",
    JobState.UNCONFIRMED: "not confirmed",
    JobState.KEPT: "kept",
}


def commands_router(
    services: Services, starter: TelegramJobStarter, bot_username: str, pacer: Pacer
) -> Router:
    """The router for members' messages; include it after the buttons router (which takes
    the forced replies of "Edit prompt"). ``pacer``: the front end's, so answers share each
    chat's turn with the job messages."""
    commands = _Commands(services, starter, bot_username, pacer)
    router = Router(name="telegram-commands")
    router.message.register(commands.on_message)
    return router


class _Commands:
    def __init__(
        self, services: Services, starter: TelegramJobStarter, username: str, pacer: Pacer
    ) -> None:
        self._services = services
        self._starter = starter
        self._username = username
        self._pacer = pacer
        self._admin = AdminCommands(services, pacer)
        self._intake = FaceIntake(services, starter, pacer)
        self._faces = FaceCommands(services, self._intake, pacer)
        self._privacy = PrivacyCommands(services, pacer)

    async def on_message(self, message: Message, bot: Bot, origin: str | None = None) -> None:
        user = message.from_user
        if user is None or user.is_bot:
            return
        text = message.text if message.text is not None else message.caption
        command = parse_command(text, self._username)
        private = message.chat.type == "private"
        if command is None:
            if not private:
                return  # chatter that reached the bot (a mention, a reply): not a command
            if message.media_group_id is not None and not (text or "").strip():
                # The other photos of an album sent at once: Telegram delivers each as its own
                # message, the caption on one of them only. That one asks (or gets the hint).
                return
            if (message.photo or message.document) and not (text or "").strip():
                await self._portrait(bot, message, "", origin)
            elif message.photo or message.document:
                await answer(bot, self._pacer, message, refusal(CAPTION_HINT))
            else:
                await answer(bot, self._pacer, message, fit_html([TEXT_HINT]))
            return
        if command.name == PORTRAIT:
            await self._portrait(bot, message, command.args, origin)
        elif command.name in ("start", "help"):
            await answer(bot, self._pacer, message, help_text(self._username))
        elif command.name == "styles":
            await self._styles(bot, message)
        elif command.name == "history":
            await self._history(bot, message)
        elif command.name == "cancel":
            await self._cancel(bot, message)
        elif command.name in FACE_COMMANDS:
            await self._faces.handle(bot, message, command.name, command.args)
        elif command.name in PRIVACY_COMMANDS:
            await self._privacy.handle(bot, message, command.name)
        elif command.name in ADMIN_COMMANDS:
            await self._admin.handle(bot, message, command.name, command.args)
        elif private or _addressed(text or "", self._username):
            # In groups an unknown /command may be another bot's: answer only when named.
            await answer(
                bot, self._pacer, message, refusal(f"I don't know /{command.name}. Send /help.")
            )

    # ------------------------------------------------------------------ /portrait

    async def _portrait(self, bot: Bot, message: Message, args: str, origin: str | None) -> None:
        services = self._services
        if origin is not None and await services.ledger.job_by_origin(origin) is not None:
            log.info("Update %s already made its job; not queueing it again", origin)
            return
        if not services.dispatcher.accepting:
            await answer(bot, self._pacer, message, refusal(RESTARTING))
            return
        address = address_of(message)
        gate = await Gate.open(services, bot, address, _name(message))
        refused = await gate.refuse_use(private_inputs=gives_private_inputs(args, services.catalog))
        if refused is not None:
            await answer(bot, self._pacer, message, refusal(refused))
            return
        request = parse_portrait(args, services.catalog, policy=gate.effective)
        if request.options is None:
            await answer(
                bot, self._pacer, message, refusal(request.error or "Those options don't work.")
            )
            return
        refused = await gate.refuse_request(request.options)
        if refused is not None:
            await answer(bot, self._pacer, message, refusal(refused))
            return
        holder = photo_message(message)
        if holder is not None and request.face is not None:
            await answer(bot, self._pacer, message, refusal(PICK_ONE))
            return
        limited = await self._starter.over_limit(
            address, request.options, member_name=_name(message)
        )
        if limited is not None:
            await answer(bot, self._pacer, message, limited)
            return
        if holder is None:  # a saved face stands in for the photo
            face = await self._intake.saved_face(address, request.face, message)
            if isinstance(face, str):
                await answer(bot, self._pacer, message, refusal(face))
                return
            await self._start(bot, message, address, request.options, face, origin)
            return
        if not _sent_by(holder, address.user_id):
            await answer(bot, self._pacer, message, refusal(NOT_YOUR_PHOTO))
            return
        try:
            selfie = await fetch_selfie(bot, message, services.selfie_limits)
        except SelfieRejected as rejection:
            await answer(bot, self._pacer, message, refusal(rejection.message))
            return
        except TelegramAPIError as error:
            log.info("Cannot fetch a selfie from Telegram: %s", error)
            await answer(
                bot,
                self._pacer,
                message,
                refusal("I couldn't download your photo. Please send it again."),
            )
            return
        await self._intake.start_checked(
            bot,
            message,
            address,
            request.options,
            selfie.data,
            member_name=_name(message),
            origin=origin,
        )

    async def _start(
        self,
        bot: Bot,
        message: Message,
        address: TelegramAddress,
        options: PortraitOptions,
        selfie: SavedFace,
        origin: str | None,
    ) -> None:
        outcome = await self._starter.start(
            address, options, selfie, member_name=_name(message), origin=origin
        )
        if isinstance(outcome, str):
            await answer(bot, self._pacer, message, outcome)
        else:
            log.info("Telegram job %d queued for %s", outcome.id, address.requester.requester)

    # ------------------------------------------------------------------ the others

    async def _styles(self, bot: Bot, message: Message) -> None:
        policy = await self._services.policies.effective(address_of(message).requester.scope)
        for index, page in enumerate(styles_pages(self._services.catalog, offered=policy)):
            if index == 0:
                sent = await answer(bot, self._pacer, message, page)
                if sent is None:
                    return
            else:

                def call(page: str = page) -> Awaitable[Message]:
                    return bot.send_message(
                        chat_id=message.chat.id, text=page, message_thread_id=thread_of(message)
                    )

                try:
                    await self._pacer.send(
                        message.chat.id, call, group=message.chat.type != "private"
                    )
                except TelegramAPIError as error:
                    log.info("Cannot send /styles in chat %s: %s", message.chat.id, error)
                    return

    async def _history(self, bot: Bot, message: Message) -> None:
        assert message.from_user is not None
        # In a group everyone reads the answer: only the portraits asked in this chat (a
        # private chat's prompts and kept results stay there).
        address = address_of(message)
        scope = None if address.is_private else address.requester.scope
        jobs = await self._services.ledger.recent_for(
            requester(message.from_user.id), limit=HISTORY_LENGTH, scope=scope
        )
        await answer(
            bot,
            self._pacer,
            message,
            history_text([self._entry(job) for job in jobs]),
            reply_markup=kept_keyboard(jobs),  # "Send #N again" for kept results
        )

    def _entry(self, job: Job) -> HistoryEntry:
        options = job.params.get("options") or {}
        model_id = str(options.get("model_id") or "")
        model = self._services.catalog.model(model_id) if model_id else None
        seed = options.get("seed")
        return HistoryEntry(
            job_id=job.id,
            state=_HISTORY_STATES.get(job.state, str(job.state)),
            created_at=job.created_at,
            prompt=str(options.get("prompt") or ""),
            style=model.readable_name if model is not None else f"model {model_id or '?'}",
            seed=seed if isinstance(seed, int) else None,
            note=job.failure_message or None,
        )

    async def _cancel(self, bot: Bot, message: Message) -> None:
        assert message.from_user is not None
        jobs = await self._services.ledger.recent_for(requester(message.from_user.id), limit=50)
        active = [job for job in jobs if job.is_active]
        if not active:
            await answer(bot, self._pacer, message, refusal(NO_ACTIVE_JOB))
            return
        lines = []
        for job in active:
            outcome = await self._services.dispatcher.cancel(job.id)
            lines.append(_cancel_line(job.id, outcome))
        await answer(bot, self._pacer, message, fit_html(["\n".join(lines)]))


def _cancel_line(job_id: int, outcome: CancelOutcome) -> str:
    if outcome is CancelOutcome.CANCELLED:
        return f"🚫 Portrait #{job_id} is cancelled."
    if outcome is CancelOutcome.STOPPING:
        return f"🛑 Stopping portrait #{job_id}…"
    return f"Portrait #{job_id} is already finished or being posted; it can't be stopped now."


def _name(message: Message) -> str:
    return message.from_user.full_name if message.from_user is not None else "a member"


def _sent_by(message: Message, user_id: int) -> bool:
    return message.from_user is not None and message.from_user.id == user_id


def _addressed(text: str, username: str) -> bool:
    head = text.split(maxsplit=1)[0] if text.strip() else ""
    return head.casefold().endswith(f"@{username}".casefold())
