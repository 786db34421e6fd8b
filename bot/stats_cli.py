"""`python -m bot stats [--scope SCOPE] [--chart FILE]`: the figures of the last 30 days for the
bot's owner, over every server and chat and then per scope, read from the job ledger
(`DATABASE_URL`, or the SQLite file in `BOT_DATA_DIR`; no Wiro key needed; the bot may be
running)."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from bot.core.insight.stats import ScopeStats, scope_stats, stats_scopes
from bot.core.jobs.database import open_ledger
from bot.core.jobs.ledger import LedgerError, utc_now
from bot.core.jobs.sqlite_ledger import SqliteLedger
from bot.settings import Settings

__all__ = ["add_stats_arguments", "print_stats", "stats_text"]

RECENT_DAYS_SHOWN = 7


def add_stats_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--scope",
        help='one server or chat only: "discord:guild:<id>", "telegram:chat:<id>"',
    )
    parser.add_argument(
        "--chart", type=Path, help="also save the chart of the last 30 days as this PNG file"
    )


async def print_stats(
    settings: Settings, args: argparse.Namespace, *, now: datetime | None = None
) -> int:
    """Print the figures; exit codes: 0 printed, 1 no ledger or it cannot be read, or the
    chart cannot be saved."""
    path = SqliteLedger.default_path(settings.data_dir)
    if not settings.database_url and not path.is_file():
        print(f"Error: no job database at {path} (BOT_DATA_DIR): no jobs yet.", file=sys.stderr)
        return 1
    now = now or utc_now()
    try:
        async with await open_ledger(settings.database_url, settings.data_dir) as ledger:
            scopes = [args.scope] if args.scope else [None, *await stats_scopes(ledger, now=now)]
            figures = [await scope_stats(ledger, scope, now=now) for scope in scopes]
    except LedgerError as error:
        print(f"Error: {error}", file=sys.stderr)
        return 1
    print(f"Portrait Bot: the last 30 days (UTC), at {now.astimezone(UTC):%Y-%m-%d %H:%M}")
    for stats in figures:
        print()
        print(stats_text(stats))
    if args.chart is not None:
        from bot.core.insight.chart import render_chart

        try:
            args.chart.write_bytes(render_chart(figures[0]))
        except OSError as error:
            print(f"Error: cannot save the chart in {args.chart}: {error}", file=sys.stderr)
            return 1
        print(f"\nChart saved in {args.chart}")
    return 0


def stats_text(stats: ScopeStats) -> str:
    """The figures of one scope as plain text for a terminal (member names made printable)."""
    lines = [stats.scope or "All servers and chats"]
    lines.append(
        f"  Portraits: {stats.delivered} delivered, {stats.failed} failed, "
        f"{stats.cancelled} cancelled; {stats.refused} requests refused"
    )
    if stats.failures_by_reason:
        reasons = ", ".join(
            f"{reason} {count}" for reason, count in stats.failures_by_reason.items()
        )
        lines.append(f"  Failures by reason: {reasons}")
    lines.append(
        f"  Median wait {_seconds(stats.median_wait_seconds)}, "
        f"median generation {_seconds(stats.median_generation_seconds)}"
    )
    lines.append(
        f"  Spend: ${stats.spend_day:.2f} last 24 h, ${stats.spend_week:.2f} last 7 days, "
        f"${stats.spend_month:.2f} last 30 days"
    )
    if stats.top_members:
        members = ", ".join(
            f"{_printable(member.member_name) or '?'} ({member.requester}) {member.portraits}"
            for member in stats.top_members
        )
        lines.append(f"  Top members: {members}")
    recent = [day for day in stats.days[-RECENT_DAYS_SHOWN:] if day.delivered or day.failed]
    for day in recent:
        lines.append(
            f"  {day.day:%b %d}: {day.delivered} delivered, {day.failed} failed, ${day.cost:.2f}"
        )
    return "\n".join(lines)


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def _printable(text: str) -> str:
    """A member's name without terminal control sequences."""
    return "".join(char if char.isprintable() else "?" for char in text)
