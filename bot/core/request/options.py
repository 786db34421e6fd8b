"""A member's ``/portrait`` choices: checked, filled with defaults, turned into the Run body.

Discord-free: the slash command and the CLI both call :func:`resolve_options` and then
:func:`run_fields`. Every :class:`OptionError` message is written for the member.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from bot.core.catalog import Catalog, StyleOption, with_trigger_words

log = logging.getLogger(__name__)

PROMPT_MAX_CHARS = 1000
NEGATIVE_PROMPT_MAX_CHARS = 1000
# Wiro's own server-side range is unknown (fact sheet §8). SDXL quality plateaus around
# 30-40 steps and the cost of a run grows with the number of steps.
STEPS_RANGE = (1, 50)
GUIDANCE_RANGE = (0.1, 20.0)
LIKENESS_RANGE = (0.0, 1.5)  # ip_adapter_scale; upstream InstantID's demo slider is 0-1.5
SAMPLES_RANGE = (1, 4)
SEED_RANGE = (0, 2**32 - 1)
LORA_SCALE_RANGE = (0.0, 1.0)

PRIVATE_ID_MAX_CHARS = 200
LORA_URL_MAX_CHARS = 2048

RUN_PATH = "/Run/wiro/instant-id-lora"


class OptionError(ValueError):
    """A choice the member has to fix; ``str(error)`` / ``.message`` says how."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class PortraitOptions:
    prompt: str
    negative_prompt: str
    model_id: str
    lora_id: str | None
    lora_scale: float | None
    steps: int
    guidance: float
    likeness: float
    samples: int
    seed: int
    scheduler: str
    # Private styles (the CLI, and the chats where the owner and the scope's policy allow
    # them: `Policies.check_request` decides, including the LoRA URL's host).
    private_model: str | None = None  # selectedModelPrivate
    private_lora: str | None = None  # selectedLoraModelPrivate
    lora_url: str | None = None  # selectedLoraModelPrivateUrl

    def to_params(self) -> dict[str, object]:
        """A JSON-able copy, as the job ledger keeps it."""
        return dataclasses.asdict(self)

    @classmethod
    def from_params(cls, params: Mapping[str, object]) -> PortraitOptions:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in params.items() if k in names})  # type: ignore[arg-type]


