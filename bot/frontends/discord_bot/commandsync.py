"""Sync the slash-command tree only when it changed, to spare Discord's daily sync limit.

A fingerprint of the command definitions is kept per application and scope (global, or the
development guild) in `BOT_DATA_DIR/command-sync.json`.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import discord
from discord import app_commands

log = logging.getLogger(__name__)

STATE_FILE = "command-sync.json"


def fingerprint(tree: app_commands.CommandTree, guild: discord.abc.Snowflake | None) -> str:
    payload = [command.to_dict(tree) for command in tree.get_commands(guild=guild)]
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def sync_commands(
    tree: app_commands.CommandTree,
    *,
    application_id: int,
    data_dir: Path,
    guild_id: int | None,
    force: bool = False,
) -> bool:
    """Sync when forced or when the tree differs from the last sync. Returns True if synced."""
    guild = discord.Object(id=guild_id) if guild_id else None
    if guild is not None:
        tree.copy_global_to(guild=guild)
    scope = f"{application_id}:{f'guild:{guild_id}' if guild_id else 'global'}"
    path = data_dir / STATE_FILE
    state = _read_state(path)
    current = fingerprint(tree, guild)
    if not force and state.get(scope) == current:
        log.info("Slash commands unchanged since the last sync (%s); not syncing", scope)
        return False
    synced = await tree.sync(guild=guild)
    state[scope] = current
    _write_state(path, state)
    log.info("Synced %d slash command(s) (%s)", len(synced), scope)
    return True


def _read_state(path: Path) -> dict[str, str]:
    try:
        state = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        log.warning("Ignoring unreadable %s; commands will be synced again", path)
        return {}
    return state if isinstance(state, dict) else {}


def _write_state(path: Path, state: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2, sort_keys=True))
    tmp.replace(path)
