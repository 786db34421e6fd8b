"""What the bot did: messages it created, interaction responses, requests, syncs.

Every record carries ``time.monotonic()`` timestamps so benchmarks can measure latency.
Waiting is event based: records call ``Notifier.notify()`` on every change and
``wait_for`` re-checks its predicate only then (no sleep-polling).
"""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

EPHEMERAL = 1 << 6
LOADING = 1 << 7

T = TypeVar("T")


RECHECK = 0.05  # seconds


class Notifier:
    """Wakes every waiter whenever anything changes; waiters re-check their predicate."""

    def __init__(self, parent: Notifier | None = None) -> None:
        self._waiters: set[asyncio.Future[None]] = set()
        self._parent = parent

    def notify(self) -> None:
        for fut in self._waiters:
            if not fut.done():
                fut.set_result(None)
        self._waiters.clear()
        if self._parent is not None:
            self._parent.notify()

    async def wait_for(
        self, predicate: Callable[[], T], timeout: float, describe: Callable[[], str]
    ) -> T:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = predicate()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"condition not met within {timeout}s; state: {describe()}")
            fut: asyncio.Future[None] = loop.create_future()
            self._waiters.add(fut)
            try:
                # Woken by any change here; also re-checked every RECHECK seconds, as a
                # predicate may look at another server too (the fake Wiro's calls).
                await asyncio.wait_for(asyncio.shield(fut), min(remaining, RECHECK))
            except TimeoutError:
                pass
            finally:
                self._waiters.discard(fut)


@dataclass
class StoredAttachment:
    id: int
    filename: str
    data: bytes
    content_type: str | None
    url: str
    proxy_url: str
    description: str | None = None
    width: int | None = None
    height: int | None = None
    ephemeral: bool = False
    path: Path | None = None  # set when the stand-in was given a save_dir

    @property
    def size(self) -> int:
        return len(self.data)

    def open_image(self) -> Any:
        """The attachment as a Pillow image (Pillow imported lazily)."""
        from PIL import Image

        return Image.open(io.BytesIO(self.data))


@dataclass
class EditRecord:
    """One edit of a message: the fields the request changed and when."""

    at: float
    changes: dict[str, Any]
    via: str  # "callback", "webhook", "channel"


@dataclass
class StoredMessage:
    id: int
    channel_id: int
    guild_id: int | None
    author_id: int
    content: str = ""
    embeds: list[dict[str, Any]] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[StoredAttachment] = field(default_factory=list)
    flags: int = 0
    type: int = 0
    tts: bool = False
    created_at: float = field(default_factory=time.monotonic)
    timestamp: str = ""
    edited_timestamp: str | None = None
    edits: list[EditRecord] = field(default_factory=list)
    deleted: bool = False
    deleted_by: str | None = None  # "bot" or "user"
    deleted_at: float | None = None
    interaction_id: int | None = None
    is_interaction_response: bool = False
    is_original_response: bool = False
    webhook_id: int | None = None
    allowed_mentions: dict[str, Any] | None = None
    message_reference: dict[str, Any] | None = None
    nonce: str | None = None  # kept when it was sent with enforce_nonce
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & EPHEMERAL)

    @property
    def loading(self) -> bool:
        """True for a deferred ("thinking") response that has not been edited yet."""
        return bool(self.flags & LOADING)

    @property
    def last_changed_at(self) -> float:
        return self.edits[-1].at if self.edits else self.created_at

    def custom_ids(self) -> list[str]:
        """Every ``custom_id`` in the message's components (nested ones included)."""
        return [c["custom_id"] for c in iter_components(self.components) if "custom_id" in c]

    def component(self, custom_id: str) -> dict[str, Any] | None:
        return next(
            (c for c in iter_components(self.components) if c.get("custom_id") == custom_id),
            None,
        )

    def embed_text(self) -> str:
        """All human-readable embed text joined, handy for ``in`` assertions."""
        parts: list[str] = []
        for e in self.embeds:
            parts += [e.get("title") or "", e.get("description") or ""]
            parts += [(e.get("footer") or {}).get("text") or ""]
            parts += [(e.get("author") or {}).get("name") or ""]
            for f in e.get("fields") or []:
                parts += [f.get("name") or "", f.get("value") or ""]
        return "\n".join(p for p in parts if p)


