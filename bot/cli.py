"""`python -m bot generate`: the same intake, Wiro task and download as `/portrait`, without
Discord. Owners use it to check their Wiro keys before inviting the bot."""

from __future__ import annotations

import argparse
import asyncio
import os
import stat
import sys
import tempfile
import unicodedata
from collections.abc import Sequence
from pathlib import Path

from bot.core.catalog.refresh import load_catalog
from bot.core.jobs import JobLimits, Phase, PortraitFailed, PortraitImage, Progress
from bot.core.jobs.dispatcher import DispatchRules
from bot.core.jobs.oneshot import make_portrait
from bot.core.request.options import OptionError, resolve_options
from bot.core.request.selfie import MIB, SelfieLimits, SelfieRejected, prepare_selfie
from bot.core.result.summary import summarize
from bot.core.wiro import OutputHosts, WiroClient
from bot.settings import Settings

_PHASE_TEXT = {
    Phase.UPLOADING: "uploading the selfie",
    Phase.QUEUED: "queued at Wiro",
    Phase.GENERATING: "generating",
    Phase.FINISHING: "finishing",
    Phase.DOWNLOADING: "downloading the images",
}
# Options that are sent to Wiro as text. Undecodable bytes in argv reach Python as lone
# surrogates (PEP 383), which no JSON body should carry; control characters are no prompt.
_TEXT_OPTIONS = (
    "prompt",
    "negative_prompt",
    "model",
    "lora",
    "private_model",
    "private_lora",
    "lora_url",
    "scheduler",
)
_TEXT_CONTROLS = frozenset("\t\n")


def add_generate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--selfie", type=Path, required=True, help="photo of a face")
    parser.add_argument("--out", type=Path, required=True, help="folder to save the images in")
    parser.add_argument("--prompt")
    parser.add_argument("--negative-prompt")
    parser.add_argument("--model", help="model id or name (see the README for the list)")
    parser.add_argument("--lora", help="LoRA id or name")
    parser.add_argument("--lora-scale", type=float)
    parser.add_argument("--private-model", help="id of a private model in your Wiro account")
    parser.add_argument("--private-lora", help="id of a private LoRA in your Wiro account")
    parser.add_argument("--lora-url", help="https URL of a .safetensors LoRA file")
    parser.add_argument("--steps", type=int)
    parser.add_argument("--guidance", type=float)
    parser.add_argument("--likeness", type=float, help="ip_adapter_scale")
    parser.add_argument("--samples", type=int)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--scheduler")


async def generate(settings: Settings, args: argparse.Namespace) -> int:
    """Exit codes: 0 saved in ``--out``; 1 Wiro could not make it, or it could not be saved in
    ``--out`` (it is then in the temporary folder printed); 2 bad input (nothing was spent)."""
    unreadable = _unreadable_text(args)
    if unreadable is not None:
        return _fail(unreadable, 2)
    unwritable = _prepare_out_dir(args.out)
    if unwritable is not None:
        return _fail(unwritable, 2)
    limits = SelfieLimits(max_bytes=int(settings.selfie_max_mb * MIB))
    raw = _read_selfie(args.selfie, limits.max_bytes)
    if isinstance(raw, str):
        return _fail(raw, 2)
    try:
        selfie = await asyncio.to_thread(prepare_selfie, raw, limits)
    except SelfieRejected as rejection:
        return _fail(rejection.message, 2)

    async with WiroClient(
        api_key=settings.wiro_api_key,
        api_secret=settings.wiro_api_secret,
        base_url=settings.wiro_api_base,
        request_timeout=settings.request_timeout,
        output_hosts=OutputHosts.from_settings(
            settings.wiro_api_base, settings.wiro_socket_url, extra_hosts=settings.wiro_output_hosts
        ),
    ) as wiro:
        catalog = await load_catalog(wiro if settings.refresh_catalog else None)
        try:
            options = resolve_options(
                catalog,
                prompt=args.prompt,
                negative_prompt=args.negative_prompt,
                model=args.model,
                lora=args.lora,
                lora_scale=args.lora_scale,
                steps=args.steps,
                guidance=args.guidance,
                likeness=args.likeness,
                samples=args.samples,
                seed=args.seed,
                scheduler=args.scheduler,
                private_model=args.private_model,
                private_lora=args.private_lora,
                lora_url=args.lora_url,
            )
        except OptionError as error:
            return _fail(str(error), 2)
        print(f"Selfie ready: {selfie.width}×{selfie.height}, {len(selfie.data) // 1024} KB")
        rules = DispatchRules(
            delete_wiro_files=settings.delete_wiro_files,
            job_limits=JobLimits(timeout=settings.task_timeout, error_grace=settings.error_grace),
        )
        try:
            # The same pipeline as a chat job; Wiro's files are deleted at its end (after the
            # images are in memory), whatever the outcome.
            result = await make_portrait(
                wiro, catalog, options, selfie, rules=rules, on_progress=_print_progress
            )
        except PortraitFailed as failure:
            return _fail(f"{failure.message}\n  detail: {failure.detail}", 1)
        code = _save(result.images, args.out)

    summary = summarize(result.options, catalog, result.elapsed)
    print(f"Prompt: {summary.prompt}")
    for name, value in summary.fields:
        print(f"{name}: {value}")
    if result.cost is not None:
        print(f"Cost reported by Wiro: ${result.cost:.4f}")
    return code


