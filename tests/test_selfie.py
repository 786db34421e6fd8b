import io
import random
import struct
import warnings
import zlib

import pytest
from PIL import Image, ImageCms, ImageFile

from bot.core.request.selfie import (
    DAMAGED,
    NOT_AN_IMAGE,
    TRUNCATED,
    PreparedSelfie,
    SelfieLimits,
    SelfieRejected,
    prepare_selfie,
)

RED, BLUE, GREEN = (220, 20, 20), (20, 20, 220), (20, 200, 20)
GPS_IFD = 0x8825
ORIENTATION = 0x0112


# ------------------------------------------------------------------------ helpers


def encode(image: Image.Image, fmt: str, **params) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **params)
    return out.getvalue()


def halves(size, first, second, mode="RGB") -> Image.Image:
    """Left half ``first``, right half ``second``."""
    image = Image.new(mode, size, second)
    image.paste(first, (0, 0, size[0] // 2, size[1]))
    return image


def noise(size) -> Image.Image:
    rng = random.Random(1)
    return Image.frombytes("RGB", size, rng.randbytes(size[0] * size[1] * 3))


def rejected(data: bytes, limits: SelfieLimits | None = None) -> str:
    with pytest.raises(SelfieRejected) as caught:
        prepare_selfie(data) if limits is None else prepare_selfie(data, limits)
    assert caught.value.message == str(caught.value)
    return caught.value.message


def near(pixel, colour, tolerance=30) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, colour, strict=True))


def jpeg_markers(data: bytes) -> list[tuple[int, bytes]]:
    """(marker, first bytes of payload) for every segment before the scan data."""
    assert data[:2] == b"\xff\xd8"
    markers, pos = [], 2
    while pos < len(data):
        assert data[pos] == 0xFF
        marker = data[pos + 1]
        length = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        markers.append((marker, data[pos + 4 : pos + 4 + 14]))
        if marker == 0xDA:  # start of scan: entropy-coded data follows
            break
        pos += 2 + length
    return markers


def patched_png(width: int, height: int) -> bytes:
    """A tiny PNG whose IHDR claims ``width`` × ``height`` (CRC fixed up)."""
    data = bytearray(encode(Image.new("1", (8, 8)), "PNG"))
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def secret_exif(orientation: int = 6) -> Image.Exif:
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    exif[0x010F] = "SECRETCAM"  # Make
    exif[0x010E] = "SECRETDESC"  # ImageDescription
    exif[GPS_IFD] = {
        1: "N",
        2: (52.0, 31.0, 12.0),
        3: "E",
        4: (13.0, 24.0, 36.0),
        0x1B: b"ASCII\x00\x00\x00SECRETGPS",  # GPSProcessingMethod
    }
    return exif


# ----------------------------------------------------------------- happy paths


def test_exif_orientation_is_applied_to_the_pixels():
    # Stored landscape, left half red; orientation 6 means "rotate 90° clockwise to show".
    data = encode(halves((400, 300), RED, BLUE), "JPEG", quality=95, exif=secret_exif(6))
    selfie = prepare_selfie(data)
    assert (selfie.width, selfie.height) == (300, 400)
    out = Image.open(io.BytesIO(selfie.data))
    assert out.size == (300, 400)
    assert near(out.getpixel((150, 40)), RED)  # the stored left side is now on top
    assert near(out.getpixel((150, 360)), BLUE)
    assert near(out.getpixel((20, 100)), RED) and near(out.getpixel((280, 100)), RED)


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_exif_orientation_in_png_and_webp(fmt):
    data = encode(halves((400, 300), RED, BLUE), fmt, exif=secret_exif(6))
    out = Image.open(io.BytesIO(prepare_selfie(data).data))
    assert out.size == (300, 400)
    assert near(out.getpixel((150, 40)), RED)
    assert near(out.getpixel((150, 360)), BLUE)


