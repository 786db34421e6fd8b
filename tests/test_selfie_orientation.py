"""Selfies arrive upright whatever their EXIF orientation, and HEIC/AVIF (phones' own formats)
go through the same rules as JPEG. A photo that cannot be turned upright is refused, never sent
sideways. Test photos are made here with Pillow and pillow-heif (no downloads)."""

import io
import struct
from pathlib import Path

import pytest
from PIL import Image

from bot.core.request.selfie import (
    UNKNOWN_ORIENTATION,
    SelfieLimits,
    SelfieRejected,
    prepare_selfie,
)

CASES = Path(__file__).parent / "cases"
RED, BLUE = (220, 20, 20), (20, 20, 220)
ORIENTATION, GPS_IFD = 0x0112, 0x8825
UPRIGHT_SIZE = (300, 400)  # portrait, as the member sees it
T = Image.Transpose
# The transpose that shows a picture stored with EXIF orientation N upright...
SHOW = {
    2: T.FLIP_LEFT_RIGHT,
    3: T.ROTATE_180,
    4: T.FLIP_TOP_BOTTOM,
    5: T.TRANSPOSE,
    6: T.ROTATE_270,
    7: T.TRANSVERSE,
    8: T.ROTATE_90,
}
# ...and its inverse, which turns the upright picture into what the camera stored.
STORE = {**SHOW, 6: T.ROTATE_90, 8: T.ROTATE_270}


def upright() -> Image.Image:
    """Blue, with a red top-left quarter: any wrong turn or mirror moves the red corner."""
    image = Image.new("RGB", UPRIGHT_SIZE, BLUE)
    image.paste(RED, (0, 0, UPRIGHT_SIZE[0] // 2, UPRIGHT_SIZE[1] // 2))
    return image


def stored_as(orientation: int) -> Image.Image:
    image = upright()
    return image.transpose(STORE[orientation]) if orientation in STORE else image


def exif_with(orientation: object, *, gps: bool = False) -> Image.Exif:
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    if gps:
        exif[GPS_IFD] = {1: "N", 2: (52.0, 31.0, 12.0)}
    return exif


def encode(image: Image.Image, fmt: str, **params) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **params)
    return out.getvalue()


def near(pixel, colour, tolerance=40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, colour, strict=True))


def assert_upright(data: bytes) -> None:
    out = Image.open(io.BytesIO(data))
    assert out.format == "JPEG"
    assert out.size == UPRIGHT_SIZE
    width, height = out.size
    assert near(out.getpixel((20, 20)), RED), "the red corner is not top-left"
    for corner in ((width - 20, 20), (20, height - 20), (width - 20, height - 20)):
        assert near(out.getpixel(corner), BLUE), corner
    assert not out.getexif() and "exif" not in out.info


def rejected(data: bytes) -> str:
    with pytest.raises(SelfieRejected) as caught:
        prepare_selfie(data)
    return caught.value.message


# ------------------------------------------------------------------ the reported photo


def test_a_gps_block_pillow_cannot_write_back_still_gets_turned_upright():
    data = (CASES / "gps_srational_orient6.jpg").read_bytes()
    source = Image.open(io.BytesIO(data))
    assert source.size == (512, 384) and source.getexif().get(ORIENTATION) == 6
    assert source.getexif().get_ifd(GPS_IFD) or GPS_IFD in source.getexif()

    selfie = prepare_selfie(data)
    out = Image.open(io.BytesIO(selfie.data))
    assert (selfie.width, selfie.height) == out.size == (384, 512)
    # The photo has a red band along the side marked TOP: it must now run along the top.
    top = [out.getpixel((x, 8)) for x in range(20, 364, 40)]
    assert all(near(pixel, (230, 20, 20), 60) for pixel in top), top
    assert not out.getexif()


# ------------------------------------------------------------------ all eight orientations


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_comes_out_upright(fmt, orientation):
    params = {"quality": 95} if fmt != "PNG" else {}
    data = encode(stored_as(orientation), fmt, exif=exif_with(orientation, gps=True), **params)
    assert_upright(prepare_selfie(data).data)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_an_exif_gps_rational_pillow_cannot_rewrite_does_not_stop_any_orientation(orientation):
    # The reported photo's EXIF block (a GPS value Pillow can read but refuses to write), with
    # its orientation changed.
    source = (CASES / "gps_srational_orient6.jpg").read_bytes()
    exif_block = Image.open(io.BytesIO(source)).info["exif"]
    image = stored_as(orientation)
    bad = bytearray(exif_block)
    marker = bad.find(b"\x12\x01\x03\x00\x01\x00\x00\x00\x06\x00")  # II: tag 274, SHORT, 1, 6
    assert marker > 0
    bad[marker + 8] = orientation
    data = encode(image, "JPEG", quality=95, exif=bytes(bad))
    assert_upright(prepare_selfie(data).data)


# ------------------------------------------------------------------ broken EXIF


def raw_orientation_exif(tiff_type: int, count: int, value: bytes) -> bytes:
    """An EXIF block whose only entry is the orientation tag, typed and valued as given
    (little-endian TIFF; `value` is the entry's 4-byte value field)."""
    entry = struct.pack("<HHI", ORIENTATION, tiff_type, count) + value
    return b"Exif\x00\x00II*\x00" + struct.pack("<IH", 8, 1) + entry + struct.pack("<I", 0)


