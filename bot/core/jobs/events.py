"""The port through which the job queue talks to the chat side, and the router that sends each
job's events to the front end of its platform (``job.platform``), so nothing in `bot.core`
knows Discord or Telegram. `bot.frontends.discord_bot.job_messages` and
`bot.frontends.telegram_bot.job_messages` implement `FrontEnd`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from bot.core.jobs.delivery import DeliveryDeferred
from bot.core.jobs.failures import FailureReason, PortraitFailed
from bot.core.jobs.ledger import Job
from bot.core.jobs.runner import Phase, PortraitImage
from bot.core.wiro import TaskProgress

log = logging.getLogger(__name__)


class JobEvents(Protocol):
    """What the chat side shows of a job. Each method may be called again after a restart."""

    async def waiting(self, job: Job, position: int) -> None: ...
    async def progress(self, job: Job, phase: Phase) -> None: ...
    async def generating(self, job: Job, progress: TaskProgress) -> None:
        """How far generation is (percentage, time left), as Wiro reports it."""
        ...

    async def deliver(self, job: Job, images: tuple[PortraitImage, ...], *, last_try: bool) -> str:
        """Post the result; returns the reference (text id) of the message it was posted as. Raises
        `DeliveryDeferred` when the post should be tried again later (never on the last try)
        and `PortraitFailed` when no way to the member took it."""
        ...

    async def find_delivered(self, job: Job) -> str | None:
        """The reference of a result message already posted for this job, if one can be found
        (where the platform can look; Telegram's Bot API cannot read chat history)."""
        ...

    async def failed(self, job: Job, failure: PortraitFailed) -> None: ...
    async def cancelled(self, job: Job) -> None: ...
    async def delayed(self, job: Job, message: str) -> None:
        """Tell the member (privately) why their job is on hold; it goes on by itself later."""
        ...


@dataclass(frozen=True)
class Capabilities:
    """What a platform allows, as the core needs to know it.

    upload_limit: bytes one message may carry in files. edit_interval: seconds between two
    edits of one status message. reads_history: whether the bot can look for a result it
    already posted. buttons_per_message: the most buttons one message may carry."""

    upload_limit: int
    edit_interval: float
    reads_history: bool
    buttons_per_message: int


class FrontEnd(JobEvents, Protocol):
    """A chat platform's side of every job whose ``platform`` is `platform`."""

    platform: str
    capabilities: Capabilities

    async def post_status(self, job: Job, position: int | None) -> str | None:
        """Post the job's status message (with its Cancel button); returns its reference."""
        ...


class OwnerContact(Protocol):
    """A way to reach the bot's owner (Discord: a DM to the application's owner or team;
    Telegram: `TELEGRAM_OWNER_IDS`), for alerts such as an empty Wiro balance."""

    async def tell_owners(self, text: str) -> None:
        """Send `text` (plain text, no markup) to the owner(s). May raise; the caller logs it."""
        ...


class FrontEnds:
    """`JobEvents` for the dispatcher: each job's events go to its platform's front end.

    A job of a platform that is not running in this process (its token was removed) is not
    started (`serves`), and a finished one waits: its delivery is deferred until the deferral
    window ends, then kept like any result no way took.

    It also holds the ways to the bot's owner (`add_owner_contact`, `tell_owners`) and the
    front ends' health probes (`add_health_probe`, for ``/healthz``)."""

    def __init__(self) -> None:
        self._by_platform: dict[str, FrontEnd] = {}
        self._owner_contacts: list[OwnerContact] = []
        self._probes: dict[str, Callable[[], str | None]] = {}

    def add_health_probe(self, name: str, probe: Callable[[], str | None]) -> None:
        """Register ``probe()``: None while the front end ``name`` ("discord", "telegram")
        reaches its platform, else why not (one line, no secret)."""
        self._probes[name] = probe

    @property
    def health_probes(self) -> dict[str, Callable[[], str | None]]:
        return dict(self._probes)

    def add_owner_contact(self, contact: OwnerContact) -> None:
        """Register a way to the bot's owner (each front end adds its own at start-up)."""
        self._owner_contacts.append(contact)

    @property
    def owner_contacts(self) -> tuple[OwnerContact, ...]:
        return tuple(self._owner_contacts)

    async def tell_owners(self, text: str) -> int:
        """Send `text` through every owner contact; returns how many took it (a contact that
        fails is logged and skipped: the others still get it)."""
        told = 0
        for contact in self._owner_contacts:
            try:
                await contact.tell_owners(text)
            except Exception as error:  # one broken contact must not stop the rest
                log.warning(
                    "Could not tell the bot's owner through %s: %s",
                    type(contact).__name__,
                    error,
                )
            else:
                told += 1
        return told

    def add(self, frontend: FrontEnd) -> None:
        self._by_platform[frontend.platform] = frontend

    def serves(self, platform: str) -> bool:
        return platform in self._by_platform

    def of(self, job: Job) -> FrontEnd | None:
        return self._by_platform.get(job.platform)

    async def waiting(self, job: Job, position: int) -> None:
        if (frontend := self.of(job)) is not None:
            await frontend.waiting(job, position)

    async def progress(self, job: Job, phase: Phase) -> None:
        if (frontend := self.of(job)) is not None:
            await frontend.progress(job, phase)

    async def generating(self, job: Job, progress: TaskProgress) -> None:
        if (frontend := self.of(job)) is not None:
            await frontend.generating(job, progress)

    async def deliver(self, job: Job, images: tuple[PortraitImage, ...], *, last_try: bool) -> str:
        frontend = self.of(job)
        if frontend is None:
            if last_try:
                raise PortraitFailed(
                    FailureReason.UNDELIVERED,
                    "Your portrait is ready, but I couldn't deliver it. I've kept it for you.",
                    f"job {job.id}: no {job.platform} front end is running",
                )
            raise DeliveryDeferred(f"the {job.platform} front end is not running")
        return await frontend.deliver(job, images, last_try=last_try)

    async def find_delivered(self, job: Job) -> str | None:
        frontend = self.of(job)
        return await frontend.find_delivered(job) if frontend is not None else None

    async def failed(self, job: Job, failure: PortraitFailed) -> None:
        if (frontend := self.of(job)) is not None:
            await frontend.failed(job, failure)

    async def cancelled(self, job: Job) -> None:
        if (frontend := self.of(job)) is not None:
            await frontend.cancelled(job)

    async def delayed(self, job: Job, message: str) -> None:
        if (frontend := self.of(job)) is not None:
            await frontend.delayed(job, message)
