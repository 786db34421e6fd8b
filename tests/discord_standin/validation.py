"""The subset of Discord's payload validation that catches real bot bugs.

Each function returns Discord's nested ``errors`` dict (empty if valid); the REST layer
answers 400 code 50035 "Invalid Form Body" with it, which discord.py surfaces in the
``HTTPException`` text.
"""

from __future__ import annotations

import re
from typing import Any

EMBED_LIMITS = {"title": 256, "description": 4096}
NAME_RE = re.compile(r"^[-_'\w]{1,32}$")


def _err(code: str, message: str) -> dict[str, Any]:
    return {"_errors": [{"code": code, "message": message}]}


def _too_long(limit: int) -> dict[str, Any]:
    return _err("BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")


def validate_message(payload: dict[str, Any], *, creating: bool, n_files: int) -> dict[str, Any]:
    errors: dict[str, Any] = {}
    content = payload.get("content")
    if isinstance(content, str) and len(content) > 2000:
        errors["content"] = _too_long(2000)
    embeds = payload.get("embeds") or []
    if len(embeds) > 10:
        errors["embeds"] = _too_long(10)
    total = 0
    for i, embed in enumerate(embeds[:10]):
        e_errors: dict[str, Any] = {}
        for key, limit in EMBED_LIMITS.items():
            value = embed.get(key) or ""
            total += len(value)
            if len(value) > limit:
                e_errors[key] = _too_long(limit)
        fields = embed.get("fields") or []
        if len(fields) > 25:
            e_errors["fields"] = _too_long(25)
        for j, f in enumerate(fields):
            total += len(f.get("name") or "") + len(f.get("value") or "")
            f_err: dict[str, Any] = {}
            if len(f.get("name") or "") > 256:
                f_err["name"] = _too_long(256)
            if len(f.get("value") or "") > 1024:
                f_err["value"] = _too_long(1024)
            for key in ("name", "value"):  # Discord trims, then requires some text
                if not str(f.get(key) or "").strip():
                    f_err[key] = _err("BASE_TYPE_REQUIRED", "This field is required")
            if f_err:
                e_errors.setdefault("fields", {})[str(j)] = f_err
        footer = (embed.get("footer") or {}).get("text") or ""
        author = (embed.get("author") or {}).get("name") or ""
        total += len(footer) + len(author)
        if len(footer) > 2048:
            e_errors["footer"] = {"text": _too_long(2048)}
        if len(author) > 256:
            e_errors["author"] = {"name": _too_long(256)}
        if e_errors:
            errors.setdefault("embeds", {})[str(i)] = e_errors
    if total > 6000:
        errors.setdefault("embeds", {}).update(
            _err("MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000")
        )
    components = payload.get("components") or []
    v2 = bool((payload.get("flags") or 0) & (1 << 15))
    if not v2 and len(components) > 5:
        errors["components"] = _too_long(5)
    component_errors = _validate_rows(components)
    if component_errors:
        errors.setdefault("components", {}).update(component_errors)
    if creating and not errors:
        has_sticker = bool(payload.get("sticker_ids"))
        if not (content or embeds or components or n_files or has_sticker or payload.get("poll")):
            errors["_empty"] = True
    return errors


# Component Reference: button label 80; string select placeholder 150, 1-25 options whose
# label and value are 1-100 and description at most 100; custom_id at most 100.
def _validate_rows(rows: list[dict[str, Any]]) -> dict[str, Any]:
    errors: dict[str, Any] = {}
    for i, row in enumerate(rows):
        row_errors: dict[str, Any] = {}
        for j, component in enumerate(row.get("components") or []):
            c_err = _validate_component(component)
            if c_err:
                row_errors[str(j)] = c_err
        if row_errors:
            errors[str(i)] = {"components": row_errors}
    return errors


