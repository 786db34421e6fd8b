"""The Telegram face and privacy pieces without a network: button payloads within Telegram's
64 bytes, ``/face rename`` syntax, ``--face`` taken out of the options, face names escaped, and
the data statement within one message for any settings."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.core.catalog import Catalog
from bot.core.faces import NAME_MAX, SavedFace
from bot.core.privacy.statement import data_statement
from bot.frontends.telegram_bot.callbacks import CALLBACK_DATA_MAX_BYTES
from bot.frontends.telegram_bot.command import parse_portrait, parse_rename
from bot.frontends.telegram_bot.face_callbacks import (
    FaceButton,
    FaceDo,
    ForgetButton,
    ForgetDo,
    HoldButton,
)
from bot.frontends.telegram_bot.face_views import (
    confirm_delete,
    faces_keyboard,
    faces_list,
    saved_text,
    statement_html,
)
from bot.frontends.telegram_bot.text import MESSAGE_LIMIT, utf16_len

BIG_USER = 9_999_999_999_999  # Telegram user ids fit in 52 bits; this is more than enough
BIG_ID = 9_999_999_999


def face(name: str, face_id: int = 1, *, default: bool = False) -> SavedFace:
    return SavedFace(face_id, "telegram:1", name, default, datetime(2026, 1, 1, tzinfo=UTC), "f")


def test_payloads_fit_in_64_bytes_and_read_back():
    for do in FaceDo:
        packed = FaceButton(do=do, user=BIG_USER, face=BIG_ID).pack()
        assert len(packed.encode()) <= CALLBACK_DATA_MAX_BYTES
        assert FaceButton.unpack(packed) == FaceButton(do=do, user=BIG_USER, face=BIG_ID)
    for do in ForgetDo:
        packed = ForgetButton(do=do, user=BIG_USER).pack()
        assert len(packed.encode()) <= CALLBACK_DATA_MAX_BYTES
    assert HoldButton(id=12).pack() == "hold:12"
    assert len(HoldButton(id=BIG_ID).pack()) <= CALLBACK_DATA_MAX_BYTES


@pytest.mark.parametrize(
    ("args", "names"),
    [
        ("home to work", ("home", "work")),
        ('me to "me at work"', ("me", "me at work")),
        ("my home to my new home", ("my home", "my new home")),
        ('"off to sea" to sea', ("off to sea", "sea")),
        ("home TO work", ("home", "work")),
        ("home", None),
        ("home to", None),
        ("to work", None),
        ("a to b to c", None),
        ('"unclosed to x', None),
    ],
)
def test_rename_syntax(args, names):
    assert parse_rename(args) == names


def test_face_flag_is_taken_out_of_the_options():
    catalog = Catalog.bundled()
    request = parse_portrait('oil --face "at work" --seed 3', catalog)
    assert request.face == "at work" and request.options is not None
    assert request.options.seed == 3 and request.options.prompt.startswith("oil")
    assert parse_portrait("oil", catalog).face is None
    assert "--face needs a value" in (parse_portrait("oil --face", catalog).error or "")


def test_face_names_are_escaped_and_buttons_are_plain_and_short():
    name = "<b>x</b> & " + "y" * (NAME_MAX - 11)
    faces = [face(name, 1, default=True), face("two", 2)]
    listing = faces_list(faces, 5)
    assert "&lt;b&gt;x&lt;/b&gt; &amp; " in listing and "<b>x</b>" not in listing
    keyboard = faces_keyboard(faces, 42)
    assert keyboard is not None
    texts = [b.text for row in keyboard.inline_keyboard for b in row]
    assert texts[0].startswith("🗑 Delete: <b>x</b>")  # button texts are plain text
    assert all(len(text) <= 40 for text in texts)
    text, _ = confirm_delete(faces[0], 42)
    assert "&lt;b&gt;" in text
    assert "&lt;b&gt;" in saved_text(faces[0], several=True)


@pytest.mark.parametrize("faces_per_member", [0, 5, 50])
@pytest.mark.parametrize("keep", [0, 24, 0.5, 720])
def test_the_statement_fits_one_message(faces_per_member, keep):
    statement = data_statement(
        selfie_keep_hours=keep,
        retention_days=30,
        faces_per_member=faces_per_member,
        delete_wiro_files=bool(faces_per_member),
    )
    html = statement_html(statement)
    assert html.startswith("<b>What Portrait Bot keeps about you</b>")
    plain = html.replace("<b>", "").replace("</b>", "")
    assert utf16_len(plain) <= MESSAGE_LIMIT
    for heading, text in statement.sections:
        assert heading in html and text.split(".")[0] in html
