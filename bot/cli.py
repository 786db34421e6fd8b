"""`python -m bot generate`: the same intake, Wiro task and download as `/portrait`, without
Discord. Owners use it to check their Wiro keys before inviting the bot."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from bot.catalog.refresh import load_catalog
from bot.jobs import JobLimits, Phase, PortraitFailed, Progress, make_portrait
from bot.request.options import OptionError, resolve_options
from bot.request.selfie import SelfieLimits, SelfieRejected, prepare_selfie
from bot.result.summary import summarize
from bot.settings import Settings
from bot.wiro import OutputHosts, WiroClient

_PHASE_TEXT = {
    Phase.UPLOADING: "uploading the selfie",
    Phase.QUEUED: "queued at Wiro",
    Phase.GENERATING: "generating",
    Phase.FINISHING: "finishing",
    Phase.DOWNLOADING: "downloading the images",
}


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
    """Exit codes: 0 saved, 1 Wiro could not make it, 2 bad input (nothing was spent)."""
    try:
        raw = args.selfie.read_bytes()
    except OSError as error:
        return _fail(f"Cannot read {args.selfie}: {error.strerror}", 2)
    limits = SelfieLimits(max_bytes=int(settings.selfie_max_mb * 1024 * 1024))
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
        try:
            result = await make_portrait(
                wiro,
                catalog,
                options,
                selfie,
                on_progress=_print_progress,
                limits=JobLimits(timeout=settings.task_timeout, error_grace=settings.error_grace),
                delete_wiro_files=settings.delete_wiro_files,
            )
        except PortraitFailed as failure:
            return _fail(f"{failure.message}\n  detail: {failure.detail}", 1)

    args.out.mkdir(parents=True, exist_ok=True)
    for image in result.images:
        path = args.out / image.filename
        path.write_bytes(image.data)
        print(f"Saved {path}")
    summary = summarize(result.options, catalog, result.elapsed)
    print(f"Prompt: {summary.prompt}")
    for name, value in summary.fields:
        print(f"{name}: {value}")
    if result.cost is not None:
        print(f"Cost reported by Wiro: ${result.cost:.4f}")
    return 0


async def _print_progress(progress: Progress) -> None:
    print(f"[{progress.elapsed:5.1f} s] {_PHASE_TEXT[progress.phase]}", flush=True)


def _fail(message: str, code: int) -> int:
    print(f"Error: {message}", file=sys.stderr)
    return code
