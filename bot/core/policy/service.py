"""LOCAL STAND-IN (branch i12-telegram) for core-policy's `Policies`: the contract's names with
an in-memory store, so the Telegram front end can be built and tested before the real one
(SQLite store, caching, admission) is merged. The lead keeps core-policy's file.

    policies = Policies(caps)
    await policies.update("telegram:chat:-100", {"admins_only": True}, by=editor)
    effective = await policies.effective("telegram:chat:-100")
    await policies.check_request(scope, place, options)   # PolicyRefusal
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

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

__all__ = ["CapExceeded", "Policies", "PolicyChange", "PolicyEditor"]


@dataclass(frozen=True)
class PolicyEditor:
    """Who changed a policy: platform ("telegram"), requester key, display name."""

    platform: str
    requester: str
    member_name: str


@dataclass(frozen=True)
class PolicyChange:
    scope: str
    editor: PolicyEditor
    fields: dict[str, Any]


class CapExceeded(ValueError):
    """A value over the owner's ceiling (or turning on what the owner turned off)."""

    def __init__(self, field: str, cap: float | int | str) -> None:
        super().__init__(f"{field} is capped by the bot's owner at {cap}")
        self.field = field
        self.cap = cap


_FIELDS = {item.name for item in fields(ScopePolicy)}


class Policies:
    """Scope policies under the owner's caps (in memory in this stand-in)."""

    def __init__(
        self,
        caps: OwnerCaps | None = None,
        on_change: Callable[[PolicyChange], Awaitable[None]] | None = None,
    ) -> None:
        self.caps = caps or OwnerCaps()
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
            raise ValueError(f"unknown policy field(s): {', '.join(sorted(unknown))}")
        for name, value in changes.items():
            self._check_cap(name, value)
        policy = (await self.get(scope)).changed(**dict(changes))
        self._stored[scope] = policy
        if self.on_change is not None:
            await self.on_change(PolicyChange(scope, by, dict(changes)))
        return policy

    def _check_cap(self, name: str, value: Any) -> None:
        owner = self.caps.fair_use
        if value is None:
            return
        if name == "member_cooldown" and value < owner.member_cooldown:
            raise CapExceeded(name, owner.member_cooldown)
        if name == "member_max_active" and value > owner.member_max_active:
            raise CapExceeded(name, owner.member_max_active)
        for field, cap in (
            ("member_daily_quota", owner.member_daily_quota),
            ("scope_daily_quota", owner.guild_daily_quota),
        ):
            if name == field and cap > 0 and value > cap:
                raise CapExceeded(name, cap)
        if (
            name == "private_styles"
            and value != PrivateStyles.OFF
            and not self.caps.allow_private_styles
        ):
            raise CapExceeded(name, PrivateStyles.OFF.value)
        if name == "models" and set(value) & self.caps.disabled_models:
            raise CapExceeded(name, ",".join(sorted(self.caps.disabled_models)))
        if name == "loras" and set(value) & self.caps.disabled_loras:
            raise CapExceeded(name, ",".join(sorted(self.caps.disabled_loras)))

    async def check_request(self, scope: str, place: Place, options: PortraitOptions) -> None:
        effective = await self.effective(scope)
        if not options.private_model and not effective.offers_model(options.model_id):
            raise PolicyRefusal(RefusalKind.MODEL, (options.model_id,))
        if options.lora_id and not effective.offers_lora(options.lora_id):
            raise PolicyRefusal(RefusalKind.LORA, (options.lora_id,))
        private = options.private_model or options.private_lora or options.lora_url
        if private and not effective.may_use_private_styles(place):
            raise PolicyRefusal(RefusalKind.PRIVATE_STYLES)
        if options.lora_url and lora_url_problem(options.lora_url, self.caps.lora_url_hosts):
            raise PolicyRefusal(RefusalKind.LORA_URL_HOST, (options.lora_url,))
        if self.caps.safety_filter and not effective.adult_place(place):
            word = screen_prompt(options.prompt, effective.scope.blocked_words)
            if word is not None:
                raise PolicyRefusal(RefusalKind.UNSAFE_PROMPT, (word,))
