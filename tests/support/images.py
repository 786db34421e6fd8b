"""Test photos drawn with Pillow: a face-like selfie, with or without EXIF."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw


def selfie_jpeg(size: tuple[int, int] = (640, 800), *, exif: Image.Exif | None = None) -> bytes:
    """A plain 'selfie': skin-toned oval with eyes and mouth on a blue background."""
    width, height = size
    image = Image.new("RGB", size, (70, 110, 170))
    draw = ImageDraw.Draw(image)
    cx, cy, rx, ry = width // 2, height // 2, width // 4, height // 3
    draw.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=(230, 190, 160))
    for dx in (-rx // 2, rx // 2):
        draw.ellipse(
            (cx + dx - 12, cy - ry // 3 - 8, cx + dx + 12, cy - ry // 3 + 8), fill=(40, 30, 30)
        )
    draw.arc(
        (cx - rx // 2, cy + ry // 4, cx + rx // 2, cy + ry // 2),
        20,
        160,
        fill=(150, 60, 60),
        width=6,
    )
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=90, **({"exif": exif} if exif is not None else {}))
    return out.getvalue()
