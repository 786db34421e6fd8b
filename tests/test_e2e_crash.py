"""SIGKILL the bot process with jobs in every state, start it again: each result is delivered
exactly once and no job is run at Wiro a second time.

The bot runs as `python -m bot`, configured only by its environment, against the Discord
stand-in and the fake Wiro. At the moment of the kill the ledger holds, one job each:

* posted      DELIVERING, its result already in the channel (the process died while removing
              the status message, before the ledger said DELIVERED): the restarted bot must
              find the message in the channel history and not post again;
* unposted    DELIVERING, its result POST on its way but never carried out: posted once, now;
* running     RUNNING, the task still generating at Wiro; it finishes after the restart;
* finished    RUNNING, the task finished at Wiro while the bot was down;
* accepted    SUBMITTING, Wiro accepted the run (task made, billed) but the answer never came:
              the restarted bot must find the task in /Task/List and follow it, not run again;
* cut-off     SUBMITTING, the run call cut off by the kill before Wiro handled it (no task
              exists): UNCONFIRMED, the member is told, nothing is run again;
* queued ×2   QUEUED at the bot behind the full MAX_RUNNING_TASKS=4 slots: run once each.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.core.jobs.dispatcher import UNCONFIRMED
from bot.core.jobs.ledger import FINAL_STATES, JobState
from tests.discord_standin import (
    DiscordStandIn,
    InteractionRecord,
    Member,
    Overwrite,
    Perm,
    RequestRecord,
    StoredMessage,
    User,
)
from tests.fakewiro import RUN_PATH, FakeWiro
from tests.support.bot_process import BotProcess, bot_env, eventually, read_jobs
from tests.support.images import selfie_jpeg

SELFIE = selfie_jpeg()
SLOTS = 4  # MAX_RUNNING_TASKS
# A request that must not end while the test runs (it ends with the kill or the stand-in).
NEVER = 60.0
# How long the fake Wiro holds the cut-off run call before it would handle it: the kill lands
# well inside, and the test outlives it, so a task made late would still be seen.
CUT_OFF_DELAY = 3.0
TO_THE_END = 100  # wiro.step() this far: task_postprocess_end, with outputs
GENERATING = 6  # wiro.step() this far: task_output, a progress line


class CrashWiro(FakeWiro):
    """The fake Wiro, plus a run whose answer is lost: the task is made (and billed) but the
    bot never hears its id, as when it dies between Wiro accepting a run and the answer
    arriving. ``wiro.fail(RUN, delay=...)`` cannot stand for that: the fake waits *before* it
    handles the call, and aiohttp cancels the handler when the caller's connection drops, so a
    run cut off by the kill never makes a task (that is the cut-off job here)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lose_answers = 0
        self.lost: list[str] = []  # ids of the tasks whose answer was held back

    async def _run(self, request: web.Request) -> web.Response:
        before = len(self.tasks)
        response = await super()._run(request)
        if self.lose_answers and len(self.tasks) > before:
            self.lose_answers -= 1
            self.lost.append(list(self.tasks)[-1])
            await asyncio.Event().wait()  # until the caller's connection drops
        return response


@dataclass
class Job:
    """One member's /portrait, followed through the stand-in, the ledger and the fake Wiro."""

    name: str
    member: Member
    rec: InteractionRecord | None = None

    def row(self, jobs: dict[int, dict[str, Any]]) -> dict[str, Any] | None:
        if self.rec is None:
            return None
        return next(
            (
                r
                for r in jobs.values()
                if json.loads(r["reply_address"])["interaction_id"] == self.rec.id
            ),
            None,
        )


def add_member(discord_server: DiscordStandIn, name: str) -> Member:
    user = User(id=discord_server.new_id(), username=name.lower(), global_name=name)
    discord_server.world.add_user(user)
    member = Member(user=user, guild_id=discord_server.guild.id)
    discord_server.guild.members.append(member)
    return member


def never_carried_out(
    discord_server: DiscordStandIn,
    method: str,
    pattern: str,
    when: Callable[[RequestRecord], bool] | None = None,
) -> None:
    """The next matching request reaches the stand-in but is not carried out while the test
    runs: it waits, then fails (by then nobody is listening)."""
    faults = discord_server.faults
    faults.delay(method, pattern, NEVER, times=1, when=when)
    faults.error(method, pattern, 503, 0, "upstream timeout", times=1, when=when)


def pending(discord_server: DiscordStandIn, method: str, pattern: str) -> list[RequestRecord]:
    return [r for r in discord_server.requests_to(method, pattern) if r.finished_at is None]


