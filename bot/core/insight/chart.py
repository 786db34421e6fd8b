"""LOCAL STAND-IN (branch i12-discord) for insight's chart: a plain Pillow bar chart (the
real one draws with matplotlib)."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw

from bot.core.insight.stats import ScopeStats


def render_chart(stats: ScopeStats) -> bytes:
    """A PNG of the last 30 days: delivered (green) and failed (red) per day."""
    width, height = 600, 200
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    top = max([d.delivered + d.failed for d in stats.days] + [1])
    bar = width // max(len(stats.days), 1)
    for index, day in enumerate(stats.days):
        x = index * bar
        ok = int((height - 20) * day.delivered / top)
        bad = int((height - 20) * day.failed / top)
        draw.rectangle((x + 2, height - ok, x + bar - 2, height), fill=(60, 160, 90))
        draw.rectangle((x + 2, height - ok - bad, x + bar - 2, height - ok), fill=(200, 60, 60))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
