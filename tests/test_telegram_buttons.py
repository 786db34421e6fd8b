"""Every Telegram button through the stand-in and the fake Wiro: who may press it (others get
an alert and nothing is spent), what it starts, and that it works from the ledger alone."""

from __future__ import annotations

import asyncio

from bot.core.jobs.ledger import Job, JobState
from bot.core.request.options import LIKENESS_RANGE
from bot.frontends.telegram_bot.callbacks import (
    Action,
    CancelButton,
    RestylePage,
    RestylePick,
    ResultButton,
)
from bot.frontends.telegram_bot.edits import STYLES_CHANGED
from tests.support.telegram_jobs import TelegramJobs, telegram_jobs
from tests.telegram_standin.records import StoredMessage

RUN = "/Run/wiro/instant-id-lora"


async def delivered(h: TelegramJobs, chat=None, **options) -> tuple[Job, StoredMessage]:
    job, _ = await h.ask(chat, **options)
    done = await h.reaches(job, JobState.DELIVERED, timeout=15)
    result = h.telegram.message(chat or h.telegram.private, int(done.result_message_ref))
    return done, result


def data(action: Action, job: Job) -> str:
    return ResultButton(action=action, job=job.id).pack()


async def newest_job(h: TelegramJobs, than: Job) -> Job:
    """The member's job queued after ``than`` (the press is answered before it is queued)."""

    async def find() -> Job:
        while True:
            jobs = await h.services.ledger.recent_for(than.requester, 1)
            if jobs and jobs[0].id > than.id:
                return jobs[0]
            await asyncio.sleep(0.02)  # polling the ledger, not timing

    return await asyncio.wait_for(find(), 10)


async def test_reroll_likeness_and_other_members(tmp_path):
    async with telegram_jobs(tmp_path) as h:
        tg = h.telegram
        job, result = await delivered(h, tg.group, likeness=LIKENESS_RANGE[1])
        runs = h.wiro.calls[RUN]
        for action in (
            Action.REROLL,
            Action.MORE_LIKE_ME,
            Action.EDIT_PROMPT,
            Action.DETAILS,
            Action.ORIGINAL,
            Action.DELETE,
        ):
            press = tg.press_button(result, data(action, job), user=tg.bob)
            answer = await tg.wait_answer(press)
            assert answer.show_alert and "Only the member who asked" in answer.text
        # At the bound, More like me says so and spends nothing.
        answer = await tg.wait_answer(tg.press_button(result, data(Action.MORE_LIKE_ME, job)))
        assert answer.show_alert and "highest" in answer.text
        assert h.wiro.calls[RUN] == runs
        # Re-roll: a new job, same settings, new seed, its status replying to the result.
        answer = await tg.wait_answer(tg.press_button(result, data(Action.REROLL, job)))
        assert not answer.show_alert
        new = await newest_job(h, job)
        assert new.params["options"]["seed"] != job.params["options"]["seed"]
        assert new.params["options"]["prompt"] == job.params["options"]["prompt"]
        await h.reaches(new, JobState.DELIVERED, timeout=15)
        assert h.wiro.calls[RUN] == runs + 1
        # Less like me: same seed, one step down.
        await tg.wait_answer(tg.press_button(result, data(Action.LESS_LIKE_ME, job)))
        less = await newest_job(h, new)
        assert less.params["options"]["likeness"] == round(LIKENESS_RANGE[1] - 0.1, 2)
        assert less.params["options"]["seed"] == job.params["options"]["seed"]


async def test_restyle_pages_picks_and_notices_a_changed_catalog(tmp_path):
    async with telegram_jobs(tmp_path) as h:
        tg = h.telegram
        job, result = await delivered(h)
        await tg.wait_answer(tg.press_button(result, RestylePage(job=job.id, page=0).pack()))
        await tg.wait_for(
            lambda s: any(
                d.startswith("ps:")
                for d in s.message(tg.private, result.message_id).callback_datas()
            )
        )
        shown = tg.message(tg.private, result.message_id)
        pages = [d for d in shown.callback_datas() if d.startswith("pp:")]
        if len(pages) > 1:  # page forward
            forward = RestylePage(job=job.id, page=1).pack()
            await tg.wait_answer(tg.press_button(shown, forward))
        forged = RestylePick(job=job.id, index=0, check="zzzz").pack()
        answer = await tg.wait_answer(tg.press_button(shown, forged, check=False))
        assert answer.show_alert and answer.text == STYLES_CHANGED
        runs = h.wiro.calls[RUN]
        shown = tg.message(tg.private, result.message_id)
        pick = next(d for d in shown.callback_datas() if d.startswith("ps:"))
        answer = await tg.wait_answer(tg.press_button(shown, pick))
        assert not answer.show_alert
        new = await newest_job(h, job)
        await h.reaches(new, JobState.DELIVERED, timeout=15)
        assert h.wiro.calls[RUN] == runs + 1
        assert new.params["options"]["seed"] == job.params["options"]["seed"]
        await tg.wait_for(
            lambda s: (
                data(Action.REROLL, job)
                in s.message(tg.private, result.message_id).callback_datas()
            )
        )


