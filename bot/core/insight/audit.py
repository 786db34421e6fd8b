"""The audit log: every request a member made (who, where, prompt, style, outcome, cost) and
every policy change an administrator made, kept as long as the jobs (``JOB_RETENTION_DAYS``) so
misuse can be traced.

Rows live in the ledger's database (table ``audit_log``, migration ``0010_audit_log.sql``),
written through `SqlLedger.transaction()`. `Admission` records a request as "queued" (with
its job id) or "refused" (the fair-use limit's kind as the reason); front ends record policy and
safety refusals with `AuditLog.request`. A job's end ("delivered", "failed", "cancelled",
"kept", "unconfirmed") and its cost reach its row through the migration's trigger, in the same
transaction as the job's state change, whichever code path ends it: the queue pays nothing more.

Times are the ledger's ISO-8601 UTC text (fixed width, so text order is time order); scopes and
requesters are the ledger's keys (``"discord:guild:<id>"``, ``"telegram:<user id>"``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from bot.core.jobs.ledger import Clock, LedgerError, utc_now

if TYPE_CHECKING:
    from bot.core.jobs.admission import Requester
    from bot.core.jobs.sql_ledger import SqlLedger

__all__ = [
    "AuditEntry",
    "AuditLog",
    "EditorLike",
    "PolicyChangeLike",
    "from_text",
    "place_of",
    "style_of",
    "to_text",
]

log = logging.getLogger(__name__)

PROMPT_MAX_CHARS = 1000  # the request's own limit; a longer one (a refusal's) is cut
CHANGE_SUMMARY_MAX_CHARS = 500
REQUEST = "request"
CHANGE = "change"
CHANGED = "changed"  # the outcome of a change entry


class EditorLike(Protocol):
    """Who changed a policy: `bot.core.policy.service.PolicyEditor`."""

    @property
    def platform(self) -> str: ...
    @property
    def requester(self) -> str: ...
    @property
    def member_name(self) -> str: ...


class PolicyChangeLike(Protocol):
    """A policy change: `bot.core.policy.service.PolicyChange` (scope, editor, fields)."""

    @property
    def scope(self) -> str: ...
    @property
    def editor(self) -> EditorLike: ...
    @property
    def fields(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class AuditEntry:
    """One row of the audit log.

    kind: "request" or "change". outcome: "queued", "refused", "delivered", "failed",
    "cancelled", "kept", "unconfirmed" for a request, "changed" for a change. reason: why it
    was refused or failed (a limit or refusal kind, a job's failure reason), or for a change
    what changed ("field=value; ..."). cost: dollars Wiro reported, None before the job ended
    or when it cost nothing. place: the channel (Discord) or chat (Telegram) id. Every text
    is the member's own: escape it where it is shown."""

    id: int
    at: datetime
    kind: str
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
    """The audit log on the ledger's database; see the module docstring. Writes that fail
    (a full disk) are logged and dropped: the audit never stops a member's request."""

    def __init__(self, ledger: SqlLedger, *, clock: Clock = utc_now) -> None:
        self._ledger = ledger
        self._clock = clock

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
        """Record a member's request: "queued" (with `job_id`) or "refused" (with `reason`,
        e.g. a `LimitKind` or `RefusalKind` value)."""
        await self._insert(
            kind=REQUEST,
            platform=who.platform,
            requester=who.requester,
            member_name=member_name,
            scope=who.scope,
            place=place,
            prompt=prompt[:PROMPT_MAX_CHARS],
            style=style,
            outcome=outcome,
            reason=reason,
            job_id=job_id,
            detail=None,
        )

    async def change(self, change: PolicyChangeLike) -> None:
        """Record a policy change: who made it, where, and the fields' new values."""
        fields = dict(change.fields)
        detail = json.dumps(fields, ensure_ascii=False, default=str, sort_keys=True)
        summary = "; ".join(
            f"{name}={json.dumps(value, ensure_ascii=False, default=str)}"
            for name, value in sorted(fields.items())
        )
        await self._insert(
            kind=CHANGE,
            platform=change.editor.platform,
            requester=change.editor.requester,
            member_name=change.editor.member_name,
            scope=change.scope,
            place=None,
            prompt=None,
            style=None,
            outcome=CHANGED,
            reason=summary[:CHANGE_SUMMARY_MAX_CHARS],
            job_id=None,
            detail=detail,
        )

    async def recent(self, scope: str | None, limit: int = 15) -> list[AuditEntry]:
        """The newest `limit` entries of `scope` (None: of every scope), newest first."""
        if limit <= 0:
            return []
        columns = ", ".join(_COLUMNS)
        async with self._ledger.reading() as db:
            if scope is None:
                rows = await db.execute_fetchall(
                    f"SELECT {columns} FROM audit_log ORDER BY id DESC LIMIT ?", (limit,)
                )
            else:
                rows = await db.execute_fetchall(
                    f"SELECT {columns} FROM audit_log WHERE scope = ? ORDER BY id DESC LIMIT ?",
                    (scope, limit),
                )
        return [_entry(row) for row in rows]

    async def prune(self, older_than: datetime) -> int:
        """Delete the entries made before `older_than`; returns how many."""
        async with self._ledger.transaction() as db:
            deleted = await db.execute("DELETE FROM audit_log WHERE at < ?", (to_text(older_than),))
        if deleted:
            log.info("Pruned %d audit log entries", deleted)
        return deleted

    async def _insert(self, **values: Any) -> None:
        values = {"at": to_text(self._clock()), **values}
        columns = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        try:
            async with self._ledger.transaction() as db:
                await db.execute(
                    f"INSERT INTO audit_log ({columns}) VALUES ({marks})", tuple(values.values())
                )
        except LedgerError as error:  # the audit never stops a request
            log.warning("Could not write an audit log entry (%s): %s", values["kind"], error)


_COLUMNS = (
    "id",
    "at",
    "kind",
    "platform",
    "requester",
    "member_name",
    "scope",
    "place",
    "prompt",
    "style",
    "outcome",
    "reason",
    "cost",
    "job_id",
)


def _entry(row: Any) -> AuditEntry:
    values = dict(zip(_COLUMNS, row, strict=True))
    values["at"] = from_text(values["at"])
    return AuditEntry(**values)


def place_of(reply_address: Mapping[str, Any]) -> str | None:
    """Where a request was made, from a job's reply address: the Discord channel id or the
    Telegram chat id (with ``/<topic>`` for a forum topic); None when it names neither."""
    channel = reply_address.get("channel_id")
    if channel is not None:
        return str(channel)
    chat = reply_address.get("chat_id")
    if chat is None:
        return None
    thread = reply_address.get("thread_id")
    return f"{chat}/{thread}" if thread is not None else str(chat)


def style_of(options: Mapping[str, Any]) -> str:
    """The style of a request from its options (`PortraitOptions.to_params()`): the model and
    LoRA ids, private ones marked, a LoRA URL as its host only (``"model 850 + LoRA 12"``,
    ``"private model x + LoRA URL huggingface.co"``)."""
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


def to_text(moment: datetime) -> str:
    """The ledger's time text (``2025-01-02T03:04:05.000006Z``) of an aware datetime."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("a time for the audit log must be timezone-aware")
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def from_text(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)
