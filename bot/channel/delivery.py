"""Posting a finished portrait (all images in one message, with the settings) or a failure."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging

import discord

from bot.catalog import Catalog
from bot.channel.reply import Reply
from bot.channel.text import fit_embed, literal, visible
from bot.jobs import PortraitFailed, PortraitResult
from bot.result.files import DEFAULT_UPLOAD_LIMIT, fit_within
from bot.result.summary import summarize

log = logging.getLogger(__name__)

EMBED_COLOUR = discord.Colour.from_rgb(124, 92, 255)


def result_embed(
    result: PortraitResult, catalog: Catalog, member_name: str, job_id: int | None = None
) -> discord.Embed:
    """The settings under a result. The member's name and prompt and Wiro's labels are shown
    as text (markdown escaped); the whole embed fits Discord's Embed Limits."""
    summary = summarize(result.options, catalog, result.elapsed)
    embed = discord.Embed(
        title=f"Portrait of {literal(member_name)}",
        description=literal(summary.prompt),
        colour=EMBED_COLOUR,
    )
    for name, value in summary.fields:
        embed.add_field(name=name, value=literal(value), inline=True)
    # "job N ·" lets a restarted bot recognise a result it posted just before stopping.
    # Footers show no markdown, so the task id is only cleaned; it comes after the marker, so
    # fitting a long one never cuts the marker.
    job = f"job {job_id} · " if job_id is not None else ""
    embed.set_footer(text=f"wiro/instant-id-lora · {job}task {visible(result.task_id)}")
    return fit_embed(embed)


async def post_result(
    reply: Reply,
    result: PortraitResult,
    catalog: Catalog,
    *,
    job_id: int | None = None,
    view: discord.ui.View | None = None,
) -> discord.Message:
    """Post every image in one message that mentions the member. Falls back to a direct
    message when the channel refuses files, so a paid result is never dropped silently."""
    limit = reply.upload_limit or DEFAULT_UPLOAD_LIMIT
    images = await asyncio.to_thread(fit_within, result.images, limit)
    count = len(images)
    content = f"{reply.mention}, your portrait{'s are' if count > 1 else ' is'} ready!"
    embed = result_embed(result, catalog, reply.member_name, job_id)
    mentions = discord.AllowedMentions(users=[discord.Object(reply.target.member_id)])
    extra = {"view": view} if view is not None else {}

    def files() -> list[discord.File]:
        return [discord.File(io.BytesIO(image.data), filename=image.filename) for image in images]

    try:
        return await reply.public(
            content=content, embed=embed, files=files(), allowed_mentions=mentions, **extra
        )
    except discord.Forbidden as error:
        log.warning(
            "Channel refused the result of task %s (%s); sending it by DM", result.task_id, error
        )
    dm = await reply.direct(
        content="I couldn't post your portrait in the channel (missing permission), so here it is.",
        embed=embed,
        files=files(),
        **extra,
    )
    with contextlib.suppress(discord.HTTPException):
        await reply.private(
            "I wasn't allowed to post images in this channel, so I sent your portrait by DM."
        )
    return dm


async def post_failure(reply: Reply, failure: PortraitFailed) -> None:
    try:
        # The reason may quote Wiro's error text: shown as text, never as markdown.
        await reply.private(f"❌ {literal(failure.message)}")
    except discord.HTTPException as error:
        log.warning("Could not tell the member why their portrait failed: %s", error)
