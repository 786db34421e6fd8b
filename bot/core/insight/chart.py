"""LOCAL STAND-IN (branch i12-telegram) for insight's chart: a plain PNG bar chart drawn with
Pillow (the real one uses matplotlib). The lead keeps insight's file."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw

from bot.core.insight.stats import ScopeStats


def render_chart(stats: ScopeStats) -> bytes:
    """PNG, 600x300: one bar per day (delivered), the last 30 days."""
    image = Image.new("RGB", (600, 300), "white")
    draw = ImageDraw.Draw(image)
    days = stats.days[-30:] or []
    top = max((d.delivered for d in days), default=0) or 1
    width = 600 // max(1, len(days))
    for index, day in enumerate(days):
        height = int(260 * day.delivered / top)
        x = index * width
        draw.rectangle((x + 2, 280 - height, x + width - 2, 280), fill=(70, 110, 200))
    draw.line((0, 280, 600, 280), fill="black")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
