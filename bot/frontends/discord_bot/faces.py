"""Saved faces on Discord: their wording, the autocomplete over a member's own faces, the list,
and saving a prepared selfie as a face (`/face save` and its "Save it anyway" button share it).

Faces' names are members' text: every answer shows them through `literal` (escaped), and
autocomplete choices through `choices` (invisible characters removed). Every answer is
private (ephemeral).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands

from bot.core.faces import (
    NAME_MAX,
    FaceError,
    FaceLimitReached,
    FaceNameInvalid,
    FaceNameTaken,
    FaceNotFound,
    FaceUnreadable,
    SavedFace,
)
from bot.core.request.face_check import SEVERAL_FACES
from bot.frontends.discord_bot.address import requester
from bot.frontends.discord_bot.text import CHOICES, choices, fit_embed, literal

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

__all__ = [
    "FACES_OFF",
    "FACES_UNREADABLE",
    "NO_FACES_YET",
    "face_choices",
    "face_error_message",
    "faces_embed",
    "limit_text",
    "no_such_face",
    "quoted",
    "save_face",
    "with_several",
]

FACES_OFF = "Saving faces is turned off on this bot. Attach a photo to `/portrait` instead."
FACES_UNREADABLE = (
    "I can't use saved faces right now: the bot's key for them is missing, damaged or was "
    "changed. Nothing was saved or spent. Attach a photo to `/portrait` instead, and please "
    "tell the bot's owner."
)
NO_FACES_YET = (
    "You have no saved faces yet. Save one with `/face save`: then `/portrait` works without "
    "attaching a photo."
)


def quoted(name: str) -> str:
    """A face's name as shown in a message: escaped, in quotes."""
    return f"“{literal(name)}”"


def no_such_face(name: str) -> str:
    return f"You have no saved face called {quoted(name)}. `/face list` shows yours."


def limit_text(limit: int) -> str:
    if limit <= 0:
        return FACES_OFF
    return (
        f"You already have {limit} saved face{'' if limit == 1 else 's'}, the most this bot "
        "keeps. Delete one with `/face delete` first, or rename one with `/face rename`."
    )


def face_error_message(error: FaceError | FaceUnreadable) -> str:
    """What the member is told for a refused face request (`bot.core.faces` errors)."""
    if isinstance(error, FaceUnreadable):
        return FACES_UNREADABLE
    if isinstance(error, FaceLimitReached):
        return limit_text(error.limit)
    if isinstance(error, FaceNameTaken):
        return f"You already have a face called {quoted(error.name)}: pick another name."
    if isinstance(error, FaceNameInvalid):
        return f"A face's name is 1 to {NAME_MAX} characters on one line. Please pick another name."
    if isinstance(error, FaceNotFound):
        return no_such_face(str(error.args[0]) if error.args else "")
    return "I couldn't do that with your saved faces."


async def face_choices(
    services: Services, interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    """Autocomplete over the member's own faces whose name contains ``current`` (any case),
    the default first."""
    faces = await services.faces.list(requester(interaction.user.id))
    wanted = current.strip().casefold()
    found = [face for face in faces if wanted in face.name.casefold()]
    found.sort(key=lambda face: not face.is_default)
    return choices([(_choice_name(face), face.name) for face in found], CHOICES)


def _choice_name(face: SavedFace) -> str:
    return f"{face.name} (default)" if face.is_default else face.name


# Discord's limit for an embed's description (characters).
DESCRIPTION_MAX = 4096


def _fitted(lines: list[str]) -> str:
    """Whole lines within `DESCRIPTION_MAX`, and how many more there are (never a line cut
    in the middle of an escape)."""
    shown: list[str] = []
    for index, line in enumerate(lines):
        more = f"\n…and {len(lines) - index} more"
        if len("\n".join([*shown, line])) + len(more) > DESCRIPTION_MAX:
            return "\n".join(shown) + more
        shown.append(line)
    return "\n".join(shown)


def faces_embed(faces: list[SavedFace], limit: int) -> discord.Embed:
    """`/face list`: the member's faces, oldest first, the default marked."""
    lines = [
        f"{'⭐' if face.is_default else '•'} {quoted(face.name)}"
        f"{' (default)' if face.is_default else ''} — saved "
        f"{discord.utils.format_dt(face.created_at, 'd')}"
        for face in faces
    ]
    embed = discord.Embed(title="Your saved faces", description=_fitted(lines))
    embed.set_footer(
        text=f"{len(faces)} of {limit}. /portrait uses the default face when you attach no "
        "photo, or pick one with its face option."
    )
    return fit_embed(embed)


async def save_face(services: Services, user_id: int, name: str, prepared: bytes) -> str:
    """Save ``prepared`` (a `PreparedSelfie`'s bytes, already face-checked) as the member's
    face ``name``; the answer to show (saved, or why not). Never raises a `FaceError` or
    `FaceUnreadable`: both become the answer."""
    try:
        face = await services.faces.save(requester(user_id), name, prepared)
    except (FaceError, FaceUnreadable) as error:
        if isinstance(error, FaceUnreadable):
            log.warning("A face could not be saved: %s", error.reason)
        return face_error_message(error)
    text = f"✅ Saved your face {quoted(face.name)}."
    if face.is_default:
        text += " It is your default: `/portrait` uses it when you attach no photo."
    else:
        text += " Pick it in `/portrait`'s `face` option, or make it your default with "
        text += "`/face default`."
    return text + "\n-# Kept encrypted until you delete it (`/face delete`) or use Forget me."


def with_several(text: str, several: bool) -> str:
    """``text`` with the note that the largest of several faces is used."""
    return f"{text}\n{SEVERAL_FACES}" if several else text
