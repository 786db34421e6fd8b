"""The Details answer under a result: the exact settings of a portrait and the `/portrait` line
that makes it again, as one complete, well-formed message of at most 2,000 code points.

Discord ends a code block at the first three backticks, whatever opened it (longer fences are
not supported), so a prompt holding a run of three or more backticks is shown inside the block
with look-alike accents (U+02CB) instead, and bidi and invisible characters are left out of
what is shown. Whenever what is shown is not exactly the settings (cut to its budget or
changed that way), the exact text comes as an attached ``details-<job>.txt``.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import discord
import regex

from bot.core.jobs.ledger import Job
from bot.core.request.options import PortraitOptions
from bot.frontends.discord_bot.text import CONTENT, fit, visible

_BACKTICK_RUN = regex.compile(r"`{3,}")
_LOOKALIKE = "\u02cb"  # MODIFIER LETTER GRAVE ACCENT
_FENCE = "```"
# The longest a setting other than the prompts may take in the message (ids, URLs).
_VALUE_CHARS = 80
# Share of the room left for the prompts that the prompt gets (the rest: negative prompt).
_PROMPT_SHARE = 0.6
_LONG_TEXTS = ("prompt", "negative_prompt")


@dataclass(frozen=True)
class DetailsMessage:
    content: str
    file: discord.File | None


def details_message(job: Job) -> DetailsMessage:
    """The Details answer of ``job``: ``content`` within 2,000 code points with every code
    block closed, plus ``details-<job id>.txt`` when the message could not show it all."""
    options = PortraitOptions.from_params(job.params["options"])
    settings = {
        name: str(value) for name, value in options.to_params().items() if value is not None
    }
    command = portrait_command(options)
    header = f"**The exact settings of portrait #{job.id}**\n"
    # The prompts are long: in the full answer they appear once, in the command line.
    short = {name: value for name, value in settings.items() if name not in _LONG_TEXTS}
    full = header + _block(_settings_text(short)) + "To make it again:\n" + _block(command)
    exact_enough = all(_code_safe(text) == text for text in (*settings.values(), command))
    if len(full) <= CONTENT and exact_enough:
        return DetailsMessage(full, None)

    filename = f"details-{job.id}.txt"
    note = f"The complete settings and the `/portrait` line are in **{filename}**.\n"
    shown = {
        name: value if name in _LONG_TEXTS else fit(value, _VALUE_CHARS)
        for name, value in settings.items()
    }
    frame = header + note + _block(_settings_text({**shown, "prompt": "", "negative_prompt": ""}))
    room = max(0, CONTENT - len(frame))
    prompt_room = int(room * _PROMPT_SHARE)
    prompt = fit(_code_safe(shown.get("prompt", "")), prompt_room)
    negative_room = room - len(prompt)
    negative = fit(_code_safe(shown.get("negative_prompt", "")), negative_room)
    for name, value in (("prompt", prompt), ("negative_prompt", negative)):
        if name in shown:
            shown[name] = value
    content = header + _block(_settings_text(shown)) + note
    exact = (
        f"Settings of portrait #{job.id}\n\n{_settings_text(settings)}\n\n"
        f"To make it again (attach the same selfie):\n{command}\n"
    )
    return DetailsMessage(content, discord.File(io.BytesIO(exact.encode()), filename=filename))


def _settings_text(settings: dict[str, str]) -> str:
    return "\n".join(f"{name}: {value}" for name, value in settings.items())


def _block(text: str) -> str:
    """``text`` in a code block that nothing inside can close."""
    return f"{_FENCE}\n{_code_safe(text)}\n{_FENCE}\n"


def _code_safe(text: str) -> str:
    """``text`` as it can be shown inside a code block: without bidi and invisible characters,
    and with every run of three or more backticks made of look-alikes."""
    return _BACKTICK_RUN.sub(lambda run: _LOOKALIKE * len(run[0]), visible(text))


def portrait_command(options: PortraitOptions) -> str:
    """The `/portrait` line that reproduces these options (attach the same selfie)."""
    parts = [f"/portrait prompt:{options.prompt}", f"model:{options.model_id}"]
    if options.lora_id:
        parts.append(f"lora:{options.lora_id}")
    if options.lora_scale is not None:
        parts.append(f"lora_scale:{options.lora_scale:g}")
    parts += [
        f"negative_prompt:{options.negative_prompt}",
        f"steps:{options.steps}",
        f"guidance:{options.guidance:g}",
        f"likeness:{options.likeness:g}",
        f"samples:{options.samples}",
        f"seed:{options.seed}",
        f"scheduler:{options.scheduler}",
    ]
    return " ".join(parts)
