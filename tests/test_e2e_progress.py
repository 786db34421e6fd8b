"""Live progress through the whole bot: Wiro's WebSocket drives the status message, and polling
takes over when the socket fails."""

from __future__ import annotations

import re

import pytest

from tests.support.images import selfie_jpeg
from tests.support.portrait_bot import portrait_bot


def portraits(server):
    return [m for m in server.messages.values() if m.attachments and not m.deleted]


async def ask(server):
    return await server.slash(
        "portrait", attachments={"selfie": ("me.jpg", selfie_jpeg(), "image/jpeg")}
    )


def shown_texts(rec):
    status = next((m for m in rec.followups if "Making a portrait" in m.content), None)
    if status is None:
        return []
    return [status.content] + [
        edit.changes.get("content", "") for edit in status.edits if "content" in edit.changes
    ]


async def test_socket_progress_reaches_the_status_message(discord_server, fake_wiro, tmp_path):
    fake_wiro.scenario.duration = 4.0  # long enough for a few one-second status edits
    # A slow poll schedule: progress and the end can only arrive in time through the socket.
    async with portrait_bot(discord_server, fake_wiro, tmp_path, poll_interval=30.0):
        rec = await ask(discord_server)
        await discord_server.wait_for(portraits, timeout=15)
    percentages = [int(p) for text in shown_texts(rec) for p in re.findall(r"(\d+)%", text)]
    assert percentages, shown_texts(rec)
    assert percentages == sorted(percentages)
    assert fake_wiro.socket_connections == 1
    # About one confirmation per status Wiro announced (12 on the fake's timeline), none for the
    # progress messages; the delivery itself came long before the 30-second poll.
    assert fake_wiro.calls["/Task/Detail"] <= 14


@pytest.mark.parametrize("mode", ["refuse", "silent"])
async def test_without_a_working_socket_polling_delivers(discord_server, fake_wiro, tmp_path, mode):
    fake_wiro.scenario.socket = mode
    async with portrait_bot(discord_server, fake_wiro, tmp_path):
        await ask(discord_server)
        await discord_server.wait_for(portraits, timeout=15)
    assert len(portraits(discord_server)) == 1


async def test_a_socket_that_drops_mid_task_falls_back_to_polling(
    discord_server, fake_wiro, tmp_path
):
    fake_wiro.scenario.duration = 2.0
    async with portrait_bot(discord_server, fake_wiro, tmp_path):
        await ask(discord_server)
        await discord_server.wait_for(lambda s: fake_wiro.socket_connections >= 1, timeout=10)
        fake_wiro.scenario.socket = "refuse"
        fake_wiro.socket_drop()
        await discord_server.wait_for(portraits, timeout=15)
    assert len(portraits(discord_server)) == 1
