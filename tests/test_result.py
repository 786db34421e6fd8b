import io
import random
from datetime import UTC, datetime

from PIL import Image

from bot.core.catalog import Catalog
from bot.core.jobs import Phase, PortraitImage
from bot.core.request.options import resolve_options
from bot.core.result.files import fit_within
from bot.core.result.summary import format_duration, summarize
from bot.frontends.discord_bot.status import render_status


def noisy_png(size=(768, 768), seed=0) -> bytes:
    rng = random.Random(seed)
    image = Image.frombytes(
        "RGB", size, bytes(rng.getrandbits(8) for _ in range(size[0] * size[1] * 3))
    )
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def test_summary_lists_every_setting_with_readable_names():
    catalog = Catalog.bundled()
    lora = catalog.loras[0]
    options = resolve_options(catalog, prompt="a knight", lora=lora.id, lora_scale=0.7, seed=42)
    summary = summarize(options, catalog, elapsed=83.4)
    fields = dict(summary.fields)
    assert summary.prompt == "a knight"
    assert fields["Model"] == catalog.model(options.model_id).readable_name
    assert fields["LoRA"] == f"{lora.readable_name} (scale 0.7)"
    assert fields["Seed"] == "42"
    assert fields["Steps"] == str(catalog.defaults.steps)
    assert fields["Guidance"] == f"{catalog.defaults.guidance:g}"
    assert fields["Likeness"] == f"{catalog.defaults.likeness:g}"
    assert fields["Scheduler"] == catalog.defaults.scheduler
    assert fields["Time taken"] == "1 min 23 s"


def test_summary_without_lora_says_none():
    catalog = Catalog.bundled()
    fields = dict(summarize(resolve_options(catalog, seed=1), catalog).fields)
    assert fields["LoRA"] == "None"
    assert "Time taken" not in fields


def test_durations_read_naturally():
    assert format_duration(4.6) == "5 s"
    assert format_duration(125) == "2 min 05 s"


def test_status_shows_stage_and_elapsed_time():
    text = render_status("<@1>", Phase.GENERATING, 12.7)
    assert "<@1>" in text and "Generating" in text and "12 s" in text
    assert "▰▰▰▱▱" in text
    # After the first minute the time moves in 10-second steps, so edits stay rare.
    assert render_status("<@1>", Phase.QUEUED, 75).endswith("1 min 10 s")


def test_a_job_waiting_for_the_cooldown_says_when_it_starts():
    starts = datetime(2025, 3, 1, 12, 0, 30, 250_000, tzinfo=UTC)
    text = render_status("<@1>", Phase.WAITING, 3, position=2, starts_at=starts)
    assert "Waiting in line" in text
    assert f"Starts <t:{int(starts.timestamp()) + 1}:R>" in text  # rounded up, never early
    assert "ahead of you" not in text
    exact = datetime(2025, 3, 1, 12, 0, 30, tzinfo=UTC)
    assert f"<t:{int(exact.timestamp())}:R>" in render_status(
        "<@1>", Phase.WAITING, 0, starts_at=exact
    )


def test_images_that_fit_are_left_untouched():
    images = (PortraitImage("a.png", b"x" * 1000),)
    assert fit_within(images, limit=10 * 1024 * 1024) == images


def test_too_large_results_are_reencoded_not_dropped():
    images = tuple(PortraitImage(f"portrait-1-{i}.png", noisy_png(seed=i)) for i in range(4))
    total = sum(len(image.data) for image in images)
    limit = total // 2
    fitted = fit_within(images, limit=limit)
    assert len(fitted) == 4
    assert sum(len(image.data) for image in fitted) <= limit
    converted = [image for image in fitted if image.filename.endswith(".jpg")]
    assert converted
    assert Image.open(io.BytesIO(converted[0].data)).format == "JPEG"
