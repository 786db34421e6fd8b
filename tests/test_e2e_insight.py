"""Insight through the real launcher, the Discord stand-in and the fake Wiro: the health check
runs at start-up, a `/portrait` leaves an audit entry that its end completes (outcome and
Wiro's totalcost), and the figures count it."""

from __future__ import annotations

import pytest

from bot.core.insight.health import HealthState
from tests.support.images import selfie_jpeg
from tests.support.insight import until


@pytest.fixture
def wiro(fake_wiro):
    return fake_wiro


async def test_a_portrait_is_audited_counted_and_wiro_checked_at_start_up(
    bot, discord_server, wiro
):
    services = bot.services
    await until(lambda: services.health.state is HealthState.OK, "the start-up check")
    assert wiro.calls["/Task/List"] >= 1 and services.health.checked_at is not None

    rec = await discord_server.slash(
        "portrait",
        {"prompt": "a lighthouse keeper", "samples": 2},
        attachments={"selfie": ("me.jpg", selfie_jpeg(), "image/jpeg")},
        user=discord_server.member,
    )
    await rec.wait_original(lambda m: "Selfie accepted" in m.content)
    scope = f"discord:guild:{discord_server.guild.id}"

    async def delivered() -> bool:
        entries = await services.audit.recent(scope)
        return bool(entries) and entries[0].outcome == "delivered"

    await until(delivered, "the audit entry completed", timeout=20)
    (entry,) = await services.audit.recent(scope)
    assert (entry.kind, entry.requester) == ("request", f"discord:{discord_server.member.id}")
    assert entry.prompt == "a lighthouse keeper" and entry.cost == 0.008  # 2 samples
    assert entry.member_name and entry.place and entry.style.startswith("model ")

    stats = await services.insight.stats(scope)
    assert (stats.delivered, stats.failed, stats.spend_day) == (1, 0, 0.008)
    assert [member.portraits for member in stats.top_members] == [1]
