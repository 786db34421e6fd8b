"""What the buttons under a result do, as plain values any front end can call: who may change
or delete a job, the options of a new version (re-roll, likeness step, restyle, edited
prompt), the kept selfie a new version reuses, and deleting what the bot keeps of a result.

Nothing here posts a message or calls Wiro: a front end checks the member with `may_change` /
`may_delete`, builds the new options here (every change goes through `resolve_options`, the
same checks as a request), then queues the job through `Admission` like any request.
Refusals are `ActionRefused` with a message for the member (plain text: the front end escapes
it and words platform-specific hints itself).
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
from collections.abc import Mapping
from datetime import datetime

from bot.core.catalog import Catalog
from bot.core.jobs.ledger import Job, JobLedger
from bot.core.request.options import (
    LIKENESS_RANGE,
    SEED_RANGE,
    OptionError,
    PortraitOptions,
    resolve_options,
)
from bot.core.request.selfie_store import SelfieStore
from bot.core.result.store import ResultStore

__all__ = [
    "LIKENESS_STEP",
    "ActionRefused",
    "can_step",
    "edited_prompt",
    "forget_result",
    "job_options",
    "kept_selfie",
    "likeness_step",
    "may_change",
    "may_delete",
    "rerolled",
    "restyled",
    "revalidated",
]

LIKENESS_STEP = 0.1
BLANK_PROMPT = "The prompt can't be empty: write what the portrait should show."


class ActionRefused(Exception):
    """The action cannot be done; ``message`` says why, for the member (plain text)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# -- who may ----------------------------------------------------------------------------------


def may_change(job: Job, requester: str) -> bool:
    """Whether ``requester`` (the ledger's key, e.g. ``"telegram:42"``) may make new versions of
    the job or see its files: only the member who asked."""
    return job.requester == requester


def may_delete(job: Job, requester: str, *, moderator: bool = False) -> bool:
    """Whether ``requester`` may delete the result (or cancel the job): the member who asked,
    or a moderator of the place it was posted (``moderator``: a Telegram chat administrator,
    a Discord member with Manage Messages; the front end finds out)."""
    return may_change(job, requester) or moderator


# -- new versions -----------------------------------------------------------------------------


def job_options(job: Job) -> PortraitOptions:
    """The options the job was made with."""
    return PortraitOptions.from_params(job.params["options"])


def rerolled(options: PortraitOptions, rng: random.Random | None = None) -> PortraitOptions:
    """The same settings with a new seed."""
    return dataclasses.replace(options, seed=(rng or random).randint(*SEED_RANGE))


def likeness_step(options: PortraitOptions, up: bool) -> PortraitOptions:
    """Likeness one `LIKENESS_STEP` up or down, within `LIKENESS_RANGE`, same seed. Raises
    `ActionRefused` at the range's end ("Likeness is already at its highest (1.5).")."""
    step = LIKENESS_STEP if up else -LIKENESS_STEP
    low, high = LIKENESS_RANGE
    likeness = round(min(high, max(low, options.likeness + step)), 2)
    if likeness == options.likeness:
        raise ActionRefused(
            f"Likeness is already at its {'highest' if up else 'lowest'} ({options.likeness:g})."
        )
    return dataclasses.replace(options, likeness=likeness)


def can_step(options: PortraitOptions) -> tuple[bool, bool]:
    """Whether likeness can still go (down, up) one step: the buttons a front end shows."""
    low, high = LIKENESS_RANGE
    return options.likeness > low, options.likeness < high


def revalidated(options: PortraitOptions, catalog: Catalog) -> PortraitOptions:
    """The same checks a request gets, on options changed by a member. Raises `OptionError`."""
    return resolve_options(
        catalog,
        prompt=options.prompt,
        negative_prompt=options.negative_prompt,
        model=options.model_id,
        lora=options.lora_id,
        lora_scale=options.lora_scale,
        steps=options.steps,
        guidance=options.guidance,
        likeness=options.likeness,
        samples=options.samples,
        seed=options.seed,
        scheduler=options.scheduler,
    )


def restyled(
    options: PortraitOptions, catalog: Catalog, kind: str, style_id: str | None
) -> PortraitOptions:
    """Same face, seed and prompt in another style: ``kind`` "model" (``style_id`` a model id)
    or "lora" (a LoRA id, None for no LoRA; its strength goes back to the LoRA's default).
    Raises `ActionRefused` when the style is no longer offered."""
    if kind == "model":
        if style_id is None or catalog.model(style_id) is None:
            raise ActionRefused("That model is no longer offered. Please choose another one.")
        changed = dataclasses.replace(options, model_id=style_id)
    elif kind == "lora":
        if style_id is not None and catalog.lora(style_id) is None:
            raise ActionRefused("That LoRA is no longer offered. Please choose another one.")
        changed = dataclasses.replace(options, lora_id=style_id, lora_scale=None)
    else:
        raise ValueError(f"unknown style kind {kind!r}")
    try:
        return revalidated(changed, catalog)
    except OptionError as error:
        raise ActionRefused(error.message) from None


def edited_prompt(
    options: PortraitOptions,
    catalog: Catalog,
    prompt: str,
    changes: Mapping[str, str] | None = None,
) -> PortraitOptions:
    """A new prompt (and, optionally, other settings as a request gives them: `resolve_options`
    keywords to text values, e.g. ``{"steps": "30"}``); everything not given stays, the seed
    too. An empty ``prompt`` keeps the old one when other settings change, else it is refused
    (left empty, the tool's own default prompt would run, paid and unasked for). A new LoRA
    without a strength gets its default strength. Raises `ActionRefused`."""
    prompt = prompt.strip()
    changes = dict(changes or {})
    if not prompt and not changes:
        raise ActionRefused(BLANK_PROMPT)
    values: dict[str, object] = {
        "prompt": prompt or options.prompt,
        "negative_prompt": options.negative_prompt,
        "model": options.model_id,
        "lora": options.lora_id,
        "lora_scale": options.lora_scale,
        "steps": options.steps,
        "guidance": options.guidance,
        "likeness": options.likeness,
        "samples": options.samples,
        "seed": options.seed,
        "scheduler": options.scheduler,
    }
    if "lora" in changes and "lora_scale" not in changes:
        values["lora_scale"] = None
    values.update(changes)
    try:
        return resolve_options(catalog, **values)  # type: ignore[arg-type]
    except OptionError as error:
        raise ActionRefused(error.message) from None


def kept_selfie(job: Job, selfies: SelfieStore, now: datetime) -> bytes | None:
    """The prepared selfie kept for new versions of ``job``; None when its keep window ended
    or the file is gone (the member has to attach it again)."""
    expires_at = job.selfie_expires_at
    if expires_at is None or expires_at <= now:
        return None
    return selfies.load(job.selfie_path)


async def forget_result(
    job: Job, ledger: JobLedger, selfies: SelfieStore, results: ResultStore | None = None
) -> Job:
    """Delete what the bot keeps of a result the member deleted: the kept selfie (and the
    ledger's pointer to it) and a kept copy of the images. Returns the updated job."""
    if results is not None:
        await asyncio.to_thread(results.delete, job.id)
    if job.selfie_path:
        await asyncio.to_thread(selfies.delete, job.selfie_path)
        job = await ledger.update(job.id, selfie_path=None, selfie_expires_at=None)
    return job
