"""Telegram results exactly once without reading history: a restart between the recorded intent
and the send keeps the result (the member is told to use /history), Send again posts it once;
a member who blocked the bot gets nothing posted and the result is kept."""

from __future__ import annotations

import asyncio

from bot.core.jobs.failures import FailureReason
from bot.core.jobs.ledger import JobState
from bot.frontends.telegram_bot.address import message_ids
from bot.frontends.telegram_bot.job_messages import ANSWER_LOST, SENDING, UNCERTAIN, UNDELIVERED
from bot.frontends.telegram_bot.kept import SendAgain, kept_keyboard
from tests.fakewiro import FakeWiro
from tests.support.telegram_jobs import telegram_jobs
from tests.telegram_standin import TelegramStandIn


async def test_a_restart_between_intent_and_send_keeps_the_result_then_send_again(tmp_path):
    async with (
        TelegramStandIn(save_dir=tmp_path / "sent", poll_timeout_scale=0.05) as tg,
        FakeWiro() as wiro,
    ):
        async with telegram_jobs(tmp_path, telegram=tg, wiro=wiro) as first:
            tg.faults.delay("sendPhoto", 2.0)  # the post is in flight when the bot stops
            job, asked = await first.ask(prompt="in flight")

            async def sending() -> None:
                while True:
                    fresh = await first.services.ledger.get(job.id)
                    if fresh is not None and fresh.delivery_nonce == SENDING:
                        return
                    await asyncio.sleep(0.02)  # polling the ledger, not timing

            await asyncio.wait_for(sending(), 15)
        tg.faults.clear()
        async with telegram_jobs(tmp_path, telegram=tg, wiro=wiro) as second:
            kept = await second.reaches(job, JobState.KEPT)
            assert kept.failure_reason == FailureReason.UNDELIVERED.value
            told = await tg.wait_message(lambda m: "/history" in (m.text or ""))
            assert told.reply_to_message_id == asked.message_id
            assert "restarted" in (told.text or "") and UNCERTAIN.startswith("Your portrait")
            photos_before = len([m for m in tg.sent(tg.private) if m.photo])
            assert second.services.results.has(job.id)

            # What /history attaches: a Send again button for the kept result.
            keyboard = kept_keyboard([kept])
            assert keyboard is not None
            history = await second.bot.send_message(tg.private.id, "history", reply_markup=keyboard)
            shown = tg.message(tg.private, history.message_id)
            press = tg.press_button(shown, SendAgain(job=job.id).pack(), user=tg.bob, check=True)
            assert (await tg.wait_answer(press)).show_alert  # not Bob's
            press = tg.press_button(shown, SendAgain(job=job.id).pack())
            await tg.wait_answer(press)
            done = await second.reaches(job, JobState.DELIVERED)
            photo = tg.message(tg.private, message_ids(done.result_message_ref)[0])
            assert photo.photo and photo.reply_to_message_id == history.message_id
            assert len([m for m in tg.sent(tg.private) if m.photo]) == photos_before + 1
            assert not second.services.results.has(job.id)
            again = tg.press_button(shown, SendAgain(job=job.id).pack())
            assert "already" in (await tg.wait_answer(again)).text


async def test_a_member_who_blocked_the_bot_gets_the_result_kept(tmp_path):
    async with telegram_jobs(tmp_path, DELIVERY_RETRY_MINUTES="0") as h:
        tg = h.telegram
        h.wiro.scenario.duration = 1.0
        job, _ = await h.ask(prompt="blocked")
        await tg.wait_message(lambda m: "Making" in (m.text or ""))
        tg.block_bot(tg.alice)
        kept = await h.reaches(job, JobState.KEPT, timeout=15)
        assert kept.failure_message == UNDELIVERED
        assert not [m for m in tg.sent(tg.private) if m.photo]
        assert h.services.results.load(job.id) is not None


async def test_a_post_whose_answer_was_lost_is_kept_not_sent_again(tmp_path):
    # Telegram has no idempotency key: a dropped connection or a 5xx may come after the photo
    # was posted, so the result is kept for /history instead of being posted a second time.
    async with telegram_jobs(tmp_path) as h:
        tg = h.telegram
        for fault in (
            lambda: tg.faults.drop("sendPhoto"),
            lambda: tg.faults.server_error("sendPhoto", status=502, description="Bad Gateway"),
        ):
            tries = len(tg.requests_to("sendPhoto"))
            fault()
            job, asked = await h.ask(prompt="answer lost")
            kept = await h.reaches(job, JobState.KEPT, timeout=15)
            assert kept.failure_message == ANSWER_LOST
            assert len(tg.requests_to("sendPhoto")) == tries + 1  # one try, never a second
            told = await tg.wait_message(
                lambda m, asked=asked: (
                    m.reply_to_message_id == asked.message_id and "/history" in (m.text or "")
                )
            )
            assert "did not confirm" in (told.text or "")
            assert h.services.results.has(job.id)
            tg.faults.clear()
