"""The port through which the job queue talks to the chat side
(`bot.frontends.discord_bot.job_messages` implements it for Discord), so nothing in
`bot.core.jobs` knows Discord."""

from __future__ import annotations

from typing import Protocol

from bot.core.jobs.failures import PortraitFailed
from bot.core.jobs.ledger import Job
from bot.core.jobs.runner import Phase, PortraitImage
from bot.core.wiro import TaskProgress


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
        """The reference of a result message already posted for this job, if one can be found."""
        ...

    async def failed(self, job: Job, failure: PortraitFailed) -> None: ...
    async def cancelled(self, job: Job) -> None: ...
    async def delayed(self, job: Job, message: str) -> None:
        """Tell the member (privately) why their job is on hold; it goes on by itself later."""
        ...