def test_orientation_8_turns_the_other_way():
    data = encode(halves((400, 300), RED, BLUE), "JPEG", quality=95, exif=secret_exif(8))
    out = Image.open(io.BytesIO(prepare_selfie(data).data))
    assert out.size == (300, 400)
    assert near(out.getpixel((150, 40)), BLUE)
    assert near(out.getpixel((150, 360)), RED)


def test_no_metadata_survives():
    sRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    source = encode(
        noise((600, 400)),
        "JPEG",
        exif=secret_exif(6),
        icc_profile=sRGB,
        comment=b"SECRETCOMMENT",
        xmp=b"<x:xmpmeta>SECRETXMP</x:xmpmeta>",
        dpi=(300, 300),
    )
    # the input really carries what we claim to strip
    src = Image.open(io.BytesIO(source))
    assert src.getexif().get_ifd(GPS_IFD)
    assert src.info.get("icc_profile") and src.info.get("comment")
    for secret in (b"SECRETCAM", b"SECRETGPS", b"SECRETCOMMENT", b"SECRETXMP", b"Exif"):
        assert secret in source

    data = prepare_selfie(source).data
    for secret in (b"SECRETCAM", b"SECRETDESC", b"SECRETGPS", b"SECRETCOMMENT", b"SECRETXMP"):
        assert secret not in data
    for marker in (b"Exif\x00", b"http://ns.adobe.com/xap", b"ICC_PROFILE"):
        assert marker not in data
    markers = jpeg_markers(data)
    codes = {m for m, _ in markers}
    assert not codes & set(range(0xE1, 0xF0)), "APP1..APP15 (EXIF, XMP, ICC, ...) present"
    assert 0xFE not in codes, "COM comment present"
    assert [payload[:5] for m, payload in markers if m == 0xE0] == [b"JFIF\x00"]
    out = Image.open(io.BytesIO(data))
    assert not out.getexif()
    assert not out.getexif().get_ifd(GPS_IFD)
    assert "icc_profile" not in out.info and "comment" not in out.info
    assert "exif" not in out.info and "xmp" not in out.info


def test_png_alpha_is_flattened_onto_white():
    image = Image.new("RGBA", (300, 300), (0, 0, 0, 0))  # transparent black
    image.paste((*GREEN, 255), (150, 0, 300, 300))
    selfie = prepare_selfie(encode(image, "PNG"))
    out = Image.open(io.BytesIO(selfie.data))
    assert out.mode == "RGB"
    assert near(out.getpixel((40, 150)), (255, 255, 255), 6)
    assert near(out.getpixel((260, 150)), GREEN)


def test_half_transparent_pixels_blend_with_white():
    image = Image.new("RGBA", (300, 300), (0, 0, 0, 128))
    out = Image.open(io.BytesIO(prepare_selfie(encode(image, "PNG")).data))
    assert near(out.getpixel((150, 150)), (127, 127, 127), 8)


def test_palette_and_greyscale_transparency_become_white():
    palette = Image.new("P", (300, 300), 0)
    palette.putpalette([0, 0, 0, *GREEN] + [0] * 762)
    palette.paste(1, (150, 0, 300, 300))
    out = Image.open(io.BytesIO(prepare_selfie(encode(palette, "PNG", transparency=0)).data))
    assert near(out.getpixel((40, 150)), (255, 255, 255), 6)
    assert near(out.getpixel((260, 150)), GREEN)
    la = Image.new("LA", (300, 300), (0, 0))
    out = Image.open(io.BytesIO(prepare_selfie(encode(la, "PNG")).data))
    assert near(out.getpixel((150, 150)), (255, 255, 255), 6)


