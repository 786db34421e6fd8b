"""Enforcing a server's policy on Discord requests, before anything is spent.

Every path that starts work (`/portrait`, Re-roll, Likeness, Restyle, Edit prompt) asks
`refused_use` (where and by whom: channels, roles) and `refused_request` (styles, private
inputs, the LoRA URL's host and the safety gate; an age-restricted channel is `channel.nsfw`,
a thread follows its parent). A refusal is answered privately, recorded in the audit log as
"refused" with its kind, and costs nothing: it comes before the selfie is fetched and before
anything reaches Wiro. Reading the policy is a cached lookup, so it is done before the
interaction is acknowledged."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import discord

from bot.core.catalog import Catalog
from bot.core.insight.audit import style_of
from bot.core.policy.model import EffectivePolicy, Place, PolicyRefusal
from bot.core.request.options import PortraitOptions
from bot.frontends.discord_bot.address import quota_scope
from bot.frontends.discord_bot.policy_wording import refusal_message
from bot.frontends.discord_bot.requests import requester_of
from bot.frontends.discord_bot.text import fit_content

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

__all__ = ["Here", "place_of", "policy_here", "refused_request", "refused_use"]


def place_of(interaction: discord.Interaction) -> Place:
    """Where and who, as the policy sees it: the channel (a thread's parent channel), whether
    it is age-restricted, the member's role ids and whether they have Manage Server."""
    channel = interaction.channel
    channel_id = interaction.channel_id
    if isinstance(channel, discord.Thread):
        channel_id = channel.parent_id
    is_nsfw = getattr(channel, "is_nsfw", None)
    roles = getattr(interaction.user, "roles", ())
    return Place(
        channel=str(channel_id) if channel_id is not None else None,
        age_restricted=bool(is_nsfw()) if callable(is_nsfw) else False,
        roles=frozenset(str(role.id) for role in roles),
        is_admin=interaction.permissions.manage_guild,
    )


@dataclass(frozen=True)
class Here:
    """A request's server policy and place. effective: None in DMs (no server policy)."""

    scope: str | None
    effective: EffectivePolicy | None
    place: Place

    @property
    def spoiler(self) -> bool:
        """Results go out as spoilers: the server asks for it and the channel is not
        age-restricted."""
        effective = self.effective
        return (
            effective is not None
            and effective.scope.spoiler_results
            and not (self.place.age_restricted)
        )

    def with_defaults(
        self,
        catalog: Catalog,
        model: str | None,
        lora: str | None,
        prompt: str | None,
        *,
        private_model: str | None,
        private_lora: str | None,
        lora_url: str | None,
    ) -> tuple[str | None, str | None, str | None]:
        """What the member left empty, filled with the server's defaults (`EffectivePolicy.
        with_defaults`); with no model chosen or defaulted, the first model offered here, the
        catalog's default first (so the member is not refused a style they did not pick)."""
        if self.effective is None:
            return model, lora, prompt
        return self.effective.with_defaults(
            model,
            lora,
            prompt,
            private_model=private_model,
            private_lora=private_lora,
            lora_url=lora_url,
            fallback_models=[catalog.defaults.model_id, *(style.id for style in catalog.models)],
        )


async def policy_here(interaction: discord.Interaction, services: Services) -> Here:
    scope = quota_scope(interaction.guild_id)
    effective = await services.policies.effective(scope) if scope is not None else None
    return Here(scope, effective, place_of(interaction))


async def refused_use(
    interaction: discord.Interaction,
    services: Services,
    here: Here,
    *,
    prompt: str = "",
    style: str = "",
    private_inputs: bool = False,
) -> bool:
    """True when the member may not use the bot here (channel, roles, and private styles
    when `private_inputs`: they gave a private model, private LoRA or LoRA URL): they have
    been told privately, and the refusal is recorded."""
    if here.effective is None:
        return False
    refusal = here.effective.may_use(here.place, private_inputs=private_inputs)
    if refusal is None:
        return False
    await refuse(interaction, services, here.effective, refusal, prompt=prompt, style=style)
    return True


async def refused_request(
    interaction: discord.Interaction, services: Services, here: Here, options: PortraitOptions
) -> bool:
    """True when the server's policy or the safety gate refuses `options` from this member
    here (channels and roles again, styles, private inputs, LoRA URL host, prompt): told and
    recorded as above."""
    if here.effective is None or here.scope is None:
        return False
    try:
        await services.policies.check_request(here.scope, here.place, options)
    except PolicyRefusal as refusal:
        await refuse(
            interaction,
            services,
            here.effective,
            refusal,
            prompt=options.prompt,
            style=style_of(options.to_params()),
        )
        return True
    return False


async def refuse(
    interaction: discord.Interaction,
    services: Services,
    effective: EffectivePolicy,
    refusal: PolicyRefusal,
    *,
    prompt: str,
    style: str,
) -> None:
    message = fit_content(refusal_message(refusal, effective, services.catalog))
    if interaction.response.is_done():
        await interaction.followup.send(message, ephemeral=True)
    else:
        await interaction.response.send_message(message, ephemeral=True)
    try:
        await services.audit.request(
            requester_of(interaction),
            member_name=interaction.user.display_name,
            place=str(interaction.channel_id) if interaction.channel_id else None,
            prompt=prompt,
            style=style,
            outcome="refused",
            reason=refusal.kind.value,
        )
    except Exception:  # the refusal stands even if the log can't take it
        log.exception("Could not record a refused request in the audit log")
