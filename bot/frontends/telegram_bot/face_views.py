"""What the saved-face, face-check and privacy features say on Telegram, and their keyboards.

Face names are members' text: they reach messages only as `Cut` parts of `fit_html` (escaped,
shortened if need be) and buttons only through `keyboards.button` (plain text, shortened). The
core's texts (`NO_FACE`, `SEVERAL_FACES`, the data statement, `FORGET_CONFIRM`,
`forget_summary`) are plain text and escaped here too.
"""

from __future__ import annotations

from collections.abc import Sequence

from aiogram.types import InlineKeyboardMarkup

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
from bot.core.privacy.statement import FORGET_CONFIRM, DataStatement
from bot.core.request.face_check import NO_FACE, SEVERAL_FACES

from .face_callbacks import FaceButton, FaceDo, ForgetButton, ForgetDo, HoldButton
from .keyboards import button
from .messages import BOLD, BOLD_, CODE, CODE_
from .text import Cut, Part, fit_html

# ------------------------------------------------------------------ plain texts (escape them)

FACES_OFF = "Saving faces is turned off on this bot."
SAVE_USAGE = (
    "To save a face, send a photo of it with /face save <name> as its caption, or answer "
    "your photo with /face save <name>."
)
FACE_USAGE = (
    "/face save <name> (as a photo's caption, or answering your photo), /faces, "
    "/face default <name>, /face delete <name>, /face rename <name> to <new name>."
)
RENAME_USAGE = (
    'Write /face rename <name> to <new name>, for example /face rename me to "me at work". '
    "Put a name that has the word “to” in it in quotes."
)
NO_PHOTO_NO_FACE = (
    "I need a photo of your face: send it with /portrait as its caption, or answer a photo "
    "with /portrait. Or save your face once (send a photo with /face save <name> as its "
    "caption), and /portrait without a photo will use it."
)
PICK_ONE = (
    "You gave a photo and --face both: pick one. Send the photo without --face, or "
    "/portrait --face <name> without a photo."
)
FACE_GONE = (
    "The saved face this portrait was made with has been deleted, so I can't make a new "
    "version of it. Send /portrait with a photo or another saved face."
)
UNREADABLE = (
    "I can't use saved faces right now: the bot's key for them is missing or has changed. "
    "Nothing was saved. You can still send a photo with /portrait; please tell the bot's owner."
)
ANONYMOUS = (
    "You are posting anonymously, so I can't tell whose faces or data these are: send it as "
    "yourself (turn off Remain anonymous for a moment)."
)
FACES_SENT = "I sent your saved faces to our private chat (their names are yours alone)."
FACES_NOT_SENT = (
    "Your saved faces are listed privately, and I can't write to you: open a chat with me, "
    "press Start, then send /faces again."
)
HOLD_NOT_YOURS = "This button is for the member who sent the photo."
HOLD_GONE = (
    "That photo is no longer kept (it waits 30 minutes for this button, and is used once): "
    "please send it again."
)
NOT_YOUR_LIST = "These buttons are for the member who sent /faces; send /faces for your own."
NOT_YOUR_FORGET = "These buttons are for the member who asked; send /forgetme for yourself."
FORGET_WORKING = "⏳ Forgetting you… this can take a few seconds."
FORGET_CANCELLED = "Cancelled: nothing was deleted."
FORGET_FAILED = (
    "Something went wrong while forgetting you; part of it may be left. Please try /forgetme "
    "again in a minute."
)


def face_error(error: FaceError | FaceUnreadable) -> str:
    """A saved-face refusal in a Telegram member's words (plain text)."""
    if isinstance(error, FaceUnreadable):
        return UNREADABLE
    if isinstance(error, FaceLimitReached):
        if error.limit <= 0:
            return FACES_OFF
        return (
            f"You already have the most saved faces you can keep ({error.limit}). Delete one "
            "first: /faces shows them, with a Delete button for each."
        )
    if isinstance(error, FaceNameTaken):
        return (
            f"You already have a face called “{error.name}”. Pick another name, or delete "
            "that one first (/faces)."
        )
    if isinstance(error, FaceNameInvalid):
        return (
            f"A face's name is 1 to {NAME_MAX} characters on one line, like /face save me "
            '(or /face save "me at work").'
        )
    if isinstance(error, FaceNotFound):
        return no_such_face(str(error.args[0]) if error.args else "")
    return "That didn't work; please try again."


def no_such_face(name: str) -> str:
    return f"You have no saved face called “{name}”. /faces lists yours."


# ------------------------------------------------------------------ saving


def saved_text(face: SavedFace, *, several: bool) -> str:
    """The answer to a face saved (HTML)."""
    parts: list[Part] = ["✅ Saved your face as ", BOLD, Cut(face.name), BOLD_, "."]
    if face.is_default:
        parts.append(" It is your default face: /portrait without a photo uses it.")
    else:
        parts += [" Use it with ", CODE, "/portrait --face ", Cut(face.name), CODE_, "."]
    if several:
        parts += ["\n\nℹ️ ", SEVERAL_FACES]
    return fit_html(parts)


