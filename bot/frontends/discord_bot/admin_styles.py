"""`/portrait-admin styles` (and the channel and role lists): which models and LoRAs a
server offers and its defaults, as policy changes (`ScopePolicy` field -> value), and the
style picker's autocomplete.

Style values are ``model:<catalog id>`` or ``lora:<catalog id>`` (what the autocomplete
sends); a typed name is looked up in the catalog, models first."""

from __future__ import annotations

from typing import Any

from discord import app_commands

from bot.core.catalog import Catalog
from bot.core.policy.model import EffectivePolicy
from bot.frontends.discord_bot.policy_wording import style_name
from bot.frontends.discord_bot.text import CHOICES, choices

KINDS = ("model", "lora")


class StyleChangeRefused(Exception):
    """The change makes no sense as asked; the message says why, for the server owner."""


def parse_style(catalog: Catalog, value: str) -> tuple[str, str] | None:
    """(kind, catalog id) for an autocomplete value or a typed name; None if unknown."""
    kind, _, style_id = value.partition(":")
    if kind in KINDS and style_id:
        found = catalog.model(style_id) if kind == "model" else catalog.lora(style_id)
        return (kind, found.id) if found is not None else None
    if (model := catalog.model(value)) is not None:
        return "model", model.id
    if (lora := catalog.lora(value)) is not None:
        return "lora", lora.id
    return None


def style_choices(
    catalog: Catalog, effective: EffectivePolicy, action: str | None, current: str
) -> list[app_commands.Choice[str]]:
    """The catalog's styles the owner allows, narrowed by `action` (enable: those not offered
    here; disable and default: those offered), matching what the member typed."""
    pairs: list[tuple[str, str]] = []
    for kind in KINDS:
        found = (
            catalog.search_models(current, limit=len(catalog.models))
            if kind == "model"
            else catalog.search_loras(current, limit=len(catalog.loras))
        )
        disabled = (
            effective.caps.disabled_models if kind == "model" else effective.caps.disabled_loras
        )
        for style in found:
            if style.id in disabled:
                continue
            offered = (
                effective.offers_model(style.id)
                if kind == "model"
                else effective.offers_lora(style.id)
            )
            if (
                offered
                if action == "enable"
                else (action in ("disable", "default") and not offered)
            ):
                continue
            label = "Model" if kind == "model" else "LoRA"
            pairs.append((f"{label}: {style.readable_name}", f"{kind}:{style.id}"))
    return choices(pairs, CHOICES)


def style_change(
    catalog: Catalog, effective: EffectivePolicy, action: str, kind: str, style_id: str
) -> tuple[dict[str, Any], str]:
    """The policy changes for enable/disable/default of one style, and the confirmation.
    Raises `StyleChangeRefused`."""
    name = style_name(catalog, kind, style_id)
    if kind == "model":
        every = [style.id for style in catalog.models]
        offered = effective.offered_models(every)
        allowed = [i for i in every if i not in effective.caps.disabled_models]
        field, default_field, label = "models", "default_model", "model"
    else:
        every = [style.id for style in catalog.loras]
        offered = effective.offered_loras(every)
        allowed = [i for i in every if i not in effective.caps.disabled_loras]
        field, default_field, label = "loras", "default_lora", "LoRA"
    policy = effective.scope
    if action == "default":
        if style_id not in offered:
            raise StyleChangeRefused(f"The {label} {name} isn't offered here: enable it first.")
        return {default_field: style_id}, f"{name} is now this server's default {label}."
    if action == "enable":
        if style_id in offered:
            raise StyleChangeRefused(f"The {label} {name} is already offered here.")
        wanted = [*offered, style_id]
        value: tuple[str, ...] | None = (
            None if set(wanted) >= set(allowed) and style_id in allowed else tuple(wanted)
        )
        return {field: value}, f"Members can now choose the {label} {name}."
    if style_id not in offered:
        raise StyleChangeRefused(f"The {label} {name} is already not offered here.")
    remaining = tuple(i for i in offered if i != style_id)
    if kind == "model" and not remaining:
        raise StyleChangeRefused("At least one model must stay offered.")
    changes: dict[str, Any] = {field: remaining}
    note = ""
    if getattr(policy, default_field) == style_id:
        changes[default_field] = None
        note = f" It was the default {label}; the default is back to the bot's own."
    return changes, f"Members can no longer choose the {label} {name}.{note}"


def edited_ids(current: tuple[str, ...], action: str, item: Any) -> tuple[str, ...]:
    """Channel or role ids after `action` ("add", "remove", "clear") with `item` (a Discord
    object with an id, or None for "clear")."""
    if action == "clear" or item is None:
        return () if action == "clear" else current
    item_id = str(item.id)
    if action == "add":
        return current if item_id in current else (*current, item_id)
    return tuple(i for i in current if i != item_id)


RESET = {
    "models": None,
    "loras": None,
    "default_model": None,
    "default_lora": None,
    "default_prompt": None,
}
