"""LOCAL STAND-IN (branch i12-discord) for core-policy's `Policies`: the contract's names with an
in-memory store, so the Discord front end can be built and tested before core-policy lands.
The lead keeps core-policy's version of this file when merging.

`Policies` reads and changes one scope's policy ("discord:guild:<id>", "telegram:chat:<id>"),
checks changes against the owner's caps and requests against the effective policy."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import urlparse

from bot.core.jobs.limits import FairUse
from bot.core.policy.model import (
    EffectivePolicy,
    OwnerCaps,
    Place,
    PolicyRefusal,
    PrivateStyles,
    RefusalKind,
    ScopePolicy,
    effective_policy,
)
from bot.core.policy.safety import screen_prompt
from bot.core.policy.urls import lora_url_problem
from bot.core.request.options import PortraitOptions

__all__ = [
    "CapExceeded",
    "Policies",
    "PolicyChange",
    "PolicyEditor",
    "owner_caps",
]


@dataclass(frozen=True)
class PolicyEditor:
    """Who changed a policy: platform ("discord"), requester key, display name."""

    platform: str
    requester: str
    member_name: str


@dataclass(frozen=True)
class PolicyChange:
    scope: str
    editor: PolicyEditor
    fields: dict[str, Any]


class CapExceeded(ValueError):
    """A change over the owner's ceiling (`cap`: the owner's value) or turning on what the
    owner turned off (`cap`: "off", or the disabled style id)."""

    def __init__(self, field: str, cap: float | int | str) -> None:
        super().__init__(f"{field} is capped at {cap}")
        self.field = field
        self.cap = cap


_FIELDS = {item.name for item in fields(ScopePolicy)}


class Policies:
    def __init__(
        self,
        caps: OwnerCaps,
        *,
        on_change: Callable[[PolicyChange], Awaitable[None]] | None = None,
    ) -> None:
        self.caps = caps
        self.on_change = on_change
        self._stored: dict[str, ScopePolicy] = {}

    async def get(self, scope: str) -> ScopePolicy:
        return self._stored.get(scope, ScopePolicy())

    async def effective(self, scope: str) -> EffectivePolicy:
        return effective_policy(await self.get(scope), self.caps)

    async def update(
        self, scope: str, changes: Mapping[str, Any], *, by: PolicyEditor
    ) -> ScopePolicy:
        unknown = set(changes) - _FIELDS
        if unknown:
            raise ValueError(f"unknown policy field(s): {sorted(unknown)}")
        self._check_caps(changes)
        policy = ScopePolicy.from_mapping({**_as_mapping(await self.get(scope)), **changes})
        self._stored[scope] = policy
        if self.on_change is not None:
            await self.on_change(PolicyChange(scope, by, dict(changes)))
        return policy

    def _check_caps(self, changes: Mapping[str, Any]) -> None:
        owner: FairUse = self.caps.fair_use
        value = changes.get("member_cooldown")
        if value is not None and value < owner.member_cooldown:
            raise CapExceeded("member_cooldown", owner.member_cooldown)
        value = changes.get("member_max_active")
        if value is not None and value > owner.member_max_active:
            raise CapExceeded("member_max_active", owner.member_max_active)
        for name, cap in (
            ("member_daily_quota", owner.member_daily_quota),
            ("scope_daily_quota", owner.guild_daily_quota),
        ):
            value = changes.get(name)
            if value is not None and cap and value > cap:
                raise CapExceeded(name, cap)
        for name, disabled in (
            ("models", self.caps.disabled_models),
            ("loras", self.caps.disabled_loras),
        ):
            for style_id in changes.get(name) or ():
                if style_id in disabled:
                    raise CapExceeded(name, style_id)
        private = changes.get("private_styles")
        if private not in (None, PrivateStyles.OFF) and not self.caps.allow_private_styles:
            raise CapExceeded("private_styles", "off")

    async def check_request(self, scope: str, place: Place, options: PortraitOptions) -> None:
        effective = await self.effective(scope)
        if not effective.offers_model(options.model_id):
            raise PolicyRefusal(RefusalKind.MODEL, (options.model_id,))
        if options.lora_id and not effective.offers_lora(options.lora_id):
            raise PolicyRefusal(RefusalKind.LORA, (options.lora_id,))
        private = options.private_model or options.private_lora or options.lora_url
        if private and not effective.may_use_private_styles(place):
            raise PolicyRefusal(RefusalKind.PRIVATE_STYLES)
        url = options.lora_url
        if url and lora_url_problem(url, self.caps.lora_url_hosts) is not None:
            raise PolicyRefusal(RefusalKind.LORA_URL_HOST, (urlparse(url).netloc,))
        if self.caps.safety_filter and not effective.adult_place(place):
            word = screen_prompt(options.prompt, effective.scope.blocked_words)
            if word is not None:
                raise PolicyRefusal(RefusalKind.UNSAFE_PROMPT, (word,))


def _as_mapping(policy: ScopePolicy) -> dict[str, Any]:
    return {item.name: getattr(policy, item.name) for item in fields(policy)}


def owner_caps(settings: Any) -> OwnerCaps:
    """The owner's caps from `bot.settings.Settings`."""
    return OwnerCaps(
        fair_use=FairUse(
            member_max_active=settings.member_max_active,
            member_cooldown=settings.member_cooldown,
            member_daily_quota=settings.member_daily_quota,
            guild_daily_quota=settings.guild_daily_quota,
        ),
        disabled_models=frozenset(settings.disabled_models),
        disabled_loras=frozenset(settings.disabled_loras),
        allow_private_styles=settings.allow_lora_urls,
        lora_url_hosts=settings.lora_url_hosts,
        safety_filter=settings.safety_filter,
    )
