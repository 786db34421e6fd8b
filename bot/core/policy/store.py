"""Where each scope's policy is kept: the table ``scope_policy`` of migration
``0009_scope_policy.sql``, in the job ledger's database (SQLite or PostgreSQL) and on its
connection (through `SqlLedger.transaction` / `SqlLedger.reading`, so this SQL stays out of the
ledger's module and shares its lock).

A scope is the ledger's scope string (``"discord:guild:<id>"``, ``"telegram:chat:<chat id>"``).
A policy is stored whole as `ScopePolicy.to_json` text and read back tolerantly
(`ScopePolicy.from_json`): a row written by an older or newer bot, or edited by hand, loads
with its unreadable fields at their defaults instead of failing.
"""

from __future__ import annotations

from datetime import UTC
from typing import Protocol

from bot.core.jobs.ledger import Clock, LedgerError, utc_now
from bot.core.jobs.sql_ledger import SqlLedger
from bot.core.policy.model import ScopePolicy

__all__ = ["PolicyStore", "SqlPolicyStore", "SqlitePolicyStore"]


class PolicyStore(Protocol):
    """Stored policies by scope. Errors: `LedgerError` (`LedgerUnavailable` when the
    database cannot be used right now)."""

    async def load(self, scope: str) -> ScopePolicy | None:
        """The scope's stored policy, None when it has never been changed."""
        ...

    async def save(self, scope: str, policy: ScopePolicy, *, updated_by: str) -> None:
        """Replace the scope's policy; `updated_by` is the editor's requester key."""
        ...


class SqlPolicyStore:
    """`PolicyStore` in the ledger's database (its ``scope_policy`` table), SQLite or
    PostgreSQL."""

    def __init__(self, ledger: SqlLedger, *, clock: Clock = utc_now) -> None:
        self._ledger = ledger
        self._clock = clock

    async def load(self, scope: str) -> ScopePolicy | None:
        async with self._ledger.reading() as db:
            rows = await db.execute_fetchall(
                "SELECT policy FROM scope_policy WHERE scope = ?", (_scope(scope),)
            )
        return ScopePolicy.from_json(rows[0][0]) if rows else None

    async def save(self, scope: str, policy: ScopePolicy, *, updated_by: str) -> None:
        now = self._clock().astimezone(UTC).replace(tzinfo=None)
        at = now.isoformat(timespec="microseconds") + "Z"  # the ledger's time format
        async with self._ledger.transaction() as db:
            await db.execute(
                "INSERT INTO scope_policy (scope, policy, updated_by, updated_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (scope) DO UPDATE SET "
                "policy = excluded.policy, updated_by = excluded.updated_by, "
                "updated_at = excluded.updated_at",
                (_scope(scope), policy.to_json(), updated_by, at),
            )


def _scope(scope: str) -> str:
    if not isinstance(scope, str) or not scope.strip():
        raise LedgerError("a policy's scope must be non-empty text")
    return scope


SqlitePolicyStore = SqlPolicyStore
"""The name `SqlPolicyStore` had while the ledger was SQLite only."""
