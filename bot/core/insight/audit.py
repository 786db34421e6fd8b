"""LOCAL STAND-IN (branch i12-discord) for insight's `AuditLog`: the contract's names, kept
in memory, so the Discord front end can record and list entries before insight lands."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from bot.core.jobs.admission import Requester
from bot.core.policy.service import PolicyChange

__all__ = ["AuditEntry", "AuditLog", "style_of"]


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
    outcome: str  # queued, refused, delivered, failed, cancelled, kept; "changed"
    reason: str | None
    cost: float | None
    job_id: int | None


class AuditLog:
    def __init__(self) -> None:
        self._entries: list[AuditEntry] = []
        self._ids = itertools.count(1)

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
        self._entries.append(
            AuditEntry(
                next(self._ids),
                datetime.now(UTC),
                "request",
                who.platform,
                who.requester,
                member_name,
                who.quota_scope or who.scope,
                place,
                prompt,
                style,
                outcome,
                reason,
                None,
                job_id,
            )
        )

    async def change(self, change: PolicyChange) -> None:
        what = ", ".join(f"{name}={value!r}" for name, value in change.fields.items())
        self._entries.append(
            AuditEntry(
                next(self._ids),
                datetime.now(UTC),
                "change",
                change.editor.platform,
                change.editor.requester,
                change.editor.member_name,
                change.scope,
                None,
                None,
                None,
                "changed",
                what,
                None,
                None,
            )
        )

    async def ended(self, job_id: int, outcome: str, cost: float | None) -> None:
        self._entries = [
            replace(e, outcome=outcome, cost=cost) if e.job_id == job_id else e
            for e in self._entries
        ]

    async def recent(self, scope: str | None, limit: int = 15) -> list[AuditEntry]:
        found = [e for e in self._entries if scope is None or e.scope == scope]
        return list(reversed(found))[:limit]


def style_of(options: Mapping[str, Any]) -> str:
    """The style of a request from its options (`PortraitOptions.to_params()`), as the
    insight helper words it: ``"model 850 + LoRA 12"``, a LoRA URL as its host only."""
    if options.get("private_model"):
        parts = [f"private model {options['private_model']}"]
    else:
        parts = [f"model {options.get('model_id') or '?'}"]
    if options.get("private_lora"):
        parts.append(f"private LoRA {options['private_lora']}")
    elif options.get("lora_url"):
        parts.append(f"LoRA URL {urlsplit(str(options['lora_url'])).hostname or '?'}")
    elif options.get("lora_id"):
        parts.append(f"LoRA {options['lora_id']}")
    return " + ".join(parts)
