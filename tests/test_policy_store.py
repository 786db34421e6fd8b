"""The policy store in the ledger's database, SQLite and PostgreSQL (migration 0009): a policy
round-trips, a scope never changed has none, it survives closing and reopening, a row edited by
hand still loads, and the ledger's hook keeps a failed write out of the database."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.core.jobs.ledger import LedgerError
from bot.core.jobs.sql_ledger import SqlLedger
from bot.core.policy.model import PrivateStyles, ScopePolicy
from bot.core.policy.store import SqlPolicyStore
from tests.support.ledgers import OpenLedger

GUILD = "discord:guild:2002"
CHAT = "telegram:chat:-1001"
AT = datetime(2025, 3, 1, 12, 0, 0, 250_000, tzinfo=UTC)


@pytest.fixture
async def ledger(open_ledger: OpenLedger) -> SqlLedger:
    """The ledger on each database in turn (tests/support/ledgers.py)."""
    return await open_ledger()


async def rows(ledger: SqlLedger) -> list[tuple]:
    async with ledger.reading() as db:
        found = await db.execute_fetchall(
            "SELECT scope, policy, updated_by, updated_at FROM scope_policy ORDER BY scope"
        )
    return [tuple(row) for row in found]


async def test_a_scope_never_changed_has_no_stored_policy(ledger):
    assert await SqlPolicyStore(ledger).load(GUILD) is None


async def test_a_policy_round_trips_per_scope(ledger):
    store = SqlPolicyStore(ledger, clock=lambda: AT)
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
    stored = await rows(ledger)
    assert [(r[0], r[2], r[3]) for r in stored] == [
        (GUILD, "discord:1002", "2025-03-01T12:00:00.250000Z"),
        (CHAT, "telegram:5", "2025-03-01T12:00:00.250000Z"),
    ]


async def test_a_policy_survives_reopening(open_ledger: OpenLedger):
    async with await open_ledger() as ledger:
        await SqlPolicyStore(ledger).save(
            GUILD, ScopePolicy(scope_daily_quota=9), updated_by="discord:1"
        )
    async with await open_ledger() as ledger:
        assert await SqlPolicyStore(ledger).load(GUILD) == ScopePolicy(scope_daily_quota=9)


async def test_a_row_edited_by_hand_still_loads(ledger):
    async with ledger.transaction() as db:
        await db.execute(
            "INSERT INTO scope_policy (scope, policy) VALUES (?, ?), (?, ?)",
            (GUILD, '{"admins_only": true, "member_cooldown": "soon"}', CHAT, "garbage"),
        )
    store = SqlPolicyStore(ledger)
    assert await store.load(GUILD) == ScopePolicy(admins_only=True)
    assert await store.load(CHAT) == ScopePolicy()


async def test_an_empty_scope_is_refused(ledger):
    with pytest.raises(LedgerError):
        await SqlPolicyStore(ledger).save(" ", ScopePolicy(), updated_by="discord:1")


async def test_the_ledgers_transaction_rolls_back_on_error(ledger):
    with pytest.raises(RuntimeError):
        async with ledger.transaction() as db:
            await db.execute(
                "INSERT INTO scope_policy (scope, policy) VALUES (?, ?)", (GUILD, "{}")
            )
            raise RuntimeError("stop")
    assert await rows(ledger) == []
    with pytest.raises(LedgerError):  # SQL errors come out as the ledger's errors
        async with ledger.reading() as db:
            await db.execute("SELECT nothing FROM nowhere")


async def test_a_blocks_own_error_comes_out_as_it_is_and_rolls_back(ledger):
    with pytest.raises(PermissionError):  # an OSError, yet not the database's
        async with ledger.transaction() as db:
            await db.execute(
                "INSERT INTO scope_policy (scope, policy) VALUES (?, ?)", (GUILD, "{}")
            )
            raise PermissionError("the block's own")
    assert await rows(ledger) == []
