"""Per-server and per-chat policy under the bot owner's caps (see `model`)."""

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
