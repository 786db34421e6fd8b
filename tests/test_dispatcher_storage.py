"""The dispatcher and the member's selfie and the bot's storage, on a real SQLite ledger and a
real WiroClient against the strict fake Wiro: the selfie goes to Wiro only when its job starts
(right before the run call, its URL recorded first), a lost compare-and-set is not a failure,
and a database that cannot be written makes the queue back off instead of spinning."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot.core.jobs.dispatcher import SELFIE_MISSING, STORAGE_TROUBLE
from bot.core.jobs.ledger import Job, JobState
from bot.core.jobs.sqlite_ledger import LEDGER_FILENAME
from bot.core.request.options import resolve_options
from bot.core.request.selfie_store import SelfieStore
from tests.fakewiro import FakeWiro
from tests.support.disk import Disk
from tests.support.images import selfie_jpeg
from tests.test_dispatcher import (
    CATALOG,
    RUN,
    CountingLedger,
    Harness,
    Recorder,
    eventually,
    open_harness,
)

UPLOAD = "/File/Upload"


class LedgerWatchingWiro(FakeWiro):
    """The fake Wiro, noting at each run call which input URLs the ledger held by then."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ledger_path: Path | None = None
        self.recorded_at_run: list[set[str]] = []

    async def _run(self, request: web.Request) -> web.Response:
        assert self.ledger_path is not None
        with sqlite3.connect(self.ledger_path) as db:
            rows = db.execute("SELECT input_url FROM jobs WHERE input_url IS NOT NULL")
            self.recorded_at_run.append({url for (url,) in rows})
        return await super()._run(request)


@pytest.fixture
async def wiro() -> AsyncIterator[LedgerWatchingWiro]:
    async with LedgerWatchingWiro(api_key="storage-key", api_secret="storage-secret") as fake:
        yield fake


@pytest.fixture
async def harness(wiro, tmp_path) -> AsyncIterator[Harness]:
    wiro.ledger_path = tmp_path / LEDGER_FILENAME
    async with open_harness(wiro, wiro.ledger_path) as h:
        yield h


@pytest.fixture
def store(tmp_path) -> SelfieStore:
    return SelfieStore(tmp_path / "selfies")


async def saved_job(harness: Harness, store: SelfieStore, keep: timedelta = timedelta()) -> Job:
    """A job as `/portrait` leaves it: the selfie saved on the bot's disk, nothing at Wiro."""
    options = resolve_options(CATALOG, prompt="a portrait", seed=7)
    return await harness.ledger.create(
        platform="discord",
        requester="discord:1001",
        scope="discord:guild:2002",
        reply_address={"channel_id": 3003, "interaction_id": 4004},
        reply_secret="interaction-token",
        params={"options": options.to_params(), "member_name": "Ana"},
        selfie_path=store.save(selfie_jpeg()),
        selfie_expires_at=harness.clock() + keep,
    )


# ====================================================================== the selfie


def exists(store: SelfieStore, name: str | None) -> bool:
    """Whether the kept selfie ``name`` (the ledger keeps the file name) is on disk."""
    return bool(name) and (store.folder / str(name)).is_file()


def remove(store: SelfieStore, name: str | None) -> None:
    (store.folder / str(name)).unlink()


async def test_the_selfie_goes_to_wiro_only_when_its_job_starts(harness, wiro, store):
    wiro.scenario.duration = None  # the first task waits for the test
    events = Recorder()
    started, cancelled = await saved_job(harness, store), await saved_job(harness, store)
    kept = await saved_job(harness, store, keep=timedelta(hours=24))
    dispatcher = harness.dispatcher(events, selfies=store)
    await dispatcher.start()

    running = await harness.reaches(started, JobState.RUNNING)
    assert [upload["url"] for upload in wiro.uploads] == [running.input_url]
    # Its URL was in the ledger before the run call (a restart finds the task by it).
    assert wiro.recorded_at_run == [{running.input_url}]
    assert wiro.runs[0]["inputImageUrl"] == running.input_url

    # Cancelled while waiting: its face never went to Wiro, and its file goes with the job.
    await dispatcher.cancel(cancelled.id)
    assert len(wiro.uploads) == 1
    assert (await harness.get(cancelled)).input_url is None
    await eventually(lambda: not exists(store, cancelled.selfie_path), what="selfie deleted")

    wiro.scenario.duration = 0.1
    wiro.step(harness.task_of(running).id, 100)
    await harness.reaches(started, JobState.DELIVERED)
    await harness.reaches(kept, JobState.DELIVERED)
    # SELFIE_KEEP_HOURS=0: gone once the job is over; otherwise kept for the result buttons.
    await eventually(lambda: not exists(store, started.selfie_path), what="selfie deleted")
    assert exists(store, kept.selfie_path)
    assert len(wiro.uploads) == 2 and wiro.calls[RUN] == 2


