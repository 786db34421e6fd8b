"""An SQLite (or PostgreSQL) ledger holding every kind of row the bot keeps, for the tests of
`python -m bot migrate-db` (tests/test_migrate_db.py): jobs in several states with their events,
parameters and outputs, policies, audit entries (one the job-end trigger never touched), an
owner's alert, saved faces, a held request, inbox updates, a lease, and a pruned job."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from bot.core.faces import FaceCipher, SavedFaces
from bot.core.insight.audit import AuditLog
from bot.core.jobs.leases import Leases
from bot.core.jobs.ledger import Job, JobState
from bot.core.jobs.sql_ledger import SqlLedger
from bot.core.policy.model import ScopePolicy
from bot.core.policy.store import SqlPolicyStore
from bot.core.request.held import HeldRequests
from bot.core.request.selfie_store import SelfieStore
from tests.support.insight import START, Clock, discord_member, end_job, params, telegram_member

ANN, BOB, CID = discord_member(1), discord_member(2), telegram_member(3)
OUTPUT = {"name": "0.png", "url": "https://cdn.example/t/0.png", "size": 1234}
ANN_POLICY = ScopePolicy(channels=("3003",), default_prompt="hi")
CID_POLICY = ScopePolicy(admins_only=True)


async def fill(ledger: SqlLedger, data_dir: Path, prepared: bytes, clock: Clock) -> None:
    """Every kind of row the bot keeps, through its own stores where it has one."""
    audit = AuditLog(ledger, clock=clock)
    ends = [JobState.DELIVERED, JobState.FAILED, JobState.CANCELLED, JobState.KEPT]
    for number, end in enumerate(ends):
        who = [ANN, BOB, CID][number % 3]
        job = await ledger.create(
            platform=who.platform,
            requester=who.requester,
            scope=who.scope,
            reply_address=who.reply_address,
            reply_secret=who.reply_secret,
            params=params(f"Member {number}", prompt=f"portrait n°{number} ✨", seed=number),
        )
        await audit.request(
            who, member_name="Ann", place="3003", prompt="p", style="850/12", outcome="queued",
            job_id=job.id,
        )  # fmt: skip
        await end_job(ledger, clock, job, end, wait=2, generation=7, cost=0.25, reason="no_face")
    delivered = 1
    await ledger.update(delivered, outputs=[OUTPUT], task_seconds=6.5)
    running = await ledger.create(
        platform="telegram",
        requester=CID.requester,
        scope=CID.scope,
        reply_address=CID.reply_address,
        reply_secret="",
        params={"origin": "telegram:update:7", "options": {"prompt": "x"}},
        selfie_path=str(data_dir / "selfies" / "s.jpg"),
        selfie_expires_at=START + timedelta(hours=24),
    )
    await ledger.transition(running.id, JobState.SUBMITTING)
    await ledger.transition(running.id, JobState.RUNNING, wiro_task_id="task-running")
    await bare_job(ledger, BOB.requester, not_before=START + timedelta(minutes=5))
    await bare_job(ledger, ANN.requester)  # job 7, pruned below
    async with ledger.transaction() as db:
        await db.execute("UPDATE jobs SET claimed_by = 'host:1:abcd' WHERE id = ?", (running.id,))
        await db.execute(
            "INSERT INTO owner_alerts (state, sent_at, text) VALUES (?, ?, ?)",
            ("out_of_credit", "2026-03-10T12:00:00.250000Z", "Wiro's balance is empty"),
        )
    # A request row written after its job ended: the job-end trigger never updated it, and the
    # copy must not either.
    await audit.request(BOB, member_name="Bob", place=None, prompt="late", style="s",
                        outcome="queued", job_id=delivered)  # fmt: skip
    await audit.request(BOB, member_name="Bob", place=None, prompt="no", style="s",
                        outcome="refused", reason="cooldown")  # fmt: skip
    editor = SimpleNamespace(platform="discord", requester="discord:9", member_name="Admin")
    await audit.change(SimpleNamespace(scope=ANN.scope, editor=editor, fields={"roles": ["5"]}))
    policies = SqlPolicyStore(ledger, clock=clock)
    await policies.save(ANN.scope, ANN_POLICY, updated_by="discord:9")
    await policies.save(CID.scope, CID_POLICY, updated_by="telegram:3")
    faces = SavedFaces(ledger, data_dir / "faces", FaceCipher(data_dir), clock=clock)
    await faces.save(ANN.requester, "Me", prepared)
    await faces.save(ANN.requester, "Beach", prepared)
    await faces.save(CID.requester, "Me", prepared)
    held = HeldRequests(ledger, SelfieStore(data_dir / "selfies"), clock=clock)
    await held.hold(platform="discord", requester=BOB.requester, scope=BOB.scope,
                    params={"options": {"prompt": "held"}}, prepared=prepared)  # fmt: skip
    await ledger.inbox_add("telegram:42", [(100, {"message": {"text": "/portrait"}}), (101, {})])
    await ledger.inbox_done("telegram:42", 100)
    await Leases(ledger, "host:1:abcd").acquire("process:host:1:abcd")
    # The newest job (7) is pruned by hand, with its one event (the newest event): its id (in
    # a button somewhere) must never come back.
    async with ledger.transaction() as db:
        assert await db.execute("DELETE FROM jobs WHERE id = 7") == 1


async def bare_job(ledger: SqlLedger, requester: str, **fields: Any) -> Job:
    """A queued job with nothing but its requester (and ``fields``)."""
    return await ledger.create(
        platform="discord",
        requester=requester,
        scope="discord:guild:2002",
        reply_address={},
        reply_secret="",
        params={},
        **fields,
    )
