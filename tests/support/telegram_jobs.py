"""The Telegram front end's job side, wired as the launcher will: real services (a SQLite
ledger in tmp, a Wiro client at the fake Wiro, the real dispatcher), `TelegramJobMessages`,
`buttons_router` in a small aiogram Dispatcher polling the Telegram stand-in. Jobs are queued
with `TelegramJobStarter` directly (the /portrait handler belongs to the app)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiogram import Bot
from aiogram import Dispatcher as AiogramDispatcher

from bot.core.jobs.ledger import Job, JobState
from bot.core.jobs.sqlite_ledger import SqliteLedger
from bot.core.request.options import resolve_options
from bot.core.wiro import PollSchedule, WiroClient, WiroSocket
from bot.frontends.telegram_bot.address import TelegramAddress
from bot.frontends.telegram_bot.buttons import buttons_router
from bot.frontends.telegram_bot.job_messages import TelegramJobMessages
from bot.frontends.telegram_bot.requests import TelegramJobStarter
from bot.services import Services, build_services
from bot.settings import load_settings
from tests.fakewiro import FakeWiro
from tests.support.images import selfie_jpeg
from tests.telegram_standin import TelegramStandIn
from tests.telegram_standin.harness import aiogram_bot, polling
from tests.telegram_standin.models import Chat, User
from tests.telegram_standin.records import StoredMessage


@dataclass
class TelegramJobs:
    telegram: TelegramStandIn
    wiro: FakeWiro
    bot: Bot
    services: Services
    frontend: TelegramJobMessages
    starter: TelegramJobStarter

    async def ask(
        self,
        chat: Chat | None = None,
        user: User | None = None,
        *,
        thread_id: int | None = None,
        name: str = "Alice",
        **options: Any,
    ) -> tuple[Job, StoredMessage]:
        """A member's message in ``chat`` and a job queued for it, as /portrait would."""
        chat = chat or self.telegram.private
        user = user or self.telegram.alice
        asked = self.telegram.send_text("my selfie", chat=chat, user=user, thread_id=thread_id)
        address = TelegramAddress(
            user_id=user.id,
            chat_id=chat.id,
            chat_type=chat.type,
            thread_id=thread_id,
            message_id=asked.message_id,
        )
        resolved = resolve_options(self.services.catalog, **options)
        job = await self.starter.start(address, resolved, selfie_jpeg(), member_name=name)
        assert isinstance(job, Job), job
        return job, asked

    async def state(self, job: Job) -> JobState:
        fresh = await self.services.ledger.get(job.id)
        assert fresh is not None
        return fresh.state

    async def reaches(self, job: Job, state: JobState, timeout: float = 10.0) -> Job:
        async def poll() -> Job:
            while True:
                fresh = await self.services.ledger.get(job.id)
                assert fresh is not None
                if fresh.state is state:
                    return fresh
                await asyncio.sleep(0.02)  # polling the ledger, not timing

        return await asyncio.wait_for(poll(), timeout)


@contextlib.asynccontextmanager
async def telegram_jobs(
    tmp_path: Path,
    *,
    telegram: TelegramStandIn | None = None,
    wiro: FakeWiro | None = None,
    start: bool = True,
    socket: bool = False,
    **env: str,
) -> AsyncIterator[TelegramJobs]:
    """See the module docstring; ``env`` overrides settings (e.g. DELIVERY_RETRY_MINUTES)."""
    async with contextlib.AsyncExitStack() as stack:
        if telegram is None:
            telegram = await stack.enter_async_context(
                TelegramStandIn(save_dir=tmp_path / "sent", poll_timeout_scale=0.05)
            )
        if wiro is None:
            wiro = await stack.enter_async_context(FakeWiro())
        settings = load_settings(
            {
                "WIRO_API_KEY": wiro.api_key,
                "WIRO_API_SECRET": wiro.api_secret,
                "WIRO_API_BASE": wiro.base_url,
                "BOT_DATA_DIR": str(tmp_path / "data"),
                "STATUS_EDIT_INTERVAL": "1",
                "MEMBER_COOLDOWN_SECONDS": "0",
                "MEMBER_MAX_ACTIVE_JOBS": "5",
                **env,
            },
        )
        bot = await stack.enter_async_context(aiogram_bot(telegram))
        ledger = await stack.enter_async_context(
            await SqliteLedger.open(SqliteLedger.default_path(settings.data_dir))
        )
        client = await stack.enter_async_context(
            WiroClient(
                api_key=wiro.api_key,
                api_secret=wiro.api_secret,
                base_url=wiro.base_url,
                poll_schedule=PollSchedule.constant(0.02),
                retry_base_delay=0.01,
            )
        )
        follower = None
        if socket:
            follower = await stack.enter_async_context(WiroSocket(wiro.socket_url))
        services = build_services(settings, client, ledger, follower)
        services.dispatcher.rules = dataclasses.replace(
            services.dispatcher.rules, delivery_first_pause=0.05
        )
        frontend = TelegramJobMessages(bot, services, interval=settings.status_edit_interval)
        stack.push_async_callback(frontend.close)
        services.add_frontend(frontend)
        starter = TelegramJobStarter(services.admission, frontend)
        dp = AiogramDispatcher()
        dp.include_router(buttons_router(services, frontend, starter))
        stack.push_async_callback(services.dispatcher.stop)
        if start:
            await services.dispatcher.start()
        await stack.enter_async_context(polling(dp, bot, telegram))
        yield TelegramJobs(telegram, wiro, bot, services, frontend, starter)
