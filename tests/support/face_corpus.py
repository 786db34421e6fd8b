"""The face check's labelled corpus, made from two real photos kept in tests/cases/ and
synthetic pictures; nothing is downloaded.

Sources (both public domain, works of the US government): ``gps_srational_orient6.jpg``
(NASA's portrait of astronaut Eileen Collins, stored sideways with EXIF orientation 6, the
selfie tests' real photo) and ``grace_hopper.jpg`` (the US Navy's portrait of Grace Hopper, as
bundled with matplotlib's sample data). From them: the photos as taken, turned by EXIF (which
intake undoes), tilted, mirrored, darkened, blurred, compressed hard, turned in the pixels with
no EXIF (a sideways upload), faces made small in a large frame, two people in one picture, and
crops that hold no face; plus synthetic pictures with no face (a coffee cup, noise, a
gradient, text, a checkerboard).

Each `Case` is the upload's bytes and what a good check says: ``"face"`` (one or more),
``"several"`` (two or more), ``"none"``. `CASES` is built on first use (about a second).
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageOps

CASES_DIR = Path(__file__).resolve().parent.parent / "cases"


@dataclass(frozen=True)
class Case:
    name: str
    group: str  # faces, rotated, small, several, no faces
    expected: str  # "face", "several" or "none"
    data: bytes


def _jpeg(image: Image.Image, *, quality: int = 90, orientation: int | None = None) -> bytes:
    out = io.BytesIO()
    extra = {}
    if orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = orientation
        extra["exif"] = exif
    image.convert("RGB").save(out, format="JPEG", quality=quality, **extra)
    return out.getvalue()


def astronaut() -> Image.Image:
    """Eileen Collins, upright (the file is stored sideways with orientation 6)."""
    with Image.open(CASES_DIR / "gps_srational_orient6.jpg") as image:
        # Turned by hand: ImageOps.exif_transpose fails on this file's GPS block.
        return image.transpose(Image.Transpose.ROTATE_270).convert("RGB")


def hopper() -> Image.Image:
    with Image.open(CASES_DIR / "grace_hopper.jpg") as image:
        return image.convert("RGB")


def _stored_for(orientation: int, upright: Image.Image) -> Image.Image:
    """The pixels a camera stores for an upright picture under an EXIF orientation."""
    undo = {3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_90}
    undo[8] = Image.Transpose.ROTATE_270
    return upright.transpose(undo[orientation])


def _backdrop(size: tuple[int, int], seed: int) -> Image.Image:
    """A plain wall with a little texture, like a room behind a distant person."""
    rng = random.Random(seed)
    image = Image.new("RGB", size, (rng.randint(120, 200), rng.randint(120, 200), 150))
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x, y = rng.randrange(size[0]), rng.randrange(size[1])
        shade = tuple(rng.randint(80, 220) for _ in range(3))
        draw.rectangle((x, y, x + rng.randint(40, 300), y + rng.randint(40, 300)), fill=shade)
    return image.filter(ImageFilter.GaussianBlur(4))


def _small(photo: Image.Image, face_fraction: float, seed: int) -> Image.Image:
    """``photo`` shrunk into a 1536×2048 frame so its face spans about ``face_fraction`` of
    the frame's short side (the portraits' faces span about a third of their width)."""
    frame = _backdrop((1536, 2048), seed)
    width = round(1536 * face_fraction * 3)
    small = photo.resize((width, round(photo.height * width / photo.width)))
    frame.paste(small, (1536 // 2 - width // 2, 2048 // 3))
    return frame


def _pair(left: Image.Image, right: Image.Image) -> Image.Image:
    right = right.resize((right.width * 2 // 3, right.height * 2 // 3))
    frame = Image.new("RGB", (left.width + right.width + 60, max(left.height, right.height)))
    frame.paste((200, 200, 200), (0, 0, frame.width, frame.height))
    frame.paste(left, (0, 0))
    frame.paste(right, (left.width + 60, frame.height - right.height))
    return frame


def _coffee_cup() -> Image.Image:
    image = Image.new("RGB", (800, 600), (235, 225, 210))
    draw = ImageDraw.Draw(image)
    draw.ellipse((150, 380, 650, 520), fill=(250, 250, 250), outline=(180, 180, 180), width=4)
    draw.ellipse((250, 200, 550, 420), fill=(245, 245, 245), outline=(170, 170, 170), width=4)
    draw.ellipse((280, 220, 520, 320), fill=(90, 55, 30))
    draw.ellipse((340, 245, 460, 295), fill=(200, 160, 110))
    draw.arc((520, 250, 620, 360), -90, 90, fill=(170, 170, 170), width=14)
    return image


def _text() -> Image.Image:
    image = Image.new("RGB", (900, 700), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    for row in range(20):
        draw.text((30, 20 + row * 33), "The quick brown fox jumps over the lazy dog " * 2, fill=0)
    return image


def _noise(seed: int) -> Image.Image:
    rng = random.Random(seed)
    data = bytes(rng.randrange(256) for _ in range(480 * 640 * 3))
    return Image.frombytes("RGB", (480, 640), data)


def _gradient() -> Image.Image:
    column = Image.linear_gradient("L").resize((600, 800))
    return Image.merge("RGB", (column, column.rotate(90), ImageOps.invert(column)))


def _checkerboard() -> Image.Image:
    image = Image.new("RGB", (640, 640), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    for x in range(0, 640, 80):
        for y in range(0, 640, 80):
            if (x + y) // 80 % 2:
                draw.rectangle((x, y, x + 79, y + 79), fill=(0, 0, 0))
    return image


@cache
def cases() -> tuple[Case, ...]:
    a, h = astronaut(), hopper()
    big = a.resize((a.width * 4, a.height * 4))
    sideways = h.rotate(90, expand=True)
    flag = a.crop((0, 0, a.width // 4, a.height // 2)).resize((300, 600))
    found: list[Case] = [
        Case("astronaut", "faces", "face", (CASES_DIR / "gps_srational_orient6.jpg").read_bytes()),
        Case("hopper", "faces", "face", _jpeg(h)),
        Case("hopper mirrored", "faces", "face", _jpeg(ImageOps.mirror(h))),
        Case("hopper dark", "faces", "face", _jpeg(ImageEnhance.Brightness(h).enhance(0.35))),
        Case("hopper blurred", "faces", "face", _jpeg(h.filter(ImageFilter.GaussianBlur(3)))),
        Case("hopper quality 15", "faces", "face", _jpeg(h, quality=15)),
        Case("astronaut upscaled 4x", "faces", "face", _jpeg(big)),
    ]
    for orientation in (3, 6, 8):
        found.append(
            Case(
                f"hopper EXIF {orientation}",
                "rotated",
                "face",
                _jpeg(_stored_for(orientation, h), orientation=orientation),
            )
        )
    for angle in (15, -15, 30):
        tilted = h.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=(128, 128, 128))
        found.append(Case(f"hopper tilted {angle}°", "rotated", "face", _jpeg(tilted)))
    found.append(Case("hopper sideways, no EXIF", "rotated", "face", _jpeg(sideways)))
    found.append(Case("hopper upside down, no EXIF", "rotated", "face", _jpeg(h.rotate(180))))
    for seed, fraction in enumerate((1 / 8, 1 / 12, 1 / 16, 1 / 24, 1 / 32)):
        found.append(
            Case(
                f"hopper face 1/{round(1 / fraction)} of width",
                "small",
                "face",
                _jpeg(_small(h, fraction, seed)),
            )
        )
        found.append(
            Case(
                f"astronaut face 1/{round(1 / fraction)} of width",
                "small",
                "face",
                _jpeg(_small(a, fraction, seed + 10)),
            )
        )
    found.append(Case("astronaut and hopper", "several", "several", _jpeg(_pair(a, h))))
    found.append(Case("hopper and astronaut", "several", "several", _jpeg(_pair(h, a))))
    nothing = [
        ("astronaut's suit (lower half)", a.crop((0, a.height // 2, a.width, a.height))),
        ("astronaut's flag (left strip)", flag),
        ("hopper's uniform (lower third)", h.crop((0, h.height * 2 // 3, h.width, h.height))),
        ("coffee cup", _coffee_cup()),
        ("text", _text()),
        ("noise", _noise(1)),
        ("gradient", _gradient()),
        ("checkerboard", _checkerboard()),
    ]
    for name, image in nothing:
        if min(image.size) < 256:  # intake's minimum side
            image = image.resize((image.width * 2, image.height * 2))
        found.append(Case(name, "no faces", "none", _jpeg(image)))
    return tuple(found)


def twelve_megapixel_photo(*, face: bool = True) -> bytes:
    """A 4000×3000 phone photo for the bench (about 3.5 MB at quality 92, as phones write):
    a room, sensor-like noise everywhere (so it does not compress to nothing), Hopper's
    portrait enlarged 3× in it (a face of about 700 px) unless ``face`` is False, stored
    sideways with EXIF orientation 6 like a phone held upright."""
    frame = _backdrop((3000, 4000), 7)
    if face:
        h = hopper()
        frame.paste(h.resize((h.width * 3, h.height * 3)), (750, 1000))
    noise = Image.effect_noise(frame.size, 30.0).convert("RGB")
    frame = Image.blend(frame, noise, 0.2)
    return _jpeg(_stored_for(6, frame), quality=92, orientation=6)