def test_large_images_are_downscaled_with_their_aspect_kept():
    selfie = prepare_selfie(encode(noise((3000, 2000)), "JPEG", quality=80))
    assert (selfie.width, selfie.height) == (1536, 1024)
    assert Image.open(io.BytesIO(selfie.data)).size == (1536, 1024)
    png = prepare_selfie(encode(halves((2000, 1600), RED, BLUE), "PNG"))
    assert (png.width, png.height) == (1536, 1229)
    small = prepare_selfie(encode(noise((640, 480)), "PNG"))
    assert (small.width, small.height) == (640, 480)


def test_custom_output_size_and_quality():
    limits = SelfieLimits(output_max_side=512, jpeg_quality=70)
    selfie = prepare_selfie(encode(noise((1024, 768)), "JPEG"), limits)
    assert (selfie.width, selfie.height) == (512, 384)


def test_prepared_selfie_is_a_jpeg_upload():
    selfie = prepare_selfie(bytearray(encode(noise((300, 300)), "WEBP")))
    assert isinstance(selfie, PreparedSelfie)
    assert (selfie.content_type, selfie.filename) == ("image/jpeg", "selfie.jpg")
    out = Image.open(io.BytesIO(selfie.data))
    assert (out.format, out.mode) == ("JPEG", "RGB")


def test_first_frame_of_an_animated_gif():
    frames = [Image.new("RGB", (300, 300), RED), Image.new("RGB", (300, 300), BLUE)]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    out = Image.open(io.BytesIO(prepare_selfie(data).data))
    assert near(out.getpixel((150, 150)), RED)


def test_first_picture_of_an_mpo():
    pictures = [Image.new("RGB", (300, 300), RED), Image.new("RGB", (300, 300), BLUE)]
    data = encode(pictures[0], "MPO", save_all=True, append_images=pictures[1:])
    assert Image.open(io.BytesIO(data)).format == "MPO"
    out = Image.open(io.BytesIO(prepare_selfie(data).data))
    assert near(out.getpixel((150, 150)), RED)


def test_cmyk_and_16_bit_greyscale_are_converted_sensibly():
    cmyk = Image.new("CMYK", (300, 300), (0, 255, 255, 0))  # red ink
    out = Image.open(io.BytesIO(prepare_selfie(encode(cmyk, "JPEG")).data))
    assert out.mode == "RGB" and near(out.getpixel((150, 150)), (255, 0, 0), 40)
    grey16 = Image.new("I;16", (300, 300), 32896)  # 50 % grey in 16 bits
    out = Image.open(io.BytesIO(prepare_selfie(encode(grey16, "PNG")).data))
    assert near(out.getpixel((150, 150)), (128, 128, 128), 4)


# --------------------------------------------------------------------- rejections


def test_size_limit_is_checked_first():
    data = b"\x89PNG" + b"\x00" * (int(24.1 * 1024 * 1024) - 4)
    assert rejected(data) == "That image is 24.1 MB; the limit is 20 MB."
    assert rejected(encode(noise((300, 300)), "PNG"), SelfieLimits(max_bytes=1000)).endswith(
        "the limit is 0.000953674 MB."
    )


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello, this is not an image at all",
        b"\xff\xd8\xff" + b"\x00" * 50,  # a JPEG signature and nothing else
        b"%PDF-1.7\n",
    ],
)
def test_non_images_are_rejected(data):
    assert rejected(data) == NOT_AN_IMAGE


@pytest.mark.parametrize("fmt", ["BMP", "TIFF", "ICO", "PPM"])
def test_other_image_formats_are_rejected_whatever_their_name(fmt):
    assert rejected(encode(noise((300, 300)), fmt)) == NOT_AN_IMAGE


def test_a_damaged_heic_is_called_damaged():
    heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 100
    assert rejected(heic) == DAMAGED


def test_the_refusal_names_every_accepted_format():
    for name in ("JPEG", "PNG", "WebP", "HEIC", "AVIF"):
        assert name in NOT_AN_IMAGE


