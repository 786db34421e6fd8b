"""A local face check before a job waits in line: does the prepared selfie show a face?

InstantID uses the largest face it finds and fails without one, after the job waited in the
queue and cost a round trip. This check runs on the prepared selfie (upright after the EXIF
orientation, downscaled: `bot.core.request.selfie.prepare_selfie`) with OpenCV's Haar cascade
for frontal faces (``haarcascade_frontalface_alt2.xml``), which ships inside the
``opencv-python-headless`` wheel (``cv2.data``): nothing is downloaded, ever.

`detect_faces` is pure and synchronous, like `prepare_selfie`. The front ends await
`check_faces`, which runs it on the check's own thread (OpenCV spreads one detection over the
cores itself, and the loaded model stays with that thread); `warm_up` loads the model there
(about 50 ms) at start-up, ahead of the first member. It is a hint, not a verdict: it misses
faces tilted 30° or more, sideways or upside down, faces smaller than about 1/24 of the photo's
width, and heads turned far aside (measured on the tests' corpus: README, "Face check"), so
front ends let the member go ahead anyway.
"""

from __future__ import annotations

import asyncio
import io
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

__all__ = [
    "DETECT_LONG_SIDE",
    "NO_FACE",
    "SEVERAL_FACES",
    "FaceBox",
    "FaceCheck",
    "check_faces",
    "detect_faces",
    "load_models",
    "warm_up",
]

# What the member is told (plain text: front ends escape it and add their own button, such as
# "Use it anyway", which queues the photo as it is).
NO_FACE = (
    "I couldn't find a face in that photo, and the portrait needs one. For a good selfie: "
    "face the camera, one person, head and shoulders filling about half the picture, in even "
    "light, nothing covering the face, and the phone held upright. If you're sure there is a "
    "face, you can use it anyway."
)
SEVERAL_FACES = (
    "I see more than one face in that photo: the portrait uses the largest one. "
    "For another person, crop the photo to them first."
)

# The long side, in pixels, the photo is scaled to for detection (prepared selfies are up to
# 1536): the cascade's cost grows with the pixel count, and a face smaller than
# MIN_FACE_FRACTION of this is too small for InstantID to use well anyway.
DETECT_LONG_SIDE = 640
# The smallest face looked for, as a fraction of the detection image's short side: first only
# faces of a selfie's size (cheap: the cascade's small windows are most of its work), then,
# when none is that big, down to small ones. So a face smaller than BIG_FACE_FRACTION is not
# counted beside a big one (people far behind the member).
BIG_FACE_FRACTION = 1 / 8
MIN_FACE_FRACTION = 1 / 25
# The cascade's step between two face sizes, and how many overlapping hits make a face (the
# corpus: step 1.1 finds no more faces for a quarter more time; 4 neighbours loses small ones).
SCALE_STEP = 1.15
MIN_NEIGHBOURS = 3
_FRONTAL = "haarcascade_frontalface_alt2.xml"

_local = threading.local()  # a CascadeClassifier is not safe to share between threads
# The one thread `check_faces` runs on, so the model is read once per process.
_checker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="face-check")


@dataclass(frozen=True)
class FaceBox:
    """A face's box in the prepared image's pixels (left, top, width, height)."""

    left: int
    top: int
    width: int
    height: int

    @property
    def area(self) -> int:
        return self.width * self.height


@dataclass(frozen=True)
class FaceCheck:
    """What the check saw: ``count`` faces (0 when none), the ``largest`` one's box (None when
    none; the face InstantID will use), and the checked image's ``size`` (width, height)."""

    count: int
    largest: FaceBox | None
    size: tuple[int, int]

    @property
    def found(self) -> bool:
        return self.count > 0

    @property
    def several(self) -> bool:
        return self.count > 1


def detect_faces(prepared: bytes | Image.Image) -> FaceCheck:
    """Count the faces in ``prepared`` (the JPEG bytes of a `PreparedSelfie`, or an upright
    PIL image) and box the largest. Raises ``PIL.UnidentifiedImageError`` / ``OSError`` for
    bytes that are not an image (never the case for a prepared selfie)."""
    if isinstance(prepared, Image.Image):
        image = prepared
    else:
        image = Image.open(io.BytesIO(bytes(prepared)))
        # JPEG draft: libjpeg decodes at 1/2, 1/4 or 1/8 scale, still above the target.
        image.draft("L", (DETECT_LONG_SIDE, DETECT_LONG_SIDE))
    width, height = image.size
    scale = min(1.0, DETECT_LONG_SIDE / max(width, height))
    grey = image.convert("L")
    if scale < 1.0:
        grey = grey.resize(
            (max(1, round(width * scale)), max(1, round(height * scale))),
            Image.Resampling.BILINEAR,
        )
    # Boxes come back in the detection image's pixels; report them in the image given.
    back = max(width, height) / max(grey.size)
    # Stretched to the full range (a dark or washed-out photo), not histogram-equalised:
    # equalising lifts sensor noise into texture that makes the cascade ~3x slower and finds
    # fewer faces on the corpus.
    pixels = cv2.normalize(np.asarray(grey, dtype=np.uint8), None, 0, 255, cv2.NORM_MINMAX)
    boxes = _frontal(pixels, BIG_FACE_FRACTION) or _frontal(pixels, MIN_FACE_FRACTION)
    if not boxes:
        return FaceCheck(0, None, (width, height))
    left, top, w, h = max(boxes, key=lambda box: box[2] * box[3])
    largest = FaceBox(round(left * back), round(top * back), round(w * back), round(h * back))
    return FaceCheck(len(boxes), largest, (width, height))


def _frontal(pixels: np.ndarray, fraction: float) -> list[tuple[int, int, int, int]]:
    """Faces at least ``fraction`` of the short side (and 20 px, the cascade's own size)."""
    side = max(20, round(min(pixels.shape[:2]) * fraction))
    found = _cascade(_FRONTAL).detectMultiScale(
        pixels, scaleFactor=SCALE_STEP, minNeighbors=MIN_NEIGHBOURS, minSize=(side, side)
    )
    return [(int(left), int(top), int(w), int(h)) for left, top, w, h in found]


async def check_faces(prepared: bytes) -> FaceCheck:
    """`detect_faces` on the check's own thread: 30-50 ms for a prepared 12 MP photo
    (``python -m bench.facecheck``). Raises what `detect_faces` raises."""
    return await asyncio.get_running_loop().run_in_executor(_checker, detect_faces, prepared)


async def warm_up() -> None:
    """Load the model on the check's thread now (start-up), not at the first member's photo.
    RuntimeError when the OpenCV install lacks it."""
    await asyncio.get_running_loop().run_in_executor(_checker, load_models)


def load_models() -> None:
    """Read the detector's model now (in the calling thread), not at the first member's
    photo. RuntimeError when the OpenCV install lacks it."""
    _cascade(_FRONTAL)


def _cascade(name: str) -> cv2.CascadeClassifier:
    cache: dict[str, cv2.CascadeClassifier] = _local.__dict__.setdefault("cascades", {})
    cascade = cache.get(name)
    if cascade is None:
        path = Path(cv2.data.haarcascades) / name
        cascade = cv2.CascadeClassifier(str(path))
        if cascade.empty():  # the wheel always has it; a broken install is the owner's to fix
            raise RuntimeError(f"OpenCV's face model {path} is missing or damaged")
        cache[name] = cascade
    return cascade
