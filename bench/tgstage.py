"""The Telegram side of the bench: the Telegram stand-in (``tests/telegram_standin``) in the
bench process, members who each send ``/portrait`` with a photo in their own private chat, and
what each of those requests ended with, read from the stand-in.

Each request carries a tag in its prompt (``tg-17``; Discord's ``dc-17``), which reaches the
fake Wiro's ``/Run`` body, so the Wiro task of a job is found by its tag (a Telegram result
carries no task id). All timestamps are ``time.monotonic()``, like the rest of the bench.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from bench.harness import BenchWiro, Stage, log
from tests.discord_standin import InteractionRecord, Member
from tests.fakewiro import FakeTask
from tests.telegram_standin import Chat, StoredMessage, TelegramStandIn, User
from tests.telegram_standin.payloads import photo_sizes

TAG = re.compile(r"\b((?:tg|dc)-\d+)\b")
# Bot API methods that put something in a member's chat (counted per job, by chat).
RESULT_METHODS = ("sendPhoto", "sendMediaGroup", "sendDocument")


@dataclass(frozen=True)
class TgMember:
    user: User
    chat: Chat  # the member's private chat with the bot
    tag: str  # in the prompt: finds the job's Wiro task


@dataclass(frozen=True)
class TgAsk:
    """One ``/portrait`` photo a member sent; ``message.created_at`` is when the stand-in
    queued its update (the bot gets it from the waiting ``getUpdates`` right away)."""

    member: TgMember
    message: StoredMessage

    @property
    def sent_at(self) -> float:
        return self.message.created_at


@dataclass
class TgStage:
    """The Telegram stand-in and its members, beside a `Stage` (Discord and the fake Wiro)."""

    telegram: TelegramStandIn
    members: list[TgMember]
    photo: list[dict[str, Any]]  # the selfie's PhotoSizes, stored once on the stand-in
    _next_member: int = 0

    @property
    def env(self) -> dict[str, str]:
        """Settings that point the bot process at this stand-in (long polling)."""
        return {
            "TELEGRAM_BOT_TOKEN": self.telegram.token,
            "TELEGRAM_API_BASE": self.telegram.base_url,
        }

    def take_members(self, count: int) -> list[TgMember]:
        start = self._next_member
        if start + count > len(self.members):
            raise RuntimeError(f"the Telegram stage has only {len(self.members)} members")
        self._next_member += count
        return self.members[start : start + count]

    def ask(self, member: TgMember) -> TgAsk:
        """Queue ``/portrait <tag>`` with the selfie as a compressed photo from ``member``.

        The photo's sizes were made once (``send_photo`` re-encodes every size, about 20 ms a
        photo, which would spread a burst of 200 over 4 s): every member sends the same
        picture, as Telegram does for a photo sent again (same file ids). ``_post`` is the
        stand-in's own path for a member's message (store it, queue its update)."""
        caption = f"/portrait {member.tag}"
        fill = {
            "photo": self.photo,
            "caption": caption,
            "caption_entities": [{"type": "bot_command", "offset": 0, "length": 9}],
        }
        message = self.telegram._post(member.chat, member.user, None, None, fill)
        return TgAsk(member, message)

    async def ready(self) -> None:
        """Until the bot's long poll waits on the stand-in (the dispatcher has started)."""
        await self.telegram.wait_for(lambda t: t.updates.polling, 60.0)


@contextlib.asynccontextmanager
async def telegram_stage(members: int, selfie: bytes) -> AsyncIterator[TgStage]:
    async with TelegramStandIn() as telegram:
        people = []
        for index in range(members):
            user = telegram.add_user(f"Member {index}", f"member{index}")
            people.append(TgMember(user, telegram.private_chat(user), f"tg-{index}"))
        sizes = photo_sizes(telegram.world, selfie, keep_original=False)
        yield TgStage(telegram, people, [size.photo_size() for size in sizes])


# --- outcomes -------------------------------------------------------------------------------


