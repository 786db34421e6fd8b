"""Wiro's health against the fake Wiro: the check's states (fine, code 97, refused keys, no
answer), what failed jobs tell it (through the real dispatcher), and the owner's alerts: at
most one an hour per state (a fake clock), remembered across a restart."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.core.catalog import Catalog
from bot.core.insight.alerts import OwnerAlerts
from bot.core.insight.health import ALERTS, HealthState, WiroHealth
from bot.core.jobs import FailureReason, PortraitFailed
from bot.core.jobs.dispatcher import Dispatcher, DispatchRules
from bot.core.jobs.events import FrontEnds
from bot.core.jobs.ledger import Job, JobState
from bot.core.jobs.sqlite_ledger import LEDGER_FILENAME, SqliteLedger
from bot.core.request.options import resolve_options
from bot.core.wiro import PollSchedule, WiroClient
from tests.fakewiro import FakeWiro
from tests.support.images import selfie_jpeg
from tests.support.insight import Clock, until

KEY, SECRET = "health-key-0123", "health-secret-0123"
CATALOG = Catalog.bundled()


class Owner:
    """An `OwnerContact` that remembers what it was told (or fails when `broken`)."""

    def __init__(self) -> None:
        self.told: list[str] = []
        self.broken = False

    async def tell_owners(self, text: str) -> None:
        if self.broken:
            raise ConnectionError("the DM was refused")
        self.told.append(text)


@pytest.fixture
async def wiro() -> AsyncIterator[FakeWiro]:
    async with FakeWiro(api_key=KEY, api_secret=SECRET) as fake:
        yield fake


@contextlib.asynccontextmanager
async def client_of(wiro: FakeWiro, secret: str = SECRET) -> AsyncIterator[WiroClient]:
    async with WiroClient(
        api_key=KEY,
        api_secret=secret,
        base_url=wiro.base_url,
        poll_schedule=PollSchedule.constant(0.02),
        retry_base_delay=0.01,
    ) as client:
        yield client


class Bot:
    """What the bot builds for its health: the ledger, the owner's contact, `WiroHealth`."""

    def __init__(self, path: Path, client: WiroClient, clock: Clock, owner: Owner) -> None:
        self.path, self.client, self.clock, self.owner = path, client, clock, owner

    @contextlib.asynccontextmanager
    async def start(self) -> AsyncIterator[WiroHealth]:
        """One run of the bot (a restart: leave the block and start again)."""
        async with await SqliteLedger.open(self.path, clock=self.clock) as ledger:
            frontends = FrontEnds()
            frontends.add_owner_contact(self.owner)
            self.ledger = ledger
            self.frontends = frontends
            yield WiroHealth(self.client, OwnerAlerts(ledger, frontends, clock=self.clock),
                             clock=self.clock)  # fmt: skip


@pytest.fixture
async def bot(wiro, tmp_path) -> AsyncIterator[Bot]:
    async with client_of(wiro) as client:
        yield Bot(tmp_path / LEDGER_FILENAME, client, Clock(), Owner())


async def test_a_working_key_is_ok_and_logged_without_secrets(bot, wiro, caplog):
    caplog.set_level(logging.INFO, logger="bot.core.insight.health")
    async with bot.start() as health:
        assert health.state is HealthState.UNKNOWN and health.checked_at is None
        assert await health.check_now() is HealthState.OK

    assert health.checked_at == bot.clock()
    assert wiro.calls["/Task/List"] == 1 and wiro.bodies["/Task/List"][0]["limit"] == "1"
    assert not wiro.runs and not wiro.uploads  # it cost nothing
    assert "Wiro health check: ok" in caplog.text
    assert KEY not in caplog.text and SECRET not in caplog.text
    assert bot.owner.told == []


async def test_code_97_is_out_of_credit_and_the_owner_is_told(bot, wiro, caplog):
    wiro.fail("/Task/List", code=97, message="Insufficient balance")
    async with bot.start() as health:
        assert await health.check_now() is HealthState.OUT_OF_CREDIT

    assert bot.owner.told == [ALERTS[HealthState.OUT_OF_CREDIT]]
    assert "Wiro health check: out_of_credit (WiroInsufficientBalance" in caplog.text
    assert any(r.levelno == logging.WARNING for r in caplog.records if "out_of_credit" in r.message)


async def test_refused_keys_are_told_to_the_owner(wiro, tmp_path, caplog):
    async with client_of(wiro, secret="not-the-secret") as client:
        bot = Bot(tmp_path / LEDGER_FILENAME, client, Clock(), Owner())
        async with bot.start() as health:
            assert await health.check_now() is HealthState.KEYS_REFUSED

    assert bot.owner.told == [ALERTS[HealthState.KEYS_REFUSED]]
    assert "not-the-secret" not in caplog.text


@pytest.mark.parametrize("fault", [{"drop": True}, {"status": 503}, {"status": 429}])
async def test_no_answer_is_unreachable_and_no_alert(bot, wiro, fault):
    wiro.fail("/Task/List", times=3, **fault)  # every try of the client
    async with bot.start() as health:
        assert await health.check_now() is HealthState.UNREACHABLE
        assert await health.check_now() is HealthState.OK  # the next check finds it back

    assert bot.owner.told == []


