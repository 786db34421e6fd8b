"""`/portrait-admin`: a server's own Portrait Bot settings, for members with Manage Server.

The group carries Manage Server as its default permission (Discord hides it from others) and
the check is repeated here on every call, so a forged interaction without it is refused,
privately. Every change goes through `Policies.update(..., by=PolicyEditor(...))`, which
checks it against the bot owner's caps and records who made it in the audit log; each
confirmation says what changed, privately."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Mapping
from typing import Any, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.insight.chart import render_chart
from bot.core.policy.model import EffectivePolicy, PrivateStyles
from bot.core.policy.service import CapExceeded, PolicyEditor
from bot.frontends.discord_bot.address import PLATFORM, quota_scope, requester
from bot.frontends.discord_bot.admin_styles import (
    RESET,
    StyleChangeRefused,
    edited_ids,
    parse_style,
    style_change,
    style_choices,
)
from bot.frontends.discord_bot.admin_views import (
    CHART_FILE,
    LOG_LENGTH,
    health_line,
    log_embed,
    stats_embed,
)
from bot.frontends.discord_bot.app import PortraitBot
from bot.frontends.discord_bot.errors import tell_privately
from bot.frontends.discord_bot.policy_wording import (
    PRIVATE_WHO,
    cap_message,
    channel_list,
    limits_text,
    policy_embed,
    role_list,
    style_name,
)
from bot.frontends.discord_bot.text import literal

log = logging.getLogger(__name__)

UNSAFE_DEFAULT = (
    "Note: it contains “{word}”, so outside age-restricted channels members who leave the "
    "prompt empty are refused by the safety gate."
)

MAX_BLOCKED_WORDS = 200
BLOCKED_WORD_MAX_CHARS = 60
DEFAULT_PROMPT_MAX_CHARS = 1000

Action = Literal["add", "remove", "clear"]


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class AdminCog(
    commands.GroupCog,
    group_name="portrait-admin",
    group_description="Portrait Bot's settings for this server (Manage Server)",
):
    def __init__(self, bot: PortraitBot) -> None:
        self.bot = bot
        self.services = bot.services
        super().__init__()

    async def interaction_check(self, interaction: discord.Interaction) -> bool:  # type: ignore[override]
        """Repeated server-side: Discord's default permission only hides the command."""
        if interaction.guild_id is None:
            raise app_commands.NoPrivateMessage()
        if not interaction.permissions.manage_guild:
            raise app_commands.MissingPermissions(["manage_guild"])
        return True

    # -- helpers ---------------------------------------------------------------------------

    def _scope(self, interaction: discord.Interaction) -> str:
        scope = quota_scope(interaction.guild_id)
        assert scope is not None  # guild_only and the check above
        return scope

    async def _effective(self, interaction: discord.Interaction) -> EffectivePolicy:
        return await self.services.policies.effective(self._scope(interaction))

    async def _change(
        self, interaction: discord.Interaction, changes: Mapping[str, Any]
    ) -> EffectivePolicy | None:
        """Apply `changes`; None when refused (the member has been told why)."""
        policies = self.services.policies
        editor = PolicyEditor(
            platform=PLATFORM,
            requester=requester(interaction.user.id),
            member_name=interaction.user.display_name,
        )
        scope = self._scope(interaction)
        try:
            await policies.update(scope, changes, by=editor)
        except CapExceeded as exceeded:
            cap = exceeded.cap
            if exceeded.field in ("models", "loras"):  # the style the owner turned off
                kind = "model" if exceeded.field == "models" else "lora"
                cap = style_name(self.services.catalog, kind, str(cap))
            await tell_privately(interaction, f"Not changed: {cap_message(exceeded.field, cap)}")
            return None
        except ValueError as error:  # a value the policy does not accept
            await tell_privately(interaction, f"Not changed: {literal(str(error))}")
            return None
        log.info("Policy of %s changed by %s: %s", scope, editor.requester, sorted(changes))
        return await policies.effective(scope)

    # -- show ------------------------------------------------------------------------------

    @app_commands.command(name="show", description="Everything Portrait Bot enforces here")
    async def show(self, interaction: discord.Interaction) -> None:
        effective = await self._effective(interaction)
        embed = policy_embed(
            effective,
            self.services.catalog,
            server_name=interaction.guild.name if interaction.guild else "this server",
            health_line=health_line(self.services.health.state),
        )
        await interaction.response.send_message(embed=embed, ephemeral=True)

    # -- where and who ---------------------------------------------------------------------

    @app_commands.command(name="channels", description="Channels where members may use /portrait")
    @app_commands.describe(
        action="Add or remove a channel, or clear (every channel)",
        channel="The channel to add or remove",
    )
    async def channels(
        self,
        interaction: discord.Interaction,
        action: Action,
        channel: discord.TextChannel | discord.ForumChannel | None = None,
    ) -> None:
        effective = await self._effective(interaction)
        if action != "clear" and channel is None:
            await tell_privately(interaction, f"Pick the channel to {action}.")
            return
        ids = edited_ids(effective.scope.channels, action, channel)
        changed = await self._change(interaction, {"channels": ids})
        if changed is None:
            return
        if changed.scope.channels:
            text = (
                f"Members can now use `/portrait` only in {channel_list(changed.scope.channels)}."
            )
        else:
            text = "Members can now use `/portrait` in every channel."
        await tell_privately(
            interaction, f"✅ {text} Members with Manage Server can use it anywhere."
        )

    @app_commands.command(name="roles", description="Roles whose members may use /portrait")
    @app_commands.describe(
        action="Add or remove a role, or clear (every member)", role="The role to add or remove"
    )
    async def roles(
        self, interaction: discord.Interaction, action: Action, role: discord.Role | None = None
    ) -> None:
        effective = await self._effective(interaction)
        if action != "clear" and role is None:
            await tell_privately(interaction, f"Pick the role to {action}.")
            return
        changed = await self._change(
            interaction, {"roles": edited_ids(effective.scope.roles, action, role)}
        )
        if changed is None:
            return
        if changed.scope.roles:
            text = f"Only members with {role_list(changed.scope.roles)} can now use `/portrait`."
        else:
            text = "Every member can now use `/portrait`."
        await tell_privately(interaction, f"✅ {text}")

    # -- styles ----------------------------------------------------------------------------

    @app_commands.command(name="styles", description="Models and LoRAs offered here, and defaults")
    @app_commands.describe(
        action="enable / disable a style, make it the default, set the default prompt, or "
        "offer every style again (and clear the defaults)",
        style="The model or LoRA (start typing to search)",
        prompt="The default prompt (with default-prompt; leave empty to clear it)",
    )
    async def styles(
        self,
        interaction: discord.Interaction,
        action: Literal["enable", "disable", "default", "default-prompt", "reset"],
        style: str | None = None,
        prompt: app_commands.Range[str, 1, DEFAULT_PROMPT_MAX_CHARS] | None = None,
    ) -> None:
        effective = await self._effective(interaction)
        catalog = self.services.catalog
        if action == "reset":
            if await self._change(interaction, RESET) is not None:
                await tell_privately(
                    interaction,
                    "✅ Every style the bot offers is available here again, with the bot's "
                    "own defaults.",
                )
            return
        if action == "default-prompt":
            text = prompt.strip() if prompt else None
            changed = await self._change(interaction, {"default_prompt": text or None})
            if changed is not None:
                shown = f"“{literal(text)}”" if text else "the tool's own"
                word = self.services.policies.screened_word(changed, text or "")
                note = f" {UNSAFE_DEFAULT.format(word=literal(word))}" if word else ""
                await tell_privately(interaction, f"✅ An empty prompt now means {shown}.{note}")
            return
        found = parse_style(catalog, style) if style else None
        if found is None:
            await tell_privately(interaction, "Pick a model or LoRA from the suggestions.")
            return
        try:
            changes, confirmation = style_change(catalog, effective, action, *found)
        except StyleChangeRefused as refused:
            await tell_privately(interaction, str(refused))
            return
        if await self._change(interaction, changes) is not None:
            await tell_privately(interaction, f"✅ {confirmation}")

    @styles.autocomplete("style")
    async def style_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        if not interaction.permissions.manage_guild:
            return []
        effective = await self._effective(interaction)
        action = getattr(interaction.namespace, "action", None)
        return style_choices(self.services.catalog, effective, action, current)

    # -- limits ----------------------------------------------------------------------------

    @app_commands.command(name="limits", description="Cooldown, jobs in progress and quotas")
    @app_commands.describe(
        cooldown="Seconds between two portraits of one member (at least the bot owner's)",
        active="Portraits in progress per member (at most the bot owner's)",
        member_daily="Portraits per member per 24 hours (at most the bot owner's)",
        server_daily="Portraits for the whole server per 24 hours (at most the bot owner's)",
        reset="Back to the bot owner's limits",
    )
    async def limits(
        self,
        interaction: discord.Interaction,
        cooldown: app_commands.Range[float, 0, 86400] | None = None,
        active: app_commands.Range[int, 1, 20] | None = None,
        member_daily: app_commands.Range[int, 1, 100000] | None = None,
        server_daily: app_commands.Range[int, 1, 1000000] | None = None,
        reset: bool = False,
    ) -> None:
        changes: dict[str, Any] = {}
        if reset:
            changes = dict.fromkeys(
                ("member_cooldown", "member_max_active", "member_daily_quota", "scope_daily_quota")
            )
        for name, value in (
            ("member_cooldown", cooldown),
            ("member_max_active", active),
            ("member_daily_quota", member_daily),
            ("scope_daily_quota", server_daily),
        ):
            if value is not None:
                changes[name] = value
        if not changes:
            effective = await self._effective(interaction)
            if effective is not None:
                await tell_privately(
                    interaction, f"Limits here:\n{limits_text(effective.fair_use)}"
                )
            return
        changed = await self._change(interaction, changes)
        if changed is not None:
            await tell_privately(
                interaction, f"✅ Limits here now:\n{limits_text(changed.fair_use)}"
            )

    # -- safety ----------------------------------------------------------------------------

    @app_commands.command(name="safety", description="Blocked words and spoiler results")
    @app_commands.describe(
        block="A word or phrase to refuse in prompts outside age-restricted channels",
        unblock="A word or phrase to take off this server's list",
        spoilers="Post results as spoilers outside age-restricted channels",
    )
    async def safety(
        self,
        interaction: discord.Interaction,
        block: app_commands.Range[str, 1, BLOCKED_WORD_MAX_CHARS] | None = None,
        unblock: app_commands.Range[str, 1, BLOCKED_WORD_MAX_CHARS] | None = None,
        spoilers: bool | None = None,
    ) -> None:
        effective = await self._effective(interaction)
        words = list(effective.scope.blocked_words)
        said: list[str] = []
        if block and (word := " ".join(block.lower().split())):
            if len(words) >= MAX_BLOCKED_WORDS:
                await tell_privately(
                    interaction, f"This server's list is full ({MAX_BLOCKED_WORDS})."
                )
                return
            if word not in words:
                words.append(word)
            said.append(
                f"Prompts with “{literal(word)}” are now refused outside age-restricted channels."
            )
        if unblock and (word := " ".join(unblock.lower().split())):
            words = [w for w in words if w != word]
            said.append(f"“{literal(word)}” is off this server's list.")
        changes: dict[str, Any] = {"blocked_words": tuple(words)}
        if spoilers is not None:
            changes["spoiler_results"] = spoilers
            said.append(
                "Results outside age-restricted channels are now posted as spoilers."
                if spoilers
                else "Results are now posted without spoilers."
            )
        if not said:
            await tell_privately(
                interaction, "Nothing to change: give a word to block or unblock, or spoilers."
            )
            return
        if await self._change(interaction, changes) is not None:
            await tell_privately(interaction, "✅ " + " ".join(said))

    # -- private styles --------------------------------------------------------------------

    @app_commands.command(
        name="private-styles", description="Who may use private models, private LoRAs and LoRA URLs"
    )
    @app_commands.describe(who="Who may use them here", role="With 'roles': a role to allow")
    async def private_styles(
        self,
        interaction: discord.Interaction,
        who: Literal["off", "admins", "roles", "everyone"],
        role: discord.Role | None = None,
    ) -> None:
        effective = await self._effective(interaction)
        mode = PrivateStyles(who)
        changes: dict[str, Any] = {"private_styles": mode}
        roles = list(effective.scope.private_styles_roles)
        if mode is PrivateStyles.ROLES:
            if role is not None and str(role.id) not in roles:
                roles.append(str(role.id))
            if not roles:
                await tell_privately(interaction, "Pick the role whose members may use them.")
                return
            changes["private_styles_roles"] = tuple(roles)
        changed = await self._change(interaction, changes)
        if changed is None:
            return
        text = f"Private models, private LoRAs and LoRA URLs are now for {PRIVATE_WHO[mode]}"
        if mode is PrivateStyles.ROLES:
            text += f": {role_list(changed.scope.private_styles_roles)}"
        await tell_privately(interaction, f"✅ {text}.")

    # -- insight ---------------------------------------------------------------------------

    @app_commands.command(name="stats", description="Portraits, failures and spend, 30 days")
    async def stats(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        figures = await self.services.insight.stats(self._scope(interaction))
        name = interaction.guild.name if interaction.guild else "this server"
        chart = await asyncio.to_thread(render_chart, figures, title=name)
        await interaction.edit_original_response(
            embed=stats_embed(figures, server_name=name, with_chart=True),
            attachments=[discord.File(io.BytesIO(chart), filename=CHART_FILE)],
        )

    @app_commands.command(name="log", description="Recent requests and settings changes here")
    async def log(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        entries = await self.services.audit.recent(self._scope(interaction), LOG_LENGTH)
        name = interaction.guild.name if interaction.guild else "this server"
        await interaction.edit_original_response(embed=log_embed(entries, server_name=name))


async def setup(bot: PortraitBot) -> None:
    await bot.add_cog(AdminCog(bot))
