"""Selfie intake: reject unusable images before any money is spent, prepare a clean upload.

Pure and synchronous; callers run :func:`prepare_selfie` in a thread
(``await asyncio.to_thread(prepare_selfie, data)``).

Only the bytes are trusted, never a file name or a content type. The image is decoded with
Pillow (JPEG, PNG, WebP, AVIF, and the first frame of GIF / MPO) or pillow-heif (HEIC/HEIF, the
iPhone's default), its orientation applied (or the photo refused when it cannot be),
transparency flattened onto white, colours converted to sRGB when it carries an ICC
profile, the long side limited, and it is re-encoded as a JPEG that carries no metadata at
all (no EXIF, GPS, XMP, ICC profile or comment): the selfie goes to a public Wiro URL.
"""

from __future__ import annotations

import io
import logging
import threading
import warnings
from dataclasses import dataclass

import pillow_heif
from PIL import Image, ImageCms, ImageFile

log = logging.getLogger(__name__)

# Adds the "HEIF" format to Pillow (idempotent). Pillow decodes AVIF itself.
pillow_heif.register_heif_opener()

MIB = 1024 * 1024

# Formats we ask Pillow to try. MPO (multi-picture JPEG from phones and 3D cameras) is
# recognised by the JPEG opener and reported as "MPO".
_OPEN_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "HEIF", "AVIF")
_ACCEPTED_FORMATS = frozenset({"JPEG", "MPO", "PNG", "WEBP", "GIF", "HEIF", "AVIF"})
_EXIF_ORIENTATION = 0x0112
# EXIF orientation (TIFF 6.0, tag 274) → the transpose that shows the picture upright.
# 1 is upright; 0 is written by some apps for "unknown" and shown as stored by every viewer.
_UPRIGHT = (0, 1)
_TRANSPOSE_OF_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

# warnings.catch_warnings() swaps process-wide state; our own concurrent calls must not
# interleave inside it, or one could restore the other's filters.
_WARNINGS_LOCK = threading.Lock()

NOT_AN_IMAGE = (
    "That file isn't an image I can read. Please attach a JPEG, PNG, WebP, HEIC or AVIF photo."
)
UNKNOWN_ORIENTATION = (
    "I can't tell which way up that photo goes (its orientation data is damaged), and I won't "
    "send it sideways. Please take a screenshot of it, or save it again, and upload that."
)
TRUNCATED = "That image looks cut off (the file is incomplete). Please upload it again."
DAMAGED = (
    "That image looks damaged and I can't read it. Please upload it again or try another photo."
)


@dataclass(frozen=True)
class SelfieLimits:
    max_bytes: int = 20 * MIB
    min_side: int = 256
    max_pixels: int = 50_000_000  # decompression-bomb guard, checked from the header
    max_aspect: float = 3.0
    output_max_side: int = 1536
    jpeg_quality: int = 92


class SelfieRejected(ValueError):
    """The selfie can't be used; ``.message`` tells the member what to fix."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class PreparedSelfie:
    data: bytes
    width: int
    height: int
    content_type: str = "image/jpeg"
    filename: str = "selfie.jpg"


def prepare_selfie(data: bytes, limits: SelfieLimits = SelfieLimits()) -> PreparedSelfie:
    """Check ``data`` and return it as a clean, metadata-free JPEG.

    Raises :class:`SelfieRejected` (with a message for the member) for anything unusable.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError("prepare_selfie() needs the image bytes")
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        # Someone switched Pillow into "fill in missing data" mode process-wide; cut-off
        # uploads would then pass as half-grey pictures. Refuse rather than bill for them.
        raise RuntimeError("PIL.ImageFile.LOAD_TRUNCATED_IMAGES must stay False")
    data = bytes(data)

    if len(data) > limits.max_bytes:
        raise SelfieRejected(
            f"That image is {len(data) / MIB:.1f} MB; the limit is {_mb(limits.max_bytes)} MB."
        )
    if not data:
        raise SelfieRejected(NOT_AN_IMAGE)

    image = _open(data, limits)
    try:
        orientation = _orientation(image)
        _check_geometry(image, orientation, limits)
        _draft_jpeg(image, limits)
        _load(image)
        prepared = _clean_rgb(image, orientation)
    finally:
        image.close()

    prepared = _downscale(prepared, limits.output_max_side)
    return PreparedSelfie(
        data=_encode_jpeg(prepared, limits.jpeg_quality),
        width=prepared.width,
        height=prepared.height,
    )


