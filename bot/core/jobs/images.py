"""What Wiro sends back is posted only once it decodes as an image, named by its real format.

Wiro's output name (``0.png``) and content type are claims, not facts: the bytes decide. A
JPEG named ``.png`` is posted as ``.jpg``; a text or HTML page is never posted. Only the
decoders of the formats chat apps show (PNG, JPEG, WebP, GIF) ever see the bytes: Pillow would
otherwise try every format it knows, EPS (which runs Ghostscript), TIFF, PSD, ICO and dozens
more, each a decoder an attacker could aim at. InstantID on Wiro sends PNG (fact sheet §3); AVIF
is left out: Wiro has never been seen sending it, and it would bring one more decoder (libavif)
for a format not every chat client shows.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

__all__ = ["MAX_OUTPUT_PIXELS", "DecodedImage", "NotAnImage", "decode_output"]

# SDXL outputs are about 1-2 megapixels; anything far beyond is a decompression bomb.
MAX_OUTPUT_PIXELS = 40_000_000
# The only decoders tried; Pillow's JPEG opener names a multi-picture JPEG (phones, 3D
# cameras) "MPO", a JPEG file all the same.
_DECODERS = ["PNG", "JPEG", "WEBP", "GIF"]
# Pillow format name -> the extension the file is posted with.
_EXTENSIONS = {"PNG": "png", "JPEG": "jpg", "MPO": "jpg", "WEBP": "webp", "GIF": "gif"}


class NotAnImage(ValueError):
    """The bytes are not an image we can post; the message says why (no file content)."""


@dataclass(frozen=True)
class DecodedImage:
    data: bytes
    extension: str  # png, jpg, webp or gif
    width: int
    height: int


def decode_output(data: bytes, max_pixels: int = MAX_OUTPUT_PIXELS) -> DecodedImage:
    """Decode ``data`` fully (blocking: run it in a thread). Raises :class:`NotAnImage` for
    bytes that are not a PNG, JPEG, WebP or GIF image (any other format is never decoded),
    truncated images and images over ``max_pixels`` pixels (checked from the header, before
    decoding)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=_DECODERS) as image:
                width, height = image.size
                if width * height > max_pixels:
                    raise NotAnImage(f"{width}×{height} pixels is over {max_pixels}")
                extension = _EXTENSIONS.get(image.format or "")
                if extension is None:
                    raise NotAnImage("not a readable image")
                image.load()
                return DecodedImage(data, extension, width, height)
    except NotAnImage:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise NotAnImage("not a readable image") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise NotAnImage(f"damaged image ({type(error).__name__})") from None
