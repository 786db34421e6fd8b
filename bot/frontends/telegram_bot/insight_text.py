"""``/stats`` and ``/log`` as Telegram HTML within 4096 characters: the chat's figures
(`ScopeStats`, with the chart sent as a photo beside it) and its recent audit entries
(`AuditEntry`). Members' names and prompts are escaped and shortened (`text.fit_html`)."""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.insight.audit import AuditEntry
from bot.core.insight.stats import ScopeStats

from .messages import BOLD, BOLD_, ITALIC, ITALIC_
from .text import CAPTION_LIMIT, Cut, Part, fit_html, shorten

LOG_LENGTH = 15
PROMPT_CHARS = 160
NO_ENTRIES = "Nothing recorded in this chat yet."
CHART_CAPTION = "📈 Portraits per day in this chat, the last 30 days"


def stats_text(stats: ScopeStats, chat: str | None = None) -> str:
    """The figures of one chat over the last 30 days. ``chat``: the chat's title when they
    are read elsewhere (an administrator's private chat); None: "this chat"."""
    where: Part = "this chat" if chat is None else Cut(chat)
    parts: list[Part] = [BOLD, "📊 Portraits in ", where, ", the last 30 days", BOLD_, "\n\n"]
    parts += [
        f"Delivered: {stats.delivered} · failed: {stats.failed} · cancelled: "
        f"{stats.cancelled} · refused: {stats.refused}"
    ]
    if stats.failures_by_reason:
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(stats.failures_by_reason.items()))
        parts += ["\nFailures: ", Cut(reasons)]
    parts += [
        f"\nMedian wait: {_seconds(stats.median_wait_seconds)} · generation: "
        f"{_seconds(stats.median_generation_seconds)}",
        f"\nSpend at Wiro: ${stats.spend_day:.2f} in the last 24 h · ${stats.spend_week:.2f} "
        f"in 7 days · ${stats.spend_month:.2f} in 30 days",
    ]
    if stats.top_members:
        parts += ["\n\n", BOLD, "Top members", BOLD_]
        for member in stats.top_members[:5]:
            parts += ["\n• ", Cut(member.member_name or member.requester), f": {member.portraits}"]
    return fit_html(parts)


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f} s"


def log_text(entries: Sequence[AuditEntry], chat: str | None = None) -> str:
    """The recent entries, newest first: when, who, what happened (and the prompt).
    ``chat``: the chat's title when the log is read elsewhere (an administrator's private
    chat); None: "here"."""
    if not entries:
        return fit_html([NO_ENTRIES if chat is None else f"Nothing recorded in {chat} yet."])
    where: Part = "here" if chat is None else Cut(f"in {chat}")
    parts: list[Part] = [BOLD, "📜 Recent requests and changes ", where, BOLD_]
    for entry in entries[:LOG_LENGTH]:
        parts += ["\n\n", entry.at.strftime("%Y-%m-%d %H:%M UTC"), " · "]
        parts += [BOLD, Cut(entry.member_name or entry.requester), BOLD_, " · "]
        if entry.kind == "change":  # the reason says what changed: "field=value; ..."
            parts += ["changed ", Cut(shorten(entry.reason or "", PROMPT_CHARS))]
            continue
        outcome = entry.outcome + (f" ({entry.reason})" if entry.reason else "")
        job = f"#{entry.job_id} " if entry.job_id is not None else ""
        parts += [f"{job}{outcome}"]
        if entry.cost is not None:
            parts += [f" · ${entry.cost:.3f}"]
        if entry.style:
            parts += ["\n", Cut(entry.style)]
        if entry.prompt:
            parts += ["\n", ITALIC, Cut(shorten(" ".join(entry.prompt.split()), PROMPT_CHARS))]
            parts += [ITALIC_]
    return fit_html(parts)


def chart_caption() -> str:
    return fit_html([CHART_CAPTION], CAPTION_LIMIT)
