"""Every output is decoded before it is posted, and named by its decoded format."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from bot.core.jobs.images import NotAnImage, decode_output


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


EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n"


@pytest.mark.parametrize(
    "data",
    [encoded("TIFF"), encoded("BMP"), encoded("ICO"), encoded("PPM"), encoded("TGA"), EPS],
    ids=["tiff", "bmp", "ico", "ppm", "tga", "eps"],
)
def test_other_image_formats_are_refused_without_being_decoded(data, monkeypatch):
    opened: list[str] = []
    real_open = Image.open

    def spy(fp, mode="r", formats=None):
        opened.append(repr(formats))
        return real_open(fp, mode, formats)

    monkeypatch.setattr(Image, "open", spy)
    with pytest.raises(NotAnImage, match="not a readable image"):
        decode_output(data)
    assert opened == [repr(["PNG", "JPEG", "WEBP", "GIF"])]  # no other decoder was offered


def test_a_multi_picture_jpeg_from_a_phone_is_posted_as_jpeg():
    out = io.BytesIO()
    first, second = Image.new("RGB", (64, 48), "red"), Image.new("RGB", (64, 48), "blue")
    first.save(out, format="MPO", save_all=True, append_images=[second])
    decoded = decode_output(out.getvalue())
    assert decoded.extension == "jpg" and decoded.data == out.getvalue()


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