def resolve_options(
    catalog: Catalog,
    *,
    prompt: str | None = None,
    negative_prompt: str | None = None,
    model: str | None = None,
    lora: str | None = None,
    lora_scale: float | None = None,
    steps: int | None = None,
    guidance: float | None = None,
    likeness: float | None = None,
    samples: int | None = None,
    seed: int | None = None,
    scheduler: str | None = None,
    private_model: str | None = None,
    private_lora: str | None = None,
    lora_url: str | None = None,
    rng: random.Random | None = None,
) -> PortraitOptions:
    """Check the member's choices and fill what they left out from the catalog's defaults.

    ``private_model``, ``private_lora`` and ``lora_url`` are the tool's private inputs, from
    the CLI or a chat: only their shape is checked here (a LoRA URL must be an ``https://``
    link to a ``.safetensors`` file); whether a member may use them, and the LoRA URL's host,
    is the scope's policy (:meth:`bot.core.policy.service.Policies.check_request`), so the
    owner's CLI is not limited by it. A scope's default model, LoRA and prompt are filled in
    before this by :meth:`bot.core.policy.model.EffectivePolicy.with_defaults`.

    Raises :class:`OptionError` with a message for the member when a choice is unusable.
    """
    d = catalog.defaults

    prompt_text = _text("The prompt", prompt, d.prompt, PROMPT_MAX_CHARS)
    negative_text = _text(
        "The negative prompt", negative_prompt, d.negative_prompt, NEGATIVE_PROMPT_MAX_CHARS
    )

    # Base model: one from the list, or a private model of the Wiro account.
    private_model = _private_id("private model", private_model)
    if private_model and _given(model):
        raise OptionError("Choose either a model from the list or a private model, not both.")
    if _given(model):
        chosen_model = catalog.model(model)
        if chosen_model is None:
            raise OptionError(
                f'I don\'t know a model called "{_shorten(model)}". '
                "Start typing in the model option and pick one of the suggestions."
            )
    else:
        chosen_model = catalog.model(d.model_id) or (catalog.models[0] if catalog.models else None)
        if chosen_model is None:
            raise OptionError("No models are available right now. Please try again later.")

    # LoRA: one from the list, a private LoRA, or a URL to a .safetensors file.
    private_lora = _private_id("private LoRA", private_lora)
    lora_url = _lora_url(lora_url)
    chosen_lora: StyleOption | None = None
    if sum(bool(x) for x in (_given(lora), private_lora, lora_url)) > 1:
        raise OptionError("Choose only one LoRA: from the list, a private LoRA or a LoRA URL.")
    if _given(lora):
        chosen_lora = catalog.lora(lora)
        if chosen_lora is None:
            raise OptionError(
                f'I don\'t know a LoRA called "{_shorten(lora)}". '
                "Start typing in the LoRA option and pick one of the suggestions."
            )

    scale_value: float | None = None
    if lora_scale is not None:
        if chosen_lora is None:
            if private_lora or lora_url:
                raise OptionError("LoRA strength can only be set for a LoRA from the list.")
            raise OptionError("LoRA strength only applies when you also choose a LoRA.")
        setting = chosen_lora.scale
        if setting is None:
            raise OptionError(
                f"The {chosen_lora.readable_name} LoRA has no strength setting; "
                "leave LoRA strength empty."
            )
        low = max(LORA_SCALE_RANGE[0], setting.minimum)
        high = min(LORA_SCALE_RANGE[1], setting.maximum)
        if low > high:  # Wiro's range does not overlap ours: trust Wiro's
            low, high = setting.minimum, setting.maximum
        scale_value = _decimal("LoRA strength", lora_scale, (low, high))

    steps_value = _whole("Steps", steps, d.steps, STEPS_RANGE)
    guidance_value = _decimal("Guidance", guidance, GUIDANCE_RANGE, default=d.guidance)
    likeness_value = _decimal("Likeness", likeness, LIKENESS_RANGE, default=d.likeness)
    samples_value = _whole("Samples", samples, d.samples, SAMPLES_RANGE)
    if seed is None:
        seed_value = (rng or random).randint(*SEED_RANGE)
    else:
        seed_value = _whole("Seed", seed, None, SEED_RANGE)

    return PortraitOptions(
        prompt=prompt_text,
        negative_prompt=negative_text,
        model_id=chosen_model.id,
        lora_id=chosen_lora.id if chosen_lora else None,
        lora_scale=scale_value,
        steps=steps_value,
        guidance=guidance_value,
        likeness=likeness_value,
        samples=samples_value,
        seed=seed_value,
        scheduler=_scheduler(catalog, scheduler),
        private_model=private_model,
        private_lora=private_lora,
        lora_url=lora_url,
    )


def run_fields(
    options: PortraitOptions, catalog: Catalog, input_image_url: str
) -> dict[str, object]:
    """The JSON body for ``POST /Run/wiro/instant-id-lora``, in the tool's own field names.

    The model's and LoRA's trigger words are added to the prompt when it lacks them. A LoRA
    strength the member set is sent under the LoRA's ``generatesettings`` id (an inferred
    name, fact sheet §2); left out otherwise so Wiro uses the LoRA's default.
    """
    if not isinstance(input_image_url, str) or not input_image_url.strip():
        raise ValueError("input_image_url is required")
    model = catalog.model(options.model_id)
    if model is None:
        raise OptionError("That model is no longer offered. Please choose another one.")
    lora = None
    if options.lora_id:
        lora = catalog.lora(options.lora_id)
        if lora is None:
            raise OptionError("That LoRA is no longer offered. Please choose another one.")

    # A private model replaces the listed one, so the listed model's trigger words don't apply.
    prompt = with_trigger_words(options.prompt, None if options.private_model else model, lora)
    body: dict[str, object] = {
        "selectedModel": model.id,
        "selectedModelPrivate": options.private_model or "",
        "selectedLoraModel": lora.id if lora else "",
        "selectedLoraModelPrivate": options.private_lora or "",
        "selectedLoraModelPrivateUrl": options.lora_url or "",
        "inputImageUrl": input_image_url.strip(),
        "prompt": prompt,
        "negativePrompt": options.negative_prompt,
        "steps": int(options.steps),
        "scale": float(options.guidance),
        "ip_adapter_scale": float(options.likeness),
        "samples": int(options.samples),
        "seed": str(int(options.seed)),
        "scheduler": options.scheduler,
    }
    if options.lora_scale is not None and lora is not None:
        if lora.scale is None:
            raise OptionError(
                f"The {lora.readable_name} LoRA has no strength setting; leave LoRA strength empty."
            )
        if lora.scale.id in body:
            log.warning("LoRA scale id %r collides with a Run field; not sent", lora.scale.id)
        else:
            body[lora.scale.id] = float(options.lora_scale)
    return body