# ====================================================================== steps


def _mb(size: int) -> str:
    return f"{size / MIB:g}"


def _too_many_pixels(width: int, height: int, limits: SelfieLimits) -> SelfieRejected:
    return SelfieRejected(
        f"That image is {width}×{height} pixels, too large to process; "
        f"please use a photo under {limits.max_pixels / 1_000_000:g} megapixels."
    )


def _open(data: bytes, limits: SelfieLimits) -> ImageFile.ImageFile:
    """Identify the image from its header only; no pixel data is decoded here."""
    try:
        with _WARNINGS_LOCK, warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=_OPEN_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        width, height = _png_or_unknown_size(data)
        if width and height:
            raise _too_many_pixels(width, height, limits) from None
        raise SelfieRejected(
            "That image is too large to process; please use a photo under "
            f"{limits.max_pixels / 1_000_000:g} megapixels."
        ) from None
    except MemoryError:
        raise
    except Exception:  # unidentified, or a header odd enough to upset a plugin
        log.debug("Selfie header unreadable", exc_info=True)
        raise SelfieRejected(DAMAGED if _looks_like_heif(data) else NOT_AN_IMAGE) from None

    if image.format not in _ACCEPTED_FORMATS:
        image.close()
        raise SelfieRejected(NOT_AN_IMAGE)
    return image


def _check_geometry(image: Image.Image, orientation: int, limits: SelfieLimits) -> None:
    width, height = image.size
    if width <= 0 or height <= 0:
        raise SelfieRejected(NOT_AN_IMAGE)
    if width * height > limits.max_pixels:
        raise _too_many_pixels(width, height, limits)
    if orientation in (5, 6, 7, 8):  # shown rotated by 90°: name it as people see it
        width, height = height, width
    if min(width, height) < limits.min_side:
        raise SelfieRejected(
            f"That image is only {width}×{height} pixels; please use a photo at least "
            f"{limits.min_side} pixels on each side."
        )
    if max(width, height) / min(width, height) > limits.max_aspect:
        raise SelfieRejected(
            f"That image is {width}×{height} pixels, too long and narrow for a portrait; "
            f"please use a photo at most {limits.max_aspect:g} times as long as it is wide."
        )


def _orientation(image: Image.Image) -> int:
    """The EXIF orientation (1-8) read from the header only; raises `SelfieRejected` when the
    tag is there but unusable (a photo we cannot turn upright is never sent sideways).

    Read from the raw block, not with ``ImageOps.exif_transpose``: that re-serialises the whole
    EXIF and fails on blocks Pillow can read but not write (a GPS SRATIONAL, say), though the
    orientation is known. ``Image.getexif()`` would decode a whole PNG to look for a trailing
    eXIf chunk, so only the EXIF read with the header (JPEG APP1, PNG/WebP EXIF chunk) counts.
    HEIF: libheif already applied the container's ``irot``/``imir`` and pillow-heif reports 1
    (the HEIF rule: EXIF orientation is ignored there). AVIF: Pillow leaves the pixels as stored
    and reports ``irot``/``imir`` as this tag, so it is applied here like a JPEG's.
    """
    raw = image.info.get("exif")
    if not isinstance(raw, bytes) or not raw:
        return 1
    try:
        exif = Image.Exif()
        exif.load(raw)
    except Exception:
        # No tag can be read from it: viewers show such a photo as stored, and so do we.
        log.debug("Unreadable EXIF block; the selfie is used as stored", exc_info=True)
        return 1
    if _EXIF_ORIENTATION not in exif:
        return 1
    try:
        value = exif[_EXIF_ORIENTATION]
    except Exception:
        log.debug("Unreadable EXIF orientation", exc_info=True)
        raise SelfieRejected(UNKNOWN_ORIENTATION) from None
    if isinstance(value, int) and not isinstance(value, bool):
        if value in _UPRIGHT:
            return 1
        if value in _TRANSPOSE_OF_ORIENTATION:
            return value
    log.info("Selfie refused: EXIF orientation %r cannot be applied", value)
    raise SelfieRejected(UNKNOWN_ORIENTATION)