def test_truncated_jpeg_is_rejected():
    data = encode(noise((512, 512)), "JPEG", quality=90)
    assert rejected(data[: len(data) // 2]) == TRUNCATED


def test_truncated_or_corrupt_png_is_rejected():
    data = encode(noise((512, 512)), "PNG")
    assert rejected(data[: len(data) // 2]) == TRUNCATED
    corrupt = bytearray(data)
    start = corrupt.index(b"IDAT") + 4
    corrupt[start : start + 2] = b"\x00\x00"  # break the zlib stream header
    assert rejected(bytes(corrupt)) == DAMAGED


def test_load_truncated_images_must_stay_off(monkeypatch):
    data = encode(noise((512, 512)), "JPEG")
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with pytest.raises(RuntimeError, match="LOAD_TRUNCATED_IMAGES"):
        prepare_selfie(data[: len(data) // 2])


@pytest.mark.parametrize(
    ("width", "height"),
    [
        (30000, 30000),  # Pillow itself raises DecompressionBombError
        (10000, 9500),  # Pillow only warns (above MAX_IMAGE_PIXELS, below twice that)
        (8000, 8000),  # below Pillow's limits, above ours (50 megapixels)
    ],
)
def test_decompression_bombs_are_rejected_from_the_header(width, height):
    data = patched_png(width, height)
    assert len(data) < 200  # the claim is all there is: nothing was decoded
    max_pixels = Image.MAX_IMAGE_PIXELS
    filters = list(warnings.filters)
    message = rejected(data)
    assert "megapixels" in message and f"{width}×{height}" in message
    assert max_pixels == Image.MAX_IMAGE_PIXELS  # not touched globally
    assert warnings.filters == filters


def test_pixel_limit_is_configurable():
    limits = SelfieLimits(max_pixels=300 * 300 - 1)
    assert "megapixels" in rejected(encode(noise((300, 300)), "PNG"), limits)


def test_too_small_is_rejected():
    message = rejected(encode(noise((120, 90)), "JPEG"))
    assert message == (
        "That image is only 120×90 pixels; please use a photo at least 256 pixels on each side."
    )


def test_too_small_names_the_shown_orientation():
    data = encode(noise((300, 200)), "JPEG", exif=secret_exif(6))
    assert rejected(data).startswith("That image is only 200×300 pixels")


@pytest.mark.parametrize("size", [(1000, 300), (300, 1000)])
def test_extreme_aspect_is_rejected(size):
    message = rejected(encode(noise(size), "PNG"))
    assert "too long and narrow" in message and "3 times" in message


def test_aspect_at_the_limit_is_accepted():
    selfie = prepare_selfie(encode(noise((900, 300)), "PNG"))
    assert (selfie.width, selfie.height) == (900, 300)


def test_not_bytes_is_a_programming_error():
    with pytest.raises(TypeError):
        prepare_selfie("selfie.jpg")  # type: ignore[arg-type]


def test_kept_selfies_are_named_not_located(tmp_path) -> None:
    """The ledger keeps a selfie's file name, so a moved or copied data folder (migrate-db,
    another process's mount) still finds and deletes it; an old full path works by its name,
    and nothing outside the folder is ever reached."""
    from bot.core.request.selfie_store import SelfieStore

    old = SelfieStore(tmp_path / "old" / "selfies")
    name = old.save(b"jpeg bytes")
    assert "/" not in name
    (tmp_path / "new").mkdir()
    (tmp_path / "old" / "selfies").rename(tmp_path / "new" / "selfies")
    moved = SelfieStore(tmp_path / "new" / "selfies")
    legacy = str(tmp_path / "old" / "selfies" / name)  # what versions before kept
    assert moved.load(name) == b"jpeg bytes" and moved.load(legacy) == b"jpeg bytes"
    (tmp_path / "secret.jpg").write_bytes(b"x")
    assert moved.load(str(tmp_path / "secret.jpg")) is None
    assert moved.load("../secret.jpg") is None
    moved.delete(legacy)
    assert moved.load(name) is None
