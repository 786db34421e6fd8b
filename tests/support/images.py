"""Test photos: a selfie with a real face (the face check finds it), or a drawn face-like
oval it does not find, with or without EXIF."""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

from PIL import Image, ImageDraw

FACE_PHOTO = Path(__file__).parent.parent / "cases" / "grace_hopper.jpg"


@cache
def _face() -> Image.Image:
    with Image.open(FACE_PHOTO) as photo:
        return photo.convert("RGB")


def selfie_jpeg(size: tuple[int, int] = (640, 800), *, exif: Image.Exif | None = None) -> bytes:
    """A selfie: a real portrait photo (Grace Hopper, public domain) scaled to 70% of ``size``
    on a blue background, so the local face check finds one face."""
    width, height = size
    image = Image.new("RGB", size, (70, 110, 170))
    face = _face()
    scale = min(width * 0.7 / face.width, height * 0.7 / face.height)
    fitted = face.resize((max(1, round(face.width * scale)), max(1, round(face.height * scale))))
    image.paste(fitted, ((width - fitted.width) // 2, (height - fitted.height) // 2))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=90, **({"exif": exif} if exif is not None else {}))
    return out.getvalue()


def drawn_face_jpeg(size: tuple[int, int] = (640, 800), *, exif: Image.Exif | None = None) -> bytes:
    """A drawn 'selfie': skin-toned oval with eyes and mouth on a blue background. A person
    would see a face; the face check does not (a photo that needs "Use it anyway")."""
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
