"""`python -m bot [run | sync | generate ...]`: start the bot, force a command sync, or make a
portrait from the command line."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

import discord
from dotenv import find_dotenv, load_dotenv

from bot.app import PortraitBot, build_services
from bot.cli import add_generate_arguments, generate
from bot.logs import setup_logging
from bot.settings import Settings, SettingsError, load_settings
from bot.wiro import WiroClient


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("run", help="start the Discord bot (the default)")
    commands.add_parser("sync", help="sync the slash commands with Discord now, then exit")
    add_generate_arguments(
        commands.add_parser("generate", help="make a portrait without Discord and save it")
    )
    args = parser.parse_args(argv)
    command = args.command or "run"

    # `.env` in the folder the bot is started from (or a parent); the environment wins.
    load_dotenv(find_dotenv(usecwd=True), override=False)
    try:
        settings = load_settings(os.environ, need_discord=command != "generate")
    except SettingsError as error:
        print(f"Configuration error: {error}", file=sys.stderr)
        return 2
    setup_logging(
        settings.log_level,
        [settings.discord_token, settings.wiro_api_key, settings.wiro_api_secret],
    )
    try:
        if command == "generate":
            return asyncio.run(generate(settings, args))
        return asyncio.run(run_bot(settings, sync_only=command == "sync"))
    except KeyboardInterrupt:
        return 130


async def run_bot(settings: Settings, *, sync_only: bool) -> int:
    if settings.discord_api_base:
        # Only the test suite's local Discord stand-in sets this.
        discord.http.Route.BASE = settings.discord_api_base
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    async with WiroClient(
        api_key=settings.wiro_api_key,
        api_secret=settings.wiro_api_secret,
        base_url=settings.wiro_api_base,
        request_timeout=settings.request_timeout,
    ) as wiro:
        services = build_services(settings, wiro)
        async with PortraitBot(services, force_sync=sync_only, sync_only=sync_only) as bot:
            try:
                if sync_only:
                    await bot.login(settings.discord_token)  # runs setup_hook, which syncs
                else:
                    await bot.start(settings.discord_token)
            except discord.LoginFailure:
                print("Configuration error: DISCORD_TOKEN was refused by Discord.", file=sys.stderr)
                return 2
            except discord.PrivilegedIntentsRequired:
                print("Discord refused the gateway intents.", file=sys.stderr)
                return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
