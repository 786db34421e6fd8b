"""How long a Wiro task will take, learned from the bot's own finished jobs.

Wiro's task length for one base model, step count and sample count is steady, so the poll
plan (:mod:`bot.core.wiro.pacing`) can sit out the time a task cannot be done yet and poll densely
around its expected end. :class:`TaskLengthModel` gives that forecast:

1. at least ``min_exact`` recent jobs of the same model, steps and samples: their median,
   give or take half their 10-90 % range ("learned");
2. else any recent job, of the same model if there is one: its generation time (its length
   less the fixed overhead) scaled by steps × samples, the median of those, give or take
   a quarter ("scaled");
3. else the prior: :data:`~bot.core.wiro.pacing.DEFAULT_FORECAST` (13 ± 7 s for 20 steps at one
   sample) scaled the same way ("prior").

It is loaded once at start from the ledger (:meth:`JobLedger.recent_task_lengths`) and then
fed in memory as jobs finish: no ledger query per poll.
"""

from __future__ import annotations

import statistics
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

from bot.core.request.options import PortraitOptions
from bot.core.wiro import DEFAULT_FORECAST, TaskForecast

__all__ = ["TaskLengthModel"]

# The part of a task that does not grow with steps × samples (queue, download of the input,
# loading the model, post-processing), in seconds: an assumption, Wiro publishes none.
FIXED_OVERHEAD = 4.0
# The least half-width of a learned window, as a share of the expected length: a GPU task's
# time varies by a few per cent even on one machine, and more with Wiro's queue.
MIN_RELATIVE_SPREAD = 0.05
PRIOR_UNITS = 20  # DEFAULT_FORECAST is for 20 steps at 1 sample
_Shape = tuple[str, int, int]  # model id, steps, samples


class TaskLengthModel:
    """Forecasts of task lengths (seconds from the run call to the end) by task shape.

    ``per_shape``: recent lengths kept per (model, steps, samples); ``recent``: recent lengths
    kept overall, for shapes not seen often enough; ``min_exact``: how many of one shape make
    a learned forecast.
    """

    def __init__(self, *, per_shape: int = 9, recent: int = 200, min_exact: int = 3) -> None:
        self.min_exact = min_exact
        self._per_shape = per_shape
        self._by_shape: dict[_Shape, deque[float]] = {}
        self._recent: deque[tuple[_Shape, float]] = deque(maxlen=recent)

    @property
    def recent_limit(self) -> int:
        """How many finished jobs :meth:`load` can use."""
        return self._recent.maxlen or 0

    def load(self, finished: Iterable[tuple[Mapping[str, Any], float]]) -> int:
        """Learn from ``(job params, task seconds)`` pairs, newest first (as the ledger gives
        them); returns how many were usable."""
        usable = []
        for params, seconds in finished:
            shape = _shape_of_params(params)
            if shape is not None and seconds > 0:
                usable.append((shape, seconds))
        for shape, seconds in reversed(usable):
            self._add(shape, seconds)
        return len(usable)

    def add(self, options: PortraitOptions, seconds: float) -> None:
        """A task of this shape took ``seconds``."""
        if seconds > 0:
            self._add(_shape(options), seconds)

    def forecast(self, options: PortraitOptions) -> TaskForecast:
        shape = _shape(options)
        exact = self._by_shape.get(shape)
        if exact is not None and len(exact) >= self.min_exact:
            low, high = _range(list(exact))
            expected = statistics.median(exact)
            # A few alike tasks can agree more closely than the next one will: the window is
            # never narrower than the spread of their extremes, nor than MIN_RELATIVE_SPREAD.
            spread = max(expected - low, high - expected, MIN_RELATIVE_SPREAD * expected)
            return TaskForecast(expected, spread, "learned")
        units = _units(shape)
        same_model = [(s, x) for s, x in self._recent if s[0] == shape[0]]
        pool = same_model or list(self._recent)
        if pool:
            scaled = [_scale(x, _units(s), units) for s, x in pool]
            expected = statistics.median(scaled)
            low, high = _range(scaled)
            return TaskForecast(expected, max(expected / 4, (high - low) / 2), "scaled")
        expected = _scale(DEFAULT_FORECAST.expected, PRIOR_UNITS, units)
        spread = DEFAULT_FORECAST.spread * expected / DEFAULT_FORECAST.expected
        return TaskForecast(expected, spread, "prior")

    def _add(self, shape: _Shape, seconds: float) -> None:
        self._by_shape.setdefault(shape, deque(maxlen=self._per_shape)).append(seconds)
        self._recent.append((shape, seconds))


def _shape(options: PortraitOptions) -> _Shape:
    model = options.private_model or options.model_id
    return str(model), int(options.steps), int(options.samples)


def _shape_of_params(params: Mapping[str, Any]) -> _Shape | None:
    try:
        return _shape(PortraitOptions.from_params(params.get("options") or {}))
    except (TypeError, ValueError):
        return None


def _units(shape: _Shape) -> int:
    return max(1, shape[1]) * max(1, shape[2])


def _scale(seconds: float, from_units: int, to_units: int) -> float:
    """A length for ``from_units`` of work, moved to ``to_units``: the overhead stays."""
    overhead = min(FIXED_OVERHEAD, seconds / 2)
    return overhead + (seconds - overhead) * to_units / from_units


def _range(values: list[float]) -> tuple[float, float]:
    """The 10th and 90th percentiles (the extremes for fewer than three values)."""
    if len(values) < 3:
        return min(values), max(values)
    cuts = statistics.quantiles(values, n=10, method="inclusive")
    return cuts[0], cuts[-1]
