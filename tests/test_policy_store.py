"""The policy store on the ledger's SQLite file (migration 0009): a policy round-trips, a scope
never changed has none, it survives closing and reopening, a row edited by hand still loads,
and the ledger's hook keeps a failed write out of the file."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from bot.core.jobs.ledger import LedgerError
from bot.core.jobs.sqlite_ledger import LEDGER_FILENAME, SqliteLedger
from bot.core.policy.model import PrivateStyles, ScopePolicy
from bot.core.policy.store import SqlitePolicyStore

GUILD = "discord:guild:2002"
CHAT = "telegram:chat:-1001"
AT = datetime(2025, 3, 1, 12, 0, 0, 250_000, tzinfo=UTC)


@pytest.fixture
async def ledger(tmp_path) -> AsyncIterator[SqliteLedger]:
    async with await SqliteLedger.open(tmp_path / LEDGER_FILENAME) as opened:
        yield opened


def rows(path) -> list[tuple]:
    with sqlite3.connect(path) as raw:
        return raw.execute(
            "SELECT scope, policy, updated_by, updated_at FROM scope_policy ORDER BY scope"
        ).fetchall()


async def test_a_scope_never_changed_has_no_stored_policy(ledger):
    assert await SqlitePolicyStore(ledger).load(GUILD) is None


async def test_a_policy_round_trips_per_scope(ledger):
    store = SqlitePolicyStore(ledger, clock=lambda: AT)
    policy = ScopePolicy(
        channels=("3003",),
        models=("606",),
        member_daily_quota=3,
        private_styles=PrivateStyles.ADMINS,
        blocked_words=("clown",),
    )
    await store.save(GUILD, policy, updated_by="discord:1001")
    await store.save(CHAT, ScopePolicy(admins_only=True), updated_by="telegram:5")
    assert await store.load(GUILD) == policy
    assert await store.load(CHAT) == ScopePolicy(admins_only=True)
    # Saving again replaces the row, with who and when.
    await store.save(GUILD, ScopePolicy(), updated_by="discord:1002")
    assert await store.load(GUILD) == ScopePolicy()
    stored = rows(ledger.path)
    assert [(r[0], r[2], r[3]) for r in stored] == [
        (GUILD, "discord:1002", "2025-03-01T12:00:00.250000Z"),
        (CHAT, "telegram:5", "2025-03-01T12:00:00.250000Z"),
    ]


async def test_a_policy_survives_reopening(tmp_path):
    path = tmp_path / LEDGER_FILENAME
    async with await SqliteLedger.open(path) as ledger:
        await SqlitePolicyStore(ledger).save(
            GUILD, ScopePolicy(scope_daily_quota=9), updated_by="discord:1"
        )
    async with await SqliteLedger.open(path) as ledger:
        assert await SqlitePolicyStore(ledger).load(GUILD) == ScopePolicy(scope_daily_quota=9)


async def test_a_row_edited_by_hand_still_loads(ledger):
    with sqlite3.connect(ledger.path) as raw:
        raw.execute(
            "INSERT INTO scope_policy (scope, policy) VALUES (?, ?), (?, ?)",
            (GUILD, '{"admins_only": true, "member_cooldown": "soon"}', CHAT, "garbage"),
        )
    store = SqlitePolicyStore(ledger)
    assert await store.load(GUILD) == ScopePolicy(admins_only=True)
    assert await store.load(CHAT) == ScopePolicy()


async def test_an_empty_scope_is_refused(ledger):
    with pytest.raises(LedgerError):
        await SqlitePolicyStore(ledger).save(" ", ScopePolicy(), updated_by="discord:1")


async def test_the_ledgers_transaction_rolls_back_on_error(ledger):
    with pytest.raises(RuntimeError):
        async with ledger.transaction() as db:
            await db.execute(
                "INSERT INTO scope_policy (scope, policy) VALUES (?, ?)", (GUILD, "{}")
            )
            raise RuntimeError("stop")
    assert rows(ledger.path) == []
    with pytest.raises(LedgerError):  # SQL errors come out as the ledger's errors
        async with ledger.reading() as db:
            await db.execute("SELECT nothing FROM nowhere")
