"""`Policies`: each scope's policy, read through a cache, changed under the owner's caps, and
applied to a request before anything is spent.

Front ends call `check_request` once a member's options are resolved (and `effective` for
what to offer and which limits hold); admin commands call `update`. Every change is handed
to the `on_change` hook (the audit log) with who made it.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

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
from bot.core.policy.safety import EXTRA_WORD_MAX_CHARS, screen_prompt
from bot.core.policy.store import PolicyStore
from bot.core.policy.urls import lora_url_problem
from bot.core.request.options import PROMPT_MAX_CHARS, PortraitOptions

__all__ = ["CapExceeded", "Policies", "PolicyChange", "PolicyEditor"]

log = logging.getLogger(__name__)

BLOCKED_WORDS_MAX = 200  # a scope's own additions to the safety word list
CACHE_SIZE = 4096  # scopes whose policy is kept in memory


class CapExceeded(Exception):
    """A change the bot owner's settings do not allow. `field`: the ScopePolicy field.
    `cap`: the owner's value it runs into: the highest quota or active-job limit, the lowest
    cooldown (seconds), the model or LoRA id the owner disabled, or ``"off"`` for private
    styles while `ALLOW_LORA_URLS` is off."""

    def __init__(self, field: str, cap: float | int | str) -> None:
        super().__init__(f"{field} is limited by the bot owner's setting ({cap})")
        self.field = field
        self.cap = cap


@dataclass(frozen=True)
class PolicyEditor:
    """Who changes a policy. platform: ``"discord"`` / ``"telegram"``; requester: their key
    (``"discord:<user id>"``); member_name: their display name at the time (for the log)."""

    platform: str
    requester: str
    member_name: str


@dataclass(frozen=True)
class PolicyChange:
    """One stored change: the scope, who made it, and the fields set, JSON-able (tuples as
    lists, enums as their text)."""

    scope: str
    editor: PolicyEditor
    fields: dict[str, Any]


OnChange = Callable[[PolicyChange], Awaitable[None]]


class Policies:
    """The scopes' policies over one `PolicyStore`, under the owner's `caps`.

    `on_change` may be set after construction (the audit log is built later); a failing hook
    is logged, the change stays stored."""

    def __init__(
        self,
        store: PolicyStore,
        caps: OwnerCaps,
        *,
        on_change: OnChange | None = None,
        cache_size: int = CACHE_SIZE,
    ) -> None:
        self.caps = caps
        self.on_change = on_change
        self._store = store
        self._cache: OrderedDict[str, ScopePolicy] = OrderedDict()
        self._cache_size = max(1, cache_size)
        self._writing = asyncio.Lock()  # one change at a time: none is lost to another

    async def get(self, scope: str) -> ScopePolicy:
        """The scope's own policy as stored (defaults when none is). Raises `LedgerError`."""
        cached = self._cache.get(scope)
        if cached is not None:
            self._cache.move_to_end(scope)
            return cached
        policy = await self._store.load(scope) or ScopePolicy()
        self._remember(scope, policy)
        return policy

    async def effective(self, scope: str) -> EffectivePolicy:
        """The scope's policy under the owner's caps: what is enforced there."""
        return effective_policy(await self.get(scope), self.caps)

    async def fair_use(self, scope: str) -> FairUse:
        """The fair-use limits that hold in `scope` (for `Admission`'s `fair_use_for`)."""
        return (await self.effective(scope)).fair_use

    def forget(self, scope: str | None = None) -> None:
        """Drop the cached policy of `scope` (every scope when None)."""
        if scope is None:
            self._cache.clear()
        else:
            self._cache.pop(scope, None)

    async def update(
        self, scope: str, changes: Mapping[str, Any], *, by: PolicyEditor
    ) -> ScopePolicy:
        """Set `changes` (ScopePolicy field names) in the scope's policy, store it and tell
        `on_change`. Returns the new policy.

        Raises ValueError for an unknown field or a value of the wrong shape or range
        (a quota or active limit below 1, a negative cooldown, too many blocked words),
        `CapExceeded` for what the owner's caps forbid, `LedgerError` if it cannot be stored.
        Nothing is stored when anything is refused."""
        if not changes:
            return await self.get(scope)
        async with self._writing:
            policy = (await self.get(scope)).updated(changes)
            for name in changes:
                self._check(name, policy)
            await self._store.save(scope, policy, updated_by=by.requester)
            self._remember(scope, policy)
        change = PolicyChange(scope, by, {name: _plain(getattr(policy, name)) for name in changes})
        if self.on_change is not None:
            try:
                await self.on_change(change)
            except Exception:
                log.exception("Recording the policy change of %s failed", scope)
        return policy

    async def check_request(self, scope: str, place: Place, options: PortraitOptions) -> None:
        """Raise `PolicyRefusal` if the scope's policy refuses this request, in this order:
        who may use the bot where (CHANNEL, ROLE, ADMINS_ONLY), the style (MODEL, LORA), the
        private inputs (PRIVATE_STYLES, LORA_URL_HOST), the prompt (UNSAFE_PROMPT, unless the
        place is for adults or the owner turned `SAFETY_FILTER` off)."""
        policy = await self.effective(scope)
        refusal = policy.may_use(place)
        if refusal is not None:
            raise refusal
        if not options.private_model and not policy.offers_model(options.model_id):
            raise PolicyRefusal(RefusalKind.MODEL, (options.model_id,))
        if options.lora_id and not policy.offers_lora(options.lora_id):
            raise PolicyRefusal(RefusalKind.LORA, (options.lora_id,))
        private = options.private_model or options.private_lora or options.lora_url
        if private and not policy.may_use_private_styles(place):
            raise PolicyRefusal(RefusalKind.PRIVATE_STYLES)
        if options.lora_url:
            problem = lora_url_problem(options.lora_url, self.caps.lora_url_hosts)
            if problem is not None:
                raise PolicyRefusal(RefusalKind.LORA_URL_HOST, (problem,))
        if self.caps.safety_filter and not policy.adult_place(place):
            word = screen_prompt(options.prompt, policy.scope.blocked_words)
            if word is not None:
                raise PolicyRefusal(RefusalKind.UNSAFE_PROMPT, (word,))

    def screened_word(self, policy: EffectivePolicy, text: str) -> str | None:
        """The word the safety gate refuses `text` for outside age-restricted places under
        `policy` (for warning an administrator whose default prompt would be refused); None
        when it passes or the owner turned `SAFETY_FILTER` off."""
        if not self.caps.safety_filter:
            return None
        return screen_prompt(text, policy.scope.blocked_words)

    # ------------------------------------------------------------------ rules of a change

    def _check(self, name: str, policy: ScopePolicy) -> None:
        owner = self.caps.fair_use
        value = getattr(policy, name)
        if name == "member_cooldown" and value is not None:
            if not math.isfinite(value) or value < 0:
                raise ValueError("member_cooldown must be 0 or more seconds")
            if value < owner.member_cooldown:
                raise CapExceeded(name, owner.member_cooldown)
        elif name == "member_max_active" and value is not None:
            _at_least_one(name, value)
            if value > owner.member_max_active:
                raise CapExceeded(name, owner.member_max_active)
        elif name in ("member_daily_quota", "scope_daily_quota") and value is not None:
            _at_least_one(name, value)
            cap = (
                owner.member_daily_quota
                if name == "member_daily_quota"
                else owner.guild_daily_quota
            )
            if cap > 0 and value > cap:  # an owner's 0 is "no quota": any scope quota fits
                raise CapExceeded(name, cap)
        elif name in ("models", "default_model"):
            for model_id in _ids(value):
                if model_id in self.caps.disabled_models:
                    raise CapExceeded(name, model_id)
        elif name in ("loras", "default_lora"):
            for lora_id in _ids(value):
                if lora_id in self.caps.disabled_loras:
                    raise CapExceeded(name, lora_id)
        elif name == "private_styles":
            if value is not PrivateStyles.OFF and not self.caps.allow_private_styles:
                raise CapExceeded(name, PrivateStyles.OFF.value)
        elif name == "adult_allowed":
            if value and not self.caps.allow_adult_chats:
                raise CapExceeded(name, "off")
        elif name == "default_prompt" and value is not None and len(value) > PROMPT_MAX_CHARS:
            raise ValueError(f"default_prompt is longer than {PROMPT_MAX_CHARS} characters")
        elif name == "blocked_words":
            if len(value) > BLOCKED_WORDS_MAX:
                raise ValueError(f"blocked_words holds at most {BLOCKED_WORDS_MAX} entries")
            if any(not w.strip() or len(w) > EXTRA_WORD_MAX_CHARS for w in value):
                raise ValueError(
                    f"each blocked word must be 1 to {EXTRA_WORD_MAX_CHARS} characters"
                )

    def _remember(self, scope: str, policy: ScopePolicy) -> None:
        self._cache[scope] = policy
        self._cache.move_to_end(scope)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)


def _at_least_one(name: str, value: int) -> None:
    if value < 1:
        raise ValueError(f"{name} must be at least 1 (or unset to inherit the owner's)")


def _ids(value: tuple[str, ...] | str | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else value


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, Enum):
        return value.value
    return value
