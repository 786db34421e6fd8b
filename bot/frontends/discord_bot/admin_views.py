"""What `/portrait-admin stats`, `log` and `show` display: the server's figures as an embed
with the 30-day chart, the recent audit entries, and a line on Wiro's health.

Figures come from the insight service (`services.insight.stats(scope)`), entries from
`services.audit.recent(scope)`, the health from `services.health.state`. Members' names,
prompts and styles are shown as text (`literal`), everything fitted to Discord's embed limits.
"""

from __future__ import annotations

import discord

from bot.core.insight.audit import AuditEntry
from bot.core.insight.health import HealthState
from bot.core.insight.stats import ScopeStats
from bot.frontends.discord_bot.text import EMBED_DESCRIPTION, cut, fit_embed, literal
from bot.frontends.discord_bot.wording import relative_time

EMBED_COLOUR = discord.Colour.from_rgb(124, 92, 255)
CHART_FILE = "portrait-stats.png"
LOG_LENGTH = 15  # entries shown by /portrait-admin log
PROMPT_SHOWN = 80  # characters of a prompt in one log line

HEALTH_LINES = {
    HealthState.OUT_OF_CREDIT: (
        "⚠️ **The bot's Wiro account is out of credit**: portraits will fail until the bot's "
        "owner tops it up (they have been told)."
    ),
    HealthState.KEYS_REFUSED: (
        "⚠️ **Wiro is refusing the bot's keys**: portraits can't be made until the bot's owner "
        "fixes them (they have been told)."
    ),
    HealthState.UNREACHABLE: "⚠️ Wiro can't be reached right now: portraits may wait or fail.",
}


def health_line(state: HealthState) -> str | None:
    """A warning for server owners when Wiro can't make portraits; None when all is well or
    not known yet."""
    return HEALTH_LINES.get(state)


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f} s"


def stats_embed(stats: ScopeStats, *, server_name: str, with_chart: bool) -> discord.Embed:
    """The figures of the last 30 days for one server."""
    embed = discord.Embed(
        title=f"Portraits on {literal(server_name)}: last 30 days", colour=EMBED_COLOUR
    )
    embed.add_field(name="Delivered", value=str(stats.delivered))
    embed.add_field(name="Failed", value=str(stats.failed))
    embed.add_field(name="Cancelled", value=str(stats.cancelled))
    embed.add_field(name="Refused", value=str(stats.refused))
    embed.add_field(name="Median wait", value=_seconds(stats.median_wait_seconds))
    embed.add_field(name="Median generation", value=_seconds(stats.median_generation_seconds))
    embed.add_field(
        name="Spend (Wiro)",
        value=(
            f"Last 24 h ${stats.spend_day:.2f} · 7 days ${stats.spend_week:.2f} · "
            f"30 days ${stats.spend_month:.2f}"
        ),
        inline=False,
    )
    if stats.failures_by_reason:
        reasons = sorted(stats.failures_by_reason.items(), key=lambda item: -item[1])
        embed.add_field(
            name="Failures by reason",
            value="\n".join(f"{literal(reason)}: {count}" for reason, count in reasons[:10]),
            inline=False,
        )
    if stats.top_members:
        top = [
            f"{index}. {literal(member.member_name)} ({_mention(member.requester)}): "
            f"{member.portraits}"
            for index, member in enumerate(stats.top_members[:10], 1)
        ]
        embed.add_field(name="Top members", value="\n".join(top), inline=False)
    if with_chart:
        embed.set_image(url=f"attachment://{CHART_FILE}")
    embed.set_footer(text="Spend is Wiro's reported cost of each task.")
    return fit_embed(embed)


def _mention(requester: str) -> str:
    platform, _, user_id = requester.partition(":")
    return f"<@{user_id}>" if platform == "discord" and user_id.isdigit() else literal(requester)


def _log_line(entry: AuditEntry) -> str:
    when = relative_time(entry.at)
    who = f"{literal(entry.member_name)} ({_mention(entry.requester)})"
    if entry.kind == "change":
        what = entry.reason or entry.prompt or entry.style or "the settings"
        return f"{when} ⚙️ {who} changed {literal(cut(what, 200))}"
    where = f" in <#{entry.place}>" if entry.place and entry.place.isdigit() else ""
    outcome = entry.outcome + (f" ({literal(entry.reason)})" if entry.reason else "")
    cost = f" · ${entry.cost:.3f}" if entry.cost else ""
    style = f" · {literal(cut(entry.style, 60))}" if entry.style else ""
    prompt = f": “{literal(cut(entry.prompt, PROMPT_SHOWN))}”" if entry.prompt else ""
    job = f" · job {entry.job_id}" if entry.job_id is not None else ""
    return f"{when} {who}{where} **{outcome}**{cost}{style}{job}{prompt}"


def log_embed(entries: list[AuditEntry], *, server_name: str) -> discord.Embed:
    """The recent entries, newest first, as many whole lines as fit."""
    lines: list[str] = []
    used = 0
    for entry in entries:
        line = _log_line(entry)
        if used + len(line) + 1 > EMBED_DESCRIPTION:
            break
        lines.append(line)
        used += len(line) + 1
    embed = discord.Embed(
        title=f"Recent requests and changes on {literal(server_name)}",
        description="\n".join(lines) or "Nothing recorded yet.",
        colour=EMBED_COLOUR,
    )
    embed.set_footer(text="Newest first. Entries are kept as long as the jobs themselves.")
    return fit_embed(embed)
