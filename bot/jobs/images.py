"""What Wiro sends back is posted only once it decodes as an image, named by its real format.

Wiro's output name (``0.png``) and content type are claims, not facts: the bytes decide. A
JPEG named ``.png`` is posted as ``.jpg``; a text or HTML page is never posted; an image in a
format chat apps do not show (TIFF, BMP...) is re-encoded as PNG rather than lost.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

__all__ = ["MAX_OUTPUT_PIXELS", "DecodedImage", "NotAnImage", "decode_output"]

# SDXL outputs are about 1-2 megapixels; anything far beyond is a decompression bomb.
MAX_OUTPUT_PIXELS = 40_000_000
# Pillow format name -> the extension the file is posted with.
_POSTABLE = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp", "GIF": "gif"}


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
    bytes Pillow cannot read, truncated images and images over ``max_pixels`` pixels (checked
    from the header, before decoding)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                if width * height > max_pixels:
                    raise NotAnImage(f"{width}×{height} pixels is over {max_pixels}")
                image.load()
                extension = _POSTABLE.get(image.format or "")
                if extension is not None:
                    return DecodedImage(data, extension, width, height)
                return DecodedImage(_as_png(image), "png", width, height)
    except NotAnImage:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise NotAnImage("not a readable image") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise NotAnImage(f"damaged image ({type(error).__name__})") from None


def _as_png(image: Image.Image) -> bytes:
    if image.mode not in ("RGB", "RGBA", "L", "LA", "P"):
        image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
