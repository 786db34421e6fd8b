"""What a press of a settings button changes in the chat's policy (`ScopePolicy` fields), as
data for `Policies.update`, and the short confirmation; the buttons are `settings_menu`'s.
Payloads come from the client, so every argument is checked here (a forged or outdated one
is `ChangeRefused`); the bot owner's ceilings are `Policies.update`'s to enforce."""

from __future__ import annotations

from typing import Any

from bot.core.catalog import Catalog
from bot.core.policy.model import EffectivePolicy, PrivateStyles

from .settings_menu import (
    LIMITS,
    PRIVATE_LABELS,
    Do,
    SettingsButton,
    allowed_styles,
    limit_label,
    style_of,
)

STYLES_CHANGED = "The list of styles has changed; here it is again."
LAST_MODEL = "Keep at least one model offered."
OFFER_FIRST = "Offer this style first (press its name), then make it the default."
UNKNOWN = "This button no longer works; send /settings again."


class ChangeRefused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def change_for(
    pressed: SettingsButton, policy: EffectivePolicy, catalog: Catalog
) -> tuple[dict[str, Any], str]:
    """(the fields to change, the confirmation for the press's answer). Raises
    `ChangeRefused`."""
    do, arg = pressed.do, pressed.arg
    if do in (Do.ADMINS_ONLY, Do.ADULT, Do.SPOILERS) and arg in ("0", "1"):
        on = arg == "1"
        if do == Do.ADMINS_ONLY:
            who = "administrators only" if on else "everyone"
            return {"admins_only": on}, f"Saved: the bot is for {who}."
        field, name = ("adult_allowed", "Adult chat") if do == Do.ADULT else (
            "spoiler_results", "Results as spoilers")  # fmt: skip
        return {field: on}, f"Saved: {name} {'on' if on else 'off'}."
    if do == Do.PRIVATE:
        try:
            mode = PrivateStyles(arg)
        except ValueError:
            raise ChangeRefused(UNKNOWN) from None
        if mode not in PRIVATE_LABELS:
            raise ChangeRefused(UNKNOWN)
        return {"private_styles": mode}, f"Saved: private styles {PRIVATE_LABELS[mode]}."
    if do == Do.LIMIT:
        return _limit(arg)
    if do in (Do.TOGGLE_STYLE, Do.DEFAULT_STYLE):
        return _style(do, arg, policy, catalog)
    raise ChangeRefused(UNKNOWN)


def _limit(arg: str) -> tuple[dict[str, Any], str]:
    code, _, value = arg.partition("=")
    if code not in LIMITS:
        raise ChangeRefused(UNKNOWN)
    field, _, presets = LIMITS[code]
    if value == "-":
        return {field: None}, f"Saved: {limit_label(code)}: the owner's."
    if not value.isdigit() or int(value) not in presets:
        raise ChangeRefused(UNKNOWN)
    number: float | int = float(value) if field == "member_cooldown" else int(value)
    return {field: number}, f"Saved: {limit_label(code)}: {value}."


def _style(
    do: str, arg: str, policy: EffectivePolicy, catalog: Catalog
) -> tuple[dict[str, Any], str]:
    choice = style_of(arg, catalog)
    if choice is None or choice.id is None:
        raise ChangeRefused(STYLES_CHANGED)
    model = choice.kind == "model"
    allowed = [c.id for _, c in allowed_styles(policy, catalog) if c.kind == choice.kind]
    if choice.id not in allowed:
        raise ChangeRefused("The bot's owner turned that style off.")
    offered = [i for i in allowed if i is not None and (
        policy.offers_model(i) if model else policy.offers_lora(i))]  # fmt: skip
    list_field, default_field = ("models", "default_model") if model else ("loras", "default_lora")
    default = getattr(policy.scope, default_field)
    if do == Do.DEFAULT_STYLE:
        if choice.id == default:
            return {default_field: None}, f"Saved: no default {'model' if model else 'LoRA'}."
        if choice.id not in offered:
            raise ChangeRefused(OFFER_FIRST)
        return {default_field: choice.id}, f"Saved: {choice.name} is the default."
    if choice.id in offered:
        if model and len(offered) == 1:
            raise ChangeRefused(LAST_MODEL)
        changes: dict[str, Any] = {list_field: tuple(i for i in offered if i != choice.id)}
        if default == choice.id:
            changes[default_field] = None
        return changes, f"Saved: {choice.name} is not offered."
    kept = set(offered) | {choice.id}
    ids = tuple(i for i in allowed if i in kept and i is not None)
    return {list_field: ids}, f"Saved: {choice.name} is offered."
