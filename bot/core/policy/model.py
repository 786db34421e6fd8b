"""Per-server (Discord) and per-chat (Telegram) policy, and the bot owner's caps over it.

A `ScopePolicy` is what a server's owners or a chat's administrators chose; every field left
at its default inherits the bot owner's setting. `OwnerCaps` are the bot owner's environment
settings, read as ceilings: `effective_policy` combines the two so that a scope can tighten a
limit or offer fewer styles, never exceed the owner's quota or turn on what the owner turned
off. Everything here is pure data and rules; the store is `bot.core.policy.store`, the
wording is each front end's.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from enum import StrEnum
from typing import Any

from bot.core.jobs.limits import FairUse

__all__ = [
    "EffectivePolicy",
    "OwnerCaps",
    "Place",
    "PolicyRefusal",
    "PrivateStyles",
    "RefusalKind",
    "ScopePolicy",
    "effective_policy",
]


class PrivateStyles(StrEnum):
    """Who may use private models and LoRA URLs in a scope (only if the owner allows them)."""

    OFF = "off"
    ADMINS = "admins"  # Discord: Manage Server; Telegram: the chat's administrators
    ROLES = "roles"  # Discord: members with one of `private_styles_roles`
    EVERYONE = "everyone"  # everyone who may use the bot there


@dataclass(frozen=True)
class ScopePolicy:
    """One server's or chat's own settings, as stored (JSON) in the ledger's database.

    Ids are text: Discord snowflakes, Telegram chat ids, catalog style ids. Empty tuples and
    None mean "not restricted here" / "inherit the owner's value"."""

    channels: tuple[str, ...] = ()  # Discord channel ids the bot answers in; () = all
    roles: tuple[str, ...] = ()  # Discord role ids that may use the bot; () = everyone
    admins_only: bool = False  # Telegram: only the chat's administrators may use the bot
    models: tuple[str, ...] | None = None  # catalog model ids offered; None = all allowed
    loras: tuple[str, ...] | None = None  # catalog LoRA ids offered; None = all allowed
    default_model: str | None = None
    default_lora: str | None = None
    default_prompt: str | None = None
    member_cooldown: float | None = None  # seconds; at least the owner's
    member_max_active: int | None = None  # at most the owner's
    member_daily_quota: int | None = None  # at most the owner's (>= 1; the owner's 0 = no cap)
    scope_daily_quota: int | None = None  # at most the owner's `GUILD_DAILY_QUOTA`
    private_styles: PrivateStyles = PrivateStyles.OFF
    private_styles_roles: tuple[str, ...] = ()  # with PrivateStyles.ROLES (Discord)
    blocked_words: tuple[str, ...] = ()  # the scope's own additions to the safety word list
    adult_allowed: bool = False  # Telegram: the chat is for adults (Discord: NSFW channels)
    spoiler_results: bool = False  # results outside age-restricted places posted as spoilers

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | None) -> ScopePolicy:
        """Tolerant: unknown keys are dropped and a value of the wrong shape falls back to
        its default, so a policy written by a newer or older version still loads."""
        if not text:
            return cls()
        try:
            raw = json.loads(text)
        except ValueError:
            return cls()
        if not isinstance(raw, dict):
            return cls()
        return cls.from_mapping(raw)

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> ScopePolicy:
        default = cls()
        values: dict[str, Any] = {}
        for item in fields(cls):
            if item.name in raw:
                value = _coerce(getattr(default, item.name), item.name, raw[item.name])
                if value is not _INVALID:
                    values[item.name] = value
        return replace(default, **values)

    def changed(self, **changes: Any) -> ScopePolicy:
        """A copy with `changes` (field names of this class); raises TypeError for others."""
        return replace(self, **changes)

    def updated(self, changes: Mapping[str, Any]) -> ScopePolicy:
        """A copy with `changes` checked for shape: lists become tuples of text, enum values
        may be given as their text. Raises ValueError naming an unknown field or a value of
        the wrong shape (ranges and the owner's caps are `bot.core.policy.service`'s)."""
        known = {item.name: getattr(self, item.name) for item in fields(self)}
        values: dict[str, Any] = {}
        for name, value in changes.items():
            if name not in known:
                raise ValueError(f"unknown policy field {name!r}")
            coerced = _coerce(known[name], name, value)
            if coerced is _INVALID:
                raise ValueError(f"policy field {name!r} cannot be {value!r}")
            values[name] = coerced
        return replace(self, **values)


_INVALID = object()
_OPTIONAL_INTS = {"member_max_active", "member_daily_quota", "scope_daily_quota"}
_OPTIONAL_TUPLES = {"models", "loras"}
_OPTIONAL_TEXTS = {"default_model", "default_lora", "default_prompt"}


def _coerce(default: Any, name: str, value: Any) -> Any:
    if name in _OPTIONAL_TUPLES or isinstance(default, tuple):
        if value is None and name in _OPTIONAL_TUPLES:
            return None
        if isinstance(value, list | tuple) and all(isinstance(v, str | int) for v in value):
            return tuple(str(v) for v in value)
        return _INVALID
    if name in _OPTIONAL_TEXTS:
        return value if value is None or isinstance(value, str) else _INVALID
    if name in _OPTIONAL_INTS:
        ok = value is None or (isinstance(value, int) and not isinstance(value, bool))
        return value if ok else _INVALID
    if name == "member_cooldown":
        ok = value is None or (isinstance(value, int | float) and not isinstance(value, bool))
        return float(value) if ok and value is not None else (None if ok else _INVALID)
    if name == "private_styles":
        try:
            return PrivateStyles(value)
        except ValueError:
            return _INVALID
    if isinstance(default, bool):
        return value if isinstance(value, bool) else _INVALID
    return _INVALID


@dataclass(frozen=True)
class OwnerCaps:
    """The bot owner's ceilings, from the environment (`bot.settings.Settings`).

    fair_use: the owner's limits (`MEMBER_*`, `GUILD_DAILY_QUOTA`; a quota of 0 = no cap).
    disabled_models / disabled_loras: catalog ids no scope may offer (`DISABLED_MODELS`,
    `DISABLED_LORAS`). allow_private_styles: `ALLOW_LORA_URLS` (private models, private LoRAs
    and LoRA URLs; off by default). lora_url_hosts: hosts a LoRA URL may point at
    (`LORA_URL_HOSTS`). safety_filter: the prompt screening is on (`SAFETY_FILTER`).
    allow_adult_chats: a Telegram chat's administrators may mark it for adults
    (`ALLOW_ADULT_CHATS`, off by default: Telegram checks no ages, and every member
    administers their own private chat)."""

    fair_use: FairUse = field(default_factory=FairUse)
    disabled_models: frozenset[str] = frozenset()
    disabled_loras: frozenset[str] = frozenset()
    allow_private_styles: bool = False
    lora_url_hosts: tuple[str, ...] = ()
    allow_adult_chats: bool = False
    safety_filter: bool = True


@dataclass(frozen=True)
class Place:
    """Where a request is made and who makes it, as the front end knows it.

    channel: the Discord channel id or the Telegram chat id. age_restricted: a Discord
    age-restricted (NSFW) channel, or a Telegram chat whose policy says it is for adults.
    roles: the member's Discord role ids. is_admin: Manage Server on Discord, an
    administrator (or the creator) of the chat on Telegram."""

    channel: str | None = None
    age_restricted: bool = False
    roles: frozenset[str] = frozenset()
    is_admin: bool = False


class RefusalKind(StrEnum):
    CHANNEL = "channel"  # not in an allowed channel (detail: the allowed channel ids)
    ROLE = "role"  # the member has none of the allowed roles (detail: the role ids)
    ADMINS_ONLY = "admins_only"  # the chat lets only its administrators use the bot
    MODEL = "model"  # the model is not offered here (detail: its id)
    LORA = "lora"  # the LoRA is not offered here (detail: its id)
    PRIVATE_STYLES = "private_styles"  # private models / LoRA URLs are not allowed for them
    # The LoRA URL is not https or its host not allowed (detail: one sentence for the member
    # saying what is wrong, from `bot.core.policy.urls.lora_url_problem`).
    LORA_URL_HOST = "lora_url_host"
    UNSAFE_PROMPT = "unsafe_prompt"  # the safety gate refused the prompt (detail: the word)


class PolicyRefusal(Exception):
    """A request the scope's policy refuses; data, worded by each front end. `kind`, and
    `detail`: the ids or word the refusal is about (see `RefusalKind`)."""

    def __init__(self, kind: RefusalKind, detail: Collection[str] = ()) -> None:
        super().__init__(f"refused by policy: {kind.value}")
        self.kind = kind
        self.detail = tuple(detail)


@dataclass(frozen=True)
class EffectivePolicy:
    """A scope's policy under the owner's caps: what is actually enforced."""

    scope: ScopePolicy
    caps: OwnerCaps
    fair_use: FairUse

    def offers_model(self, model_id: str) -> bool:
        if model_id in self.caps.disabled_models:
            return False
        return self.scope.models is None or model_id in self.scope.models

    def offers_lora(self, lora_id: str) -> bool:
        if lora_id in self.caps.disabled_loras:
            return False
        return self.scope.loras is None or lora_id in self.scope.loras

    def offered_models(self, ids: Iterable[str]) -> list[str]:
        return [model_id for model_id in ids if self.offers_model(model_id)]

    def offered_loras(self, ids: Iterable[str]) -> list[str]:
        return [lora_id for lora_id in ids if self.offers_lora(lora_id)]

    def may_use(self, place: Place, *, private_inputs: bool = False) -> PolicyRefusal | None:
        """Whether the member may use the bot at `place` at all; the refusal if not.
        `private_inputs`: the member gave a private model, a private LoRA or a LoRA URL, so
        PRIVATE_STYLES is checked too (before their text is parsed: a member who may not use
        them is told so, not how to shape a URL)."""
        policy = self.scope
        if policy.channels and place.channel not in policy.channels and not place.is_admin:
            return PolicyRefusal(RefusalKind.CHANNEL, policy.channels)
        if policy.roles and not (place.roles & set(policy.roles)) and not place.is_admin:
            return PolicyRefusal(RefusalKind.ROLE, policy.roles)
        if policy.admins_only and not place.is_admin:
            return PolicyRefusal(RefusalKind.ADMINS_ONLY)
        if private_inputs and not self.may_use_private_styles(place):
            return PolicyRefusal(RefusalKind.PRIVATE_STYLES)
        return None

    def may_use_private_styles(self, place: Place) -> bool:
        if not self.caps.allow_private_styles:
            return False
        mode = self.scope.private_styles
        if mode is PrivateStyles.EVERYONE:
            return True
        if mode is PrivateStyles.ADMINS:
            return place.is_admin
        if mode is PrivateStyles.ROLES:
            return place.is_admin or bool(place.roles & set(self.scope.private_styles_roles))
        return False

    def with_defaults(
        self,
        model: str | None,
        lora: str | None,
        prompt: str | None,
        *,
        private_model: str | None = None,
        private_lora: str | None = None,
        lora_url: str | None = None,
        fallback_models: Iterable[str] = (),
    ) -> tuple[str | None, str | None, str | None]:
        """The member's (model, LoRA, prompt) with what they left empty (None or blank) filled
        from the scope's defaults, for `resolve_options`; None stays None (the catalog's
        default then applies). A default no longer offered here is not used; no model default
        is filled when the member chose a private model, nor a LoRA default when they chose a
        private LoRA or a LoRA URL. `fallback_models`: the catalog's model ids, its default
        first; when no model is chosen and none is defaulted, the first one offered here (so a
        catalog default the owner or scope turned off is not picked)."""
        if not _filled(model) and not _filled(private_model):
            default = self.scope.default_model
            if default and self.offers_model(default):
                model = default
            else:
                model = next((m for m in fallback_models if self.offers_model(m)), None)
        if not _filled(lora) and not _filled(private_lora) and not _filled(lora_url):
            default = self.scope.default_lora
            lora = default if default and self.offers_lora(default) else None
        if not _filled(prompt):
            prompt = self.scope.default_prompt or None
        return model, lora, prompt

    @property
    def adult_chat(self) -> bool:
        """The chat is for adults: its policy says so and the owner allows adult chats
        (`OwnerCaps.allow_adult_chats`); a flag stored before the owner turned them off is
        not trusted."""
        return self.scope.adult_allowed and self.caps.allow_adult_chats

    def adult_place(self, place: Place) -> bool:
        """Adult prompts are allowed here: a Discord age-restricted channel, or a Telegram
        chat for adults (`adult_chat`)."""
        return place.age_restricted or self.adult_chat


def effective_policy(policy: ScopePolicy, caps: OwnerCaps) -> EffectivePolicy:
    """`policy` under `caps`: limits clamped to the owner's (a stored value above a cap the
    owner lowered later is clamped, not trusted)."""
    owner = caps.fair_use
    return EffectivePolicy(
        scope=policy,
        caps=caps,
        fair_use=FairUse(
            member_max_active=_at_most(policy.member_max_active, owner.member_max_active),
            member_cooldown=max(owner.member_cooldown, policy.member_cooldown or 0.0),
            member_daily_quota=_quota(policy.member_daily_quota, owner.member_daily_quota),
            guild_daily_quota=_quota(policy.scope_daily_quota, owner.guild_daily_quota),
        ),
    )


def _filled(value: str | None) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _at_most(value: int | None, cap: int) -> int:
    return cap if value is None else max(1, min(value, cap))


def _quota(value: int | None, cap: int) -> int:
    # A quota of 0 is "no quota" (owner's setting); a scope can only set one of at least 1.
    if value is None or value < 1:
        return cap
    return value if cap == 0 else min(value, cap)
