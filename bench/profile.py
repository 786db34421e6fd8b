"""How big each scenario is: the full run and ``--quick``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    ack_single: int = 50  # commands sent one at a time
    ack_burst: int = 200  # commands sent at once
    ack_stress: int = 1000  # a second, larger burst (0: none)
    delivery_jobs: int = 60
    # Fake task length: Wiro's length for one model, step count and sample count is steady, so
    # each task lasts this many seconds, give or take `delivery_jitter` (a share, uniform).
    delivery_length: float = 30.0
    delivery_jitter: float = 0.05
    calls_durations: tuple[float, ...] = (30.0,)
    load_jobs: int = 1000
    load_rate: float = 200.0  # commands per second
    load_durations: tuple[float, float] = (5.0, 10.0)
    load_probes: int = 200  # at most this many newcomers' commands during the load
    intake_runs: int = 20
    # Telegram (bench.tg): first replies one at a time and at once; delivery jobs (each
    # beside a Discord job in the same bot, tasks as for delivery).
    tg_single: int = 50
    tg_burst: int = 200
    tg_delivery_jobs: int = 50
    # The lone job whose calls are counted runs after the delivery jobs, in the same bot: its
    # task should have the length the warm-up taught (else the watchdog polls an overrun).
    tg_calls_length: float = 30.0
    # Mixed (bench.mixed): this many Discord and this many Telegram jobs in one bot process.
    mixed_jobs: int = 500
    mixed_rate: float = 100.0  # commands per second on each platform
    mixed_durations: tuple[float, float] = (5.0, 10.0)
    # Wiro publishes no nonce rule. By default the fake accepts a nonce up to a minute behind
    # the highest one seen (each nonce still only once) and the bench counts those calls;
    # --strict-nonces makes it refuse them, as a Wiro enforcing strict order would.
    nonce_window_ms: int = 60_000


FULL = Profile()
QUICK = Profile(
    ack_single=10,
    ack_burst=50,
    ack_stress=0,
    delivery_jobs=12,
    delivery_length=8.0,
    load_jobs=200,
    load_rate=100.0,
    load_durations=(2.0, 4.0),
    load_probes=40,
    intake_runs=5,
    tg_single=10,
    tg_burst=50,
    tg_delivery_jobs=12,
    tg_calls_length=8.0,
    mixed_jobs=100,
    mixed_rate=50.0,
    mixed_durations=(2.0, 4.0),
)
