"""Posting a finished portrait (all images, with the settings) or a failure.

A result goes the first way that takes it: the channel itself, then the interaction's webhook
(while its token lives), then a direct message. The channel comes first because only a plain
message carries a nonce Discord enforces (`enforce_nonce`): a resend after a crash returns the
message already posted instead of a second one, even where the bot cannot read the history.
Webhook follow-ups take no nonce, so they are the fallback, not the rule.

Every try builds its files afresh from the bytes (a file object read by a failed request would
upload nothing), a refused form (50035) is logged as the bug it is and posted again without the
refused part, and "too large" makes the images smaller, then one per message. Anything that
means "later" raises `DeliveryDeferred` unless it is the last try; the member is told the true
cause whenever a way was refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

import aiohttp
import discord

from bot.core.catalog import Catalog
from bot.core.jobs import FailureReason, PortraitFailed, PortraitImage, PortraitResult
from bot.core.jobs.delivery import DeliveryDeferred
from bot.core.result.files import DEFAULT_UPLOAD_LIMIT, fit_within
from bot.core.result.summary import summarize
from bot.frontends.discord_bot.refusals import Refusal, Verdict, read_refusal
from bot.frontends.discord_bot.reply import Reply
from bot.frontends.discord_bot.text import fit_embed, literal, visible

log = logging.getLogger(__name__)

EMBED_COLOUR = discord.Colour.from_rgb(124, 92, 255)
# Discord shows an attachment whose name starts with this blurred until it is clicked.
SPOILER_PREFIX = "SPOILER_"
# After Discord says "too large", images are fitted to this share of the upload limit.
SMALLER = 4
# What a failed request can raise: Discord's answers, its rate limit, no connection at all.
_REQUEST_ERRORS = (discord.HTTPException, discord.RateLimited, aiohttp.ClientError, OSError)


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
    # "job N ·" lets a restarted bot recognise a result it posted just before stopping (a split
    # result's parts say "job N · k/n ·": see `part_marker`).
    # Footers show no markdown, so the task id is only cleaned; it comes after the marker, so
    # fitting a long one never cuts the marker.
    job = f"job {job_id} · " if job_id is not None else ""
    embed.set_footer(text=f"wiro/instant-id-lora · {job}task {visible(result.task_id)}")
    return fit_embed(embed)


def as_spoilers(images: tuple[PortraitImage, ...]) -> tuple[PortraitImage, ...]:
    """The images renamed ``SPOILER_<name>``, which Discord shows blurred until clicked."""
    return tuple(
        image
        if image.filename.startswith(SPOILER_PREFIX)
        else replace(image, filename=SPOILER_PREFIX + image.filename)
        for image in images
    )


def wants_spoilers(job_params: dict[str, Any]) -> bool:
    """Whether a job's result goes out as spoilers (decided when it was asked for)."""
    return bool(job_params.get("spoiler"))


@dataclass(frozen=True)
class SplitParts:
    """Parts of a result split one image per message that are in the channel already:
    ``found`` maps a part's index (0 = the first, with the settings) to its message."""

    count: int
    found: dict[int, discord.Message]


def part_marker(job_id: int, part: int, count: int) -> str:
    """The footer marker of part ``part`` (0-based) of ``count``: "job 7 · 2/3 · ". A result
    posted whole carries "job 7 · " only; a restarted bot counts a split result as posted
    only when it finds every part."""
    return f"job {job_id} · {part + 1}/{count} · "


def read_marker(footer: str, job_id: int) -> tuple[int, int] | None:
    """(part, count) of this job's result in a footer: (0, 1) when it was posted whole, None
    when the footer is not this job's."""
    found = re.search(rf"\bjob {job_id} · (?:(\d+)/(\d+) · )?", footer)
    if found is None:
        return None
    if found[1] is None:
        return 0, 1
    return int(found[1]) - 1, int(found[2])


@dataclass(frozen=True)
class _Post:
    content: str
    images: tuple[PortraitImage, ...]
    embed: discord.Embed | None
    view: discord.ui.View | None
    mentions: discord.AllowedMentions
    limit: int


@dataclass(frozen=True)
class _Way:
    name: str  # for the member and the log: "the channel", "a direct message"...
    send: Callable[..., Awaitable[discord.Message]]
    nonce: str | None  # Discord deduplicates a resend with the same nonce (a few minutes)
    missing: Callable[[], list[str]] = list