# ====================================================================== helpers


def _given(value: str | None) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _shorten(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _fmt(number: float) -> str:
    return f"{number:g}" if isinstance(number, float) else str(number)


def _text(what: str, value: str | None, default: str, limit: int) -> str:
    if value is not None and not isinstance(value, str):
        raise OptionError(f"{what} must be text.")
    text = (value or "").replace("\x00", "").strip()
    if not text:
        return default
    if len(text) > limit:
        raise OptionError(f"{what} is {len(text):,} characters long; the limit is {limit:,}.")
    return text


def _whole(what: str, value: object, default: int | None, bounds: tuple[int, int]) -> int:
    low, high = bounds
    if value is None:
        assert default is not None
        return min(max(int(default), low), high)  # a drifted default must still fit our range
    if isinstance(value, bool):
        raise OptionError(f"{what} must be a whole number.")
    if isinstance(value, float):
        if not value.is_integer():
            raise OptionError(f"{what} must be a whole number.")
        value = int(value)
    if isinstance(value, str):
        value = value.strip()
        if not (value.isascii() and value.isdigit()):
            raise OptionError(f"{what} must be a whole number.")
        value = int(value)
    if not isinstance(value, int):
        raise OptionError(f"{what} must be a whole number.")
    if not low <= value <= high:
        raise OptionError(f"{what} must be between {low} and {high}.")
    return value


def _decimal(
    what: str, value: object, bounds: tuple[float, float], default: float | None = None
) -> float:
    low, high = bounds
    if value is None:
        assert default is not None
        return min(max(float(default), low), high)
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise OptionError(f"{what} must be a number.")
    try:
        number = float(value)
    except ValueError:
        raise OptionError(f"{what} must be a number.") from None
    if not math.isfinite(number):
        raise OptionError(f"{what} must be a number.")
    if not low <= number <= high:
        raise OptionError(f"{what} must be between {_fmt(float(low))} and {_fmt(float(high))}.")
    return number


def _scheduler(catalog: Catalog, value: str | None) -> str:
    if not _given(value):
        default = catalog.scheduler(catalog.defaults.scheduler)
        if default is not None:
            return default
        if not catalog.schedulers:
            raise OptionError("No schedulers are available right now. Please try again later.")
        return catalog.schedulers[0]
    assert value is not None
    found = catalog.scheduler(value)
    if found is not None:
        return found
    choices = ", ".join(catalog.schedulers)
    wanted = " ".join(value.split()).casefold()
    for withheld in catalog.withheld_schedulers:
        if withheld.casefold() == wanted:
            raise OptionError(
                f"{withheld} isn't offered: it is a flow-matching scheduler that doesn't suit "
                f"these SDXL models. Choose one of: {choices}."
            )
    raise OptionError(
        f'There is no scheduler called "{_shorten(value)}". Choose one of: {choices}.'
    )


def _private_id(what: str, value: str | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise OptionError(f"The {what} must be given as text.")
    text = value.strip()
    if not text:
        return None
    if len(text) > PRIVATE_ID_MAX_CHARS or not text.isprintable():
        raise OptionError(f"That {what} id doesn't look right.")
    return text


def _lora_url(value: str | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise OptionError("The LoRA URL must be text.")
    url = value.strip()
    if not url:
        return None
    problem = OptionError(
        "The LoRA URL must be an https:// link straight to a .safetensors file "
        "(a query string after it is fine), or a Civitai download link."
    )
    if len(url) > LORA_URL_MAX_CHARS or not url.isprintable() or any(c.isspace() for c in url):
        raise problem
    try:
        parts = urlsplit(url)
    except ValueError:
        raise problem from None
    if (
        parts.scheme.lower() != "https"
        or not parts.hostname
        or parts.username is not None
        or parts.password is not None
        or not _lora_file_path(parts.path)
    ):
        raise problem
    return url


# Civitai serves a model's file at /api/download/models/<version id>, without a file name.
_CIVITAI_DOWNLOAD = re.compile(r"^/api/download/models/\d+/?$")


def _lora_file_path(path: str) -> bool:
    """Wiro takes "a direct URL to a LoRA model (.safetensors)" (the tool page); a Civitai
    download link is one even without the suffix. Hosts are checked by the policy."""
    return path.lower().endswith(".safetensors") or bool(_CIVITAI_DOWNLOAD.match(path))
