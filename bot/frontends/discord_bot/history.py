"""A member's recent portraits, as the ephemeral answer to `/portrait-history`."""

from __future__ import annotations

import discord

from bot.core.catalog import Catalog
from bot.core.jobs.ledger import Job, JobState
from bot.frontends.discord_bot.address import DiscordAddress
from bot.frontends.discord_bot.delivery import EMBED_COLOUR
from bot.frontends.discord_bot.text import fit, fit_embed, literal, visible

HISTORY_LENGTH = 10
# Budgets of one line's parts, after escaping: ten lines stay within a description's 4,096.
_PROMPT_CHARS = 100
_MODEL_CHARS = 60
_FAILURE_CHARS = 100
_DETAIL_CHARS = 80
_STATE_TEXT = {
    JobState.QUEUED: "⏳ waiting in line",
    JobState.SUBMITTING: "⏳ starting",
    JobState.RUNNING: "🎨 in progress",
    JobState.DELIVERING: "📤 being posted",
    JobState.DELIVERED: "✅ delivered",
    JobState.FAILED: "❌ failed",
    JobState.CANCELLED: "🚫 cancelled",
    JobState.UNCONFIRMED: "❔ not confirmed",
    JobState.KEPT: "📦 kept for you: Discord would not take it; press Send again",
}


def history_embed(jobs: list[Job], catalog: Catalog) -> discord.Embed:
    embed = discord.Embed(title="Your recent portraits", colour=EMBED_COLOUR)
    if not jobs:
        embed.description = "You haven't asked for a portrait yet. Try `/portrait`!"
        return embed
    embed.description = "\n\n".join(_line(job, catalog) for job in jobs[:HISTORY_LENGTH])
    return fit_embed(embed)


def _line(job: Job, catalog: Catalog) -> str:
    options = job.params.get("options", {})
    model = catalog.model(str(options.get("model_id", "")))
    prompt = fit(literal(" ".join(str(options.get("prompt", "")).split())), _PROMPT_CHARS)
    when = f"<t:{int(job.created_at.timestamp())}:R>"
    head = f"**#{job.id}** · {_STATE_TEXT[job.state]} · {when}"
    details = [
        f"seed `{options.get('seed', '?')}`",
        fit(
            literal(model.readable_name if model else f"model {options.get('model_id', '?')}"),
            _MODEL_CHARS,
        ),
    ]
    if job.state is JobState.DELIVERED and job.result_message_ref:
        address = DiscordAddress.of(job)
        where = address.guild_id or "@me"
        link = f"https://discord.com/channels/{where}/{address.channel_id}/{job.result_message_ref}"
        details.append(f"[see it]({link})")
    elif job.state in (JobState.FAILED, JobState.KEPT) and job.failure_message:
        details.append(fit(literal(job.failure_message), _FAILURE_CHARS))
    line = f"{head}\n{' · '.join(details)}\n> {prompt}"
    if job.state is JobState.FAILED and job.failure_detail:
        line += f"\n{_detail_line(job.failure_detail)}"
    return line


def _detail_line(detail: str) -> str:
    """The last line of Wiro's raw failure text, short and code-formatted (no backticks)."""
    last = next((ln.strip() for ln in reversed(detail.splitlines()) if ln.strip()), "")
    return "`" + fit(visible(last).replace("`", "'"), _DETAIL_CHARS) + "`"
