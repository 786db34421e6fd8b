"""The whole bot on PostgreSQL: started by its own launcher with ``DATABASE_URL``, a /portrait
goes from the slash command to the posted result with every row in the database and no SQLite
file in the data folder."""

from __future__ import annotations

import asyncio

import asyncpg

from tests.support.images import selfie_jpeg
from tests.support.portrait_bot import portrait_bot


async def test_a_portrait_on_postgresql(discord_server, fake_wiro, tmp_path, postgres_database):
    database = postgres_database
    data = tmp_path / "data"
    async with portrait_bot(discord_server, fake_wiro, data, DATABASE_URL=database):
        rec = await discord_server.slash(
            "portrait",
            {"prompt": "a harbour at dusk", "seed": 7},
            attachments={"selfie": ("me.jpg", selfie_jpeg(), "image/jpeg")},
            user=discord_server.member,
        )
        await rec.wait_original(lambda m: "Selfie accepted" in m.content)
        await discord_server.wait_for(
            lambda s: [m for m in s.messages.values() if m.attachments and not m.ephemeral],
            timeout=15,
        )
        conn = await asyncpg.connect(database)
        try:
            for _ in range(100):  # the post is made, then the job recorded DELIVERED
                jobs = await conn.fetch("SELECT requester, state FROM jobs")
                if jobs and jobs[0][1] == "delivered":
                    break
                await asyncio.sleep(0.05)
            audit = await conn.fetch("SELECT outcome FROM audit_log")
        finally:
            await conn.close()
    member = f"discord:{discord_server.member.id}"
    assert [(row[0], row[1]) for row in jobs] == [(member, "delivered")]
    assert [row[0] for row in audit] == ["delivered"]  # the trigger followed the job
    assert not (data / "jobs.sqlite3").exists()
