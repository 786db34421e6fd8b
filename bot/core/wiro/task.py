"""Typed views of Wiro's task, file and output objects.

Wiro answers with flat JSON in which every task field is a string
(``"elapsedseconds": "6.0000"``, ``"pexit": "0"``). These classes parse that
leniently and keep the original mapping in ``raw``.

Success is not a status: both success and failure end in
``task_postprocess_end``; a task succeeded when ``pexit == "0"`` and it has
outputs. ``task_cancel`` is the only other terminal status. A persisted
``task_error`` is *not* terminal (Wiro may requeue); unknown statuses count as
running.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

__all__ = [
    "CANCELLED_STATUS",
    "DONE_STATUS",
    "ERROR_STATUS",
    "TERMINAL_STATUSES",
    "Stage",
    "Task",
    "TaskOutput",
    "TaskRef",
    "UploadedFile",
    "summarize_debug_error",
]

DONE_STATUS = "task_postprocess_end"
CANCELLED_STATUS = "task_cancel"
ERROR_STATUS = "task_error"
TERMINAL_STATUSES = frozenset({DONE_STATUS, CANCELLED_STATUS})


class Stage(StrEnum):
    """A coarse, user-facing grouping of Wiro's task statuses."""

    QUEUED = "queued"
    GENERATING = "generating"
    FINISHING = "finishing"
    DONE = "done"
    CANCELLED = "cancelled"
    ERROR = "error"


_STAGES: Mapping[str, Stage] = MappingProxyType(
    {
        "task_queue": Stage.QUEUED,
        "task_accept": Stage.QUEUED,
        "task_preprocess_start": Stage.QUEUED,
        "task_preprocess_end": Stage.QUEUED,
        "task_assign": Stage.QUEUED,
        "task_start": Stage.GENERATING,
        "task_output": Stage.GENERATING,
        "task_output_full": Stage.GENERATING,
        "task_end": Stage.FINISHING,
        "task_postprocess_start": Stage.FINISHING,
        DONE_STATUS: Stage.DONE,
        CANCELLED_STATUS: Stage.CANCELLED,
        ERROR_STATUS: Stage.ERROR,
    }
)


@dataclass(frozen=True)
class TaskRef:
    """What Run returns: enough to follow, cancel or kill a task."""

    task_id: str
    socket_token: str


@dataclass(frozen=True)
class UploadedFile:
    """A file stored by ``/File/Upload``; ``url`` is public and usable as ``inputImageUrl``."""

    url: str
    name: str
    size: int

    @classmethod
    def from_api(cls, raw: Mapping[str, object]) -> UploadedFile:
        return cls(
            url=_text(raw.get("url")), name=_text(raw.get("name")), size=_int(raw.get("size"))
        )


@dataclass(frozen=True)
class TaskOutput:
    """One output file of a finished task (a public CDN URL with a limited lifetime)."""

    name: str
    url: str
    content_type: str
    size: int

    @classmethod
    def from_api(cls, raw: Mapping[str, object]) -> TaskOutput:
        return cls(
            name=_text(raw.get("name")),
            url=_text(raw.get("url")),
            content_type=_text(raw.get("contenttype")),
            size=_int(raw.get("size")),
        )


@dataclass(frozen=True)
class Task:
    """A snapshot of one task as ``/Task/Detail`` reported it."""

    id: str
    socket_token: str
    status: str
    pexit: str
    debug_error: str
    outputs: tuple[TaskOutput, ...]
    elapsed_seconds: float | None
    total_cost: float | None
    raw: Mapping[str, object] = field(repr=False, compare=False, hash=False)

    @classmethod
    def from_api(cls, raw: Mapping[str, object]) -> Task:
        outputs = raw.get("outputs")
        return cls(
            id=_text(raw.get("id")),
            socket_token=_text(raw.get("socketaccesstoken")),
            status=_text(raw.get("status")),
            pexit=_text(raw.get("pexit")),
            debug_error=_text(raw.get("debugerror")),
            outputs=tuple(
                TaskOutput.from_api(item)
                for item in (outputs if isinstance(outputs, list) else [])
                if isinstance(item, Mapping)
            ),
            elapsed_seconds=_float(raw.get("elapsedseconds")),
            total_cost=_float(raw.get("totalcost")),
            raw=MappingProxyType(dict(raw)),
        )

    @property
    def ref(self) -> TaskRef:
        return TaskRef(task_id=self.id, socket_token=self.socket_token)

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def succeeded(self) -> bool:
        return self.status == DONE_STATUS and self.pexit == "0" and bool(self.outputs)

    @property
    def stage(self) -> Stage:
        known = _STAGES.get(self.status)
        if known is not None:
            return known
        # Unknown statuses are still running; place them by whether the task has started.
        started = _float(self.raw.get("starttime"))
        return Stage.GENERATING if started else Stage.QUEUED

    @property
    def debug_output(self) -> str:
        return _text(self.raw.get("debugoutput"))

    @property
    def progress(self) -> float | None:
        """Best-effort percentage (0-100) from the last ``NN%`` in ``debugoutput``, if any."""
        found = _PERCENT.findall(self.debug_output)
        if not found:
            return None
        return max(0.0, min(100.0, float(found[-1])))


_PERCENT = re.compile(r"(\d{1,3}(?:\.\d+)?)\s?%")
_NOISE = re.compile(r"^[\s^~\-=_|.]*$")


def summarize_debug_error(text: str, limit: int = 1500) -> str:
    """The last meaningful lines of a task's stderr, at most ``limit`` characters.

    Blank lines and traceback underline rows (``^^^^``) are dropped; the last
    line (usually the exception) is always kept, cut from the left if needed.
    """
    lines = [line.rstrip() for line in text.strip().splitlines()]
    lines = [line for line in lines if line and not _NOISE.match(line)]
    if not lines:
        return ""
    kept: list[str] = []
    size = 0
    for line in reversed(lines):
        extra = len(line) + (1 if kept else 0)
        if kept and size + extra > limit:
            break
        kept.append(line)
        size += extra
    result = "\n".join(reversed(kept))
    if len(result) > limit:
        result = "…" + result[-(limit - 1) :]
    return result


def _text(value: object) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def _int(value: object) -> int:
    try:
        return int(float(_text(value) or 0))
    except ValueError:
        return 0


def _float(value: object) -> float | None:
    text = _text(value).strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        return None
