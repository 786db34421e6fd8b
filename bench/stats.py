"""Small statistics helpers (no numpy: the bench needs only requirements-dev.txt)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence


def percentile(values: Iterable[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation; NaN for no values."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary(values: Sequence[float], *quantiles: float) -> dict[str, float]:
    """``{"n": .., "p50": .., "p95": .., "max": ..}`` for the quantiles asked."""
    out: dict[str, float] = {"n": len(values)}
    for q in quantiles:
        out[f"p{q:g}"] = percentile(values, q)
    out["max"] = max(values) if values else math.nan
    return out


def ms(seconds: float) -> str:
    """Seconds as a short millisecond text ("12.3 ms", "1,204 ms")."""
    if math.isnan(seconds):
        return "n/a"
    value = seconds * 1000
    if value < 10:
        return f"{value:.2f} ms"
    if value < 100:
        return f"{value:.1f} ms"
    return f"{value:,.0f} ms"


def secs(seconds: float) -> str:
    if math.isnan(seconds):
        return "n/a"
    return f"{seconds:.2f} s"
