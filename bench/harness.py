"""What every scenario needs: the Discord stand-in and the fake Wiro (in this process), the real
bot in a child process (`bench.botproc`), members to send commands, and the outcome of each job.

All timestamps are ``time.monotonic()``; on Linux that clock (CLOCK_MONOTONIC) is shared by
every process, so the bot process's samples line up with the stand-in's records.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.botproc import sample_lag
from bench.methods import WaitingMethod
from bench.report import Report
from tests.discord_standin import DiscordStandIn, InteractionRecord, Member, StoredMessage, User
from tests.fakewiro import FakeTask, FakeWiro
from tests.support.images import selfie_jpeg

ROOT = Path(__file__).resolve().parents[1]
SUCCESS = "task_postprocess_end"

# Settings every bench bot gets on top of the production defaults. The fair-use limits are
# per member and per server per day; every bench member sends one command, but one server
# sends hundreds, so the quotas are switched off. MAX_RUNNING_TASKS is the setting's maximum
# (the production default, 1, would run 1,000 jobs one after the other).
BENCH_SETTINGS = {
    "LOG_LEVEL": "WARNING",
    "MAX_RUNNING_TASKS": "100",
    "MEMBER_COOLDOWN_SECONDS": "0",
    "MEMBER_DAILY_QUOTA": "0",
    "GUILD_DAILY_QUOTA": "0",
}
_SETTING_PREFIXES = (
    "DISCORD_",
    "TELEGRAM_",
    "WIRO_",
    "BOT_",
    "SELFIE_",
    "STATUS_",
    "LOG_LEVEL",
    "MAX_RUNNING",
    "MEMBER_",
    "GUILD_",
    "DELETE_WIRO",
    "JOB_RETENTION",
)
_MENTION = re.compile(r"<@!?(\d+)>")
_TASK_IN_FOOTER = re.compile(r"task (\d+)")


def log(message: str) -> None:
    """Progress for the person running the bench (stderr: stdout is for results)."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class BenchWiro(FakeWiro):
    """The fake Wiro, plus: each task's duration drawn from ``durations`` at its /Run, the time
    and status of every task it renders (each /Task/Detail answer) kept in ``polls``, and a
    count of signed requests whose nonce arrived lower than one already seen
    (``reordered_nonces``, ``max_reorder_ms``): a Wiro that wants strictly increasing nonces
    refuses those (the fake does with ``nonce_reorder_window_ms=0``)."""

    def __init__(self, *args: Any, durations: Callable[[], float] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.durations = durations
        self.polls: list[tuple[float, str, str]] = []  # (monotonic, task id, status)
        self.reordered_nonces = 0
        self.max_reorder_ms = 0

    def _check_auth(self, request):  # type: ignore[no-untyped-def]
        nonce = request.headers.get("x-nonce", "")
        behind = self._max_nonce - int(nonce) if nonce.isdigit() else -1
        problem = super()._check_auth(request)
        if behind >= 0:
            self.reordered_nonces += 1
            self.max_reorder_ms = max(self.max_reorder_ms, behind)
        return problem

    async def _run(self, request):  # type: ignore[no-untyped-def]
        if self.durations is not None:
            self.scenario.duration = self.durations()
        return await super()._run(request)

    def _render(self, task: FakeTask) -> dict[str, object]:
        rendered = super()._render(task)
        self.polls.append((time.monotonic(), task.id, str(rendered["status"])))
        return rendered


def add_nonce_row(report: Report, scenario: str, wiro: BenchWiro) -> None:
    """How many signed Wiro calls arrived with a nonce lower than one already seen."""
    signed = sum(1 for method, _, _ in wiro.requests if method == "POST")
    report.add(
        scenario,
        "  Wiro calls whose nonce arrived out of order",
        f"{wiro.reordered_nonces} of {signed} signed calls (up to {wiro.max_reorder_ms} ms "
        f"behind; refused as auth errors: {wiro.auth_failures})",
        reordered=wiro.reordered_nonces,
        signed_calls=signed,
        max_behind_ms=wiro.max_reorder_ms,
        auth_failures=wiro.auth_failures,
    )


def add_warnings_note(report: Report, scenario: str, bot: BotRun) -> None:
    warnings = bot.warnings()
    if warnings:
        top = "; ".join(f"{n}x {text}" for text, n in warnings.most_common(4))
        report.note(f"{scenario}: the bot logged {sum(warnings.values())} warnings/errors: {top}")


def finished_at(task: FakeTask) -> float:
    """When the fake task reached task_postprocess_end (it keeps no timestamp of its own)."""
    assert task.duration is not None
    return task.created + task.duration


@dataclass
class Stage:
    """The stand-in, the fake Wiro and the bench's members (one command per member)."""

    discord: DiscordStandIn
    wiro: BenchWiro
    members: list[Member]
    selfie: bytes
    # This process's own loop lag (50 ms sleeps), to show whether the stand-in and the fake
    # kept up: a figure is the bot's only if this stays small.
    lag: list[tuple[float, float]] = field(default_factory=list)
    _next_member: int = 0

    def lag_between(self, start: float, end: float) -> list[float]:
        return [value for at, value in self.lag if start <= at <= end]

    def take_members(self, count: int) -> list[Member]:
        start = self._next_member
        if start + count > len(self.members):
            raise RuntimeError(f"the stage has only {len(self.members)} members")
        self._next_member += count
        return self.members[start : start + count]

    async def portrait(self, member: Member) -> InteractionRecord:
        return await self.discord.slash(
            "portrait",
            attachments={"selfie": ("me.jpg", self.selfie, "image/jpeg")},
            user=member,
        )


@contextlib.asynccontextmanager
async def stage(
    members: int, durations: Callable[[], float] | None, *, nonce_window_ms: int
) -> AsyncIterator[Stage]:
    """``nonce_window_ms``: how far behind the highest nonce seen a new one may arrive (0 is
    the fake's strict default; see `BenchWiro`)."""
    wiro_fake = BenchWiro(
        "bench-key-01",
        "bench-secret-01",
        durations=durations,
        nonce_reorder_window_ms=nonce_window_ms,
    )
    async with DiscordStandIn() as discord_server, wiro_fake as wiro:
        guild = discord_server.guild
        people = []
        for index in range(members):
            user = discord_server.world.add_user(
                User(id=discord_server.new_id(), username=f"member{index}")
            )
            member = Member(user=user, guild_id=guild.id)
            guild.members.append(member)
            people.append(member)
        where = Stage(discord_server, wiro, people, selfie_jpeg())
        sampler = asyncio.create_task(sample_lag(where.lag))
        try:
            yield where
        finally:
            sampler.cancel()


@dataclass
class BotRun:
    """Samples from the bot process, read when it stopped."""

    lag: list[tuple[float, float]] = field(default_factory=list)
    rss: list[tuple[float, int]] = field(default_factory=list)
    ru_maxrss_bytes: int = 0
    cpu_seconds: float = 0.0
    log_lines: list[str] = field(default_factory=list)
    started_at: float = 0.0
    ready_at: float = 0.0

    def lag_between(self, start: float, end: float) -> list[float]:
        return [value for at, value in self.lag if start <= at <= end]

    def rss_before(self, moment: float) -> int:
        earlier = [value for at, value in self.rss if at <= moment]
        return earlier[-1] if earlier else 0

    def warnings(self) -> Counter[str]:
        """WARNING/ERROR lines of the bot's log, digits masked so alike lines group."""
        found: Counter[str] = Counter()
        for line in self.log_lines:
            parts = line.split(" ", 2)
            if len(parts) == 3 and parts[1] in ("WARNING", "ERROR", "CRITICAL"):
                found[re.sub(r"\d+", "N", f"{parts[1]} {parts[2].strip()}")[:160]] += 1
        return found


@contextlib.asynccontextmanager
async def bot_process(
    where: Stage, method: WaitingMethod, **settings: str
) -> AsyncIterator[BotRun]:
    """The real bot (its own launcher) in a child process, pointed at ``where`` by settings.

    Yields once it answers interactions; the samples are filled in when the block exits."""
    run = BotRun(started_at=time.monotonic())
    with tempfile.TemporaryDirectory(prefix="portrait-bench-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith(_SETTING_PREFIXES)}
        env.update(
            PYTHONPATH=str(ROOT),
            DISCORD_TOKEN=where.discord.token,
            DISCORD_API_BASE=where.discord.api_base,
            WIRO_API_KEY=where.wiro.api_key,
            WIRO_API_SECRET=where.wiro.api_secret,
            WIRO_API_BASE=where.wiro.base_url,
            WIRO_SOCKET_URL=where.wiro.socket_url,
            BOT_DATA_DIR=str(Path(tmp) / "data"),
            **BENCH_SETTINGS,
            **method.env,
            **settings,
        )
        stats_path = Path(tmp) / "stats.json"
        log_path = Path(tmp) / "bot.log"
        with log_path.open("wb") as log_file:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bench.botproc",
                str(stats_path),
                method.poll_schedule,
                cwd=ROOT,
                env=env,
                stdin=asyncio.subprocess.PIPE,
                stdout=log_file,
                stderr=log_file,
            )
        try:
            await _until_ready(where.discord, process, log_path)
            run.ready_at = time.monotonic()
            yield run
        finally:
            await _stop(process)
            run.log_lines = _lines(log_path)
            stats = _stats(stats_path)
            if stats is not None:
                run.lag = [(at, value) for at, value in stats["lag"]]
                run.rss = [(at, value) for at, value in stats["rss"]]
                run.ru_maxrss_bytes = stats["ru_maxrss_bytes"]
                run.cpu_seconds = stats["cpu_seconds"]
            else:
                log("the bot process left no samples; its log ends with:")
                for line in run.log_lines[-15:]:
                    log("  " + line)


def _lines(path: Path) -> list[str]:
    return path.read_text(errors="replace").splitlines()


def _stats(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.exists() else None


async def _until_ready(
    discord_server: DiscordStandIn, process: asyncio.subprocess.Process, log_path: Path
) -> None:
    """Wait until the bot answers an autocomplete (commands synced, gateway up, cog loaded)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.returncode is not None:
            tail = "\n".join(_lines(log_path)[-20:])
            raise RuntimeError(f"the bot process exited during start-up:\n{tail}")
        if discord_server.gateway.connected and discord_server.find_command("portrait"):
            probe = await discord_server.autocomplete("portrait", focused="model", value="dream")
            with contextlib.suppress(TimeoutError):
                await probe.wait_choices(timeout=2)
                return
        await asyncio.sleep(0.1)
    raise RuntimeError("the bot did not become ready within 60 s")


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), 30)
    except TimeoutError:
        log("the bot process did not stop within 30 s after SIGTERM; killing it")
        process.kill()
        await process.wait()
    if process.stdin is not None:
        process.stdin.close()


# --- outcomes of jobs ---------------------------------------------------------------------


@dataclass
class Outcome:
    """What one /portrait interaction ended with, as the stand-in saw it."""

    rec: InteractionRecord
    results: list[StoredMessage]

    @property
    def answered_privately(self) -> str | None:
        """The member's last private text when it is not the "accepted" note, else None."""
        rec = self.rec
        if rec.callback_type == 4:  # refused at once (a message instead of a defer)
            return rec.original.content if rec.original else "(refused)"
        for message in reversed(rec.messages):
            accepted = "Selfie accepted" in message.content
            if message.ephemeral and not message.loading and not accepted:
                return message.content
        return None

    @property
    def refused(self) -> bool:
        """Every callback was refused (e.g. too late): the bot can no longer answer at all."""
        return bool(self.rec.callbacks) and self.rec.ack_at is None

    @property
    def done(self) -> bool:
        return bool(self.results) or self.refused or self.answered_privately is not None


def results_by_member(discord_server: DiscordStandIn) -> dict[int, list[StoredMessage]]:
    """Public result posts (messages with files) by the member they mention."""
    found: dict[int, list[StoredMessage]] = {}
    for message in list(discord_server.messages.values()):
        if message.deleted or message.ephemeral or not message.attachments:
            continue
        if message.author_id != discord_server.bot_user_id:
            continue
        match = _MENTION.search(message.content)
        if match:
            found.setdefault(int(match.group(1)), []).append(message)
    return found


def outcomes(discord_server: DiscordStandIn, recs: Sequence[InteractionRecord]) -> list[Outcome]:
    posted = results_by_member(discord_server)
    return [Outcome(rec, posted.get(rec.user_id, [])) for rec in recs]


async def wait_for_jobs(
    where: Stage,
    recs: Sequence[InteractionRecord],
    *,
    give_up_after: float,
    stall: float = 45.0,
    settle: float = 1.0,
) -> list[Outcome]:
    """Wait until every interaction has its result (or a private answer), or until nothing
    has happened on either server for ``stall`` seconds, or ``give_up_after`` seconds in all.
    Then wait ``settle`` seconds more, so a duplicate post would still be counted."""
    started = time.monotonic()
    activity = (-1, -1)
    last_change = started
    while True:
        now = time.monotonic()
        state = outcomes(where.discord, recs)
        if all(outcome.done for outcome in state):
            break
        seen = (len(where.discord.requests), len(where.wiro.requests))
        if seen != activity:
            activity, last_change = seen, now
        if now - last_change > stall or now - started > give_up_after:
            missing = sum(not outcome.done for outcome in state)
            log(f"gave up waiting: {missing} of {len(recs)} jobs have no answer")
            break
        await asyncio.sleep(0.25)
    await asyncio.sleep(settle)
    return outcomes(where.discord, recs)


@dataclass(frozen=True)
class Tally:
    jobs: int
    delivered: int  # exactly one result
    lost: int  # not exactly one result
    duplicates: int  # of the lost: more than one result
    no_result: int  # of the lost: no result at all
    reasons: Counter[str]  # what the members without a result were told


def tally(state: Iterable[Outcome]) -> Tally:
    jobs = delivered = duplicates = no_result = 0
    reasons: Counter[str] = Counter()
    for outcome in state:
        jobs += 1
        count = len(outcome.results)
        if count == 1:
            delivered += 1
        elif count > 1:
            duplicates += 1
        else:
            no_result += 1
            told = outcome.answered_privately
            if outcome.refused:
                told = "(nothing: its acknowledgement was refused as too late)"
            reasons[(told or "(nothing)").splitlines()[0][:90]] += 1
    return Tally(jobs, delivered, jobs - delivered, duplicates, no_result, reasons)


def ack_latency(rec: InteractionRecord) -> float | None:
    """Interaction sent -> first callback received (accepted or not), on the stand-in."""
    if not rec.callbacks:
        return None
    return min(callback.at for callback in rec.callbacks) - rec.sent_at


def late_acks(recs: Iterable[InteractionRecord]) -> int:
    """Callbacks the stand-in refused (e.g. 10062 after Discord's 3 s deadline), or none."""
    return sum(1 for rec in recs if rec.ack_at is None)


def result_task_id(message: StoredMessage) -> str | None:
    for embed in message.embeds:
        footer = (embed.get("footer") or {}).get("text") or ""
        match = _TASK_IN_FOOTER.search(footer)
        if match:
            return match.group(1)
    return None


def first_seen(wiro: BenchWiro, status: str = SUCCESS) -> dict[str, float]:
    """Per task id, when a /Task/Detail answer first showed ``status``."""
    seen: dict[str, float] = {}
    for at, task_id, shown in wiro.polls:
        if shown == status and task_id not in seen:
            seen[task_id] = at
    return seen


async def fire(
    where: Stage, members: Sequence[Member], per_second: float = 0.0
) -> list[InteractionRecord]:
    """One /portrait per member: all at once (``asyncio.gather``), or ``per_second`` of them
    each second, on a fixed timetable (a late start is not made up by a burst)."""
    if per_second <= 0:
        return list(await asyncio.gather(*(where.portrait(member) for member in members)))
    loop = asyncio.get_running_loop()
    start = loop.time()
    recs = []
    for index, member in enumerate(members):
        await asyncio.sleep(max(0.0, start + index / per_second - loop.time()))
        recs.append(await where.portrait(member))
    return recs


def peak_in_flight(state: Iterable[Outcome]) -> int:
    """Most jobs between their command and their result at the same moment."""
    edges: list[tuple[float, int]] = []
    for outcome in state:
        if outcome.results:
            edges += [(outcome.rec.sent_at, 1), (outcome.results[0].created_at, -1)]
    running = peak = 0
    for _, step in sorted(edges):
        running += step
        peak = max(peak, running)
    return peak
