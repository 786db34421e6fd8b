"""Turning an accepted Telegram request into a queued job through the core's `Admission`: the
one path shared by ``/portrait``, a captionless photo in a private chat and every result
button that starts new work, so all of them go through the same limits, quotas and queue."""

from __future__ import annotations

from datetime import datetime

from bot.core.faces import SavedFace
from bot.core.jobs.admission import Admission, LimitReached, NotSaved
from bot.core.jobs.events import FrontEnd
from bot.core.jobs.ledger import Clock, Job, utc_now
from bot.core.request.options import PortraitOptions

from .address import TelegramAddress
from .messages import refusal
from .wording import limit_message

NOT_SAVED = (
    "I couldn't save your request: the bot's storage is full or failing. Nothing was sent "
    "to Wiro; please try again later."
)


class TelegramJobStarter:
    """Admission for Telegram requests; the job's status message is posted by `frontend`."""

    def __init__(self, admission: Admission, frontend: FrontEnd, clock: Clock = utc_now) -> None:
        self._admission = admission
        self._frontend = frontend
        self._clock = clock

    async def over_limit(
        self, address: TelegramAddress, options: PortraitOptions, *, member_name: str
    ) -> str | None:
        """The refusal (Telegram HTML) for the first fair-use limit the member is over, if
        any; checked before the selfie is downloaded (a cooldown is a wait, not a refusal).
        The options and name go to the audit log with a refusal."""
        params = {"options": options.to_params(), "member_name": member_name}
        limit = await self._admission.over_limit(address.requester, params)
        return refusal(limit_message(limit, self._clock())) if limit is not None else None

    async def start(
        self,
        address: TelegramAddress,
        options: PortraitOptions,
        selfie: bytes | SavedFace,
        *,
        member_name: str,
        selfie_expires_at: datetime | None = None,
        origin: str | None = None,
    ) -> Job | str:
        """Queue the job and post its status message (replying to ``address.message_id``).
        Returns the job, or the refusal to send (Telegram HTML) when a limit or the storage
        refused it; then nothing was queued and the saved selfie is gone. ``selfie``: the
        prepared photo's bytes, or one of the member's saved faces (read at dispatch).

        ``origin``: the update that asked (the ``origin`` handlers receive from the inbox),
        kept in ``params["origin"]`` so a redelivered or resumed update finds its job
        (`JobLedger.job_by_origin`) instead of queueing a second one."""
        params: dict[str, object] = {"options": options.to_params(), "member_name": member_name}
        if origin is not None:
            params["origin"] = origin
        try:
            return await self._admission.admit(
                address.requester,
                params,
                selfie,
                selfie_expires_at=selfie_expires_at,
                post_status=self._frontend.post_status,
            )
        except LimitReached as limit:
            return refusal(limit_message(limit, self._clock()))
        except NotSaved:
            return refusal(NOT_SAVED)