def _unreadable_text(args: argparse.Namespace) -> str | None:
    """Why a text option cannot be sent to Wiro, naming the option and the character's place
    (never the text: a lone surrogate cannot even be printed); None when all are text."""
    for name in _TEXT_OPTIONS:
        value = getattr(args, name, None)
        if not isinstance(value, str):
            continue
        for place, char in enumerate(value, start=1):
            category = unicodedata.category(char)
            if category == "Cs":
                what = "a byte that is not UTF-8 (check the terminal's encoding)"
            elif category == "Cc" and char not in _TEXT_CONTROLS:
                what = f"a control character (U+{ord(char):04X})"
            else:
                continue
            flag = "--" + name.replace("_", "-")
            return f"{flag} is not valid text: {what}, character {place}. Nothing was sent to Wiro."
    return None


def _read_selfie(path: Path, max_bytes: int) -> bytes | str:
    """The selfie's bytes, or why they cannot be used. Only a regular file is read, and never
    more than ``max_bytes`` + 1 bytes: a device (``/dev/zero``) or a huge file must not fill
    the memory. Opened without blocking, so a FIFO is refused instead of waited on."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as error:
        return f"Cannot read {path}: {error.strerror or error}"
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file"
            return f"--selfie must be a regular file; {path} is {kind}"
        data = b"" if info.st_size > max_bytes else _read_at_most(fd, max_bytes + 1)
    except OSError as error:
        return f"Cannot read {path}: {error.strerror or error}"
    finally:
        os.close(fd)
    if info.st_size > max_bytes or len(data) > max_bytes:
        size = max(info.st_size, len(data))
        return f"That image is {size / MIB:.1f} MB; the limit is {max_bytes / MIB:g} MB."
    return data


def _read_at_most(fd: int, limit: int) -> bytes:
    chunks: list[bytes] = []
    left = limit
    while left > 0:
        chunk = os.read(fd, min(left, 1024 * 1024))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _prepare_out_dir(out: Path) -> str | None:
    """Create ``out`` (and its parents) and prove it takes a file; the reason it cannot, or
    None. Checked before anything is uploaded, so a paid result always has a place to go."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".portrait-write-check-") as probe:
            probe.write(b"ok")
            probe.flush()
    except OSError as error:
        # os.path.isfile answers False for any path it cannot look at (a name too long...).
        if os.path.isfile(out):
            reason = "it is a file, not a folder"
        else:
            reason = error.strerror or str(error)
        return f"Cannot save images in {out}: {reason}. Nothing was sent to Wiro."
    return None


def _save(images: Sequence[PortraitImage], out: Path) -> int:
    """Write the images into ``out``; if that fails after all, into a new temporary folder, so
    a paid result is never lost. 0 when saved in ``out``, 1 otherwise (the path is printed)."""
    try:
        _write_all(images, out)
        return 0
    except OSError as error:
        reason = error.strerror or str(error)
    try:
        fallback = Path(tempfile.mkdtemp(prefix="portrait-"))
        _write_all(images, fallback)
    except OSError as error:
        return _fail(
            f"Cannot save images in {out} ({reason}) nor in a temporary folder: {error}", 1
        )
    return _fail(f"Cannot save images in {out} ({reason}); they were saved in {fallback}", 1)


def _write_all(images: Sequence[PortraitImage], folder: Path) -> None:
    for image in images:
        path = folder / image.filename
        path.write_bytes(image.data)
        print(f"Saved {path}", flush=True)


async def _print_progress(progress: Progress) -> None:
    print(f"[{progress.elapsed:5.1f} s] {_PHASE_TEXT[progress.phase]}", flush=True)


def _fail(message: str, code: int) -> int:
    print(f"Error: {message}", file=sys.stderr)
    return code