async def test_edit_prompt_asks_with_a_forced_reply_and_the_reply_starts_the_job(tmp_path):
    async with telegram_jobs(tmp_path) as h:
        tg = h.telegram
        job, result = await delivered(h, tg.group, prompt="old prompt")
        await tg.wait_answer(tg.press_button(result, data(Action.EDIT_PROMPT, job)))
        question = await tg.wait_message(lambda m: "new prompt" in (m.text or ""), chat=tg.group)
        assert question.reply_markup and question.reply_markup.get("force_reply")
        assert "old prompt" in (question.text or "")
        # Bob's reply is refused; a bad flag is refused; both cost nothing.
        runs = h.wiro.calls[RUN]
        tg.reply_to_message(question, "bob's idea", user=tg.bob)
        await tg.wait_message(lambda m: "Only the member" in (m.text or ""), chat=tg.group)
        tg.reply_to_message(question, "new <prompt> --steps 999")
        await tg.wait_message(
            lambda m: "Steps" in (m.text or "") and "⚠️" in (m.text or ""), chat=tg.group
        )
        assert h.wiro.calls[RUN] == runs
        tg.reply_to_message(question, "a knight's portrait --steps 20")
        await tg.wait_for(lambda s: h.wiro.calls[RUN] == runs + 1, 15)
        new = await newest_job(h, job)
        assert new.params["options"]["prompt"] == "a knight's portrait"
        assert new.params["options"]["steps"] == 20
        assert new.params["options"]["seed"] == job.params["options"]["seed"]


async def test_details_original_file_and_delete(tmp_path):
    async with telegram_jobs(tmp_path) as h:
        tg = h.telegram
        job, result = await delivered(h, tg.group, prompt="files")
        await tg.wait_answer(tg.press_button(result, data(Action.DETAILS, job)))
        shown = await tg.wait_message(
            lambda m: "exact settings" in (m.content or ""), chat=tg.group
        )
        assert "/portrait files" in shown.content
        await tg.wait_answer(tg.press_button(result, data(Action.ORIGINAL, job)))
        original = await tg.wait_message(lambda m: m.document is not None, chat=tg.group)
        assert original.files[0].data.startswith(b"\x89PNG")
        # Dave administers the group: he may delete it; the selfie and originals go too.
        answer = await tg.wait_answer(
            tg.press_button(result, data(Action.DELETE, job), user=tg.dave)
        )
        assert not answer.show_alert
        assert tg.message(tg.group, result.message_id).deleted
        gone = await h.services.ledger.get(job.id)
        assert gone.selfie_path is None
        # An old copy of the buttons (another message) pressed later: the files are gone.
        answer = await tg.wait_answer(
            tg.press_button(shown, data(Action.ORIGINAL, job), check=False)
        )
        assert answer.show_alert and "no longer kept" in answer.text
        answer = await tg.wait_answer(tg.press_button(shown, data(Action.REROLL, job), check=False))
        assert answer.show_alert and "selfie" in answer.text


async def test_cancel_by_another_member_is_refused_and_by_an_admin_allowed(tmp_path):
    async with telegram_jobs(tmp_path, start=False) as h:
        tg = h.telegram
        job, _ = await h.ask(tg.forum, thread_id=tg.topic_id)
        status = await tg.wait_message(lambda m: "Making" in (m.text or ""), chat=tg.forum)
        assert status.message_thread_id == tg.topic_id
        answer = await tg.wait_answer(
            tg.press_button(status, CancelButton(job=job.id).pack(), user=tg.bob)
        )
        assert answer.show_alert and "administrator" in answer.text
        assert await h.state(job) is JobState.QUEUED
        answer = await tg.wait_answer(
            tg.press_button(status, CancelButton(job=job.id).pack(), user=tg.carol)
        )
        assert "Cancelled" in answer.text
        assert await h.state(job) is JobState.CANCELLED
        assert h.wiro.calls[RUN] == 0
