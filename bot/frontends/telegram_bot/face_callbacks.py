"""Button payloads of saved faces, held photos and Forget me (aiogram ``CallbackData``).

Like every payload here (`callbacks`) they carry ids only, so the buttons work after a restart:

* ``hold:<hold id>``: "Use it anyway" / "Save it anyway" under a photo the face check held
  back (`bot.core.request.held`); only the member who sent it may press (the hold knows them).
* ``fc:<do>:<user id>:<face id>``: the ``/faces`` list's buttons; ``do`` is `FaceDo` (make
  default, ask to delete, delete, keep). ``user``: the member the list belongs to, so anyone
  else's press is refused before anything is looked up (and a face is found only among the
  presser's own: `SavedFaces.by_id`).
* ``fm:<do>:<user id>``: Forget me (`ForgetDo`: ask, yes, cancel), for that member only.

Longest: ``"fc:y:9999999999999:9999999999"`` (29 bytes) of the 64 Telegram allows.
"""

from __future__ import annotations

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData

__all__ = ["FaceButton", "FaceDo", "ForgetButton", "ForgetDo", "HoldButton"]


class HoldButton(CallbackData, prefix="hold"):
    """Go ahead with the held request ``id`` (`HeldRequests.take`)."""

    id: int


class FaceDo(StrEnum):
    DEFAULT = "d"  # make this face the default
    ASK_DELETE = "x"  # show "Delete it?" with Yes / Keep it
    DELETE = "y"  # delete it (confirmed)
    KEEP = "n"  # back to the list


class FaceButton(CallbackData, prefix="fc"):
    do: FaceDo
    user: int
    face: int


class ForgetDo(StrEnum):
    ASK = "a"  # from /privacy: show the confirmation
    YES = "y"  # forget me now
    CANCEL = "n"


class ForgetButton(CallbackData, prefix="fm"):
    do: ForgetDo
    user: int
