"""The policy model's rules: the bot owner's caps win over a scope's policy (limits clamped,
disabled styles never offered, private styles only when the owner allows them), a stored
policy reads back tolerantly, and a scope's defaults fill what a member left empty."""

from __future__ import annotations

import pytest

from bot.core.jobs.limits import FairUse
from bot.core.policy.model import (
    OwnerCaps,
    Place,
    PrivateStyles,
    RefusalKind,
    ScopePolicy,
    effective_policy,
)

OWNER = FairUse(
    member_max_active=2, member_cooldown=30, member_daily_quota=10, guild_daily_quota=100
)
CAPS = OwnerCaps(fair_use=OWNER, disabled_models=frozenset({"666"}), allow_private_styles=True)


def test_a_scope_without_a_policy_has_the_owners_limits():
    assert effective_policy(ScopePolicy(), CAPS).fair_use == OWNER


def test_a_scope_can_tighten_every_limit():
    policy = ScopePolicy(
        member_cooldown=120, member_max_active=1, member_daily_quota=3, scope_daily_quota=20
    )
    assert effective_policy(policy, CAPS).fair_use == FairUse(
        member_max_active=1, member_cooldown=120, member_daily_quota=3, guild_daily_quota=20
    )


def test_stored_values_above_a_cap_the_owner_lowered_later_are_clamped():
    # Stored while the owner allowed more; the owner has since lowered the ceilings.
    policy = ScopePolicy(
        member_cooldown=5, member_max_active=9, member_daily_quota=50, scope_daily_quota=500
    )
    assert effective_policy(policy, CAPS).fair_use == OWNER


def test_an_owner_quota_of_zero_means_none_so_a_scope_may_set_any():
    caps = OwnerCaps(fair_use=FairUse(member_daily_quota=0, guild_daily_quota=0))
    rules = effective_policy(ScopePolicy(member_daily_quota=7, scope_daily_quota=70), caps)
    assert (rules.fair_use.member_daily_quota, rules.fair_use.guild_daily_quota) == (7, 70)
    # ...and a scope's 0 (or less) never turns the owner's quota off.
    rules = effective_policy(ScopePolicy(member_daily_quota=0, scope_daily_quota=-1), CAPS)
    assert (rules.fair_use.member_daily_quota, rules.fair_use.guild_daily_quota) == (10, 100)


def test_a_disabled_model_is_never_offered_even_if_the_scope_lists_it():
    policy = effective_policy(ScopePolicy(models=("606", "666")), CAPS)
    assert policy.offers_model("606")
    assert not policy.offers_model("666")
    assert not policy.offers_model("1097")  # not in the scope's own list
    assert policy.offered_models(["606", "666", "1097"]) == ["606"]
    assert effective_policy(ScopePolicy(), CAPS).offered_models(["606", "666"]) == ["606"]


def test_private_styles_need_the_owner_and_the_scope():
    place = Place(is_admin=True, roles=frozenset({"9"}))
    everyone = ScopePolicy(private_styles=PrivateStyles.EVERYONE)
    assert not effective_policy(everyone, OwnerCaps()).may_use_private_styles(place)
    assert effective_policy(everyone, CAPS).may_use_private_styles(Place())
    admins = effective_policy(ScopePolicy(private_styles=PrivateStyles.ADMINS), CAPS)
    assert admins.may_use_private_styles(place) and not admins.may_use_private_styles(Place())
    roles = effective_policy(
        ScopePolicy(private_styles=PrivateStyles.ROLES, private_styles_roles=("9",)), CAPS
    )
    assert roles.may_use_private_styles(Place(roles=frozenset({"9"})))
    assert not roles.may_use_private_styles(Place(roles=frozenset({"8"})))
    assert not effective_policy(ScopePolicy(), CAPS).may_use_private_styles(place)


def test_who_may_use_the_bot_where():
    policy = effective_policy(ScopePolicy(channels=("1",), roles=("r",)), CAPS)
    refusal = policy.may_use(Place(channel="2", roles=frozenset({"r"})))
    assert refusal is not None and refusal.kind is RefusalKind.CHANNEL
    assert refusal.detail == ("1",)
    refusal = policy.may_use(Place(channel="1"))
    assert refusal is not None and refusal.kind is RefusalKind.ROLE
    assert policy.may_use(Place(channel="1", roles=frozenset({"r"}))) is None
    assert policy.may_use(Place(channel="2", is_admin=True)) is None
    admins_only = effective_policy(ScopePolicy(admins_only=True), CAPS)
    refusal = admins_only.may_use(Place())
    assert refusal is not None and refusal.kind is RefusalKind.ADMINS_ONLY


def test_a_policy_reads_back_tolerantly():
    policy = ScopePolicy(
        channels=("1", "2"), models=("606",), member_cooldown=60.0, blocked_words=("x",)
    )
    assert ScopePolicy.from_json(policy.to_json()) == policy
    assert ScopePolicy.from_json(None) == ScopePolicy()
    assert ScopePolicy.from_json("{not json") == ScopePolicy()
    assert ScopePolicy.from_json("[1, 2]") == ScopePolicy()
    odd = ScopePolicy.from_json(
        '{"channels": "1", "member_daily_quota": "5", "admins_only": true,'
        ' "private_styles": "sometimes", "from_the_future": 1, "roles": [7, "8"]}'
    )
    assert odd == ScopePolicy(admins_only=True, roles=("7", "8"))


def test_updated_checks_shapes_and_names():
    policy = ScopePolicy().updated(
        {"models": ["606"], "private_styles": "admins", "member_cooldown": 60}
    )
    assert policy.models == ("606",)
    assert policy.private_styles is PrivateStyles.ADMINS
    assert policy.member_cooldown == 60.0
    with pytest.raises(ValueError, match="unknown policy field 'colour'"):
        ScopePolicy().updated({"colour": "red"})
    with pytest.raises(ValueError, match="member_daily_quota"):
        ScopePolicy().updated({"member_daily_quota": "5"})
    with pytest.raises(ValueError, match="admins_only"):
        ScopePolicy().updated({"admins_only": "yes"})


def test_defaults_fill_only_what_the_member_left_empty():
    policy = effective_policy(
        ScopePolicy(default_model="1097", default_lora="540", default_prompt="a knight"), CAPS
    )
    assert policy.with_defaults(None, None, None) == ("1097", "540", "a knight")
    assert policy.with_defaults(" ", "", "  ") == ("1097", "540", "a knight")
    assert policy.with_defaults("606", "541", "a queen") == ("606", "541", "a queen")
    # A private model or LoRA replaces the listed one: no listed default is added beside it.
    assert policy.with_defaults(None, None, None, private_model="me/mine") == (
        None,
        "540",
        "a knight",
    )
    assert policy.with_defaults(None, None, None, lora_url="https://hf.co/x.safetensors")[1] is None
    assert policy.with_defaults(None, None, None, private_lora="me/lora")[1] is None


def test_a_default_no_longer_offered_is_not_used():
    caps = OwnerCaps(disabled_models=frozenset({"1097"}), disabled_loras=frozenset({"540"}))
    policy = effective_policy(ScopePolicy(default_model="1097", default_lora="540"), caps)
    assert policy.with_defaults(None, None, None) == (None, None, None)
    # With the catalog's models (its default first), the first one offered is picked.
    assert policy.with_defaults(None, None, None, fallback_models=["1097", "606"])[0] == "606"
    narrowed = effective_policy(ScopePolicy(models=("606",)), OwnerCaps())
    assert narrowed.with_defaults(None, None, None, fallback_models=["1097", "606"])[0] == "606"