def _validate_component(component: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, Any] = {}
    if len(component.get("custom_id") or "") > 100:
        errors["custom_id"] = _too_long(100)
    if component.get("type") == 2 and len(component.get("label") or "") > 80:
        errors["label"] = _too_long(80)
    if component.get("type") != 3:
        return errors
    if len(component.get("placeholder") or "") > 150:
        errors["placeholder"] = _too_long(150)
    options = component.get("options") or []
    if not 1 <= len(options) <= 25:
        errors["options"] = _err("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 25 in length.")
    values = [option.get("value") for option in options]
    if len(set(values)) != len(values):
        errors["options"] = _err("SELECT_COMPONENT_OPTION_VALUE_DUPLICATED", "duplicate value")
    for k, option in enumerate(options):
        o_err: dict[str, Any] = {}
        for key in ("label", "value"):
            if not 1 <= len(option.get(key) or "") <= 100:
                o_err[key] = _err("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
        if len(option.get("description") or "") > 100:
            o_err["description"] = _too_long(100)
        if o_err:
            errors.setdefault("options", {})[str(k)] = o_err
    return errors


def validate_choices(choices: Any) -> dict[str, Any]:
    """An autocomplete answer: at most 25 choices, names 1-100, string values at most 100."""
    if not isinstance(choices, list) or len(choices) > 25:
        return _err("BASE_TYPE_BAD_LENGTH", "Must be between 0 and 25 in length.")
    errors: dict[str, Any] = {}
    for i, choice in enumerate(choices):
        c_err: dict[str, Any] = {}
        if not 1 <= len(str(choice.get("name") or "")) <= 100:
            c_err["name"] = _err("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
        value = choice.get("value")
        if isinstance(value, str) and not 1 <= len(value) <= 100:
            c_err["value"] = _err("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
        if c_err:
            errors[str(i)] = c_err
    return errors


def validate_modal(data: dict[str, Any]) -> dict[str, Any]:
    """A modal: title at most 45; each text input's label at most 45, placeholder at most 100,
    value (the default) at most 4,000 and at most its own max_length."""
    errors: dict[str, Any] = {}
    if len(data.get("title") or "") > 45:
        errors["title"] = _too_long(45)
    for i, row in enumerate(data.get("components") or []):
        for j, component in enumerate(row.get("components") or []):
            t_err: dict[str, Any] = {}
            if len(component.get("label") or "") > 45:
                t_err["label"] = _too_long(45)
            if len(component.get("placeholder") or "") > 100:
                t_err["placeholder"] = _too_long(100)
            value = component.get("value") or ""
            if len(value) > min(4000, component.get("max_length") or 4000):
                t_err["value"] = _too_long(min(4000, component.get("max_length") or 4000))
            if t_err:
                errors.setdefault("components", {}).setdefault(str(i), {})[str(j)] = t_err
    return errors


def validate_commands(commands: list[dict[str, Any]]) -> dict[str, Any]:
    errors: dict[str, Any] = {}
    if len(commands) > 100:
        return _err("BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length.")
    seen: set[tuple[str, int]] = set()
    for i, cmd in enumerate(commands):
        cmd_errors = _validate_command(cmd)
        key = (cmd.get("name", ""), cmd.get("type", 1))
        if key in seen:
            cmd_errors["name"] = _err("APPLICATION_COMMANDS_DUPLICATE_NAME", "duplicate name")
        seen.add(key)
        if cmd_errors:
            errors[str(i)] = cmd_errors
    return errors


def _validate_command(cmd: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, Any] = {}
    name = cmd.get("name") or ""
    chat_input = cmd.get("type", 1) == 1
    if chat_input and (not NAME_RE.match(name) or name != name.lower()):
        errors["name"] = _err("APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
    if chat_input and not 1 <= len(cmd.get("description") or "") <= 100:
        errors["description"] = _err("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
    opt_errors = _validate_options(cmd.get("options") or [])
    if opt_errors:
        errors["options"] = opt_errors
    return errors


def _validate_options(options: list[dict[str, Any]]) -> dict[str, Any]:
    errors: dict[str, Any] = {}
    if len(options) > 25:
        return _too_long(25)
    seen_optional = False
    for i, opt in enumerate(options):
        o_err: dict[str, Any] = {}
        name = opt.get("name") or ""
        if not NAME_RE.match(name) or name != name.lower():
            o_err["name"] = _err("APPLICATION_COMMAND_INVALID_NAME", "Option name is invalid")
        if not 1 <= len(opt.get("description") or "") <= 100:
            o_err["description"] = _err("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100.")
        if opt.get("type") in (1, 2):
            sub = _validate_options(opt.get("options") or [])
            if sub:
                o_err["options"] = sub
        elif opt.get("required"):
            if seen_optional:
                o_err["required"] = _err(
                    "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                    "Required options must be placed before non-required options",
                )
        else:
            seen_optional = True
        if len(opt.get("choices") or []) > 25:
            o_err["choices"] = _too_long(25)
        if opt.get("choices") and opt.get("autocomplete"):
            o_err["autocomplete"] = _err(
                "AUTOCOMPLETE_CHOICES", "Cannot have choices and autocomplete"
            )
        if o_err:
            errors[str(i)] = o_err
    return errors