class _Refused(Exception):
    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.detail)
        self.refusal = refusal


async def post_result(
    reply: Reply,
    result: PortraitResult,
    catalog: Catalog,
    *,
    job_id: int | None = None,
    nonce: str | None = None,
    view: discord.ui.View | None = None,
    last_try: bool = True,
    posted_parts: SplitParts | None = None,
) -> discord.Message:
    """Post every image in a message that mentions the member, the first way that takes it.

    ``posted_parts``: the parts of a split result already found in the channel (after a
    restart); the channel then posts only the missing parts, one image per message.
    Raises `DeliveryDeferred` when Discord answered "later" and this is not the last try,
    `PortraitFailed` (UNDELIVERED, with the true causes) when no way took it."""
    limit = reply.upload_limit or DEFAULT_UPLOAD_LIMIT
    images = await asyncio.to_thread(fit_within, result.images, limit)
    count = len(images)
    post = _Post(
        content=f"{reply.mention}, your portrait{'s are' if count > 1 else ' is'} ready!",
        images=images,
        embed=result_embed(result, catalog, reply.member_name, job_id),
        view=view,
        mentions=discord.AllowedMentions(users=[discord.Object(reply.target.member_id)]),
        limit=limit,
    )
    refused: list[tuple[_Way, Refusal]] = []
    ready = post.content
    for way in _ways(reply, nonce):
        if refused:  # the message itself says why it came this way
            post = replace(post, content=f"{ready} ({_why(refused)})")
        try:
            resumed = posted_parts if way.name == "the channel" else None
            message = await _post_whole(way, post, job_id, resumed)
        except _Refused as error:
            refusal = error.refusal
            if refusal.verdict is Verdict.LATER and not last_try:
                raise DeliveryDeferred(
                    f"{way.name}: {refusal.detail}", refusal.retry_after
                ) from None
            if refusal.verdict is not Verdict.DEAD_TOKEN:
                refused.append((way, refusal))
            continue
        if refused:
            await _tell_where_it_went(reply, job_id, refused, way)
        return message
    raise _undelivered(job_id, refused)


def _ways(reply: Reply, nonce: str | None) -> list[_Way]:
    ways = [
        _Way(
            "the channel",
            reply.channel_send,
            f"{nonce}c" if nonce else None,
            reply.missing_permissions,
        )
    ]
    if reply.token_alive():
        ways.append(_Way("the interaction", reply.webhook_send, None))
    ways.append(_Way("a direct message", reply.direct, f"{nonce}d" if nonce else None))
    return ways


async def _post_whole(
    way: _Way, post: _Post, job_id: int | None, resumed: SplitParts | None = None
) -> discord.Message:
    """One way, all the images; Discord's "form" and "too large" answers are worked around.
    A result found partly posted (``resumed``) goes on one image per message."""
    split = resumed is not None and resumed.count == len(post.images)
    found = resumed.found if resumed is not None and split else {}
    while True:
        try:
            if split:
                return await _post_split(way, post, job_id, found)
            return await _send(way, post, part=0)
        except _REQUEST_ERRORS as error:
            refusal = read_refusal(error, missing=way.missing() if _is_403(error) else ())
        if refusal.verdict is Verdict.FORM and (post.embed is not None or post.view is not None):
            log.error(
                "Bug: Discord refused the result of job %s as built (%s); posting it again "
                "without the refused part",
                job_id,
                refusal.detail,
            )
            post = _without_refused_part(post, refusal.detail)
            continue
        if refusal.verdict is Verdict.TOO_LARGE:
            smaller = post.limit // SMALLER
            if post.limit > DEFAULT_UPLOAD_LIMIT // SMALLER:
                images = await asyncio.to_thread(fit_within, post.images, smaller)
                post = replace(post, images=images, limit=smaller)
                continue
            if not split and len(post.images) > 1:
                split = True
                continue
        raise _Refused(refusal)


def _is_403(error: BaseException) -> bool:
    return isinstance(error, discord.HTTPException) and error.status == 403


def _without_refused_part(post: _Post, detail: str) -> _Post:
    if "embeds" in detail and post.embed is not None:
        return replace(post, embed=None)
    if "components" in detail and post.view is not None:
        return replace(post, view=None)
    return replace(post, embed=None, view=None)