def _draft_jpeg(image: Image.Image, limits: SelfieLimits) -> None:
    """Let libjpeg decode a big JPEG at 1/2, 1/4 or 1/8 scale, still above the output size."""
    if image.format not in ("JPEG", "MPO"):
        return
    long_side = max(image.size)
    if long_side <= limits.output_max_side:
        return
    factor = limits.output_max_side / long_side
    wanted = (max(1, int(image.width * factor) + 1), max(1, int(image.height * factor) + 1))
    try:
        image.draft(None, wanted)
    except Exception:  # purely an optimisation
        log.debug("JPEG draft mode unavailable", exc_info=True)


def _load(image: Image.Image) -> None:
    try:
        image.load()
    except MemoryError:
        raise
    except Image.DecompressionBombError:
        raise SelfieRejected(
            "That image is too large to process; please use a smaller photo."
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError) as error:
        if "truncated" in str(error).lower() or isinstance(error, EOFError):
            raise SelfieRejected(TRUNCATED) from None
        log.debug("Selfie failed to decode", exc_info=True)
        raise SelfieRejected(DAMAGED) from None
    except Exception:
        log.debug("Selfie failed to decode", exc_info=True)
        raise SelfieRejected(DAMAGED) from None


def _clean_rgb(image: Image.Image, orientation: int) -> Image.Image:
    """Upright (by `orientation`, from `_orientation`), opaque (on white), sRGB, 8-bit RGB."""
    icc = image.info.get("icc_profile")
    transpose = _TRANSPOSE_OF_ORIENTATION.get(orientation)
    try:
        upright = image.transpose(transpose) if transpose is not None else image.copy()
    except MemoryError:
        raise
    except Exception:  # never upload it sideways
        log.warning("Could not apply EXIF orientation %d", orientation, exc_info=True)
        raise SelfieRejected(UNKNOWN_ORIENTATION) from None

    if upright.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit greyscale PNG: scale down to 8 bits instead of clipping at 255.
        upright = upright.convert("I").point(lambda v: v / 257).convert("L")

    has_alpha = upright.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        "transparency" in upright.info
    )
    if has_alpha:
        rgba = upright.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        upright = flat

    if icc and upright.mode in ("RGB", "CMYK", "L"):
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            target = ImageCms.createProfile("sRGB")
            converted = ImageCms.profileToProfile(upright, source, target, outputMode="RGB")
            if converted is not None:
                upright = converted
        except Exception:  # a broken or unusual profile: fall back to the plain conversion
            log.debug("ICC conversion to sRGB failed", exc_info=True)

    return upright if upright.mode == "RGB" else upright.convert("RGB")


def _downscale(image: Image.Image, max_side: int) -> Image.Image:
    long_side = max(image.size)
    if long_side <= max_side:
        return image
    factor = max_side / long_side
    size = (
        max(1, min(max_side, round(image.width * factor))),
        max(1, min(max_side, round(image.height * factor))),
    )
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def _encode_jpeg(image: Image.Image, quality: int) -> bytes:
    # A brand-new image has an empty .info: nothing (EXIF, XMP, ICC, comment, dpi) can ride
    # along, whatever Pillow's JPEG writer copies from .info by default.
    clean = Image.frombytes("RGB", image.size, image.tobytes())
    out = io.BytesIO()
    clean.save(out, format="JPEG", quality=quality, optimize=True)
    return out.getvalue()


# ====================================================================== sniffing


def _looks_like_heif(data: bytes) -> bool:
    """An ISO-BMFF image (HEIC, HEIF, AVIF) by its ``ftyp`` brand: a damaged one, if unread."""
    return data[4:8] == b"ftyp" and data[8:12] in (
        b"avif",
        b"avis",
        b"heic",
        b"heix",
        b"hevc",
        b"hevx",
        b"heim",
        b"heis",
        b"mif1",
        b"msf1",
    )


def _png_or_unknown_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG IHDR (for the message only); (0, 0) if not a PNG."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR" and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    return 0, 0