def result_post_of(job_id: int) -> Callable[[RequestRecord], bool]:
    """Matches the bot's posts of this job's result: they carry the job's nonce."""

    def matches(request: RequestRecord) -> bool:
        nonce = str((request.json or {}).get("nonce") or "")
        return request.has_files and nonce.startswith(f"portrait-{job_id}c")

    return matches


def result_posts(discord_server: DiscordStandIn, job_id: int) -> list[RequestRecord]:
    """Every request that posted (or tried to post) this job's result in a channel."""
    return [
        r
        for r in discord_server.requests_to("POST", "/channels/*/messages")
        if result_post_of(job_id)(r)
    ]


def footer_job(message: StoredMessage) -> int | None:
    for embed in message.embeds:
        found = re.search(r"\bjob (\d+) ·", (embed.get("footer") or {}).get("text") or "")
        if found:
            return int(found[1])
    return None


def results(discord_server: DiscordStandIn) -> dict[int | None, list[StoredMessage]]:
    """Every result message (one with attachments) anywhere, by the job in its footer."""
    by_job: dict[int | None, list[StoredMessage]] = defaultdict(list)
    for message in discord_server.messages.values():
        if message.attachments and not message.deleted:
            by_job[footer_job(message)].append(message)
    return by_job


async def test_sigkill_in_every_job_state_delivers_each_result_once_and_runs_nothing_twice(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    loop = asyncio.get_running_loop()
    async with (
        DiscordStandIn() as discord_server,
        CrashWiro("crash-key-01", "crash-sec-01") as wiro,
    ):
        wiro.scenario.duration = None  # every task waits until the test moves it on
        names = ("posted", "unposted", "running", "finished", "accepted", "cut_off", "q1", "q2")
        job = {name: Job(name, add_member(discord_server, f"Member {name}")) for name in names}
        env = bot_env(
            discord_server,
            wiro,
            data_dir,
            MAX_RUNNING_TASKS=str(SLOTS),
            MEMBER_MAX_ACTIVE_JOBS="5",
            MEMBER_COOLDOWN_SECONDS="0",
            STATUS_EDIT_INTERVAL="1",
            WIRO_REFRESH_CATALOG="false",
        )

        def rows() -> dict[str, dict[str, Any]]:
            jobs = read_jobs(data_dir)
            return {name: row for name, j in job.items() if (row := j.row(jobs)) is not None}

        def states() -> dict[str, str]:
            return {name: row["state"] for name, row in rows().items()}

        def in_states(**wanted: JobState) -> bool:
            now = states()
            return all(now.get(name) == state for name, state in wanted.items())

        def task_of(name: str) -> str:
            return rows()[name]["wiro_task_id"]

        async def ask(name: str, expect: JobState) -> None:
            job[name].rec = await discord_server.slash(
                "portrait",
                attachments={"selfie": ("me.jpg", SELFIE, "image/jpeg")},
                user=job[name].member,
            )
            # The command has done all it does (job saved, status message posted and noted).
            row = await eventually(
                lambda: (r := rows().get(name)) and r["status_message_ref"] and r,
                timeout=10,
                what=f"job {name} queued with its status message",
            )
            if expect is JobState.QUEUED:
                assert row["state"] == JobState.QUEUED, row["state"]
            else:
                await eventually(
                    lambda: states().get(name) == expect, timeout=10, what=f"{name} is {expect}"
                )

        # ---- first life: get one job into each state ------------------------------------
        async with BotProcess(env, cwd=tmp_path) as first:
            await discord_server.wait_for(
                lambda s: s.synced_global and len(s.gateway.sessions) == 1 and s.gateway.connected,
                timeout=20,
            )
            for name in ("posted", "unposted", "running", "finished"):
                await ask(name, JobState.RUNNING)  # the four slots
            for name in ("accepted", "cut_off", "q1", "q2"):
                await ask(name, JobState.QUEUED)
            assert len(wiro.runs) == SLOTS
            wiro.step(task_of("running"), GENERATING)
            wiro.step(task_of("finished"), GENERATING)

            # posted: the result goes out, removing the status message never completes. Its
            # slot goes to "accepted", whose run Wiro takes while the answer is lost.
            posted_token = job["posted"].rec.token
            never_carried_out(discord_server, "DELETE", f"/webhooks/*/{posted_token}/messages/*")
            wiro.lose_answers = 1
            wiro.step(task_of("posted"), TO_THE_END)
            posted_result = await eventually(
                lambda: (
                    wiro.lost
                    and in_states(posted=JobState.DELIVERING, accepted=JobState.SUBMITTING)
                    and pending(discord_server, "DELETE", f"/webhooks/*/{posted_token}/messages/*")
                    and results(discord_server).get(rows()["posted"]["id"])
                ),
                timeout=10,
                what="posted's result out, its status removal in flight; accepted made at Wiro",
            )

            # unposted: its result POST never gets through. Its slot goes to "cut_off", whose
            # run call the fake holds back: the kill lands while it is in flight.
            unposted_post = "/channels/*/messages"
            unposted_result = result_post_of(rows()["unposted"]["id"])
            never_carried_out(discord_server, "POST", unposted_post, when=unposted_result)
            wiro.fail(RUN_PATH, delay=CUT_OFF_DELAY)
            wiro.step(task_of("unposted"), TO_THE_END)
            await eventually(
                lambda: (
                    wiro.calls[RUN_PATH] == SLOTS + 2
                    and in_states(unposted=JobState.DELIVERING, cut_off=JobState.SUBMITTING)
                    and [
                        r
                        for r in pending(discord_server, "POST", unposted_post)
                        if unposted_result(r)
                    ]
                ),
                timeout=10,
                what="unposted's result POST and cut-off's run call both in flight",
            )
            cut_off_sent_at = loop.time()  # (it reached the fake Wiro before this)
            assert await first.kill() == -9
        assert "Traceback" not in first.output, first.output

        at_kill = {
            "posted": JobState.DELIVERING,
            "unposted": JobState.DELIVERING,
            "running": JobState.RUNNING,
            "finished": JobState.RUNNING,
            "accepted": JobState.SUBMITTING,
            "cut_off": JobState.SUBMITTING,
            "q1": JobState.QUEUED,
            "q2": JobState.QUEUED,
        }
        assert states() == at_kill
        (accepted_task,) = wiro.lost
        assert rows()["accepted"]["wiro_task_id"] is None  # the bot never learnt it
        posts_at_kill = len(result_posts(discord_server, rows()["posted"]["id"]))

        # ---- while the bot is down -------------------------------------------------------
        wiro.step(task_of("finished"), TO_THE_END)
        wiro.scenario.duration = 0.3  # runs from now on (the queued jobs) finish on their own
        polls_before = Counter(body.get("tasktoken") for body in wiro.bodies["/Task/Detail"])

        def polled_since_restart(task_id: str) -> bool:
            token = wiro.tasks[task_id].token
            polls = Counter(body.get("tasktoken") for body in wiro.bodies["/Task/Detail"])
            return polls[token] > polls_before[token]

        # ---- second life: everything ends, once --------------------------------------------
        async with BotProcess(env, cwd=tmp_path) as second:
            await discord_server.wait_for(
                lambda s: len(s.gateway.sessions) == 2 and s.gateway.connected, timeout=20
            )
            # Still generating when the bot came back: it follows the same task, which ends.
            await eventually(
                lambda: polled_since_restart(task_of("running")),
                timeout=10,
                what="the restarted bot follows the running task",
            )
            wiro.step(task_of("running"), TO_THE_END)
            # Found in Wiro's task list: followed as the task Wiro made, which ends.
            await eventually(
                lambda: (
                    rows()["accepted"]["wiro_task_id"] == accepted_task
                    and polled_since_restart(accepted_task)
                ),
                timeout=10,
                what="the accepted job reconciled with its task and followed",
            )
            wiro.step(accepted_task, TO_THE_END)

            def all_final() -> dict[str, str] | None:
                now = states()
                return now if all(JobState(v) in FINAL_STATES for v in now.values()) else None

            final = await eventually(all_final, timeout=25, what="every job final")
            # A run call that came late to the fake would have made its task by now.
            await asyncio.sleep(max(0.0, cut_off_sent_at + CUT_OFF_DELAY + 0.2 - loop.time()))

            # -- every job ended as it should; only the cut-off one could not be confirmed --
            assert final == {name: JobState.DELIVERED for name in job} | {
                "cut_off": JobState.UNCONFIRMED
            }
            ledger = rows()
            delivered = [name for name in job if name != "cut_off"]

            # -- each result posted exactly once, and it is the one the ledger names --------
            by_job = results(discord_server)
            assert {name: len(by_job.pop(ledger[name]["id"], [])) for name in job} == {
                name: 1 for name in delivered
            } | {"cut_off": 0}
            assert not by_job  # no result message of any other job, nor one without a footer
            for name in delivered:
                message = discord_server.messages[int(ledger[name]["result_message_ref"])]
                assert footer_job(message) == ledger[name]["id"], name
                assert message.nonce == f"portrait-{ledger[name]['id']}c", name
                assert f"<@{job[name].member.id}>" in message.content, name
            # The result posted before the kill was found, not posted again.
            assert ledger["posted"]["result_message_ref"] == str(posted_result[0].id)
            assert len(result_posts(discord_server, ledger["posted"]["id"])) == posts_at_kill == 1
            # the lost one, then the delivered one
            assert len(result_posts(discord_server, ledger["unposted"]["id"])) == 2
            assert not result_posts(discord_server, ledger["cut_off"]["id"])

            # -- no second run at Wiro for any job -----------------------------------------
            assert len(wiro.runs) == len(delivered)  # accepted runs = tasks
            assert wiro.calls[RUN_PATH] == len(delivered) + 1  # + the cut-off call
            runs_by_input = Counter(run["inputImageUrl"] for run in wiro.runs)
            for name in delivered:
                assert runs_by_input[ledger[name]["input_url"]] == 1, name
            assert runs_by_input[ledger["cut_off"]["input_url"]] == 0
            assert not [
                t
                for t in wiro.tasks.values()
                if t.fields["inputImageUrl"] == ledger["cut_off"]["input_url"]
            ]
            assert ledger["accepted"]["wiro_task_id"] == accepted_task
            assert len(wiro.tasks) == len(delivered)

            # -- the member of the unconfirmed job was told, privately ---------------------
            told = [m for m in job["cut_off"].rec.followups if UNCONFIRMED.message in m.content]
            assert len(told) == 1 and told[0].ephemeral

            assert not discord_server.internal_errors
            assert await second.interrupt() == 0

        log = second.output
        assert "Traceback" not in log, log
        assert f"Job {ledger['accepted']['id']} found at Wiro as task {accepted_task}" in log
        assert f"Job {ledger['cut_off']['id']} could not be confirmed at Wiro" in log
        for secret in (discord_server.token, wiro.api_key, wiro.api_secret):
            assert secret not in first.output + log


async def test_sigkill_after_posting_where_history_cannot_be_read_posts_once(
    tmp_path: Path,
) -> None:
    """The server was set up as the old README said: no Read Message History. The result is
    out, the kill lands before the ledger hears; the restarted bot cannot look for it, so it
    posts again with the same nonce and Discord returns the message already there."""
    data_dir = tmp_path / "data"
    async with (
        DiscordStandIn() as discord_server,
        CrashWiro("crash-key-02", "crash-sec-02") as wiro,
    ):
        no_history = Overwrite(
            id=discord_server.bot_role.id, type=0, deny=int(Perm.READ_MESSAGE_HISTORY)
        )
        discord_server.channel.overwrites.append(no_history)
        wiro.scenario.duration = None
        member = add_member(discord_server, "Hidden")
        env = bot_env(
            discord_server, wiro, data_dir, STATUS_EDIT_INTERVAL="1", WIRO_REFRESH_CATALOG="false"
        )

        def row() -> dict[str, Any] | None:
            return next(iter(read_jobs(data_dir).values()), None)

        async with BotProcess(env, cwd=tmp_path) as first:
            await discord_server.wait_for(
                lambda s: s.synced_global and len(s.gateway.sessions) == 1 and s.gateway.connected,
                timeout=20,
            )
            rec = await discord_server.slash(
                "portrait", attachments={"selfie": ("me.jpg", SELFIE, "image/jpeg")}, user=member
            )
            running = await eventually(
                lambda: (
                    (r := row())
                    and r["state"] == JobState.RUNNING
                    and r["status_message_ref"]
                    and r
                ),
                timeout=10,
                what="the job running with its status message",
            )
            status_removal = f"/webhooks/*/{rec.token}/messages/*"
            never_carried_out(discord_server, "DELETE", status_removal)
            wiro.step(running["wiro_task_id"], TO_THE_END)
            posted = await eventually(
                lambda: (
                    pending(discord_server, "DELETE", status_removal)
                    and results(discord_server).get(running["id"])
                ),
                timeout=10,
                what="the result out, the status removal in flight",
            )
            assert await first.kill() == -9
        assert row()["state"] == JobState.DELIVERING

        async with BotProcess(env, cwd=tmp_path) as second:
            done = await eventually(
                lambda: (r := row()) and r["state"] == JobState.DELIVERED and r,
                timeout=25,
                what="the job delivered after the restart",
            )
            assert results(discord_server) == {running["id"]: posted}  # one message, the first
            assert done["result_message_ref"] == str(posted[0].id)
            # Posted again with the same nonce, and Discord answered with the first message.
            assert len(result_posts(discord_server, running["id"])) == 2
            assert not discord_server.requests_to("GET", "/channels/*/messages")
            assert not discord_server.internal_errors
            assert await second.interrupt() == 0
        log = second.output
        assert log.count("cannot read the message history of channel") == 1
        assert "Traceback" not in first.output + log, log
