"""What Discord's answers mean for a post, and the cause a member is told (pure logic)."""

from __future__ import annotations

from types import SimpleNamespace

import aiohttp
import discord
import pytest

from bot.frontends.discord_bot.refusals import Verdict, read_refusal


def answer(status: int, code: int = 0, text: str = "", **headers: str) -> discord.HTTPException:
    response = SimpleNamespace(status=status, reason="", headers=headers)
    error_type = {403: discord.Forbidden, 404: discord.NotFound}.get(status, discord.HTTPException)
    if status >= 500:
        error_type = discord.DiscordServerError
    return error_type(response, {"code": code, "message": text})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "error",
    [
        answer(429, text="You are being rate limited.", **{"Retry-After": "7"}),
        answer(429, 30046, "Maximum number of edits"),
        answer(500, text="500: Internal Server Error"),
        answer(503),
        discord.RateLimited(42.0),
        aiohttp.ClientConnectionError("reset"),
        TimeoutError(),
    ],
    ids=["429-cloudflare", "429-30046", "500", "503", "rate-limited", "connection", "timeout"],
)
def test_temporary_answers_mean_later(error: BaseException) -> None:
    refusal = read_refusal(error)
    assert refusal.verdict is Verdict.LATER
    assert "permission" not in refusal.cause


def test_later_carries_the_wait_discord_asked_for() -> None:
    assert read_refusal(answer(429, **{"Retry-After": "7"})).retry_after == 7.0
    assert read_refusal(discord.RateLimited(42.0)).retry_after == 42.0
    assert read_refusal(answer(503)).retry_after is None


@pytest.mark.parametrize(
    ("error", "verdict", "cause"),
    [
        (answer(404, 10003, "Unknown Channel"), Verdict.REFUSED, "the channel no longer exists"),
        (answer(404, 0, "404: Not Found"), Verdict.REFUSED, "the channel no longer exists"),
        (answer(403, 50001, "Missing Access"), Verdict.REFUSED, "View Channel"),
        (answer(403, 50007, "Cannot send"), Verdict.REFUSED, "direct messages are closed"),
        (answer(400, 50083, "Thread is archived"), Verdict.REFUSED, "the thread is archived"),
        (answer(400, 50035, "Invalid Form Body"), Verdict.FORM, "refused the message"),
        (answer(413, 40005, "Request entity too large"), Verdict.TOO_LARGE, "too large"),
        (answer(413), Verdict.TOO_LARGE, "too large"),
        (answer(404, 10015, "Unknown Webhook"), Verdict.DEAD_TOKEN, ""),
        (answer(401, 50027, "Invalid Webhook Token"), Verdict.DEAD_TOKEN, ""),
        (answer(404, 10062, "Unknown interaction"), Verdict.DEAD_TOKEN, ""),
    ],
)
def test_lasting_answers_name_their_true_cause(error, verdict, cause) -> None:
    refusal = read_refusal(error)
    assert refusal.verdict is verdict
    assert cause in refusal.cause


def test_a_missing_permission_is_named_when_the_cache_knows_it() -> None:
    refused = answer(403, 50013, "Missing Permissions")
    assert (
        "missing the Attach Files permission"
        in read_refusal(refused, missing=["attach_files"]).cause
    )
    both = read_refusal(refused, missing=["send_messages", "attach_files"]).cause
    assert "Send Messages and Attach Files" in both
    assert "Send Messages or Attach Files" in read_refusal(refused).cause
