"""A server's policy in a Discord member's or server owner's words: refusals by policy or by
the safety gate, the effective policy as an embed, and the owner's caps when a change goes over
them. Ids are shown as Discord mentions (<#channel>, <@&role>), which Discord renders as names
and never pings in ephemeral messages; what members or Wiro wrote is shown as text (`literal`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import discord

from bot.core.catalog import Catalog
from bot.core.jobs.limits import FairUse
from bot.core.policy.model import EffectivePolicy, PolicyRefusal, PrivateStyles, RefusalKind
from bot.frontends.discord_bot.text import cut, fit_embed, literal

EMBED_COLOUR = discord.Colour.from_rgb(124, 92, 255)
MAX_LISTED = 20  # ids listed in one field before "and N more"

PRIVATE_WHO = {
    PrivateStyles.OFF: "nobody",
    PrivateStyles.ADMINS: "members with Manage Server",
    PrivateStyles.ROLES: "members with the roles below (and Manage Server)",
    PrivateStyles.EVERYONE: "everyone who may use the bot here",
}


def channel_list(ids: Iterable[str]) -> str:
    return _listed([f"<#{channel_id}>" for channel_id in ids])


def role_list(ids: Iterable[str]) -> str:
    return _listed([f"<@&{role_id}>" for role_id in ids])


def _listed(items: list[str]) -> str:
    if len(items) > MAX_LISTED:
        items = [*items[:MAX_LISTED], f"and {len(items) - MAX_LISTED} more"]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " or " + items[-1]


def style_name(catalog: Catalog, kind: str, style_id: str) -> str:
    """A style's readable name (as text), or its id when the catalog no longer has it."""
    style = catalog.model(style_id) if kind == "model" else catalog.lora(style_id)
    return literal(style.readable_name if style is not None else style_id)


def refusal_message(refusal: PolicyRefusal, effective: EffectivePolicy, catalog: Catalog) -> str:
    """What a member reads when the server's policy or the safety gate refuses a request."""
    kind, detail = refusal.kind, refusal.detail
    if kind is RefusalKind.CHANNEL:
        return (
            f"On this server I make portraits only in {channel_list(detail)}. "
            "Please use `/portrait` there."
        )
    if kind is RefusalKind.ROLE:
        return (
            f"On this server, portraits are for members with the {role_list(detail)} role. "
            "Ask the server's moderators if you think you should have it."
        )
    if kind is RefusalKind.ADMINS_ONLY:
        return "On this server, only its administrators can make portraits."
    if kind in (RefusalKind.MODEL, RefusalKind.LORA):
        what = "model" if kind is RefusalKind.MODEL else "lora"
        name = style_name(catalog, what, detail[0] if detail else "?")
        label = "model" if kind is RefusalKind.MODEL else "extra style (LoRA)"
        return (
            f"The {label} {name} isn't offered on this server. Start typing in the "
            f"`{what}` option to see the ones that are."
        )
    if kind is RefusalKind.PRIVATE_STYLES:
        if not effective.caps.allow_private_styles:
            return "Private models, private LoRAs and LoRA URLs are turned off for this bot."
        return "Private models, private LoRAs and LoRA URLs aren't allowed for you on this server."
    if kind is RefusalKind.LORA_URL_HOST:
        # The core's reason (which hosts, or what is wrong with the URL), in plain words.
        reason = literal(detail[0]) if detail else "LoRA URLs must start with https://."
        return f"That LoRA URL can't be used. {reason} Nothing was sent to Wiro."
    if kind is RefusalKind.UNSAFE_PROMPT:
        word = literal(cut(detail[0], 60)) if detail else "a word"
        return (
            f"I can't make that here: the prompt contains “{word}”, which isn't allowed outside "
            "age-restricted channels. Please change the prompt."
        )
    return "This server's settings don't allow that request."


