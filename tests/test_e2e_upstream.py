"""Upstream is not trusted (issue 8), end to end: the real bot against the Discord stand-in and
the fake Wiro, which names outputs elsewhere, redirects, serves non-images, sends more files
than asked, answers Task/Detail with garbage, and fails tasks with raw tracebacks."""

from __future__ import annotations

import io
from dataclasses import replace

import pytest
from PIL import Image

from bot.core.jobs import JobLimits
from bot.core.jobs.failures import TECHNICAL_MESSAGE
from bot.core.jobs.ledger import JobState
from bot.frontends.discord_bot.address import requester
from tests.support.images import selfie_jpeg

NO_PICTURE = "sent back no picture I could post"
# Verbatim from shared/cases/instantid_noface_debugerror.txt: InstantID's face step with no face.
NO_FACE_INDEX_ERROR = (
    "Traceback (most recent call last):\n"
    '  File "/app/infer.py", line 88, in <module>\n'
    "    face_info = sorted(face_info, key=lambda x:(x['bbox'][2]-x['bbox'][0])"
    "*x['bbox'][3]-x['bbox'][1])[-1]  # only use the maximum face\n"
    "IndexError: list index out of range"
)
CUDA_OOM = (
    "Traceback (most recent call last):\n"
    '  File "/app/infer.py", line 120, in <module>\n'
    "    images = pipe(prompt, image_embeds=face_emb).images\n"
    "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB"
)


@pytest.fixture
def wiro(fake_wiro):
    return fake_wiro


def portraits(discord_server):
    return [
        m
        for m in discord_server.messages.values()
        if m.attachments and not m.ephemeral and not m.deleted
    ]


async def ask(discord_server, **options):
    return await discord_server.slash(
        "portrait", options, attachments={"selfie": ("me.jpg", selfie_jpeg(), "image/jpeg")}
    )


async def private_notice(rec, text):
    return await rec.wait_for(
        lambda r: next((m for m in r.followups if text in m.content), None), timeout=15
    )


def cdn_requests(wiro):
    return sum(count for path, count in wiro.calls.items() if path.startswith("/cdn/"))


def jpeg(_index: int) -> tuple[str, bytes]:
    out = io.BytesIO()
    Image.new("RGB", (320, 400), "navy").save(out, format="JPEG")
    return "image/png", out.getvalue()  # named and typed as a PNG by Wiro


# ====================================================================== output URLs


@pytest.mark.parametrize(
    "output_url",
    [
        lambda url: url.replace("127.0.0.1", "localhost"),
        lambda url: "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        lambda url: "file:///etc/passwd",
    ],
    ids=["foreign-host-on-loopback", "cloud-metadata", "file-scheme"],
)
async def test_outputs_outside_wiros_hosts_are_never_fetched_or_posted(
    bot, discord_server, wiro, output_url
):
    wiro.scenario.output_url = output_url
    rec = await ask(discord_server)
    notice = await private_notice(rec, NO_PICTURE)
    assert notice.ephemeral
    assert not portraits(discord_server)
    assert cdn_requests(wiro) == 0
    (task,) = wiro.tasks.values()
    # The job is over: its files go, as after any failure.
    await discord_server.wait_for(lambda s: task.files_deleted, timeout=5)


async def test_a_redirect_out_of_wiros_hosts_is_not_followed(bot, discord_server, wiro):
    wiro.scenario.output_url = lambda url: wiro.redirect_url(url.replace("127.0.0.1", "localhost"))
    rec = await ask(discord_server)
    await private_notice(rec, NO_PICTURE)
    assert not portraits(discord_server)
    assert wiro.calls["/redirect"] == 1 and cdn_requests(wiro) == 0


async def test_a_redirect_within_wiros_hosts_is_followed(bot, discord_server, wiro):
    wiro.scenario.output_url = wiro.redirect_url
    await ask(discord_server)
    (posted,) = await discord_server.wait_for(portraits, timeout=15)
    assert posted.attachments[0].open_image().format == "PNG"
    assert wiro.calls["/redirect"] == 1 and cdn_requests(wiro) == 1


# ====================================================================== what is posted


async def test_a_text_output_is_never_posted_and_the_member_is_told(bot, discord_server, wiro):
    wiro.scenario.output_body = lambda i: ("image/png", b"this is not a picture\n" * 10)
    rec = await ask(discord_server)
    notice = await private_notice(rec, NO_PICTURE)
    assert notice.ephemeral
    assert not portraits(discord_server)
    assert not any(a.data.startswith(b"this is not") for m in discord_server.messages.values()
                   for a in m.attachments)  # fmt: skip