def no_face_text(*, saving: bool) -> tuple[str, str]:
    """The face check found no face: the message (HTML) and its button's label."""
    label = "💾 Save it anyway" if saving else "✅ Use it anyway"
    return fit_html(["⚠️ ", NO_FACE]), label


def hold_keyboard(hold_id: int, label: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[button(label, HoldButton(id=hold_id).pack())]])


def several_note() -> str:
    return fit_html(["ℹ️ ", SEVERAL_FACES])


# ------------------------------------------------------------------ /faces


def faces_list(faces: Sequence[SavedFace], per_member: int, notice: Sequence[Part] = ()) -> str:
    """/faces: the member's faces, the default marked, and how to use them (HTML)."""
    parts: list[Part] = [*notice, "\n\n"] if notice else []
    if per_member <= 0 and not faces:
        return fit_html([*parts, FACES_OFF])
    if not faces:
        parts += [
            "You have no saved faces yet. Send a photo of your face with ",
            CODE, "/face save me", CODE_, " as its caption.",
        ]  # fmt: skip
        return fit_html(parts)
    parts += [BOLD, "Your saved faces", BOLD_, f" ({len(faces)} of {max(per_member, 0)})"]
    for face in faces:
        parts += ["\n", "⭐ " if face.is_default else "• ", Cut(face.name)]
        if face.is_default:
            parts.append(" (default)")
    parts += [
        "\n\n/portrait without a photo uses your default face; ",
        CODE, "/portrait --face name", CODE_, " picks another. Rename one with ",
        CODE, "/face rename name to new name", CODE_, ".",
    ]  # fmt: skip
    return fit_html(parts)


def faces_keyboard(faces: Sequence[SavedFace], user_id: int) -> InlineKeyboardMarkup | None:
    """A row per face: ⭐ make it the default (not on the default one), 🗑 delete it."""
    if not faces:
        return None
    rows = []
    for face in faces:
        row = []
        if not face.is_default:
            data = FaceButton(do=FaceDo.DEFAULT, user=user_id, face=face.id).pack()
            row.append(button(f"⭐ Default: {face.name}", data))
        data = FaceButton(do=FaceDo.ASK_DELETE, user=user_id, face=face.id).pack()
        row.append(button(f"🗑 Delete: {face.name}", data))
        rows.append(row)
    return InlineKeyboardMarkup(inline_keyboard=rows)


def confirm_delete(face: SavedFace, user_id: int) -> tuple[str, InlineKeyboardMarkup]:
    """ "Delete it?" with Yes / Keep it (HTML and keyboard)."""
    text = fit_html(
        [
            "Delete your saved face ", BOLD, Cut(face.name), BOLD_, "? It can't be undone. "
            "Portraits already made with it stay, but their buttons stop working.",
        ]
    )  # fmt: skip
    yes = FaceButton(do=FaceDo.DELETE, user=user_id, face=face.id).pack()
    keep = FaceButton(do=FaceDo.KEEP, user=user_id, face=face.id).pack()
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[[button(f"🗑 Yes, delete {face.name}", yes), button("↩ Keep it", keep)]]
    )
    return text, keyboard


def notice(emoji: str, before: str, name: str, after: str) -> list[Part]:
    """A line above the list: "🗑 Deleted <b>name</b>."."""
    return [f"{emoji} {before}", BOLD, Cut(name), BOLD_, after]


# ------------------------------------------------------------------ privacy


def statement_html(statement: DataStatement) -> str:
    """/privacy: the data statement, headings in bold, within 4096 (the texts shrink first)."""
    parts: list[Part] = [BOLD, statement.title, BOLD_]
    for heading, text in statement.sections:
        parts += ["\n\n", BOLD, heading, BOLD_, "\n", Cut(text)]
    parts.append("\n\nTo delete everything the bot keeps about you, press Forget me or send "
                 "/forgetme.")  # fmt: skip
    return fit_html(parts)


def privacy_keyboard(user_id: int) -> InlineKeyboardMarkup:
    data = ForgetButton(do=ForgetDo.ASK, user=user_id).pack()
    return InlineKeyboardMarkup(inline_keyboard=[[button("🧹 Forget me", data)]])


def forget_confirm(user_id: int) -> tuple[str, InlineKeyboardMarkup]:
    """The question before forgetting (HTML) with "Yes, forget me" / "Cancel"."""
    text = fit_html([BOLD, "Forget me?", BOLD_, "\n\n", FORGET_CONFIRM])
    yes = ForgetButton(do=ForgetDo.YES, user=user_id).pack()
    cancel = ForgetButton(do=ForgetDo.CANCEL, user=user_id).pack()
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[[button("Yes, forget me", yes), button("Cancel", cancel)]]
    )
    return text, keyboard