def cap_message(field: str, cap: float | int | str) -> str:
    """Why a server's change was refused: the bot owner's ceiling (for a style, `cap` is its
    name already shown as text)."""
    if field == "member_cooldown":
        return f"The bot's owner requires a cooldown of at least {cap:g} s between portraits."
    if field == "member_max_active":
        return f"The bot's owner allows at most {cap} portrait(s) in progress per member."
    if field == "member_daily_quota":
        return f"The bot's owner allows at most {cap} portraits per member per 24 hours."
    if field == "scope_daily_quota":
        return f"The bot's owner allows at most {cap} portraits per server per 24 hours."
    if field in ("models", "loras"):
        return f"The bot's owner has turned off {cap} for every server."
    if field == "private_styles":
        return "The bot's owner has turned private models and LoRA URLs off for every server."
    return f"That goes over the bot owner's limit for {field} ({cap})."


def limits_text(fair_use: FairUse) -> str:
    def quota(value: int, per: str) -> str:
        return f"{value} per {per} per 24 h" if value else f"no cap per {per}"

    return (
        f"Cooldown: {fair_use.member_cooldown:g} s · In progress: {fair_use.member_max_active} "
        f"per member\n{quota(fair_use.member_daily_quota, 'member')} · "
        f"{quota(fair_use.guild_daily_quota, 'server')}"
    )


def _default_line(
    catalog: Catalog, kind: str, style_id: str | None, offered: Callable[[str], bool]
) -> str:
    """One default style as enforced: a default no longer offered (the owner or the server
    turned it off since) is not used, and is shown so."""
    label, none = ("Model", "the bot's default") if kind == "model" else ("LoRA", "none")
    if not style_id:
        return f"{label}: {none}"
    name = style_name(catalog, kind, style_id)
    if not offered(style_id):
        return f"{label}: {none} ({name} is set but turned off, so it isn't used)"
    return f"{label}: {name}"


def policy_embed(
    effective: EffectivePolicy, catalog: Catalog, *, server_name: str, health_line: str | None
) -> discord.Embed:
    """`/portrait-admin show`: everything that is enforced on this server."""
    policy = effective.scope
    embed = discord.Embed(
        title=f"Portrait Bot on {literal(server_name)}",
        description=health_line or "",
        colour=EMBED_COLOUR,
    )
    embed.add_field(
        name="Channels",
        value=channel_list(policy.channels) if policy.channels else "Every channel",
        inline=False,
    )
    embed.add_field(
        name="Who may use it",
        value=f"Members with {role_list(policy.roles)}" if policy.roles else "Every member",
        inline=False,
    )
    models = effective.offered_models(style.id for style in catalog.models)
    loras = effective.offered_loras(style.id for style in catalog.loras)
    embed.add_field(
        name="Styles offered",
        value=(
            f"{len(models)} of {len(catalog.models)} models, "
            f"{len(loras)} of {len(catalog.loras)} LoRAs"
            + (" (only the ones this server chose)" if policy.models or policy.loras else "")
        ),
        inline=False,
    )
    defaults = [
        _default_line(catalog, "model", policy.default_model, effective.offers_model),
        _default_line(catalog, "lora", policy.default_lora, effective.offers_lora),
        f"Prompt: {literal(cut(policy.default_prompt, 200))}"
        if policy.default_prompt
        else "Prompt: the tool's default",
    ]
    embed.add_field(name="Defaults", value="\n".join(defaults), inline=False)
    embed.add_field(name="Limits", value=limits_text(effective.fair_use), inline=False)
    blocked = ", ".join(literal(word) for word in policy.blocked_words) or "none"
    safety = (
        (
            "Prompt screening on outside age-restricted channels"
            if effective.caps.safety_filter
            else "Prompt screening turned off by the bot's owner"
        )
        + f"\nServer's own blocked words: {cut(blocked, 500)}"
        + "\nResults as spoilers outside age-restricted channels: "
        + ("yes" if policy.spoiler_results else "no")
    )
    embed.add_field(name="Safety", value=safety, inline=False)
    if effective.caps.allow_private_styles:
        private = PRIVATE_WHO[policy.private_styles]
        if policy.private_styles is PrivateStyles.ROLES and policy.private_styles_roles:
            private += f": {role_list(policy.private_styles_roles)}"
    else:
        private = "turned off by the bot's owner"
    embed.add_field(name="Private models and LoRA URLs", value=private, inline=False)
    return fit_embed(embed)
