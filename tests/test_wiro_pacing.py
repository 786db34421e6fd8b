"""The adaptive poll plan (bot.core.wiro.pacing) and the task-length model (bot.core.jobs.lengths):
pure logic, no clock."""

import pytest

from bot.core.catalog import Catalog
from bot.core.jobs.lengths import TaskLengthModel
from bot.core.request.options import resolve_options
from bot.core.wiro import DEFAULT_FORECAST, PollPlan, PollSchedule, TaskForecast
from bot.core.wiro.waiting import EndTiming

CATALOG = Catalog.bundled()


def polls(plan: PollPlan, until: float) -> list[float]:
    """Every planned poll up to ``until`` seconds."""
    moments, moment = [], -1.0
    while (moment := plan.next_poll(moment)) <= until:
        moments.append(round(moment, 3))
    return moments


def test_a_fresh_install_polls_early_then_across_the_priors_wide_window():
    plan = PollSchedule().plan(DEFAULT_FORECAST)  # 13 s, give or take 7
    assert polls(plan, 20) == [2.0, 8.8, 11.6, 14.4, 17.2, 20.0]
    assert plan.polls_until(13.0) == 4  # a typical task: the end is seen by the 4th poll


def test_a_learned_length_is_polled_densely_around_its_end_only():
    plan = PollSchedule().plan(TaskForecast(30.0, 0.4, "learned"))
    assert polls(plan, 31) == [2.0, 29.5, 30.0, 30.5, 31.0]
    # A 30 s task costs at most 6 polls, the one that sees the end included; the gap
    # between the end and the poll that sees it is at most `dense` inside the window.
    for end in (29.01, 29.6, 30.0, 30.49, 30.99):
        assert plan.polls_until(end) <= 6
        seen = plan.next_poll(end - 1e-6)
        assert 0 <= seen - end <= 0.5 + 1e-9


def test_long_waits_before_the_window_are_broken_by_sparse_polls():
    plan = PollSchedule().plan(TaskForecast(90.0, 2.0, "learned"))
    before = [t for t in polls(plan, 88) if t < 88]
    assert before[0] == 2.0
    gaps = [b - a for a, b in zip(before, [*before[1:], 88.0], strict=True)]
    assert max(gaps) <= 30.0 and len(before) == 3


def test_an_overrun_is_looked_at_again_soon_then_backs_off_to_every_ten_seconds():
    plan = PollSchedule().plan(TaskForecast(30.0, 1.5, "learned"))
    after = [t for t in polls(plan, 70) if t > 31.5]
    assert after == [32.0, 33.0, 35.0, 40.0, 50.0, 60.0, 70.0]


def test_a_wide_window_keeps_the_dense_poll_cap():
    plan = PollSchedule().plan(TaskForecast(30.0, 10.0, "scaled"))
    window = [t for t in polls(plan, 40) if 20 <= t <= 40]
    assert len(window) == plan.dense_polls == 5
    assert plan.polls_until(40) <= 1 + 5


def test_a_task_expected_within_seconds_starts_its_window_at_the_early_poll():
    plan = PollSchedule().plan(TaskForecast(2.5, 0.2, "learned"))
    assert polls(plan, 3.5) == [2.0, 2.5, 3.0, 3.5]


def test_a_plan_needs_positive_gaps():
    with pytest.raises(ValueError):
        PollPlan(DEFAULT_FORECAST, dense=0)
    with pytest.raises(ValueError):
        PollPlan(DEFAULT_FORECAST, overrun=())


# --- the length model ------------------------------------------------------------------------


def options(steps: int = 20, samples: int = 1, model: str | None = None):
    return resolve_options(CATALOG, prompt="a portrait", steps=steps, samples=samples, model=model)


def params(steps: int = 20, samples: int = 1) -> dict[str, object]:
    return {"options": options(steps, samples).to_params()}


def test_without_history_the_prior_scales_with_steps_and_samples():
    model = TaskLengthModel()
    base = model.forecast(options())
    assert (base.basis, base.expected, base.spread) == ("prior", 13.0, 7.0)
    bigger = model.forecast(options(steps=40, samples=2))
    assert bigger.basis == "prior" and bigger.expected == pytest.approx(4 + 9 * 4)


def test_three_finished_jobs_of_one_shape_make_a_learned_forecast():
    model = TaskLengthModel()
    for seconds in (29.0, 30.0, 31.0):
        model.add(options(), seconds)
    forecast = model.forecast(options())
    assert forecast.basis == "learned" and forecast.expected == 30.0
    # The 10-90 % range says +-0.8 s, but a window is never narrower than +-5 % of the length.
    assert forecast.spread == pytest.approx(1.5)
    for seconds in (20.0, 40.0, 45.0):
        model.add(options(), seconds)
    wide = model.forecast(options())
    # Wider history: the window reaches the 10th and 90th percentiles on both sides.
    assert wide.expected == 30.5 and wide.spread > 10


def test_other_shapes_are_scaled_from_what_is_known():
    model = TaskLengthModel()
    model.add(options(steps=20), 24.0)  # 4 s overhead + 20 s for 20 steps
    forecast = model.forecast(options(steps=40))
    assert forecast.basis == "scaled" and forecast.expected == pytest.approx(44.0)
    assert forecast.spread == pytest.approx(11.0)  # a quarter: a guess


def test_the_ledger_history_loads_newest_first_and_skips_what_it_cannot_read():
    model = TaskLengthModel(per_shape=2)
    finished = [(params(), 12.0), ({"options": {"nonsense": 1}}, 5.0), (params(), 10.0)]
    finished += [(params(), 99.0), (params(), -1.0)]
    assert model.load(finished) == 3
    model.min_exact = 2
    # per_shape=2 keeps the newest two: 12 and 10 (99 is older, -1 is not a length)
    assert model.forecast(options()).expected == 11.0


def test_the_end_is_placed_by_the_socket_else_within_the_last_two_polls():
    assert EndTiming().ended_at is None
    assert EndTiming(confirmed_at=9.5).ended_at == 9.5
    assert EndTiming(running_at=2.0, announced_at=8.01, confirmed_at=8.02).ended_at == 8.01
    # No forecast: halfway between the last poll that found it running and the first that
    # found it ended, not the latter (a sparse gap must not stretch the learned length).
    assert EndTiming(running_at=6.0, confirmed_at=9.5).ended_at == 7.75
    # With a forecast: its mean cut to those bounds. The prior (13 ± 7 s) and polls at 6 s
    # (running) and 9.5 s (ended) place an 8 s task at 7.9 s; a 30 s one seen between 27
    # and 37 s at 29.5 s; a good forecast stays put.
    prior = {"expected_at": 13.0, "spread": 7.0}
    assert EndTiming(running_at=6.0, confirmed_at=9.5, **prior).ended_at == pytest.approx(
        7.86, abs=0.01
    )
    assert EndTiming(running_at=27.0, confirmed_at=37.0, **prior).ended_at == pytest.approx(
        29.5, abs=0.1
    )
    learned = {"expected_at": 30.5, "spread": 0.4}
    assert EndTiming(running_at=2.0, confirmed_at=31.0, **learned).ended_at == pytest.approx(
        30.42, abs=0.01
    )
    # A forecast far off: the nearer bound.
    assert EndTiming(running_at=50.0, confirmed_at=52.0, **learned).ended_at == 50.0