async def test_only_the_real_images_of_a_mixed_result_are_posted(bot, discord_server, wiro):
    wiro.scenario.output_body = lambda i: (
        ("text/html", b"<html>oops</html>") if i == 0 else ("image/png", jpeg(i)[1])
    )
    await ask(discord_server, samples=2, seed=7)
    (posted,) = await discord_server.wait_for(portraits, timeout=15)
    assert [a.filename for a in posted.attachments] == ["portrait-7-1.jpg"]


async def test_the_extension_follows_the_decoded_format(bot, discord_server, wiro):
    wiro.scenario.output_body = jpeg
    await ask(discord_server, seed=42)
    (posted,) = await discord_server.wait_for(portraits, timeout=15)
    (attachment,) = posted.attachments
    assert attachment.filename == "portrait-42-1.jpg"
    assert attachment.open_image().format == "JPEG"


async def test_outputs_beyond_samples_are_not_posted(bot, discord_server, wiro):
    wiro.scenario.extra_outputs = 3
    await ask(discord_server, samples=2, seed=5)
    (posted,) = await discord_server.wait_for(portraits, timeout=15)
    assert [a.filename for a in posted.attachments] == ["portrait-5-1.png", "portrait-5-2.png"]
    (task,) = wiro.tasks.values()
    assert len(task.outputs) == 5
    assert cdn_requests(wiro) == 2  # the extra files are not even downloaded
    (job,) = await bot.services.ledger.recent_for(requester(discord_server.member.id), limit=1)
    assert len(job.outputs) == 2


# ====================================================================== garbage answers


async def test_garbage_task_detail_answers_for_a_while_still_deliver(bot, discord_server, wiro):
    wiro.scenario.duration = 1.0
    spell = wiro.fail("/Task/Detail", status=200, body="<html>upstream hiccup</html>", seconds=1.0)
    await ask(discord_server)
    await discord_server.wait_for(portraits, timeout=15)
    assert len(portraits(discord_server)) == 1
    assert wiro.calls["/Run/wiro/instant-id-lora"] == 1
    # The polls back off (50 ms doubling to 400 ms) however many socket events arrive: a
    # handful in the spell of one second, not one per socket event or per 50 ms.
    assert 1 <= spell.hits <= 12


async def test_garbage_task_detail_for_good_fails_stops_the_task_and_deletes_its_files(
    bot, discord_server, wiro
):
    bot.dispatcher.rules = replace(
        bot.dispatcher.rules, job_limits=JobLimits(timeout=30, poll_failure_budget=0.5)
    )
    wiro.scenario.duration = None  # the task would run until stopped
    wiro.fail("/Task/Detail", status=200, body="not json at all", times=100_000)
    rec = await ask(discord_server)
    notice = await private_notice(rec, "isn't answering")
    assert notice.ephemeral
    (task,) = wiro.tasks.values()
    assert task.status == "task_cancel"
    assert wiro.calls["/Task/Cancel"] + wiro.calls["/Task/Kill"] >= 1
    await discord_server.wait_for(lambda s: task.files_deleted, timeout=5)
    assert wiro.calls["/Task/InputOutputDelete"] == 1


# ====================================================================== failure texts


@pytest.mark.parametrize(
    ("debug_error", "told", "never"),
    [
        (NO_FACE_INDEX_ERROR, "usable face", "IndexError"),
        (CUDA_OOM, TECHNICAL_MESSAGE, "CUDA"),
        ("", TECHNICAL_MESSAGE, "exit code"),
    ],
    ids=["no-face-indexerror", "cuda-oom", "empty-debugerror"],
)
async def test_failure_texts_are_plain_and_never_raw(
    bot, discord_server, wiro, debug_error, told, never
):
    wiro.scenario.outcome = "fail"
    wiro.scenario.debug_error = debug_error
    rec = await ask(discord_server)
    notice = await private_notice(rec, told)
    assert notice.ephemeral
    for message in [*rec.followups, *discord_server.messages.values()]:
        assert never not in message.content and "Traceback" not in message.content
    if told != TECHNICAL_MESSAGE:
        assert "selfie" in notice.content  # tips for a better photo
    (job,) = await bot.services.ledger.recent_for(requester(discord_server.member.id), limit=1)
    assert job.state is JobState.FAILED
    assert debug_error.splitlines()[-1:] == [] or debug_error.splitlines()[-1] in job.failure_detail
