"""Exactly-once Telegram updates across restarts, and both front ends in one process.

An update is recorded in the ledger's inbox before Telegram hears it was received (the next
getUpdates offset); a restart handles what was recorded but not done, and skips what Telegram
delivers again. The stand-in's delayed getUpdates keeps an update unconfirmed (as a crash
right after receiving it would), so it is really delivered a second time."""

from __future__ import annotations

import itertools

import aiohttp
import pytest

from bot.core.jobs.sqlite_ledger import SqliteLedger
from bot.frontends.telegram_bot.callbacks import Action, ResultButton
from tests.discord_standin import DiscordStandIn
from tests.support.images import selfie_jpeg
from tests.support.telegram_bot import telegram_bot
from tests.telegram_standin import TelegramStandIn

RUN = "/Run/wiro/instant-id-lora"


@pytest.fixture
async def telegram(tmp_path):
    async with TelegramStandIn(save_dir=tmp_path / "sent") as server:
        yield server
        assert server.internal_errors == []


def cut_short(app):
    """Leaving the block cancels updates being handled at once (as a crash would)."""
    app.drain_seconds = 0


async def inbox_rows(data_dir):
    async with await SqliteLedger.open(SqliteLedger.default_path(data_dir)) as ledger:
        rows = await ledger._fetch("SELECT update_id, done_at FROM inbox ORDER BY update_id")
        return [(row[0], row[1]) for row in rows]


async def test_an_update_cut_short_is_handled_after_the_restart_once(telegram, fake_wiro, tmp_path):
    data = tmp_path / "data"
    async with telegram_bot(telegram, fake_wiro, data, configure=cut_short):
        telegram.faults.delay("getUpdates", 60)  # the next poll would confirm: hold it
        telegram.faults.delay("getFile", 60)  # the handler hangs fetching the selfie
        asked = telegram.send_photo(selfie_jpeg(), caption="/portrait restarted --seed 9")
        await telegram.wait_for(lambda s: s.requests_to("getFile"))
    assert await inbox_rows(data) == [(asked.update_id, None)]  # recorded, not done
    assert asked.update_id in [u["update_id"] for u in telegram.updates.pending]
    assert fake_wiro.calls[RUN] == 0
    telegram.faults.clear()

    async with telegram_bot(telegram, fake_wiro, data):
        result = await telegram.wait_message(
            lambda m: m.photo is not None and m.reply_to_message_id == asked.message_id,
            timeout=15,
        )
        # Telegram delivered it again; the inbox knew it: one job, one run, one result.
        await telegram.wait_for(lambda s: asked.update_id in s.updates.confirmed)
        assert telegram.updates.delivery_counts[asked.update_id] == 2
    assert result is not None
    assert fake_wiro.calls[RUN] == 1
    assert len([m for m in telegram.sent() if m.photo is not None]) == 1
    statuses = [m for m in telegram.sent(include_deleted=True) if "Making a portrait" in m.content]
    assert len(statuses) == 1
    ((update_id, done_at),) = await inbox_rows(data)
    assert update_id == asked.update_id and done_at is not None


async def test_an_update_whose_job_was_queued_does_not_queue_a_second(
    telegram, fake_wiro, tmp_path
):
    data = tmp_path / "data"
    async with telegram_bot(telegram, fake_wiro, data, configure=cut_short) as app:
        telegram.faults.delay("getUpdates", 60)
        # The job is queued, then its status message hangs: the handler never finishes.
        telegram.faults.delay("sendMessage", 60)
        asked = telegram.send_photo(selfie_jpeg(), caption="/portrait once --seed 3")
        await telegram.wait_for(lambda s: s.requests_to("sendMessage"))
        jobs = await app.services.ledger.recent_for(f"telegram:{telegram.alice.id}")
        assert [job.params["origin"] for job in jobs] == [
            f"telegram:{app.bot.id}:{asked.update_id}"
        ]
    assert await inbox_rows(data) == [(asked.update_id, None)]
    telegram.faults.clear()

    async with telegram_bot(telegram, fake_wiro, data) as app:
        await telegram.wait_message(
            lambda m: m.photo is not None and m.reply_to_message_id == asked.message_id,
            timeout=15,
        )
        await telegram.wait_for(lambda s: asked.update_id in s.updates.confirmed)
        jobs = await app.services.ledger.recent_for(f"telegram:{telegram.alice.id}")
        assert len(jobs) == 1
    assert fake_wiro.calls[RUN] == 1
    assert len([m for m in telegram.sent() if m.photo is not None]) == 1
    assert [done is not None for _, done in await inbox_rows(data)] == [True]


async def test_a_handled_update_delivered_again_is_skipped(telegram, fake_wiro, tmp_path):
    data = tmp_path / "data"
    async with telegram_bot(telegram, fake_wiro, data) as app:
        telegram.faults.delay("getUpdates", 60)  # never confirmed by this process
        asked = telegram.send_text("/help")
        await telegram.wait_message(lambda m: m.reply_to_message_id == asked.message_id)
        await telegram.wait_for(lambda _: app.inbox.handled == 1)
    telegram.faults.clear()
    async with telegram_bot(telegram, fake_wiro, data) as app:
        await telegram.wait_for(lambda s: asked.update_id in s.updates.confirmed)
    assert telegram.updates.delivery_counts[asked.update_id] == 2
    answers = [m for m in telegram.sent() if m.reply_to_message_id == asked.message_id]
    assert len(answers) == 1


