"""Job rows and values of the SQL ledgers (:mod:`bot.core.jobs.sql_ledger`): checking and encoding
what a caller sets, decoding what a row holds, and the SQL fragments the queue and the quotas
share. The same on SQLite and PostgreSQL.

Stored forms: times are ISO-8601 UTC text with microseconds and a ``Z``
(``2025-01-02T03:04:05.000006Z``, :func:`time_text`): fixed width, so comparing text compares
times (PostgreSQL's time columns are ``COLLATE "C"`` for that). ``params``, ``reply_address``
and ``outputs`` are compact JSON text. Errors: `TypeError` / `ValueError` for a value of the
wrong kind, before anything is written.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import UTC, datetime
from os import PathLike
from pathlib import Path
from typing import Any

from bot.core.jobs.ledger import (
    ACTIVE_STATES,
    UPDATABLE_FIELDS,
    InvalidTransition,
    Job,
    JobState,
)
from bot.core.jobs.sql import Row


def job_from_row(row: Row) -> Job:
    return Job(
        id=row["id"],
        platform=row["platform"],
        requester=row["requester"],
        scope=row["scope"],
        reply_address=json.loads(row["reply_address"]),
        reply_secret=row["reply_secret"],
        params=json.loads(row["params"]),
        state=JobState(row["state"]),
        created_at=from_time(row["created_at"]),
        updated_at=from_time(row["updated_at"]),
        submitted_at=from_optional_time(row["submitted_at"]),
        finished_at=from_optional_time(row["finished_at"]),
        attempts=row["attempts"],
        wiro_task_id=row["wiro_task_id"],
        wiro_socket_token=row["wiro_socket_token"],
        input_url=row["input_url"],
        outputs=json.loads(row["outputs"]),
        status_message_ref=row["status_message_ref"],
        result_message_ref=row["result_message_ref"],
        failure_reason=row["failure_reason"],
        failure_message=row["failure_message"],
        cost=row["cost"],
        selfie_path=row["selfie_path"],
        selfie_expires_at=from_optional_time(row["selfie_expires_at"]),
        not_before=from_optional_time(row["not_before"]),
        failure_detail=row["failure_detail"],
        delivery_nonce=row["delivery_nonce"],
        task_seconds=row["task_seconds"],
    )


def due(table: str = "") -> str:
    """SQL for when a job became (or becomes) due to start: the queue's order, the same
    expression as the jobs_by_due index. Fixed-width UTC text compares as time."""
    return f"COALESCE({table}not_before, {table}created_at)"


DUE = due()
IDS_PER_QUERY = 500


# Fields a state needs before a job may enter it (checked against the row plus the new values).
_REQUIRED_ON_ENTRY: Mapping[JobState, str] = {
    JobState.RUNNING: "wiro_task_id",
    JobState.DELIVERED: "result_message_ref",
}


def check_entry(job_id: int, current: JobState, to: JobState, merged: Mapping[str, Any]) -> None:
    required = _REQUIRED_ON_ENTRY.get(to)
    if required is not None and merged.get(required) in (None, ""):
        raise InvalidTransition(job_id, current, to, f"a job enters {to} only with {required}")


def expected_states(
    expected: JobState | Collection[JobState] | None,
) -> frozenset[JobState] | None:
    if expected is None:
        return None
    if isinstance(expected, str):  # JobState is a str: one state, not a collection of letters
        return frozenset({JobState(expected)})
    states = frozenset(JobState(state) for state in expected)
    if not states:
        raise ValueError("expected must name at least one state")
    return states


def states_sql(states: Collection[JobState]) -> str:
    # Enum values only (never user input), so inlining them is safe.
    return ", ".join(f"'{state.value}'" for state in sorted(states))


def quota_filter(
    since: datetime, requester: str | None, scope: str | None
) -> tuple[str, tuple[Any, ...]]:
    # A job counts unless it is final without a run call ever begun for it (submitted_at is
    # set on SUBMITTING and cleared only when Wiro refused the run and the job was requeued).
    clauses = [
        "created_at > ?",  # the rolling window (since, now]: see JobLedger.count_since
        f"(submitted_at IS NOT NULL OR state IN ({states_sql(ACTIVE_STATES)}))",
    ]
    args: list[Any] = [time_text("since", since)]
    if requester is not None:
        clauses.append("requester = ?")
        args.append(key_text("requester", requester))
    if scope is not None:
        clauses.append("scope = ?")
        args.append(key_text("scope", scope))
    return " AND ".join(clauses), tuple(args)


def time_text(what: str, value: datetime) -> str:
    if not isinstance(value, datetime):
        raise TypeError(f"{what} must be a datetime, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware")
    plain = value.astimezone(UTC).replace(tzinfo=None)
    return plain.isoformat(timespec="microseconds") + "Z"


def from_time(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def from_optional_time(text: str | None) -> datetime | None:
    return from_time(text) if text is not None else None


def key_text(what: str, value: str) -> str:
    """Non-empty text: a platform name, a requester or a scope key."""
    value = plain_text(what, value)
    if not value:
        raise ValueError(f"{what} must not be empty")
    return value


def plain_text(what: str, value: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, not {type(value).__name__}")
    return str(value)  # a StrEnum member becomes its plain value


def _float(what: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{what} must be a number, not {type(value).__name__}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{what} must be a finite number")
    return number


def _path(what: str, value: str | PathLike[str]) -> str:
    if not isinstance(value, (str, PathLike)):
        raise TypeError(f"{what} must be a path, not {type(value).__name__}")
    return str(Path(value))


def _optional(convert: Callable[[str, Any], Any]) -> Callable[[str, Any], Any]:
    def optional(what: str, value: Any) -> Any:
        return None if value is None else convert(what, value)

    return optional


def _empty_if_none(what: str, value: str | None) -> str:
    return "" if value is None else plain_text(what, value)


def _dumps(what: str, value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as error:
        raise ValueError(f"{what} must be JSON-able: {error}") from error


def json_object(what: str, value: Mapping[str, Any]) -> str:
    if not isinstance(value, Mapping):
        raise TypeError(f"{what} must be a mapping, not {type(value).__name__}")
    return _dumps(what, dict(value))


def _json_outputs(what: str, value: Iterable[Mapping[str, Any]] | None) -> str:
    if value is None:
        return "[]"
    if isinstance(value, (str, bytes, Mapping)):
        raise TypeError(f"{what} must be a list of mappings")
    items = list(value)
    if not all(isinstance(item, Mapping) for item in items):
        raise TypeError(f"{what} must be a list of mappings")
    return _dumps(what, [dict(item) for item in items])


_ENCODERS: Mapping[str, Callable[[str, Any], Any]] = {
    "wiro_task_id": _optional(plain_text),
    "wiro_socket_token": _optional(plain_text),
    "input_url": _optional(plain_text),
    "outputs": _json_outputs,
    "status_message_ref": _optional(plain_text),
    "result_message_ref": _optional(plain_text),
    "failure_reason": _empty_if_none,
    "failure_message": _empty_if_none,
    "failure_detail": _empty_if_none,
    "cost": _optional(_float),
    "selfie_path": _optional(_path),
    "selfie_expires_at": _optional(time_text),
    "not_before": _optional(time_text),
    "delivery_nonce": _optional(plain_text),
    "task_seconds": _optional(_float),
}
if set(_ENCODERS) != UPDATABLE_FIELDS:  # pragma: no cover - a programming error
    raise RuntimeError("every updatable job field needs exactly one encoder")


def encode_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(fields) - UPDATABLE_FIELDS)
    if unknown:
        raise TypeError(f"these job fields cannot be set here: {', '.join(unknown)}")
    return {name: _ENCODERS[name](name, value) for name, value in fields.items()}
