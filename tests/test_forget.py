"""Forget me: after `Forgetting.forget_member`, no file in the data folder (the SQLite database
and its write-ahead log included) and no row of the PostgreSQL database holds the member's id,
name or prompt; their running job is stopped, Wiro's files of their tasks are deleted, other
members keep everything, and the jobs that still count against a daily quota stay as marks that
name no one. Every test runs on both databases.

The dispatcher is the real one on a real ledger, with the strict fake Wiro (as in
tests/test_dispatcher.py); jobs are queued through `Admission`, one of them with a saved face.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.core.faces import FaceCipher, SavedFaces
from bot.core.jobs import PortraitImage
from bot.core.jobs.admission import Admission, Requester
from bot.core.jobs.ledger import Job, JobState
from bot.core.jobs.limits import FairUse, LimitKind, LimitReached
from bot.core.jobs.sql_ledger import SqlLedger
from bot.core.jobs.sqlite_ledger import LEDGER_FILENAME
from bot.core.privacy import Forgetting, QuotaMarks
from bot.core.privacy.marks import MARK_PREFIX
from bot.core.request.held import HeldRequests
from bot.core.request.options import resolve_options
from bot.core.request.selfie import prepare_selfie
from bot.core.request.selfie_store import SelfieStore
from bot.core.result.store import ResultStore
from tests.fakewiro import FakeWiro
from tests.support.images import selfie_jpeg
from tests.test_dispatcher import CATALOG, Harness, Recorder, eventually, open_harness

MEMBER_ID = "731904655128390417"
MEMBER = f"discord:{MEMBER_ID}"
MEMBER_NAME = "Zebulon Quistgaard"
PROMPT = "a violet tiger wearing a tuxedo on Quasar Street"
OTHER = "discord:402288113370501120"
OTHER_PROMPT = "an orange owl reading Tolstoy by candlelight"
GUILD = "discord:guild:2002"


@pytest.fixture
async def wiro() -> AsyncIterator[FakeWiro]:
    async with FakeWiro(api_key="forget-key", api_secret="forget-secret") as fake:
        yield fake


async def admit(admission: Admission, requester: str, prompt: str, selfie, seed: int) -> Job:
    options = resolve_options(CATALOG, prompt=prompt, seed=seed)
    user_id = requester.split(":")[1]
    who = Requester(
        platform="discord",
        requester=requester,
        scope=GUILD,
        quota_scope=GUILD,
        reply_address={"user_id": int(user_id), "channel_id": 3003, "interaction_id": 4004},
        reply_secret=f"interaction-token-of-{user_id}",
    )
    name = MEMBER_NAME if requester == MEMBER else "Olga"

    async def post_status(job: Job, position: int | None) -> str:
        return f"status-of-{job.id}"

    return await admission.admit(
        who,
        {"options": options.to_params(), "member_name": name},
        selfie,
        post_status=post_status,
    )


def files_naming(folder: Path, *needles: str) -> dict[str, list[str]]:
    """Every file under ``folder`` holding any of ``needles`` (as UTF-8, and the id also as
    the SQLite integer it could be stored as is not needed: ids are text keys here)."""
    found: dict[str, list[str]] = {}
    for path in sorted(folder.rglob("*")):
        if not path.is_file():
            continue
        data = path.read_bytes()
        hits = [needle for needle in needles if needle.encode() in data]
        if hits:
            found[str(path.relative_to(folder))] = hits
    return found


async def rows_naming(ledger: SqlLedger, *needles: str) -> dict[str, list[str]]:
    """Every table of the ledger's database with a row holding any of ``needles`` (in any
    column, as text)."""
    found: dict[str, list[str]] = {}
    async with ledger.reading() as db:
        tables = await db.execute_fetchall(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        )
        for (table,) in tables:
            text = repr(
                [tuple(row) for row in await db.execute_fetchall(f'SELECT * FROM "{table}"')]
            )
            hits = [needle for needle in needles if needle in text]
            if hits:
                found[table] = hits
    return found


async def add_audit_and_inbox(ledger: SqlLedger, job: Job) -> None:
    async with ledger.transaction() as db:
        for requester, name, prompt in ((MEMBER, MEMBER_NAME, PROMPT), (OTHER, "Olga", None)):
            await db.execute(
                "INSERT INTO audit_log (at, kind, platform, requester, member_name, scope, "
                "place, prompt, outcome, job_id) VALUES "
                "('2030-01-01T00:00:00.000000Z', 'request', 'discord', ?, ?, ?, '3003', ?, "
                "'queued', ?)",
                (requester, name, GUILD, prompt or OTHER_PROMPT, job.id),
            )
        await db.execute(
            "INSERT INTO scope_policy (scope, policy, updated_by, updated_at) "
            "VALUES (?, '{}', ?, '2030-01-01T00:00:00.000000Z')",
            (GUILD, MEMBER),
        )
    update = {"message": {"from": {"id": int(MEMBER_ID), "first_name": "Zebulon"}, "text": PROMPT}}
    other = {"message": {"from": {"id": int(OTHER.split(":")[1])}, "text": OTHER_PROMPT}}
    await ledger.inbox_add("telegram:1", [(77, update), (78, other)])


async def test_forget_me_leaves_no_trace_in_the_data_folder_or_database(
    wiro, tmp_path, backend, open_ledger
) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    postgres = backend == "postgresql"
    async with open_harness(wiro, data / LEDGER_FILENAME, open_ledger=open_ledger) as h:
        ledger: SqlLedger = h.ledger._inner  # type: ignore[attr-defined]
        selfies, results = SelfieStore(data / "selfies"), ResultStore(data / "results")
        faces = SavedFaces(ledger, data / "faces", FaceCipher(data), per_member=5)
        marks = QuotaMarks(data)
        events = Recorder()
        dispatcher = await start_dispatcher(h, events, selfies, results, faces)
        admission = Admission(
            ledger,
            FairUse(member_max_active=5, member_cooldown=0, member_daily_quota=4),
            selfies,
            selfie_keep=timedelta(hours=24),
            wake=dispatcher.wake,
            clock=h.clock,
            quota_mark=marks.key_for,
        )
        prepared = prepare_selfie(selfie_jpeg()).data
        face = await faces.save(MEMBER, "Quasar me", prepared)
        held = HeldRequests(ledger, selfies, clock=h.clock)  # a photo the face check held back
        await held.hold(
            platform="discord",
            requester=MEMBER,
            scope=GUILD,
            params={"options": {"prompt": PROMPT + " held"}},
            prepared=prepared,
        )

        # Two finished portraits (one from a photo, one from the saved face), one running.
        done = await admit(admission, MEMBER, PROMPT, prepared, 11)
        done = await h.reaches(done, JobState.DELIVERED)
        with_face = await admit(admission, MEMBER, PROMPT + " again", face, 12)
        assert with_face.params["face_id"] == face.id and with_face.selfie_path is None
        with_face = await h.reaches(with_face, JobState.DELIVERED)
        assert h.task_of(with_face) is not None  # the face was decrypted and uploaded
        others = await admit(admission, OTHER, OTHER_PROMPT, prepared, 13)
        others = await h.reaches(others, JobState.DELIVERED)
        wiro.scenario.duration = None  # the next task waits until stepped: still running
        running = await admit(admission, MEMBER, PROMPT + " once more", prepared, 14)
        running = await h.reaches(running, JobState.RUNNING)
        results.save(done.id, (PortraitImage("p.png", b"\x89PNG"),))
        await add_audit_and_inbox(ledger, done)

        needles = (MEMBER_ID, MEMBER_NAME, PROMPT, "Quasar")
        # The search finds them before: in the database (SQLite's file, PostgreSQL's rows).
        if postgres:
            assert set(await rows_naming(ledger, *needles)) >= {"jobs", "audit_log", "inbox"}
        else:
            assert files_naming(data, *needles)

        forgetting = Forgetting(
            ledger, h.client, dispatcher, marks,
            faces=faces, selfies=selfies, results=results, held=held, settle=5.0, clock=h.clock,
        )  # fmt: skip
        cleaned: list[int] = []

        async def front_end_files(job_id: int) -> None:
            cleaned.append(job_id)

        forgetting.add_job_cleanup(front_end_files)
        report = await forgetting.forget_member(MEMBER)
        assert sorted(cleaned) == sorted([done.id, with_face.id, running.id])
        # While the bot still runs: the database, its write-ahead log and every other file.
        if postgres:
            assert await rows_naming(ledger, *needles) == {}
        else:
            assert (data / "jobs.sqlite3-wal").exists()
        assert files_naming(data, *needles) == {}

        assert report.stopped == 1 and report.unsettled == 0
        assert report.faces == 1 and report.audit_entries == 1 and report.inbox_updates == 1
        assert report.policies == 1 and report.results == 1 and report.held_requests == 1
        # All three ran at Wiro today (the cancelled one too): they stay as quota marks.
        assert report.quota_marks == 3 and report.jobs_deleted == 0
        member_tasks = [h.task_of(job) for job in (done, with_face, running)]
        assert all(task is not None and task.files_deleted for task in member_tasks)
        assert h.task_of(running).status == "task_cancel"  # type: ignore[union-attr]
        assert not h.task_of(others).files_deleted  # type: ignore[union-attr]
        assert await faces.list(MEMBER) == []

        # Other members keep their job, its prompt, their audit entry.
        kept = await ledger.get(others.id)
        assert kept is not None and kept.params["options"]["prompt"] == OTHER_PROMPT
        assert await ledger.recent_for(MEMBER) == []
        assert [update.update_id for update in await ledger.inbox_pending("telegram:1")] == [78]

        # The quota still holds: 3 of 4 used by the marks (same key for the same member).
        async with ledger.reading() as db:
            rows = list(await db.execute_fetchall("SELECT requester, scope FROM jobs"))
        marked = [row for row in rows if row[0].startswith(MARK_PREFIX)]
        assert {row[0] for row in marked} == {marks.key_for(MEMBER)}
        assert {row[1] for row in marked} == {GUILD}
        await admit(admission, MEMBER, "one more", prepared, 15)
        with pytest.raises(LimitReached) as refused:
            await admit(admission, MEMBER, "and another", prepared, 16)
        assert refused.value.kind is LimitKind.MEMBER_DAILY and refused.value.used == 4

        last = await ledger.recent_for(MEMBER)
        await h.reaches(last[0], JobState.RUNNING)  # stepping is manual: leave it running
        await forgetting.forget_member(MEMBER)
        await dispatcher.stop()
        if postgres:
            assert await rows_naming(ledger, *needles, "one more") == {}
            assert "jobs" in await rows_naming(ledger, OTHER_PROMPT)  # the search finds text

    # Everything is closed: search every file, the database, its WAL and SHM included.
    assert files_naming(data, *needles, "one more") == {}
    if not postgres:
        assert "jobs.sqlite3" in files_naming(data, OTHER_PROMPT)  # the search does find text


async def start_dispatcher(h: Harness, events, selfies, results, faces, *, start: bool = True):
    dispatcher = h.dispatcher(events, selfies=selfies, results=results, delete_wiro_files=False)
    dispatcher._faces = faces  # the harness builds it without saved faces
    if start:
        await dispatcher.start()
    return dispatcher


class NoJobs:
    async def cancel(self, job_id: int) -> object:
        raise AssertionError("nothing to stop")


async def test_marks_go_when_their_window_ends(wiro, tmp_path, open_ledger) -> None:
    async with open_harness(wiro, tmp_path / LEDGER_FILENAME, open_ledger=open_ledger) as h:
        ledger: SqlLedger = h.ledger._inner  # type: ignore[attr-defined]
        marks = QuotaMarks(tmp_path)
        job = await h.job(user_id=int(MEMBER_ID))
        await ledger.transition(job.id, JobState.SUBMITTING)
        await ledger.transition(job.id, JobState.FAILED)
        forgetting = Forgetting(ledger, h.client, NoJobs(), marks, settle=0.0, clock=h.clock)
        report = await forgetting.forget_member(MEMBER)
        assert report.quota_marks == 1 and report.jobs_deleted == 0
        assert marks.key_for(MEMBER) == QuotaMarks(tmp_path).key_for(MEMBER)  # kept secret
        assert marks.key_for(MEMBER) != marks.key_for(OTHER)
        assert MEMBER_ID not in marks.key_for(MEMBER)
        assert await forgetting.prune_marks() == 0
        h.clock.shift(hours=25)
        assert await forgetting.prune_marks() == 1
        assert await ledger.get(job.id) is None


async def test_a_saved_face_deleted_or_unreadable_fails_the_job_unstarted(
    wiro, tmp_path, open_ledger
):
    async with open_harness(wiro, tmp_path / LEDGER_FILENAME, open_ledger=open_ledger) as h:
        ledger: SqlLedger = h.ledger._inner  # type: ignore[attr-defined]
        selfies = SelfieStore(tmp_path / "selfies")
        faces = SavedFaces(ledger, tmp_path / "faces", FaceCipher(tmp_path), per_member=5)
        events = Recorder()
        dispatcher = await start_dispatcher(h, events, selfies, None, faces, start=False)
        admission = Admission(
            ledger,
            FairUse(member_max_active=5, member_cooldown=0),
            selfies,
            selfie_keep=timedelta(hours=24),
            wake=lambda: None,  # queued, not started until woken
            clock=h.clock,
        )
        prepared = prepare_selfie(selfie_jpeg()).data
        face = await faces.save(MEMBER, "me", prepared)
        gone = await admit(admission, MEMBER, PROMPT, face, 21)
        await faces.delete(MEMBER, "me")
        face = await faces.save(MEMBER, "me again", prepared)
        locked = await admit(admission, MEMBER, PROMPT, face, 22)
        (tmp_path / "faces.key").write_bytes(b"a damaged key\n")
        faces._cipher = FaceCipher(tmp_path)  # as after a restart with the damaged key
        await dispatcher.start()
        failed = [await h.reaches(job, JobState.FAILED) for job in (gone, locked)]
        messages = dict((job_id, failure.message) for job_id, failure in events.failures)
        assert "deleted" in messages[gone.id] and "can't open" in messages[locked.id]
        assert all(job.submitted_at is None for job in failed)  # costs no quota
        assert wiro.calls["/Run/wiro/instant-id-lora"] == 0 and not wiro.uploads
        with pytest.raises(ValueError):  # another member's face is refused at admission
            await admit(admission, OTHER, PROMPT, face, 23)
        await dispatcher.stop()


async def test_the_queue_prunes_marks_with_its_housekeeping(wiro, tmp_path, open_ledger) -> None:
    async with open_harness(wiro, tmp_path / LEDGER_FILENAME, open_ledger=open_ledger) as h:
        ledger: SqlLedger = h.ledger._inner  # type: ignore[attr-defined]
        job = await h.job(user_id=int(MEMBER_ID))
        await ledger.transition(job.id, JobState.SUBMITTING)
        await ledger.transition(job.id, JobState.FAILED)
        forgetting = Forgetting(ledger, h.client, NoJobs(), QuotaMarks(tmp_path), settle=0.0)
        await forgetting.forget_member(MEMBER)
        h.clock.shift(hours=25)
        forgetting._clock = h.clock
        dispatcher = h.dispatcher(Recorder())

        async def broken() -> None:
            raise RuntimeError("a chore that fails does not stop the others")

        dispatcher.add_housekeeping(broken)
        dispatcher.add_housekeeping(forgetting.prune_marks)
        await dispatcher.start()  # prunes at its first look at the queue

        async def pruned() -> bool:
            return await ledger.get(job.id) is None

        await eventually(pruned, what="the mark pruned")
        assert dispatcher._loop is not None and not dispatcher._loop.done()
        await dispatcher.stop()


async def test_forgetting_one_member_twice_at_once_does_the_work_once(wiro, tmp_path) -> None:
    async with open_harness(wiro, tmp_path / LEDGER_FILENAME) as h:
        ledger = h.ledger._inner  # type: ignore[attr-defined]
        faces = SavedFaces(ledger, tmp_path / "faces", FaceCipher(tmp_path), per_member=5)
        await faces.save(MEMBER, "me", prepare_selfie(selfie_jpeg()).data)
        forgetting = Forgetting(
            ledger, h.client, NoJobs(), QuotaMarks(tmp_path), faces=faces, settle=0.0
        )
        first, second = await asyncio.gather(
            forgetting.forget_member(MEMBER), forgetting.forget_member(MEMBER)
        )
        assert first is second and first.faces == 1  # one run, one report for both presses
        assert (await forgetting.forget_member(MEMBER)).faces == 0  # a later one runs again
