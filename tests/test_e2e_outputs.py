"""One broken output never costs the member the others: through the Discord stand-in, the real
bot and the fake Wiro over real HTTP. A paid result's good images are posted; the broken one is
dropped with one warning (its URL by host only), and the job fails only when none is left."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from bot.core.jobs.ledger import JobState
from bot.frontends.discord_bot.address import requester
from tests.discord_standin import DiscordStandIn
from tests.fakewiro import FakeWiro
from tests.support.bot_process import BotProcess, bot_env, eventually
from tests.support.images import selfie_jpeg
from tests.support.portrait_bot import portrait_bot

NO_PICTURE = "no picture I could post"
NOT_DOWNLOADED = "couldn't download it"


@pytest.fixture
async def bot(discord_server, fake_wiro, tmp_path):
    def quick_retries(bot):
        bot.services.wiro.retry_base_delay = 0.01

    async with portrait_bot(discord_server, fake_wiro, tmp_path, configure=quick_retries) as bot:
        yield bot


def portraits(discord_server):
    return [
        m
        for m in discord_server.messages.values()
        if m.attachments and not m.ephemeral and not m.deleted
    ]


async def ask(discord_server, **options):
    return await discord_server.slash(
        "portrait",
        {"seed": 3, **options},
        attachments={"selfie": ("me.jpg", selfie_jpeg(), "image/jpeg")},
    )


def failing(wiro: FakeWiro, status: int) -> Callable[[str], str]:
    """An `output_url` that makes the output's file answer `status` to every GET."""

    def output_url(url: str) -> str:
        wiro.fail(url.removeprefix(wiro.root_url), status=status, times=100)
        return url

    return output_url


def only_second(change: Callable[[str], str]) -> Callable[[str], str]:
    return lambda url: url if url.endswith("/0.png") else change(url)


def drop_warnings(caplog) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.WARNING and r.getMessage().startswith("Dropped Wiro output")
    ]


BROKEN_OUTPUTS = {
    "cdn-404": lambda wiro: lambda url: url.replace("/1.png", "/gone.png"),
    "cdn-502-after-retries": lambda wiro: failing(wiro, 502),
    "unparsable-url": lambda wiro: lambda url: "https://[evil.com].wiro.ai/1.png",
    "redirect-to-unparsable": lambda wiro: lambda url: wiro.redirect_url("http://[::1"),
    "redirect-to-backslash-host": lambda wiro: (
        lambda url: wiro.redirect_url("http://evil.com\\.wiro.ai/x.png")
    ),
    "off-wiro-host": lambda wiro: lambda url: url.replace("127.0.0.1", "localhost"),
}


@pytest.mark.parametrize("broken", list(BROKEN_OUTPUTS.values()), ids=list(BROKEN_OUTPUTS))
async def test_one_broken_output_drops_only_itself(bot, discord_server, fake_wiro, caplog, broken):
    caplog.set_level(logging.INFO)
    fake_wiro.scenario.output_url = only_second(broken(fake_wiro))
    rec = await ask(discord_server, samples=2)
    (posted,) = await discord_server.wait_for(portraits, timeout=15)
    assert [a.filename for a in posted.attachments] == ["portrait-3-1.png"]
    (warning,) = drop_warnings(caplog)
    assert "'1.png'" in warning and "[redacted]" in warning
    (task,) = fake_wiro.tasks.values()
    assert task.uuid not in caplog.text and "Traceback" not in caplog.text
    assert not any("❌" in m.content for m in rec.followups)
    (job,) = await bot.services.ledger.recent_for(requester(discord_server.member.id), limit=1)
    assert job.state is not JobState.FAILED


@pytest.mark.parametrize(
    ("broken", "told"),
    [
        (lambda wiro: lambda url: url.replace(".png", "-gone.png"), NOT_DOWNLOADED),
        (lambda wiro: failing(wiro, 503), NOT_DOWNLOADED),
        (lambda wiro: lambda url: "https://[evil.com].wiro.ai/1.png", NO_PICTURE),
        (lambda wiro: lambda url: wiro.redirect_url("http://[::1"), NO_PICTURE),
    ],
    ids=["all-404", "all-503", "all-unparsable", "all-redirect-unparsable"],
)
async def test_the_job_fails_only_when_no_output_is_left(
    bot, discord_server, fake_wiro, caplog, broken, told
):
    fake_wiro.scenario.output_url = broken(fake_wiro)
    rec = await ask(discord_server, samples=2)
    notice = await rec.wait_for(
        lambda r: next((m for m in r.followups if told in m.content), None), timeout=15
    )
    assert notice.ephemeral and not portraits(discord_server)
    assert len(drop_warnings(caplog)) == 2
    assert "Traceback" not in caplog.text


async def test_a_refused_output_and_a_failed_download_say_it_could_not_be_downloaded(
    bot, discord_server, fake_wiro
):
    # Trying again may work for the failed download: that is the true sentence.
    fake_wiro.scenario.output_url = lambda url: (
        url.replace("/0.png", "/gone.png")
        if url.endswith("/0.png")
        else url.replace("127.0.0.1", "localhost")
    )
    rec = await ask(discord_server, samples=2)
    await rec.wait_for(
        lambda r: next((m for m in r.followups if NOT_DOWNLOADED in m.content), None), timeout=15
    )
    assert not portraits(discord_server)


# ====================================================================== the log


async def test_a_debug_log_of_broken_outputs_never_shows_their_paths(tmp_path):
    """A real `python -m bot` at LOG_LEVEL=DEBUG: an output that 404s, one that redirects out of
    Wiro's hosts and one that is not an image. Every line about them names the host only."""
    async with (
        DiscordStandIn() as discord_server,
        FakeWiro("outputs-key-0001", "outputs-secret-01") as wiro,
    ):

        def output_url(url: str) -> str:
            if url.endswith("/0.png"):
                return url.replace("/0.png", "/gone.png")
            if url.endswith("/1.png"):
                return wiro.redirect_url(url.replace("127.0.0.1", "localhost"))
            return url

        wiro.scenario.output_url = output_url
        wiro.scenario.output_body = lambda i: ("text/html", b"<html>x</html>")
        env = bot_env(
            discord_server, wiro, tmp_path / "data", LOG_LEVEL="DEBUG", WIRO_REFRESH_CATALOG="false"
        )
        async with BotProcess(env, cwd=tmp_path) as bot:
            await discord_server.wait_for(
                lambda s: s.synced_global and s.gateway.connected, timeout=20
            )
            rec = await ask(discord_server, samples=3)
            await rec.wait_for(
                lambda r: next((m for m in r.followups if NOT_DOWNLOADED in m.content), None),
                timeout=30,
            )
            await eventually(
                lambda: wiro.calls["/Task/InputOutputDelete"], timeout=10, what="clean-up"
            )
            assert await bot.interrupt() == 0
    log = bot.output
    (task,) = wiro.tasks.values()
    dropped = [line for line in log.splitlines() if "Dropped Wiro output" in line]
    assert len(dropped) == 3, log
    assert all("/[redacted]" in line for line in dropped)
    assert task.uuid not in log and "/cdn/" not in log and "gone.png" not in log
    assert "Traceback" not in log