async def test_the_alert_goes_at_most_once_an_hour_per_state_even_across_a_restart(bot, wiro):
    wiro.fail("/Task/List", code=97, message="Insufficient balance", times=100)
    async with bot.start() as health:
        await health.check_now()
        bot.clock.advance(minutes=15)
        await health.check_now()
        await health.job_failed(PortraitFailed(FailureReason.BALANCE, "empty", "code 97"))
        assert len(bot.owner.told) == 1
    bot.clock.advance(minutes=30)
    async with bot.start() as health:  # restarted 45 minutes after the alert
        assert await health.check_now() is HealthState.OUT_OF_CREDIT
        assert len(bot.owner.told) == 1
        bot.clock.advance(minutes=15)  # an hour after the first
        await health.check_now()
        assert len(bot.owner.told) == 2
        # Another state has its own hour.
        wiro.failures.clear()
        wiro.fail("/Task/List", status=401, times=1)
        assert await health.check_now() is HealthState.KEYS_REFUSED
    assert bot.owner.told == [ALERTS[HealthState.OUT_OF_CREDIT]] * 2 + [
        ALERTS[HealthState.KEYS_REFUSED]
    ]


async def test_an_alert_no_contact_took_is_tried_again(bot, wiro, caplog):
    wiro.fail("/Task/List", code=97, message="Insufficient balance", times=2)
    bot.owner.broken = True
    async with bot.start() as health:
        await health.check_now()
        assert "the DM was refused" in caplog.text
        bot.owner.broken = False
        bot.clock.advance(minutes=15)
        await health.check_now()
    assert bot.owner.told == [ALERTS[HealthState.OUT_OF_CREDIT]]


async def test_a_job_refused_for_credit_sets_out_of_credit_until_a_run_is_accepted(bot, wiro):
    async with bot.start() as health:
        await health.job_failed(PortraitFailed(FailureReason.NO_FACE, "no face"))
        assert health.state is HealthState.UNKNOWN  # a member's photo says nothing of Wiro
        await health.job_failed(PortraitFailed(FailureReason.BALANCE, "empty", "code 97"))
        assert health.state is HealthState.OUT_OF_CREDIT
        # The check's call needs no credit: it cannot say the balance is back.
        assert await health.check_now() is HealthState.OUT_OF_CREDIT
        health.run_accepted()
        assert health.state is HealthState.OK
        assert await health.check_now() is HealthState.OK
    assert bot.owner.told == [ALERTS[HealthState.OUT_OF_CREDIT]]


class Events:
    """A `JobEvents` that keeps the failures (the dispatcher's chat side)."""

    def __init__(self) -> None:
        self.failures: list[PortraitFailed] = []

    async def failed(self, job: Job, failure: PortraitFailed) -> None:
        self.failures.append(failure)

    async def deliver(self, job: Job, images: object, *, last_try: bool) -> str:
        return f"message-{job.id}"

    def __getattr__(self, name: str) -> Any:
        async def ignore(*args: Any, **kwargs: Any) -> None:
            return None

        return ignore


async def test_the_queue_tells_health_of_a_run_refused_with_code_97(bot, wiro):
    wiro.scenario.run_error = "balance"
    async with bot.start() as health:
        events = Events()
        dispatcher = Dispatcher(bot.ledger, bot.client, lambda: CATALOG, events, DispatchRules())
        dispatcher.wiro_watch = health
        uploaded = await bot.client.upload_file(
            selfie_jpeg(), filename="selfie.jpg", content_type="image/jpeg"
        )

        async def queue_job() -> Job:
            return await bot.ledger.create(
                platform="discord", requester="discord:1", scope="discord:guild:2",
                reply_address={}, reply_secret="", input_url=uploaded.url,
                params={"options": resolve_options(CATALOG, prompt="p").to_params()},
            )  # fmt: skip

        async def state_is(job: Job, state: JobState) -> bool:
            found = await bot.ledger.get(job.id)
            return found is not None and found.state is state

        job = await queue_job()
        await dispatcher.start()
        try:
            await until(lambda: state_is(job, JobState.FAILED), "the job failed")
            assert events.failures[0].reason is FailureReason.BALANCE
            assert health.state is HealthState.OUT_OF_CREDIT
            assert bot.owner.told == [ALERTS[HealthState.OUT_OF_CREDIT]]

            wiro.scenario.run_error = None  # topped up: the next run is accepted
            job = await queue_job()
            dispatcher.wake()
            await until(lambda: health.state is HealthState.OK, "a run accepted")
        finally:
            await dispatcher.stop()


async def test_start_checks_at_once_then_every_interval(bot, wiro):
    async with bot.start() as health:
        health.every = timedelta(seconds=0.05)
        await health.start()
        try:
            await until(lambda: wiro.calls["/Task/List"] >= 3, "three checks")
        finally:
            await health.stop()
        calls = wiro.calls["/Task/List"]
        await asyncio.sleep(0.15)
        assert wiro.calls["/Task/List"] == calls  # stopped
        assert health.state is HealthState.OK
