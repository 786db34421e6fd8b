"""The settings a portrait was made with, as label/value pairs any front end can show."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.catalog import Catalog
from bot.core.request.options import PortraitOptions

PROMPT_PREVIEW_CHARS = 1000


@dataclass(frozen=True)
class Summary:
    prompt: str
    fields: tuple[tuple[str, str], ...]


def summarize(options: PortraitOptions, catalog: Catalog, elapsed: float | None = None) -> Summary:
    model = catalog.model(options.model_id)
    fields: list[tuple[str, str]] = [
        ("Model", model.readable_name if model else options.private_model or options.model_id),
        ("LoRA", _lora_text(options, catalog)),
        ("Seed", str(options.seed)),
        ("Steps", str(options.steps)),
        ("Guidance", f"{options.guidance:g}"),
        ("Likeness", f"{options.likeness:g}"),
        ("Scheduler", options.scheduler),
    ]
    if elapsed is not None:
        fields.append(("Time taken", format_duration(elapsed)))
    return Summary(prompt=_preview(options.prompt), fields=tuple(fields))


def format_duration(seconds: float) -> str:
    whole = max(0, round(seconds))
    minutes, secs = divmod(whole, 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def _lora_text(options: PortraitOptions, catalog: Catalog) -> str:
    if options.lora_url:
        name = options.lora_url.rsplit("/", 1)[-1].split("?", 1)[0]
    elif options.private_lora:
        name = f"private {options.private_lora}"
    elif options.lora_id:
        lora = catalog.lora(options.lora_id)
        name = lora.readable_name if lora else options.lora_id
    else:
        return "None"
    return f"{name} (scale {options.lora_scale:g})" if options.lora_scale is not None else name


def _preview(prompt: str) -> str:
    if len(prompt) <= PROMPT_PREVIEW_CHARS:
        return prompt
    return prompt[: PROMPT_PREVIEW_CHARS - 1] + "…"