def iter_components(components: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Flatten action rows, containers, sections and labels (components v1 and v2)."""
    out: list[dict[str, Any]] = []
    stack = list(reversed(components or []))
    while stack:
        comp = stack.pop()
        out.append(comp)
        children = list(comp.get("components") or [])
        for key in ("accessory", "component"):
            if isinstance(comp.get(key), dict):
                children.append(comp[key])
        stack.extend(reversed(children))
    return out


@dataclass
class CallbackRecord:
    """One ``POST /interactions/{id}/{token}/callback`` (accepted or rejected)."""

    at: float
    type: int
    data: dict[str, Any] | None
    status: int
    error_code: int | None = None
    with_response: bool = False


@dataclass
class InteractionRecord:
    """Handle returned by ``slash``/``autocomplete``/``click``/``select``/``submit_modal``."""

    id: int
    token: str
    type: int  # 2 command, 3 component, 4 autocomplete, 5 modal submit
    payload: dict[str, Any]
    user_id: int
    channel_id: int | None
    guild_id: int | None
    name: str | None = None  # command name ("portrait history") or custom_id
    sent_at: float = 0.0
    callbacks: list[CallbackRecord] = field(default_factory=list)
    ack_at: float | None = None
    callback_type: int | None = None
    original: StoredMessage | None = None
    followups: list[StoredMessage] = field(default_factory=list)
    choices: list[dict[str, Any]] | None = None
    modal: dict[str, Any] | None = None
    source_message: StoredMessage | None = None  # component/modal interactions
    expired: bool = False
    events: list[tuple[float, str, Any]] = field(default_factory=list)
    notifier: Notifier = field(default_factory=Notifier, repr=False)

    # --- derived views ---------------------------------------------------------
    @property
    def acknowledged(self) -> bool:
        return self.callback_type is not None

    @property
    def deferred(self) -> bool:
        return self.callback_type in (5, 6)

    @property
    def edits(self) -> list[EditRecord]:
        """Edits of the original response (or of the component's message for type 6/7)."""
        return self.original.edits if self.original else []

    @property
    def rejected_callbacks(self) -> list[CallbackRecord]:
        return [c for c in self.callbacks if c.status >= 300]

    @property
    def messages(self) -> list[StoredMessage]:
        """Original response (if any) followed by follow-ups, without duplicates (the first
        follow-up after a "thinking" defer *is* the original)."""
        out = [self.original] if self.original else []
        out += [m for m in self.followups if m is not self.original]
        return out

    def log(self, kind: str, detail: Any = None) -> None:
        self.events.append((time.monotonic(), kind, detail))
        self.notifier.notify()

    # --- waiting ----------------------------------------------------------------
    async def wait_for(
        self, predicate: Callable[[InteractionRecord], T], timeout: float = 5.0
    ) -> T:
        """Wait until ``predicate(self)`` is truthy; returns its value."""
        return await self.notifier.wait_for(lambda: predicate(self), timeout, self.describe)

    async def wait_ack(self, timeout: float = 5.0) -> int:
        await self.wait_for(lambda r: r.acknowledged, timeout)
        assert self.callback_type is not None
        return self.callback_type

    async def wait_choices(self, timeout: float = 5.0) -> list[dict[str, Any]]:
        await self.wait_for(lambda r: r.choices is not None, timeout)
        return self.choices or []

    async def wait_original(
        self,
        predicate: Callable[[StoredMessage], bool] = lambda m: not m.loading,
        timeout: float = 5.0,
    ) -> StoredMessage:
        """Wait for the original response to satisfy ``predicate`` (default: not loading)."""
        return await self.wait_for(
            lambda r: r.original if r.original and predicate(r.original) else None, timeout
        )

    async def wait_followups(self, count: int = 1, timeout: float = 5.0) -> list[StoredMessage]:
        await self.wait_for(lambda r: len(r.followups) >= count, timeout)
        return list(self.followups)

    def describe(self) -> str:
        orig = self.original
        return (
            f"interaction {self.name!r} type={self.type} callback_type={self.callback_type} "
            f"callbacks={[(c.type, c.status) for c in self.callbacks]} "
            f"original={(orig.content[:80], len(orig.attachments), orig.flags) if orig else None} "
            f"followups={len(self.followups)} choices={self.choices}"
        )


@dataclass
class RequestRecord:
    """Every HTTP request the stand-in answered, in arrival order."""

    method: str
    path: str
    query: dict[str, str]
    started_at: float
    status: int = 0
    finished_at: float | None = None
    json: Any = None
    files: list[tuple[str, str, bytes]] = field(default_factory=list)  # (field, name, data)
    route: str | None = None  # matched route template, None if unknown
    fault: str | None = None  # description of the fault that answered, if any

    @property
    def has_files(self) -> bool:
        return bool(self.files)


@dataclass
class SyncCall:
    at: float
    guild_id: int | None  # None = global
    commands: list[dict[str, Any]]


@dataclass
class TypingRecord:
    at: float
    channel_id: int
