"""``TelegramStandIn``: a local Telegram Bot API server for the real, unmodified aiogram
client (``AiohttpSession(api=TelegramAPIServer.from_base(standin.base_url))``)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import re
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web

from . import payloads
from .errors import ApiError, error_response, ok_response
from .faults import Faults, RateLimits
from .members import MemberActions
from .methods_misc import METHODS
from .models import Chat, World
from .params import Params, read_params
from .records import (
    CallbackQueryRecord,
    CommandsCall,
    Notifier,
    RequestRecord,
    StoredMessage,
)
from .updates import UpdateQueue

log = logging.getLogger("telegram_standin")
T = TypeVar("T")
METHOD_PATH = re.compile(r"^/bot(?P<token>[^/]+)/(?P<method>[A-Za-z]*)/?$")
FILE_PATH = re.compile(r"^/file/bot(?P<token>[^/]+)/(?P<path>.+)$")


class TelegramStandIn(MemberActions):
    """``async with TelegramStandIn() as telegram:`` serves ``/bot<token>/<method>`` and
    ``/file/bot<token>/<path>`` at ``telegram.base_url`` (127.0.0.1, random port).

    Fixtures: ``alice`` and ``bob`` (members), ``carol`` (group creator), ``dave`` (group
    administrator); ``private`` (alice's private chat with the bot), ``group`` (a basic
    group), ``forum`` (a forum supergroup) with the topic ``topic_id`` ("Portraits").
    """

    def __init__(
        self,
        *,
        bot_id: int = 7_000_000_001,
        bot_username: str = "PortraitTestBot",
        secret: str = "standin-secret-AAbbCC",
        save_dir: str | Path | None = None,
        strict_rate_limits: bool = False,
        poll_timeout_scale: float = 1.0,
    ) -> None:
        self.token = f"{bot_id}:{secret}"
        self.save_dir = Path(save_dir) if save_dir is not None else None
        self.poll_timeout_scale = poll_timeout_scale  # <1 shortens long polls in tests
        self.world = World(bot_id, bot_username)
        self.notifier = Notifier()
        self.faults = Faults()
        self.rate_limits = RateLimits()
        if strict_rate_limits:
            self.rate_limits.enable()
        self.updates = UpdateQueue(self.notifier)
        self.closing = asyncio.Event()
        # records
        self.requests: list[RequestRecord] = []
        self.unknown_methods: list[str] = []
        self.internal_errors: list[str] = []
        self.callback_queries: dict[str, CallbackQueryRecord] = {}
        self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.commands_calls: list[CommandsCall] = []
        self.chat_actions: list[tuple[float, int, str, int | None]] = []
        self._media_groups = itertools.count(3_000_000_000_001)
        self._runner: web.AppRunner | None = None
        self.port = 0
        self._build_fixtures()

    def _build_fixtures(self) -> None:
        world = self.world
        self.alice = world.add_user("Alice", "alice")
        self.bob = world.add_user("Bob", "bob")
        self.carol = world.add_user("Carol", "carol")
        self.dave = world.add_user("Dave", "dave")
        self.private: Chat = world.private_chat(self.alice)
        members = {self.carol: "creator", self.dave: "administrator"}
        members |= {self.alice: "member", self.bob: "member"}
        self.group: Chat = world.add_group("Portrait Group", members)
        self.forum: Chat = world.add_group("Portrait Forum", members, forum=True)
        self.topic_id = world.add_topic(self.forum, "Portraits")

    # --- lifecycle ------------------------------------------------------------------------
    async def __aenter__(self) -> TelegramStandIn:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        self.closing = asyncio.Event()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        # handler_cancellation: a long poll whose client went away stops waiting.
        self._runner = web.AppRunner(
            app, shutdown_timeout=1.0, access_log=None, handler_cancellation=True
        )
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()

    async def stop(self) -> None:
        self.closing.set()
        await self.updates.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def interruptible_sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.closing.wait(), seconds)

    @property
    def base_url(self) -> str:
        """What ``TELEGRAM_API_BASE`` / ``TelegramAPIServer.from_base`` must be set to."""
        return f"http://127.0.0.1:{self.port}"

    # --- HTTP -------------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        method_match = METHOD_PATH.match(request.path)
        file_match = FILE_PATH.match(request.path)
        name = method_match["method"] if method_match else "file" if file_match else "?"
        record = RequestRecord(request.method, name, time.monotonic())
        self.requests.append(record)
        try:
            response = await self._answer(request, record, method_match, file_match)
        except ApiError as exc:
            record.description = exc.description
            response = exc.response()
        except Exception as exc:  # a stand-in bug: loud in records and in the answer
            log.exception("stand-in failed on %s", name)
            self.internal_errors.append(f"{name}: {exc!r}")
            response = error_response(500, f"Internal Server Error: stand-in bug {exc!r}")
        record.status = response.status
        record.finished_at = time.monotonic()
        self.notifier.notify()
        return response

    async def _answer(
        self,
        request: web.Request,
        record: RequestRecord,
        method_match: re.Match[str] | None,
        file_match: re.Match[str] | None,
    ) -> web.StreamResponse:
        match = method_match or file_match
        if match is None:
            self.unknown_methods.append(request.path.split("/", 2)[-1][:40])
            raise ApiError(404, "Not Found")
        if match["token"] != self.token:
            raise ApiError(401, "Unauthorized")
        params = await read_params(request) if method_match else Params()
        record.params = params.public()
        record.files = list(params.files.values())
        delay, fault = self.faults.select(record)
        if delay:
            record.fault = f"delayed {delay}s"
            await self.interruptible_sleep(delay)
        if fault is not None:
            record.fault = fault.describe()
            if fault.kind == "drop":
                if request.transport is not None:
                    request.transport.close()
                return web.Response(status=499)
            assert fault.error is not None
            raise fault.error
        if file_match:
            stored = self.world.file_by_path(file_match["path"])
            if stored is None:
                raise ApiError(404, "Not Found")
            return web.Response(
                body=stored.data,
                content_type=stored.mime_type or "application/octet-stream",
            )
        handler = METHODS.get(match["method"].lower())
        if handler is None:
            self.unknown_methods.append(match["method"])
            raise ApiError(404, "Not Found")
        return ok_response(await handler(self, params))

    # --- used by the method handlers ---------------------------------------------------------
    def store_bot_message(self, chat: Chat, msg: StoredMessage) -> dict[str, Any]:
        """Give ``msg`` the chat's next id, keep it, save its files; the API result."""
        msg.message_id = chat.new_message_id()
        msg.created_at = time.monotonic()
        self.world.messages[(chat.id, msg.message_id)] = msg
        if self.save_dir is not None:
            self.save_dir.mkdir(parents=True, exist_ok=True)
            for index, saved in enumerate(msg.files):
                path = self.save_dir / f"{chat.id}_{msg.message_id}_{index}_{saved.filename}"
                path.write_bytes(saved.data)
                saved.path = path
        self.notifier.notify()
        return payloads.message(msg, self.world)

    def next_media_group(self) -> int:
        return next(self._media_groups)

    # --- queries --------------------------------------------------------------------------------
    def sent(
        self, chat: Chat | int | None = None, *, include_deleted: bool = False
    ) -> list[StoredMessage]:
        """The bot's messages (in ``chat`` if given), in sending order."""
        chat_id = getattr(chat, "id", chat)
        return [
            m
            for m in self.world.messages.values()
            if m.from_bot
            and (chat_id is None or m.chat_id == chat_id)
            and (include_deleted or not m.deleted)
        ]

    def message(self, chat: Chat | int, message_id: int) -> StoredMessage | None:
        return self.world.messages.get((getattr(chat, "id", chat), message_id))

    def requests_to(self, method: str) -> list[RequestRecord]:
        return [r for r in self.requests if r.method.lower() == method.lower()]

    async def wait_for(self, predicate: Callable[[TelegramStandIn], T], timeout: float = 5.0) -> T:
        """Wait until ``predicate(self)`` is truthy (re-checked on every recorded change)."""
        return await self.notifier.wait_for(
            lambda: predicate(self), timeout, lambda: f"{len(self.requests)} requests"
        )

    async def wait_message(
        self,
        predicate: Callable[[StoredMessage], bool] = lambda m: True,
        *,
        chat: Chat | int | None = None,
        after: int = 0,
        timeout: float = 5.0,
    ) -> StoredMessage:
        """The first bot message (in ``chat``, skipping the first ``after`` ones) matching
        ``predicate``, waiting up to ``timeout`` seconds for it."""

        def find(_: TelegramStandIn) -> StoredMessage | None:
            return next((m for m in self.sent(chat)[after:] if predicate(m)), None)

        return await self.wait_for(find, timeout)

    async def wait_answer(self, query: CallbackQueryRecord, timeout: float = 5.0) -> Any:
        """The first answerCallbackQuery of ``query``."""
        await self.wait_for(lambda s: query.answered, timeout)
        return query.answers[0]
