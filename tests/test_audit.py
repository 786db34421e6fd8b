"""The audit log on a real SQLite ledger: admission records queued requests and fair-use
refusals, a job's end (whichever code path ends it) writes its outcome, reason and cost into
its row, entries are read per scope newest first, policy changes say who changed what, and
old entries go with the jobs' retention."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from bot.core.insight.audit import AuditLog, place_of, style_of
from bot.core.jobs.admission import Admission
from bot.core.jobs.ledger import JobState
from bot.core.jobs.limits import FairUse, LimitKind, LimitReached
from bot.core.jobs.sql_ledger import SqlLedger
from bot.core.request.selfie_store import SelfieStore
from tests.support.insight import (
    CHAT,
    GUILD,
    Clock,
    discord_member,
    end_job,
    params,
    telegram_member,
)
from tests.support.ledgers import OpenLedger

ROOMY = FairUse(member_max_active=100, member_cooldown=0, member_daily_quota=0, guild_daily_quota=0)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def ledger(open_ledger: OpenLedger, clock) -> SqlLedger:
    """The ledger on each database in turn (tests/support/ledgers.py)."""
    return await open_ledger(clock=clock)


@pytest.fixture
def audit(ledger, clock) -> AuditLog:
    return AuditLog(ledger, clock=clock)


def admission(ledger, audit, clock, tmp_path, fair_use: FairUse = ROOMY) -> Admission:
    door = Admission(
        ledger,
        fair_use,
        SelfieStore(tmp_path / "selfies"),
        selfie_keep=timedelta(hours=1),
        wake=lambda: None,
        clock=clock,
    )
    door.audit = audit
    return door


async def no_status(job, position) -> None:
    return None


async def test_admission_records_the_queued_request_with_its_job(ledger, audit, clock, tmp_path):
    door = admission(ledger, audit, clock, tmp_path)
    who = discord_member(1001, channel_id=3003)
    job = await door.admit(who, params("Ann", "a pirate captain"), b"jpeg", post_status=no_status)

    (entry,) = await audit.recent(GUILD)
    assert (entry.kind, entry.outcome, entry.job_id) == ("request", "queued", job.id)
    assert (entry.platform, entry.requester, entry.scope) == ("discord", "discord:1001", GUILD)
    assert (entry.member_name, entry.place) == ("Ann", "3003")
    assert (entry.prompt, entry.style) == ("a pirate captain", "model 850 + LoRA 12")
    assert entry.at == clock() and entry.cost is None and entry.reason is None


@pytest.mark.parametrize(
    ("end", "outcome", "reason", "cost"),
    [
        (JobState.DELIVERED, "delivered", None, 0.0123),
        (JobState.FAILED, "failed", "no_face", None),
        (JobState.CANCELLED, "cancelled", None, None),
        (JobState.KEPT, "kept", "undelivered", 0.02),
    ],
)
async def test_a_jobs_end_updates_its_entry(
    ledger, audit, clock, tmp_path, end, outcome, reason, cost
):
    door = admission(ledger, audit, clock, tmp_path)
    job = await door.admit(telegram_member(7), params("Bob"), b"jpeg", post_status=no_status)
    await end_job(ledger, clock, job, end, wait=2, generation=5, cost=cost, reason="no_face")

    (entry,) = await audit.recent(CHAT)
    assert (entry.outcome, entry.reason, entry.cost) == (outcome, reason, cost)
    assert entry.place == "-1005"


async def test_a_kept_result_sent_again_becomes_delivered(ledger, audit, clock, tmp_path):
    door = admission(ledger, audit, clock, tmp_path)
    job = await door.admit(discord_member(1), params("Ann"), b"jpeg", post_status=no_status)
    await end_job(ledger, clock, job, JobState.KEPT, cost=0.02)
    # A front end's "Send again" (not the queue) moves it on.
    await ledger.transition(job.id, JobState.DELIVERING, expected=JobState.KEPT)
    await ledger.transition(job.id, JobState.DELIVERED, result_message_ref="m")

    (entry,) = await audit.recent(GUILD)
    assert (entry.outcome, entry.reason, entry.cost) == ("delivered", None, 0.02)


async def test_fair_use_refusals_are_recorded_with_the_limit(ledger, audit, clock, tmp_path):
    rules = FairUse(
        member_max_active=1, member_cooldown=0, member_daily_quota=0, guild_daily_quota=0
    )
    door = admission(ledger, audit, clock, tmp_path, rules)
    who = discord_member(1001)
    await door.admit(who, params("Ann", "first"), b"jpeg", post_status=no_status)

    limit = await door.over_limit(who, params("Ann", "second"))
    assert limit is not None and limit.kind is LimitKind.ACTIVE
    with pytest.raises(LimitReached):
        await door.admit(who, params("Ann", "third"), b"jpeg", post_status=no_status)
    assert await door.over_limit(discord_member(1002)) is None  # allowed: nothing recorded

    third, second, first = await audit.recent(GUILD)
    assert [e.outcome for e in (first, second, third)] == ["queued", "refused", "refused"]
    assert (second.prompt, second.reason, second.job_id) == ("second", "active", None)
    assert (third.prompt, third.reason) == ("third", "active")


async def test_recent_is_per_scope_newest_first_and_limited(audit, clock):
    for n in range(4):
        await audit.request(
            discord_member(n), member_name=f"m{n}", place="1", prompt=f"p{n}", style="s",
            outcome="refused", reason="unsafe_prompt",
        )  # fmt: skip
        clock.advance(seconds=1)
    await audit.request(
        telegram_member(9), member_name="t", place=None, prompt="x", style="s", outcome="refused"
    )

    assert [e.prompt for e in await audit.recent(GUILD, limit=3)] == ["p3", "p2", "p1"]
    assert [e.prompt for e in await audit.recent(CHAT)] == ["x"]
    assert [e.prompt for e in await audit.recent(None, limit=2)] == ["x", "p3"]
    assert await audit.recent("discord:guild:404") == []
    assert await audit.recent(GUILD, limit=0) == []


@dataclass(frozen=True)
class Editor:
    platform: str
    requester: str
    member_name: str


@dataclass(frozen=True)
class Change:
    scope: str
    editor: Editor
    fields: dict[str, Any] = field(default_factory=dict)


async def test_a_policy_change_says_who_changed_what(audit, clock):
    editor = Editor("discord", "discord:42", "Mod <b>")
    await audit.change(Change(GUILD, editor, {"member_daily_quota": 3, "channels": ["10", "11"]}))

    (entry,) = await audit.recent(GUILD)
    assert (entry.kind, entry.outcome) == ("change", "changed")
    assert (entry.requester, entry.member_name) == ("discord:42", "Mod <b>")
    assert entry.reason == 'channels=["10", "11"]; member_daily_quota=3'
    assert entry.prompt is None and entry.job_id is None


async def test_prune_drops_entries_older_than_the_cutoff(audit, clock):
    await audit.request(
        discord_member(1), member_name="old", place=None, prompt="", style="", outcome="refused"
    )
    clock.advance(days=31)
    await audit.request(
        discord_member(1), member_name="new", place=None, prompt="", style="", outcome="refused"
    )

    assert await audit.prune(clock() - timedelta(days=30)) == 1
    assert [e.member_name for e in await audit.recent(None)] == ["new"]


async def test_a_failing_database_never_stops_the_request(
    ledger, audit, clock, tmp_path, caplog, disposable_schema
):
    door = admission(ledger, audit, clock, tmp_path)
    async with ledger.transaction() as db:
        await db.execute("DROP TABLE audit_log")  # as a broken file would fail the insert
    job = await door.admit(discord_member(1), params("Ann"), b"jpeg", post_status=no_status)
    assert job.state is JobState.QUEUED
    assert "Could not write an audit log entry" in caplog.text


def test_place_and_style_name_the_channel_and_the_styles_without_urls():
    assert place_of({"channel_id": 3, "guild_id": 2}) == "3"
    assert place_of({"chat_id": -5, "thread_id": 7}) == "-5/7"
    assert place_of({}) is None
    assert style_of({"model_id": "850"}) == "model 850"
    assert (
        style_of(
            {"private_model": "me/x", "lora_url": "https://huggingface.co/a/b.safetensors?t=1"}
        )
        == "private model me/x + LoRA URL huggingface.co"
    )
    assert style_of({"model_id": "1", "private_lora": "me/l"}) == "model 1 + private LoRA me/l"