@dataclass
class TgOutcome:
    """Everything the bot put in one member's chat (deleted messages included)."""

    ask: TgAsk
    sent: list[StoredMessage]

    @property
    def first_reply_at(self) -> float | None:
        return min((m.created_at for m in self.sent), default=None)

    @property
    def results(self) -> list[StoredMessage]:
        """Result posts: photos or documents (an album counts once)."""
        posts: dict[object, StoredMessage] = {}
        for message in self.sent:
            if message.photo is not None or message.document is not None:
                posts.setdefault(message.media_group_id or message.message_id, message)
        return list(posts.values())

    @property
    def told(self) -> str | None:
        """The bot's last text without buttons (a refusal or a failure), if any."""
        for message in reversed(self.sent):
            if message.text is not None and not message.reply_markup and not message.deleted:
                return message.text
        return None

    @property
    def done(self) -> bool:
        return bool(self.results) or self.told is not None


def tg_outcomes(telegram: TelegramStandIn, asks: Sequence[TgAsk]) -> list[TgOutcome]:
    by_chat: defaultdict[int, list[StoredMessage]] = defaultdict(list)
    for message in list(telegram.world.messages.values()):
        if message.from_bot:
            by_chat[message.chat_id].append(message)
    return [TgOutcome(ask, by_chat.get(ask.member.chat.id, [])) for ask in asks]


def first_reply_latency(outcome: TgOutcome) -> float | None:
    """Update queued -> the bot's first message in the chat (the status or a refusal)."""
    at = outcome.first_reply_at
    return None if at is None else at - outcome.ask.sent_at


@dataclass(frozen=True)
class TgTally:
    jobs: int
    delivered: int
    lost: int
    duplicates: int
    no_result: int
    reasons: Counter[str]


def tg_tally(state: Iterable[TgOutcome]) -> TgTally:
    jobs = delivered = duplicates = no_result = 0
    reasons: Counter[str] = Counter()
    for outcome in state:
        jobs += 1
        count = len(outcome.results)
        if count == 1:
            delivered += 1
        elif count > 1:
            duplicates += 1
        else:
            no_result += 1
            reasons[(outcome.told or "(nothing)").splitlines()[0][:90]] += 1
    return TgTally(jobs, delivered, jobs - delivered, duplicates, no_result, reasons)


def tasks_by_tag(wiro: BenchWiro) -> dict[str, list[FakeTask]]:
    """Every /Run the fake took, by the request tag in its prompt (more than one: a duplicate
    run)."""
    found: dict[str, list[FakeTask]] = {}
    for task in wiro.tasks.values():
        match = TAG.search(str(task.fields.get("prompt") or ""))
        if match:
            found.setdefault(match.group(1), []).append(task)
    return found


async def discord_portrait(where: Stage, member: Member, tag: str) -> InteractionRecord:
    """``/portrait`` on the Discord stand-in with ``tag`` as the prompt."""
    return await where.discord.slash(
        "portrait",
        {"prompt": tag},
        attachments={"selfie": ("me.jpg", where.selfie, "image/jpeg")},
        user=member,
    )


def discord_first_words(rec: InteractionRecord) -> float | None:
    """Interaction sent -> the first text the member sees after the defer's "thinking…"
    (the "accepted" edit or the status follow-up): what a Telegram member's first reply is."""
    times = [at for at, kind, _ in rec.events if kind in ("edit", "followup")]
    if rec.callback_type == 4:  # refused at once: the callback itself carries the words
        times += [c.at for c in rec.callbacks]
    return min(times) - rec.sent_at if times else None


async def wait_until(
    done: Callable[[], bool],
    activity: Callable[[], object],
    *,
    give_up_after: float,
    stall: float = 45.0,
    settle: float = 1.0,
    what: str = "jobs",
) -> bool:
    """Wait until ``done()``, or nothing changed in ``activity()`` for ``stall`` seconds, or
    ``give_up_after`` seconds in all; then ``settle`` more (a duplicate would still show).
    Returns whether ``done()`` came true."""
    started = last_change = time.monotonic()
    seen: object = None
    finished = False
    while True:
        now = time.monotonic()
        if done():
            finished = True
            break
        current = activity()
        if current != seen:
            seen, last_change = current, now
        if now - last_change > stall or now - started > give_up_after:
            log(f"gave up waiting for the {what}")
            break
        await asyncio.sleep(0.25)
    await asyncio.sleep(settle)
    return finished
