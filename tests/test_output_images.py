"""Every output is decoded before it is posted, and named by its decoded format."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from bot.jobs.images import NotAnImage, decode_output


def encoded(fmt: str, size: tuple[int, int] = (64, 48), mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, "teal").save(out, format=fmt)
    return out.getvalue()


@pytest.mark.parametrize(
    ("fmt", "extension"), [("PNG", "png"), ("JPEG", "jpg"), ("WEBP", "webp"), ("GIF", "gif")]
)
def test_web_formats_keep_their_bytes_and_get_their_own_extension(fmt, extension):
    data = encoded(fmt)
    decoded = decode_output(data)
    assert decoded.extension == extension
    assert decoded.data == data and (decoded.width, decoded.height) == (64, 48)


def test_other_image_formats_are_re_encoded_as_png_rather_than_lost():
    decoded = decode_output(encoded("TIFF"))
    assert decoded.extension == "png"
    assert Image.open(io.BytesIO(decoded.data)).format == "PNG"


@pytest.mark.parametrize(
    "data",
    [
        b"hello, this is a text file",
        b"<!doctype html><html><body>Access denied</body></html>",
        b"",
        b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        encoded("PNG")[:60],  # truncated
    ],
    ids=["text", "html", "empty", "svg", "truncated"],
)
def test_what_is_not_an_image_is_refused(data):
    with pytest.raises(NotAnImage):
        decode_output(data)


def test_a_decompression_bomb_is_refused_from_its_header():
    with pytest.raises(NotAnImage, match="pixels"):
        decode_output(encoded("PNG", size=(400, 300), mode="1"), max_pixels=100_000)
