"""The chart of a scope's last days: portraits delivered and failed per UTC day (stacked bars)
and the dollars spent per day (a line on a second axis), as a PNG for an embed or a photo.

Drawn with matplotlib's Agg backend (no display, no font download: matplotlib ships DejaVu
Sans). matplotlib is imported on the first chart, not at start-up: it takes a second to load.
Rendering takes a few tens of milliseconds; front ends run it in a thread
(``await asyncio.to_thread(render_chart, stats)``).
"""

from __future__ import annotations

import io
import threading
import warnings
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.core.insight.stats import ScopeStats

__all__ = ["render_chart"]

WIDTH_INCHES, HEIGHT_INCHES, DPI = 10.0, 4.8, 100  # 1000 x 480 pixels
DELIVERED_COLOUR = "#3aa55d"
FAILED_COLOUR = "#e0533f"
SPEND_COLOUR = "#5865f2"
TEXT_COLOUR = "#2b2d31"
GRID_COLOUR = "#e3e5e8"

# The first import and matplotlib's font cache are shared by every thread: one chart at a time.
_lock = threading.Lock()


def render_chart(stats: ScopeStats, *, title: str | None = None) -> bytes:
    """The PNG (bytes, 1000 x 480) of `stats.days`: bars of delivered and failed jobs, the
    day's spend as a line, a title naming the scope (or `title`, e.g. the server's name: drawn
    as plain text) and a caption with the outcomes and the spend over the day, week and month.
    Blocking (CPU): call it in a thread from async code."""
    with _lock:
        return _render(stats, title)


def _render(stats: ScopeStats, title: str | None) -> bytes:
    # The Agg canvas itself, not pyplot: no global backend or figure state is touched.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    days = stats.days
    labels = list(range(len(days)))
    delivered = [day.delivered for day in days]
    failed = [day.failed for day in days]
    spend = [day.cost for day in days]

    figure = Figure(figsize=(WIDTH_INCHES, HEIGHT_INCHES), dpi=DPI, facecolor="white")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.bar(labels, delivered, width=0.72, color=DELIVERED_COLOUR, label="delivered", zorder=2)
    axes.bar(
        labels, failed, width=0.72, bottom=delivered, color=FAILED_COLOUR, label="failed", zorder=2
    )
    axes.set_ylabel("portraits per day", color=TEXT_COLOUR)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=6))
    axes.set_ylim(0, max([d + f for d, f in zip(delivered, failed, strict=True)] + [4]) * 1.15)
    axes.grid(axis="y", color=GRID_COLOUR, zorder=0)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    step = max(1, len(days) // 10)
    ticks = labels[::-1][::step][::-1]  # always label today, the last bar
    axes.set_xticks(ticks, [days[i].day.strftime("%b %d") for i in ticks], fontsize=9)
    axes.set_xlim(-0.7, len(days) - 0.3)

    money = axes.twinx()
    money.plot(labels, spend, color=SPEND_COLOUR, marker="o", markersize=3, linewidth=1.8)
    money.set_ylabel("spend per day (USD)", color=SPEND_COLOUR)
    top = max(max(spend, default=0.0) * 1.25, 0.05)
    money.set_ylim(0, top)
    money.yaxis.set_major_locator(MaxNLocator(nbins=6))
    decimals = 2 if top >= 0.5 else 3
    money.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"${value:,.{decimals}f}"))
    money.tick_params(axis="y", colors=SPEND_COLOUR)
    for side in ("top", "left"):
        money.spines[side].set_visible(False)

    handles, names = axes.get_legend_handles_labels()
    (line,) = money.get_lines()
    axes.legend(
        [*handles, line],
        [*names, "spend"],
        loc="lower left",
        bbox_to_anchor=(0.0, 1.0),
        frameon=False,
        fontsize=9,
        ncol=3,
    )
    where = title or stats.scope or "all servers and chats"
    figure.suptitle(
        f"Portraits, last {len(days)} days: {where}",
        parse_math=False,
        x=0.06,
        ha="left",
        fontsize=13,
        fontweight="bold",
        color=TEXT_COLOUR,
    )
    figure.text(
        0.06,
        0.02,
        f"{stats.delivered} delivered, {stats.failed} failed, {stats.cancelled} cancelled, "
        f"{stats.refused} refused.   Spend: ${stats.spend_day:,.2f} last 24 h, "
        f"${stats.spend_week:,.2f} last 7 days, ${stats.spend_month:,.2f} last 30 days "
        f"(UTC, {stats.generated_at:%Y-%m-%d %H:%M})",
        fontsize=9,
        color="#5c5e66",
        parse_math=False,
    )
    figure.subplots_adjust(left=0.07, right=0.92, top=0.84, bottom=0.16)
    out = io.BytesIO()
    with warnings.catch_warnings():
        # A name in a script DejaVu Sans lacks is drawn as boxes; that needs no log line.
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")
        figure.savefig(out, format="png", dpi=DPI, metadata={"Software": None})
    return out.getvalue()
