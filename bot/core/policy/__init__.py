"""Per-server and per-chat policy under the bot owner's caps.

`model`: the data and rules (re-exported here); `store`: the ``scope_policy`` table;
`service`: `Policies` (read, change, check a request); `safety`: the prompt screening;
`urls`: the LoRA URL allowlist. Only the model is imported here, so `bot.settings` can
use it without loading the rest."""

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