async def test_a_failed_upload_fails_the_job_plainly_and_costs_no_quota(harness, wiro, store):
    events = Recorder()
    job = await saved_job(harness, store)
    wiro.fail(UPLOAD, status=503)
    await harness.dispatcher(events, selfies=store).start()

    failed = await harness.reaches(job, JobState.FAILED)
    ((job_id, failure),) = events.failures
    assert job_id == job.id and "Wiro isn't answering" in failure.message
    assert failed.failure_message == failure.message
    assert failed.submitted_at is None  # never run: it does not count against a quota
    assert wiro.calls[RUN] == 0
    notes = [event.note for event in await harness.ledger.events(job.id)]
    assert "selfie upload failed" in notes


async def test_a_missing_selfie_fails_the_job_plainly(harness, wiro, store):
    events = Recorder()
    job = await saved_job(harness, store)
    remove(store, job.selfie_path)
    await harness.dispatcher(events, selfies=store).start()

    await harness.reaches(job, JobState.FAILED)
    assert [failure.message for _, failure in events.failures] == [SELFIE_MISSING.message]
    assert not wiro.uploads and wiro.calls[RUN] == 0


async def test_a_restart_before_the_upload_puts_the_job_back_in_line(harness, wiro, store):
    job = await saved_job(harness, store)
    # The process died after SUBMITTING was written, before the selfie was uploaded.
    await harness.ledger.transition(job.id, JobState.SUBMITTING)
    await harness.dispatcher(Recorder(), selfies=store).start()

    done = await harness.reaches(job, JobState.DELIVERED)
    assert done.attempts == 1  # back in line once, then run once
    assert len(wiro.uploads) == 1 and wiro.calls[RUN] == 1


# ====================================================================== races


class RacedLedger(CountingLedger):
    """Another worker takes the job to RUNNING just before this one's compare-and-set."""

    async def transition(self, job_id: int, to: JobState, **kwargs: Any) -> Job:
        if to is JobState.RUNNING:
            await self._inner.transition(job_id, to, **kwargs)
        return await self._inner.transition(job_id, to, **kwargs)


async def test_a_lost_compare_and_set_is_not_a_failure(harness, wiro, store, caplog):
    caplog.set_level(logging.INFO, logger="bot.core.jobs")
    wiro.scenario.duration = None
    events = Recorder()
    job = await saved_job(harness, store)
    harness.ledger = RacedLedger(harness.ledger._inner)
    dispatcher = harness.dispatcher(events, selfies=store)
    await dispatcher.start()

    await eventually(lambda: "this worker stops" in caplog.text, what="the worker stopped")
    assert (await harness.get(job)).state is JobState.RUNNING  # the other worker's
    assert events.failures == [] and events.delays == []
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


# ====================================================================== a full disk


def backoff_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "cannot be written" in r.getMessage()]


async def test_a_full_disk_backs_off_tells_the_member_once_and_resumes(
    harness, wiro, store, caplog
):
    caplog.set_level(logging.INFO, logger="bot.core.jobs")
    events = Recorder()
    job = await saved_job(harness, store)
    disk = Disk.under(harness.ledger)
    disk.refuse = lambda sql, parameters: True
    dispatcher = harness.dispatcher(events, selfies=store, storage_backoff=(0.02, 0.16))
    await dispatcher.start()

    await eventually(lambda: len(backoff_lines(caplog)) >= 5, what="five back-off steps")
    steps = len(backoff_lines(caplog))
    # One try per step (the queue's own housekeeping may add one), never a hot loop.
    assert disk.refused <= steps + 2
    assert "database or disk is full" in backoff_lines(caplog)[0]
    assert events.delays == [(job.id, STORAGE_TROUBLE)]
    assert wiro.calls[RUN] == 0 and not wiro.uploads

    disk.refuse = None  # space freed
    await harness.reaches(job, JobState.DELIVERED)
    # Said once the job's worker has finished (right after the state the test waited for).
    await eventually(
        lambda: "The job database can be written again" in caplog.text, what="recovery line"
    )
    assert events.delays == [(job.id, STORAGE_TROUBLE)]  # told once
    assert wiro.calls[RUN] == 1


async def test_a_failure_that_cannot_be_written_is_written_later_not_retried(
    harness, wiro, store, caplog
):
    caplog.set_level(logging.INFO, logger="bot.core.jobs")
    events = Recorder()
    job = await saved_job(harness, store)
    disk = Disk.under(harness.ledger)
    disk.refuse = lambda sql, parameters: JobState.FAILED.value in parameters
    wiro.fail(RUN, status=400)  # Wiro refuses the run: the job fails
    dispatcher = harness.dispatcher(events, selfies=store, storage_backoff=(0.02, 0.16))
    await dispatcher.start()

    await eventually(lambda: len(backoff_lines(caplog)) >= 4, what="four back-off steps")
    assert disk.refused <= len(backoff_lines(caplog)) + 1
    assert (await harness.get(job)).state is JobState.SUBMITTING
    assert events.failures == [] and events.delays == [(job.id, STORAGE_TROUBLE)]

    disk.refuse = None
    failed = await harness.reaches(job, JobState.FAILED)
    assert [job_id for job_id, _ in events.failures] == [job.id]  # told once
    assert failed.failure_message == events.failures[0][1].message
    assert wiro.calls[RUN] == 1  # the refused run was not made again
