"""Button payloads (aiogram ``CallbackData``) that carry only ids, so a button keeps working
after restarts and for days: the job is looked up in the ledger when it is pressed.

Bot API: ``callback_data`` is 1-64 bytes (/work/shared/specs/telegram-facts.md). The longest
payload here, a restyle pick for a 10-digit job id, is ``"ps:9999999999:999:ffff"`` (22 bytes).
A restyle pick names the style by its index in `restyle_listing` (an id may be long) plus a
short checksum of its id, so a catalog that changed since the button was sent is noticed
instead of silently picking another style.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from enum import StrEnum

from aiogram.filters.callback_data import CallbackData

from bot.core.catalog import Catalog
from bot.core.policy.model import EffectivePolicy

CALLBACK_DATA_MAX_BYTES = 64
JOB_ID_MAX = 9_999_999_999  # ten digits: what the size test covers


class Action(StrEnum):
    """What a result button does (two letters each, to keep payloads short)."""

    REROLL = "rr"  # same settings, new seed
    LESS_LIKE_ME = "ld"  # same seed, likeness one step down
    MORE_LIKE_ME = "lu"  # same seed, likeness one step up
    EDIT_PROMPT = "ep"  # ask for a new prompt with a forced reply
    DETAILS = "dt"
    ORIGINAL = "of"  # the uncompressed PNG(s) as documents
    DELETE = "dl"
    BACK = "bk"  # from the restyle keyboard back to the result keyboard


class ResultButton(CallbackData, prefix="pr"):
    action: Action
    job: int


class RestylePage(CallbackData, prefix="pp"):
    """Show page ``page`` (0-based) of the restyle keyboard of ``job``."""

    job: int
    page: int


class RestylePick(CallbackData, prefix="ps"):
    """Make ``job`` again in the style ``restyle_listing(catalog)[index]``; ``check`` is
    `style_check` of that style's id when the button was made."""

    job: int
    index: int
    check: str


class CancelButton(CallbackData, prefix="pc"):
    job: int


@dataclass(frozen=True)
class StyleChoice:
    """One entry of the restyle listing: a base model, a LoRA, or ``lora`` with ``id`` None
    (no LoRA)."""

    kind: str  # "model" or "lora"
    id: str | None
    name: str  # readable name, for the button


def restyle_listing(catalog: Catalog) -> list[StyleChoice]:
    """The models, then "No LoRA", then the LoRAs, in catalog order (indexes are stable for
    a given catalog)."""
    listing = [StyleChoice("model", m.id, m.readable_name) for m in catalog.models]
    listing.append(StyleChoice("lora", None, "No LoRA"))
    listing += [StyleChoice("lora", lo.id, lo.readable_name) for lo in catalog.loras]
    return listing


def style_check(style_id: str | None) -> str:
    """Four hex digits of CRC-32 of the id (not a secret: it only detects a changed list)."""
    return f"{zlib.crc32((style_id or '').encode()) & 0xFFFF:04x}"


def pick_button(job_id: int, index: int, choice: StyleChoice) -> RestylePick:
    return RestylePick(job=job_id, index=index, check=style_check(choice.id))


def resolve_pick(pick: RestylePick, catalog: Catalog) -> StyleChoice | None:
    """The style a pick meant; None when the catalog changed since the button was sent
    (tell the member to press Restyle again)."""
    listing = restyle_listing(catalog)
    if not 0 <= pick.index < len(listing):
        return None
    choice = listing[pick.index]
    return choice if style_check(choice.id) == pick.check else None


def offered(policy: EffectivePolicy, choice: StyleChoice) -> bool:
    """Whether the chat's policy offers the style ("No LoRA" always is)."""
    if choice.id is None:
        return True
    if choice.kind == "model":
        return policy.offers_model(choice.id)
    return policy.offers_lora(choice.id)