async def _send(
    way: _Way,
    post: _Post,
    *,
    part: int,
    images: tuple[PortraitImage, ...] | None = None,
    embed: discord.Embed | None = None,
    nonce: str | None = None,
) -> discord.Message:
    kwargs: dict[str, Any] = {
        "content": post.content if part == 0 else f"{post.content} ({part + 1})",
        "files": [
            discord.File(io.BytesIO(image.data), filename=image.filename)
            for image in (post.images if images is None else images)
        ],
        "allowed_mentions": post.mentions,
    }
    embed = post.embed if embed is None and part == 0 else embed
    if embed is not None:
        kwargs["embed"] = embed
    if part == 0 and post.view is not None:
        kwargs["view"] = post.view
    nonce = nonce or way.nonce
    if nonce is not None:
        kwargs["nonce"] = nonce
    return await way.send(**kwargs)


async def _post_split(
    way: _Way, post: _Post, job_id: int | None, found: dict[int, discord.Message]
) -> discord.Message:
    """One image per message; the first carries the settings and buttons. Each part has its
    own footer marker and nonce (never the whole post's: a resend of the whole must not be
    answered with the first part), and parts in ``found`` are not posted again."""
    count = len(post.images)
    messages: list[discord.Message] = []
    for part, image in enumerate(post.images):
        if part in found:
            messages.append(found[part])
            continue
        nonce = f"{way.nonce}{part + 1}of{count}" if way.nonce else None
        messages.append(
            await _send(
                way,
                post,
                part=part,
                images=(image,),
                embed=_part_embed(post, job_id, part, count),
                nonce=nonce,
            )
        )
    return messages[0]


def _part_embed(post: _Post, job_id: int | None, part: int, count: int) -> discord.Embed | None:
    """The first part's settings, or a later part's bare footer, marked "job N · k/n"."""
    if post.embed is None or job_id is None:
        return None
    whole = post.embed.footer.text or ""
    footer = whole.replace(f"job {job_id} · ", part_marker(job_id, part, count), 1)
    embed = post.embed.copy() if part == 0 else discord.Embed(colour=EMBED_COLOUR)
    return embed.set_footer(text=footer)


async def _tell_where_it_went(
    reply: Reply, job_id: int | None, refused: list[tuple[_Way, Refusal]], went: _Way
) -> None:
    causes = "; ".join(f"{way.name}: {refusal.detail}" for way, refusal in refused)
    log.warning("Job %s: the result was refused (%s); delivered by %s", job_id, causes, went.name)
    if went.name == "a direct message":
        with contextlib.suppress(*_REQUEST_ERRORS):
            await reply.private(f"{_why(refused)}, so I sent your portrait to you by DM.")


def _why(refused: list[tuple[_Way, Refusal]]) -> str:
    way, refusal = refused[0]
    if way.name == "the channel":
        return f"I couldn't post it in the channel: {refusal.cause}"
    return f"I couldn't post it as usual: {refusal.cause}"


def _undelivered(job_id: int | None, refused: list[tuple[_Way, Refusal]]) -> PortraitFailed:
    causes = "; ".join(f"in {way.name}, {refusal.cause}" for way, refusal in refused)
    details = "; ".join(f"{way.name}: {refusal.detail}" for way, refusal in refused)
    return PortraitFailed(
        FailureReason.UNDELIVERED,
        f"Your portrait is ready, but I couldn't deliver it ({causes or 'no way was open'}). "
        "I've kept it for you: use `/portrait-history` and press **Send again**.",
        f"job {job_id} could not be posted anywhere: {details}",
    )


async def post_failure(reply: Reply, failure: PortraitFailed) -> None:
    """Tell the member privately; by direct message when the channel itself is out of reach."""
    try:
        # The reason may quote Wiro's error text: shown as text, never as markdown.
        await reply.private(f"❌ {literal(failure.message)}")
        return
    except _REQUEST_ERRORS as error:
        log.info("Could not tell the member in the channel why (%s); trying a DM", error)
    try:
        await reply.direct(content=f"❌ {literal(failure.message)}")
    except _REQUEST_ERRORS as error:
        log.warning("Could not tell the member why their portrait failed: %s", error)
