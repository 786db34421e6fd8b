"""`python -m bot [run | sync | generate ... | stats ... | migrate-db --to URL]`: start the bot,
force a command sync, make a portrait from the command line, print the figures of the last 30
days, or move the job database from the SQLite file to PostgreSQL."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from dotenv import find_dotenv, load_dotenv

from bot.cli import add_generate_arguments, generate
from bot.frontends.discord_bot.settings import load_discord_settings
from bot.frontends.telegram_bot.settings import load_telegram_settings
from bot.logs import setup_logging
from bot.migrate_db import add_migrate_db_arguments, migrate_db, target_url_problem
from bot.settings import SettingsError, load_settings
from bot.stats_cli import add_stats_arguments, print_stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    commands = parser.add_subparsers(dest="command")
    commands.add_parser(
        "run", help="start every front end whose token is set: Discord, Telegram (the default)"
    )
    commands.add_parser("sync", help="sync the slash commands with Discord now, then exit")
    add_generate_arguments(
        commands.add_parser("generate", help="make a portrait without a chat and save it")
    )
    add_stats_arguments(
        commands.add_parser("stats", help="print the figures of the last 30 days (owner)")
    )
    add_migrate_db_arguments(
        commands.add_parser(
            "migrate-db",
            help="copy the job database from the SQLite file into an empty PostgreSQL one "
            "(every bot stopped)",
            description="Copy every job, setting and saved face from the SQLite file in "
            "BOT_DATA_DIR into an empty PostgreSQL database, then set DATABASE_URL to it. "
            "Files stay in BOT_DATA_DIR; the SQLite file is left unchanged, as a backup.",
        )
    )
    args = parser.parse_args(argv)
    command = args.command or "run"

    # `.env` in the folder the bot is started from (or a parent); the environment wins.
    load_dotenv(find_dotenv(usecwd=True), override=False)
    try:
        # `stats` and `migrate-db` read the ledger only: no Wiro key needed.
        settings = load_settings(os.environ, need_wiro=command not in ("stats", "migrate-db"))
        # `run` starts Discord and/or Telegram (at least one token); `sync` is Discord's only.
        discord = load_discord_settings(os.environ, required=command == "sync")
        telegram = load_telegram_settings(os.environ) if command == "run" else None
        if command == "run" and not (discord.enabled or (telegram and telegram.enabled)):
            raise SettingsError(
                "Neither DISCORD_TOKEN nor TELEGRAM_BOT_TOKEN is set: add at least one to .env "
                "or the environment."
            )
    except SettingsError as error:
        print(f"Configuration error: {error}", file=sys.stderr)
        return 2
    secrets = [discord.token, settings.wiro_api_key, settings.wiro_api_secret]
    if telegram is not None:
        secrets += [telegram.bot_token, telegram.webhook_secret]
    if command == "migrate-db":
        problem = target_url_problem(args.to)
        if problem is not None:
            print(f"Refused: {problem}", file=sys.stderr)
            return 2
    setup_logging(settings.log_level, secrets)
    if command == "migrate-db":  # no chat library, no Wiro call
        try:
            return asyncio.run(migrate_db(settings, args))
        except KeyboardInterrupt:
            return 130
    if command == "stats":  # reads the ledger only: no chat library, no Wiro call
        return asyncio.run(print_stats(settings, args))
    if command == "generate":  # no chat library is loaded for it (aiogram alone takes seconds)
        try:
            return asyncio.run(generate(settings, args))
        except KeyboardInterrupt:
            return 130
    from bot.launcher import StartupError, run_bot

    try:
        asyncio.run(
            run_bot(settings, discord=discord, telegram=telegram, sync_only=command == "sync")
        )
    except StartupError as error:
        print(f"Start-up error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
