"""LOCAL STAND-IN (branch i12-telegram) for insight's `AuditLog`: the contract's names, kept in
memory, so the Telegram front end can record refusals and show `/log` before the real SQLite
log is merged. The lead keeps insight's file."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.core.jobs.admission import Requester
from bot.core.policy.service import PolicyChange

__all__ = ["AuditEntry", "AuditLog"]


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    kind: str  # "request" or "change"
    platform: str
    requester: str
    member_name: str
    scope: str
    place: str | None
    prompt: str | None
    style: str | None
    outcome: str
    reason: str | None
    cost: float | None
    job_id: int | None


class AuditLog:
    def __init__(self) -> None:
        self._entries: list[AuditEntry] = []

    async def request(
        self,
        who: Requester,
        *,
        member_name: str,
        place: str | None,
        prompt: str,
        style: str,
        outcome: str,
        reason: str | None = None,
        job_id: int | None = None,
    ) -> None:
        self._add("request", who.platform, who.requester, member_name, who.scope, place,
                  prompt, style, outcome, reason, job_id)  # fmt: skip

    async def change(self, change: PolicyChange) -> None:
        what = ", ".join(f"{k}={v}" for k, v in change.fields.items())
        editor = change.editor
        self._add("change", editor.platform, editor.requester, editor.member_name,
                  change.scope, None, what, None, "changed", None, None)  # fmt: skip

    async def recent(self, scope: str | None, limit: int = 15) -> list[AuditEntry]:
        found = [e for e in self._entries if scope is None or e.scope == scope]
        return list(reversed(found))[:limit]

    def _add(self, *values: Any) -> None:
        kind, platform, who, name, scope, place, prompt, style, outcome, reason, job = values
        self._entries.append(
            AuditEntry(
                len(self._entries) + 1,
                datetime.now(UTC),
                str(kind),
                str(platform),
                str(who),
                str(name),
                str(scope),
                place,
                prompt,
                style,
                str(outcome),
                reason,
                None,
                job,
            )
        )