@pytest.mark.parametrize(
    ("tiff_type", "count", "value"),
    [
        (3, 1, struct.pack("<HH", 9, 0)),  # SHORT 9: no such orientation
        (3, 1, struct.pack("<HH", 255, 0)),
        (2, 2, b"6\x00\x00\x00"),  # ASCII "6"
        (9, 1, struct.pack("<i", -6)),  # SLONG -6
    ],
    ids=["9", "255", "text", "negative"],
)
def test_an_orientation_that_cannot_be_applied_is_refused_not_sent_sideways(
    tiff_type, count, value
):
    exif = raw_orientation_exif(tiff_type, count, value)
    data = encode(stored_as(6), "JPEG", quality=95, exif=exif)
    assert rejected(data) == UNKNOWN_ORIENTATION


def test_an_orientation_in_a_wider_integer_type_is_still_applied():
    exif = raw_orientation_exif(4, 1, struct.pack("<I", 6))  # LONG instead of SHORT
    data = encode(stored_as(6), "JPEG", quality=95, exif=exif)
    assert_upright(prepare_selfie(data).data)


def test_orientation_zero_means_unknown_and_is_shown_as_stored():
    data = encode(upright(), "JPEG", quality=95, exif=exif_with(0))
    assert_upright(prepare_selfie(data).data)


def test_an_exif_block_nothing_can_be_read_from_is_used_as_stored():
    # Viewers show such a photo as stored (no tag can be read), so the member sees it so too.
    data = encode(upright(), "JPEG", quality=95, exif=b"Exif\x00\x00garbage-not-tiff")
    assert_upright(prepare_selfie(data).data)


def test_a_transpose_that_fails_refuses_the_selfie(monkeypatch):
    def broken(self, method):
        raise ValueError("cannot transpose")

    data = encode(stored_as(6), "JPEG", quality=95, exif=exif_with(6))
    monkeypatch.setattr(Image.Image, "transpose", broken)
    assert rejected(data) == UNKNOWN_ORIENTATION


# ------------------------------------------------------------------ HEIC and AVIF


def heic_as_a_phone_writes_it(orientation: int) -> bytes:
    """Pixels stored as the sensor saw them, the turn in the container's irot/imir boxes and
    the same orientation in EXIF (what an iPhone writes). pillow-heif's encoder turns the pixels
    by the EXIF orientation *and* records it as irot/imir, so it is handed the picture stored
    twice over."""
    import pillow_heif

    image = stored_as(orientation)
    if orientation in STORE:
        image = image.transpose(STORE[orientation])
    image.info["exif"] = exif_with(orientation).tobytes()
    out = io.BytesIO()
    pillow_heif.from_pillow(image).save(out, quality=90)
    data = out.getvalue()
    if orientation != 1:
        assert b"irot" in data or b"imir" in data
    return data


@pytest.mark.parametrize("orientation", range(1, 9))
def test_heic_is_accepted_and_turned_upright_once(orientation):
    selfie = prepare_selfie(heic_as_a_phone_writes_it(orientation))
    assert_upright(selfie.data)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_avif_is_accepted_and_turned_upright(orientation):
    # Pillow writes the orientation as irot/imir and reads it back as EXIF orientation.
    data = encode(stored_as(orientation), "AVIF", quality=90, exif=exif_with(orientation))
    assert_upright(prepare_selfie(data).data)


@pytest.mark.parametrize("fmt", ["HEIF", "AVIF"])
def test_heic_and_avif_lose_their_metadata(fmt):
    exif = exif_with(1, gps=True)
    exif[0x010F] = "SECRETCAM"
    image = upright()
    out = io.BytesIO()
    image.save(out, format=fmt, exif=exif.tobytes(), quality=90)
    data = out.getvalue()
    assert b"SECRETCAM" in data
    prepared = prepare_selfie(data).data
    assert b"SECRETCAM" not in prepared
    assert not Image.open(io.BytesIO(prepared)).getexif()


@pytest.mark.parametrize("fmt", ["HEIF", "AVIF"])
def test_heic_and_avif_keep_the_size_rules(fmt):
    small = encode(Image.new("RGB", (200, 300), BLUE), fmt, quality=80)
    with pytest.raises(SelfieRejected, match="only 200×300 pixels"):
        prepare_selfie(small)
    big = encode(Image.new("RGB", (1600, 2000), BLUE), fmt, quality=50)
    selfie = prepare_selfie(big)
    assert (selfie.width, selfie.height) == (1229, 1536)
    with pytest.raises(SelfieRejected, match="too large to process"):
        prepare_selfie(big, SelfieLimits(max_pixels=2_000_000))


@pytest.mark.parametrize("fmt", ["HEIF", "AVIF"])
def test_a_cut_off_heic_or_avif_is_refused(fmt):
    data = encode(Image.effect_noise((600, 800), 60).convert("RGB"), fmt, quality=90)
    with pytest.raises(SelfieRejected):
        prepare_selfie(data[: len(data) // 2])
