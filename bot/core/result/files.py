"""Make a result's images fit one chat message's upload limit without dropping any of them."""

from __future__ import annotations

import io

from PIL import Image

from bot.core.jobs import PortraitImage

# Discord's default upload limit per message for bots, in bytes (boosted servers allow more).
DEFAULT_UPLOAD_LIMIT = 10 * 1024 * 1024
_HEADROOM = 256 * 1024  # multipart framing and the JSON payload travel in the same request


def fit_within(
    images: tuple[PortraitImage, ...], limit: int = DEFAULT_UPLOAD_LIMIT
) -> tuple[PortraitImage, ...]:
    """Re-encode the largest images as high-quality JPEG, biggest first, until all fit."""
    budget = limit - _HEADROOM
    fitted = list(images)
    for index in sorted(range(len(fitted)), key=lambda i: len(fitted[i].data), reverse=True):
        if sum(len(image.data) for image in fitted) <= budget:
            break
        fitted[index] = _as_jpeg(fitted[index])
    return tuple(fitted)


def _as_jpeg(image: PortraitImage, quality: int = 90) -> PortraitImage:
    with Image.open(io.BytesIO(image.data)) as decoded:
        rgb = decoded.convert("RGB")
    out = io.BytesIO()
    rgb.save(out, format="JPEG", quality=quality, optimize=True)
    stem = image.filename.rsplit(".", 1)[0]
    return PortraitImage(f"{stem}.jpg", out.getvalue())