async def test_webhook_mode_records_before_answering_and_checks_the_secret(
    telegram, fake_wiro, tmp_path, unused_tcp_port
):
    url = f"http://127.0.0.1:{unused_tcp_port}/telegram/updates"
    env = {
        "TELEGRAM_WEBHOOK_URL": url,
        "TELEGRAM_WEBHOOK_PORT": str(unused_tcp_port),
        "TELEGRAM_WEBHOOK_SECRET": "s3cret_for-tests",
    }
    async with telegram_bot(telegram, fake_wiro, tmp_path / "data", **env):
        assert telegram.updates.webhook.url == url
        asked = telegram.send_photo(selfie_jpeg(), caption="/portrait by webhook")
        await telegram.wait_message(
            lambda m: m.photo is not None and m.reply_to_message_id == asked.message_id,
            timeout=15,
        )
        # A forged call without the secret is refused and makes nothing.
        async with aiohttp.ClientSession() as session:
            forged = {"update_id": 1, "message": {"message_id": 1}}
            async with session.post(url, json=forged) as response:
                assert response.status == 401
            headers = {"X-Telegram-Bot-Api-Secret-Token": "wrong"}
            async with session.post(url, json=forged, headers=headers) as response:
                assert response.status == 401
    assert fake_wiro.calls[RUN] == 1
    assert {d.secret_header for d in telegram.updates.webhook_deliveries} == {"s3cret_for-tests"}
    assert telegram.requests_to("getUpdates") == []


# ====================================================================== both front ends


async def test_discord_and_telegram_in_one_process_share_the_wiro_limit(
    telegram, fake_wiro, tmp_path
):
    async with (
        DiscordStandIn() as discord_server,
        telegram_bot(
            telegram,
            fake_wiro,
            tmp_path / "data",
            discord_server=discord_server,
            MAX_RUNNING_TASKS="1",
        ) as app,
    ):
        assert app.services.frontends.serves("discord")
        assert app.services.frontends.serves("telegram")
        asks = [
            telegram.send_photo(selfie_jpeg(), caption="/portrait telegram one"),
            telegram.send_photo(
                selfie_jpeg(),
                caption="/portrait telegram two",
                chat=telegram.world.private_chat(telegram.bob),
            ),
        ]
        slash = await discord_server.slash(
            "portrait",
            {"prompt": "discord one"},
            attachments={"selfie": ("me.jpg", selfie_jpeg(), "image/jpeg")},
            user=discord_server.member,
        )
        for asked in asks:
            await telegram.wait_message(
                lambda m, asked=asked: (
                    m.photo is not None
                    and m.chat_id == asked.chat_id
                    and m.reply_to_message_id == asked.message_id
                ),
                timeout=20,
            )
        await discord_server.wait_for(
            lambda s: [m for m in s.messages.values() if m.attachments and not m.ephemeral],
            timeout=20,
        )
        assert slash is not None
    assert fake_wiro.calls[RUN] == 3
    tasks = sorted(fake_wiro.tasks.values(), key=lambda task: task.created)
    for before, after in itertools.pairwise(tasks):
        # The bot starts a task only after it saw the one before end: never two at once.
        assert after.created >= before.created + before.duration
    prompts = sorted(str(run["prompt"]) for run in fake_wiro.runs)
    assert [p.split(",")[0] for p in prompts] == [
        "discord one", "telegram one", "telegram two"
    ]  # fmt: skip


async def test_a_button_press_whose_job_was_queued_does_not_queue_a_second(
    telegram, fake_wiro, tmp_path
):
    data = tmp_path / "data"
    # No cooldown, and the press may come before the first job is marked delivered.
    calm = {"MEMBER_COOLDOWN_SECONDS": "0", "MEMBER_MAX_ACTIVE_JOBS": "2"}
    async with telegram_bot(telegram, fake_wiro, data, configure=cut_short, **calm) as app:
        asked = telegram.send_photo(selfie_jpeg(), caption="/portrait first --seed 5")
        result = await telegram.wait_message(
            lambda m: m.photo is not None and m.reply_to_message_id == asked.message_id,
            timeout=15,
        )
        await telegram.wait_for(lambda _: app.inbox.handled == 1)
        telegram.faults.delay("sendMessage", 60)  # the re-roll's status message hangs
        (job,) = await app.services.ledger.recent_for(f"telegram:{telegram.alice.id}")
        before = len(telegram.requests_to("sendMessage"))
        press = telegram.press_button(result, ResultButton(action=Action.REROLL, job=job.id).pack())
        await telegram.wait_for(lambda s: len(s.requests_to("sendMessage")) > before)
        jobs = await app.services.ledger.recent_for(f"telegram:{telegram.alice.id}")
        assert len(jobs) == 2  # queued; the handler is then cut short
    telegram.faults.clear()

    assert (press.update_id, None) in await inbox_rows(data)  # recorded, never done
    async with telegram_bot(telegram, fake_wiro, data, **calm) as app:
        await telegram.wait_for(lambda _: app.inbox.handled >= 1)  # handled again at start
        await telegram.wait_message(
            lambda m: m.photo is not None and m.message_id != result.message_id, timeout=15
        )
        jobs = await app.services.ledger.recent_for(f"telegram:{telegram.alice.id}")
        assert len(jobs) == 2  # the press handled again made no second re-roll
    assert fake_wiro.calls[RUN] == 2
    assert all(done is not None for _, done in await inbox_rows(data))
