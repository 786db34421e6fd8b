"""Intake time of a 12-megapixel phone photo: ``prepare_selfie`` (decode, checks, EXIF
orientation, downscale to 1536 px, metadata-free JPEG), single thread, as the bot runs it in
``asyncio.to_thread``."""

from __future__ import annotations

import io
import time

from PIL import Image, ImageDraw

from bench.harness import log
from bench.profile import Profile
from bench.report import Report
from bench.stats import ms, summary
from bot.core.request.selfie import SelfieLimits, prepare_selfie

NAME = "intake"
SIZE = (4000, 3000)
_ORIENTATION, _MAKE, _MODEL = 0x0112, 0x010F, 0x0110


def phone_photo(size: tuple[int, int] = SIZE, *, seed_sigma: float = 30.0) -> bytes:
    """A photo-like JPEG: colour gradients, a face-like oval, and sensor-like noise everywhere,
    so it does not compress to nothing (about 3.5 MB at quality 92, as phones write). It carries
    EXIF like a phone held upright (orientation 6: the bot must rotate it)."""
    width, height = size
    gradient = Image.linear_gradient("L")
    bands = [
        gradient.resize(size),
        gradient.rotate(90).resize(size),
        gradient.rotate(45).resize(size),
    ]
    image = Image.merge("RGB", bands)
    draw = ImageDraw.Draw(image)
    cx, cy = width // 2, height // 2
    draw.ellipse((cx - 800, cy - 1000, cx + 800, cy + 1000), fill=(225, 185, 150))
    for dx in (-330, 330):
        draw.ellipse((cx + dx - 90, cy - 350, cx + dx + 90, cy - 250), fill=(45, 35, 35))
    draw.arc((cx - 400, cy + 150, cx + 400, cy + 550), 20, 160, fill=(150, 60, 60), width=40)
    noise = Image.effect_noise(size, seed_sigma).convert("RGB")
    image = Image.blend(image, noise, 0.3)
    exif = Image.Exif()
    exif[_ORIENTATION] = 6
    exif[_MAKE] = "BenchPhone"
    exif[_MODEL] = "12MP"
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=92, exif=exif)
    return out.getvalue()


def run_sync(report: Report, profile: Profile) -> None:
    data = phone_photo()
    limits = SelfieLimits()
    log(f"intake: {profile.intake_runs} x prepare_selfie on a {len(data) / 1e6:.1f} MB JPEG")
    prepared = prepare_selfie(data, limits)  # warm-up (imports, codec tables)
    times = []
    for _ in range(profile.intake_runs):
        started = time.perf_counter()
        prepare_selfie(data, limits)
        times.append(time.perf_counter() - started)
    stats = summary(times, 50, 95)
    report.add(
        "intake",
        f"prepare_selfie, {SIZE[0]}x{SIZE[1]} JPEG of {len(data) / 1e6:.1f} MB "
        f"(n={len(times)}, 1 thread)",
        f"median {ms(stats['p50'])}  p95 {ms(stats['p95'])}  "
        f"-> {prepared.width}x{prepared.height}, {len(prepared.data) / 1e6:.2f} MB",
        seconds=stats,
        input_bytes=len(data),
        output_bytes=len(prepared.data),
        output_size=[prepared.width, prepared.height],
    )


async def run(report: Report, profile: Profile) -> None:
    run_sync(report, profile)
