"""Photos the face check held back, and the button that goes ahead with them anyway.

When `check_faces` finds no face, nothing is queued or saved: the prepared photo waits in
`services.held` (`bot.core.request.held`, up to `HOLD_TIME`) and the member's private answer
gets a button, "Use it anyway" (`/portrait`, params kind ``"portrait"``) or "Save it anyway"
(`/face save`, kind ``"face_save"``). The button is a `DynamicItem` whose custom id carries
only the hold id, ``portrait:hold:<id>``, so it works after a restart.

A press takes the hold (once; only the member who sent the photo may), then checks again what
may have changed meanwhile (the server's policy, the fair-use limits, the face limit) before
queueing or saving. A limit or a restart holds the photo again, with a new button.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import discord

from bot.core.faces import FaceLimitReached
from bot.core.insight.audit import style_of
from bot.core.jobs.ledger import LedgerError
from bot.core.request.held import HOLD_TIME, HeldRequest, HoldGone, HoldNotYours
from bot.core.request.options import PortraitOptions
from bot.frontends.discord_bot.address import requester
from bot.frontends.discord_bot.answers import always_answers
from bot.frontends.discord_bot.faces import FACES_OFF, face_error_message, save_face
from bot.frontends.discord_bot.policy_checks import policy_here, refused_request, refused_use
from bot.frontends.discord_bot.requests import ACCEPTED, requester_of
from bot.frontends.discord_bot.rerun import prepared_of
from bot.frontends.discord_bot.text import fit_content

if TYPE_CHECKING:
    from bot.frontends.discord_bot.app import PortraitBot
    from bot.services import Services

log = logging.getLogger(__name__)

__all__ = [
    "FACE_SAVE",
    "HOLD_GONE",
    "HOLD_NOT_YOURS",
    "PORTRAIT",
    "SAVE_ANYWAY",
    "USE_ANYWAY",
    "HoldButton",
    "hold_back",
]

PORTRAIT = "portrait"  # params["kind"] of a held /portrait request
FACE_SAVE = "face_save"  # params["kind"] of a held /face save
USE_ANYWAY = "Use it anyway"
SAVE_ANYWAY = "Save it anyway"

HOLD_NOT_YOURS = "This button is for the member who sent the photo."
HOLD_GONE = (
    "That photo is no longer kept (photos without a face found wait 30 minutes, and each "
    "button works once): please send it again."
)
NOT_KEPT = (
    "❌ I couldn't keep your photo for the button: the bot's storage is failing. Nothing was "
    "sent to Wiro; please try again later."
)
GOING_AHEAD = "⏳ Going ahead with your photo…"
NOT_QUEUED = "❌ Not queued: see the reason below. The photo is no longer kept."
RESTARTING = "I'm restarting right now. Press the button again in a minute."
KEPT_AGAIN = (
    f"I keep your photo for another {int(HOLD_TIME.total_seconds() // 60)} minutes: press the "
    "button again once you can."
)


class HoldButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"portrait:hold:(?P<hold_id>[0-9]+)"
):
    def __init__(self, hold_id: int, label: str = USE_ANYWAY) -> None:
        super().__init__(
            discord.ui.Button(
                label=label,
                style=discord.ButtonStyle.primary,
                custom_id=f"portrait:hold:{hold_id}",
            )
        )
        self.hold_id = hold_id

    @classmethod
    async def from_custom_id(cls, interaction, item, match: re.Match[str], /) -> HoldButton:  # type: ignore[override]
        return cls(int(match["hold_id"]))

    @always_answers
    async def callback(self, interaction: discord.Interaction[PortraitBot]) -> None:  # type: ignore[override]
        services = interaction.client.services
        try:
            held, data = await services.held.take(self.hold_id, requester(interaction.user.id))
        except HoldNotYours:
            await interaction.response.send_message(HOLD_NOT_YOURS, ephemeral=True)
            return
        except HoldGone:
            await interaction.response.edit_message(content=HOLD_GONE, view=None)
            return
        # The held message loses its button at once; it becomes the answer below.
        await interaction.response.edit_message(content=GOING_AHEAD, view=None)
        log.info("Hold %s: %s goes ahead anyway", held.id, held.params.get("kind"))
        if held.params.get("kind") == FACE_SAVE:
            await _save_anyway(interaction, services, held, data)
        else:
            await _portrait_anyway(interaction, held, data)


def hold_view(hold_id: int, label: str) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(HoldButton(hold_id, label))
    return view


async def hold_back(
    interaction: discord.Interaction,
    services: Services,
    params: Mapping[str, Any],
    prepared: bytes,
    *,
    text: str,
    label: str,
) -> bool:
    """Hold ``prepared`` with ``params`` and show ``text`` with the go-ahead button in the
    (deferred) answer; False when it could not be kept (the member has been told)."""
    who = requester_of(interaction)
    try:
        held = await services.held.hold(
            platform=who.platform,
            requester=who.requester,
            scope=who.scope,
            params=params,
            prepared=prepared,
        )
    except (OSError, LedgerError) as error:
        log.error("Could not hold a photo for its go-ahead button: %s", error)
        await interaction.edit_original_response(content=NOT_KEPT, view=None)
        return False
    await interaction.edit_original_response(
        content=fit_content(text), view=hold_view(held.id, label)
    )
    return True


async def _save_anyway(
    interaction: discord.Interaction[PortraitBot],
    services: Services,
    held: HeldRequest,
    data: bytes,
) -> None:
    """The member's "Save it anyway": the face limit, the name and the key are checked again
    by `SavedFaces.save`."""
    if services.faces.per_member <= 0:
        text = FACES_OFF
    else:
        saved = await services.faces.list(requester(interaction.user.id))
        if len(saved) >= services.faces.per_member:  # filled meanwhile: keep the photo
            full = face_error_message(FaceLimitReached(services.faces.per_member))
            wait = f"{full}\nYour photo is kept: delete a face, then press the button again."
            await hold_back(interaction, services, held.params, data, text=wait, label=SAVE_ANYWAY)
            return
        text = await save_face(services, interaction.user.id, str(held.params.get("name")), data)
    await interaction.edit_original_response(content=fit_content(text))


async def _portrait_anyway(
    interaction: discord.Interaction[PortraitBot], held: HeldRequest, data: bytes
) -> None:
    """The member's "Use it anyway": the server's policy and the limits are checked again,
    here and now, then the job is queued like any `/portrait`."""
    bot = interaction.client
    services = bot.services
    options = PortraitOptions.from_params(held.params["options"])
    here = await policy_here(interaction, services)
    if await refused_use(
        interaction,
        services,
        here,
        prompt=options.prompt,
        style=style_of(options.to_params()),
        private_inputs=bool(options.private_model or options.private_lora or options.lora_url),
    ) or await refused_request(interaction, services, here, options):
        await interaction.edit_original_response(content=NOT_QUEUED)
        return
    wait = RESTARTING if not bot.dispatcher.accepting else None
    if wait is None:
        refusal = await bot.job_starter.over_limit(interaction)
        if refusal is not None:
            wait = f"{refusal}\n{KEPT_AGAIN}"
    if wait is not None:  # held again, with a new button: the photo is not lost
        await hold_back(interaction, services, held.params, data, text=wait, label=USE_ANYWAY)
        return
    await bot.job_starter.start(
        interaction,
        options,
        await asyncio.to_thread(prepared_of, data),
        accepted=ACCEPTED,
        spoiler=here.spoiler,
    )
