"""The Telegram side of a job's life through the Telegram stand-in and the fake Wiro: the status
message and its paced edits, the result (one photo, an album and its buttons message), failures,
cancel, and delivery exactly once across restarts."""

from __future__ import annotations

import itertools

from bot.core.jobs.ledger import JobState
from bot.frontends.telegram_bot.address import message_ids
from bot.frontends.telegram_bot.callbacks import Action, CancelButton, ResultButton
from tests.support.telegram_jobs import telegram_jobs
from tests.telegram_standin import NOT_MODIFIED, TelegramStandIn
from tests.telegram_standin.records import StoredMessage


def is_result(message: StoredMessage) -> bool:
    return message.photo is not None or message.document is not None


async def test_a_single_result_replies_with_its_caption_and_buttons(tmp_path):
    async with telegram_jobs(tmp_path) as h:
        tg = h.telegram
        job, asked = await h.ask(prompt="astronaut <b>on</b> the moon & stars")
        status = await tg.wait_message(lambda m: m.text is not None and "Making" in m.text)
        assert status.reply_to_message_id == asked.message_id
        assert status.reply_markup is not None
        assert status.callback_datas() == [CancelButton(job=job.id).pack()]

        result = await tg.wait_message(is_result, timeout=10)
        assert result.photo is not None and result.reply_to_message_id == asked.message_id
        assert "astronaut <b>on</b> the moon & stars" in (result.caption or "")  # escaped
        datas = result.callback_datas()
        assert ResultButton(action=Action.REROLL, job=job.id).pack() in datas
        assert ResultButton(action=Action.DELETE, job=job.id).pack() in datas
        done = await h.reaches(job, JobState.DELIVERED)
        assert message_ids(done.result_message_ref) == [result.message_id]
        await tg.wait_for(lambda s: s.message(tg.private, status.message_id).deleted)


async def test_several_samples_are_an_album_then_a_message_with_the_buttons(tmp_path):
    async with telegram_jobs(tmp_path) as h:
        tg = h.telegram
        job, asked = await h.ask(prompt="oil painting", samples=3)
        done = await h.reaches(job, JobState.DELIVERED, timeout=15)
        photos = [m for m in tg.sent(tg.private) if m.photo is not None]
        assert len(photos) == 3 and len({m.media_group_id for m in photos}) == 1
        assert photos[0].reply_to_message_id == asked.message_id
        buttons = [
            m for m in tg.sent(tg.private) if m.reply_markup and m.text and "portraits" in m.text
        ]
        assert len(buttons) == 1
        assert ResultButton(action=Action.REROLL, job=job.id).pack() in (
            buttons[0].callback_datas()
        )
        ids = message_ids(done.result_message_ref)
        assert ids == [*(m.message_id for m in photos), buttons[0].message_id]


async def test_the_caption_fits_1024_with_the_longest_prompt(tmp_path):
    async with telegram_jobs(tmp_path) as h:
        job, _ = await h.ask(prompt="<&> " * 250, negative_prompt="x" * 1000, name="N" * 300)
        await h.reaches(job, JobState.DELIVERED)
        result = await h.telegram.wait_message(is_result)
        assert 0 < len(result.caption or "") <= 1024
        assert "Seed" in (result.caption or "") and "Likeness" in (result.caption or "")


async def test_progress_edits_are_paced_and_survive_429_not_modified_and_not_found(tmp_path):
    async with telegram_jobs(tmp_path, socket=True) as h:
        tg, wiro = h.telegram, h.wiro
        wiro.scenario.duration = 6.0  # long enough for a few one-second status edits
        tg.faults.retry_after("editMessageText", 1, times=1)
        tg.faults.bad_request("editMessageText", NOT_MODIFIED, times=1)
        job, _ = await h.ask(prompt="paced")
        status = await tg.wait_message(lambda m: m.text is not None and "Making" in m.text)

        def shown(s: TelegramStandIn) -> str:
            return s.message(tg.private, status.message_id).text or ""

        await tg.wait_for(lambda s: "Generating" in shown(s), 10)
        await tg.wait_for(lambda s: "%" in shown(s), 10)  # Wiro's socket progress
        edits = tg.message(tg.private, status.message_id).edits
        times = [e.at for e in edits]
        assert all(b - a >= 0.95 for a, b in itertools.pairwise(times))
        assert any(r.status == 429 for r in tg.requests_to("editMessageText"))
        # The member deletes the status: the bot stops editing it, and the job goes on.
        tg.faults.bad_request("editMessageText", "message to edit not found")

        def refused(s: TelegramStandIn) -> bool:
            return any(
                "not found" in (r.description or "") for r in s.requests_to("editMessageText")
            )

        await tg.wait_for(refused, 10)
        count = len(tg.requests_to("editMessageText"))
        await h.reaches(job, JobState.DELIVERED, timeout=15)
        assert len(tg.requests_to("editMessageText")) == count


async def _task_started(h, job) -> str:
    fresh = await h.reaches(job, JobState.RUNNING)
    assert fresh.wiro_task_id
    return fresh.wiro_task_id


async def test_a_failure_is_told_escaped_and_the_status_removed(tmp_path):
    async with telegram_jobs(tmp_path) as h:
        h.wiro.scenario.outcome = "no_face"
        job, asked = await h.ask(prompt="x")
        await h.reaches(job, JobState.FAILED, timeout=15)
        told = await h.telegram.wait_message(lambda m: m.text is not None and "⚠️" in m.text)
        assert told.reply_to_message_id == asked.message_id
        status = h.telegram.sent(h.telegram.private, include_deleted=True)[0]
        assert status.deleted


async def test_cancel_by_the_member_edits_the_status(tmp_path):
    async with telegram_jobs(tmp_path, start=False) as h:
        job, _ = await h.ask(prompt="x")
        tg = h.telegram
        status = await tg.wait_message(lambda m: m.text is not None and "Making" in m.text)
        answer = await tg.wait_answer(tg.press_button(status, CancelButton(job=job.id).pack()))
        assert "Cancelled" in answer.text
        assert await h.state(job) is JobState.CANCELLED
        await tg.wait_for(
            lambda s: "cancelled" in (s.message(tg.private, status.message_id).text or "")
        )
        assert not tg.message(tg.private, status.message_id).reply_markup
        assert h.wiro.calls["/File/Upload"] == 0
