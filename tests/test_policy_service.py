"""`Policies` on a real SQLite ledger: changes are checked against the owner's caps, stored,
cached and reported; `check_request` refuses each kind of request the policy forbids; and
`Admission` holds a scope's tightened quota while other scopes keep the owner's."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.core.catalog import Catalog
from bot.core.jobs.admission import Admission, Requester
from bot.core.jobs.ledger import JobState
from bot.core.jobs.limits import FairUse, LimitKind, LimitReached
from bot.core.jobs.sqlite_ledger import LEDGER_FILENAME, SqliteLedger
from bot.core.policy.model import (
    OwnerCaps,
    Place,
    PolicyRefusal,
    PrivateStyles,
    RefusalKind,
    ScopePolicy,
)
from bot.core.policy.service import CapExceeded, Policies, PolicyChange, PolicyEditor
from bot.core.policy.store import SqlitePolicyStore
from bot.core.request.options import PortraitOptions, resolve_options
from bot.core.request.selfie_store import SelfieStore
from bot.core.wiro import WiroClient
from bot.services import build_services
from bot.settings import DEFAULT_LORA_URL_HOSTS, load_settings

GUILD = "discord:guild:2002"
OTHER = "discord:guild:2003"
EDITOR = PolicyEditor("discord", "discord:1001", "Alice")
OWNER = FairUse(
    member_max_active=3, member_cooldown=30, member_daily_quota=10, guild_daily_quota=100
)
CAPS = OwnerCaps(
    fair_use=OWNER,
    disabled_models=frozenset({"1097"}),
    disabled_loras=frozenset({"1086"}),
    allow_private_styles=True,
    lora_url_hosts=DEFAULT_LORA_URL_HOSTS,
)
CATALOG = Catalog.bundled()
LORA_URL = "https://huggingface.co/me/style/resolve/main/style.safetensors"
START = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


class CountingStore(SqlitePolicyStore):
    """The real store, counting how often a policy is read from the database."""

    loads = 0

    async def load(self, scope: str) -> ScopePolicy | None:
        self.loads += 1
        return await super().load(scope)


@pytest.fixture
async def ledger(tmp_path) -> AsyncIterator[SqliteLedger]:
    async with await SqliteLedger.open(tmp_path / LEDGER_FILENAME, clock=lambda: START) as led:
        yield led


@pytest.fixture
def changes() -> list[PolicyChange]:
    return []


@pytest.fixture
def policies(ledger, changes) -> Policies:
    async def record(change: PolicyChange) -> None:
        changes.append(change)

    return Policies(CountingStore(ledger), CAPS, on_change=record)


def options(**chosen: Any) -> PortraitOptions:
    return resolve_options(CATALOG, **chosen)


async def refusal(
    policies: Policies, place: Place | None = None, **chosen: Any
) -> PolicyRefusal | None:
    try:
        await policies.check_request(GUILD, place or Place(), options(**chosen))
    except PolicyRefusal as refused:
        return refused
    return None


# ====================================================================== update


async def test_a_change_is_stored_cached_and_reported(policies, ledger, changes):
    assert await policies.get(GUILD) == ScopePolicy()
    new = await policies.update(GUILD, {"models": ["606"], "member_daily_quota": 3}, by=EDITOR)
    assert new == ScopePolicy(models=("606",), member_daily_quota=3)
    assert await policies.get(GUILD) == new
    assert policies._store.loads == 1  # read once; the update refreshed the cache
    assert changes == [PolicyChange(GUILD, EDITOR, {"models": ["606"], "member_daily_quota": 3})]
    # Stored: a fresh service (a restart) reads it back.
    assert await Policies(SqlitePolicyStore(ledger), CAPS).get(GUILD) == new
    assert (await policies.effective(GUILD)).fair_use.member_daily_quota == 3
    assert await policies.get(OTHER) == ScopePolicy()


@pytest.mark.parametrize(
    ("change", "field", "cap"),
    [
        ({"member_daily_quota": 11}, "member_daily_quota", 10),
        ({"scope_daily_quota": 101}, "scope_daily_quota", 100),
        ({"member_max_active": 4}, "member_max_active", 3),
        ({"member_cooldown": 10}, "member_cooldown", 30),
        ({"models": ["606", "1097"]}, "models", "1097"),
        ({"default_model": "1097"}, "default_model", "1097"),
        ({"loras": ["1086"]}, "loras", "1086"),
        ({"default_lora": "1086"}, "default_lora", "1086"),
    ],
)
async def test_a_scope_cannot_exceed_the_owners_caps(policies, changes, change, field, cap):
    with pytest.raises(CapExceeded) as caught:
        await policies.update(GUILD, change, by=EDITOR)
    assert (caught.value.field, caught.value.cap) == (field, cap)
    assert await policies.get(GUILD) == ScopePolicy()  # nothing stored
    assert changes == []


async def test_private_styles_cannot_be_turned_on_when_the_owner_turned_them_off(ledger):
    policies = Policies(
        SqlitePolicyStore(ledger), dataclasses.replace(CAPS, allow_private_styles=False)
    )
    with pytest.raises(CapExceeded) as caught:
        await policies.update(GUILD, {"private_styles": "everyone"}, by=EDITOR)
    assert (caught.value.field, caught.value.cap) == ("private_styles", "off")
    await policies.update(GUILD, {"private_styles": "off"}, by=EDITOR)  # off is always fine


async def test_an_owner_quota_of_zero_lets_a_scope_set_any(ledger):
    caps = dataclasses.replace(CAPS, fair_use=dataclasses.replace(OWNER, member_daily_quota=0))
    policies = Policies(SqlitePolicyStore(ledger), caps)
    await policies.update(GUILD, {"member_daily_quota": 5000}, by=EDITOR)
    assert (await policies.fair_use(GUILD)).member_daily_quota == 5000


@pytest.mark.parametrize(
    "change",
    [
        {"colour": "red"},
        {"member_daily_quota": 0},
        {"member_max_active": -1},
        {"member_cooldown": -5},
        {"member_cooldown": float("inf")},
        {"member_daily_quota": "3"},
        {"blocked_words": ["ok", " "]},
        {"blocked_words": ["x" * 101]},
        {"blocked_words": [f"w{i}" for i in range(201)]},
        {"default_prompt": "x" * 1001},
        {"private_styles": "sometimes"},
    ],
)
async def test_a_malformed_change_is_refused(policies, changes, change):
    with pytest.raises(ValueError):
        await policies.update(GUILD, change, by=EDITOR)
    assert await policies.get(GUILD) == ScopePolicy() and changes == []


async def test_no_change_stores_and_reports_nothing(policies, ledger, changes):
    assert await policies.update(GUILD, {}, by=EDITOR) == ScopePolicy()
    assert changes == []
    assert await SqlitePolicyStore(ledger).load(GUILD) is None


async def test_unset_values_inherit_the_owners_again(policies):
    await policies.update(GUILD, {"member_daily_quota": 2, "member_cooldown": 60}, by=EDITOR)
    await policies.update(GUILD, {"member_daily_quota": None, "member_cooldown": None}, by=EDITOR)
    assert await policies.fair_use(GUILD) == OWNER


async def test_a_failing_change_hook_does_not_undo_the_change(ledger, caplog):
    async def broken(change: PolicyChange) -> None:
        raise RuntimeError("audit log down")

    policies = Policies(SqlitePolicyStore(ledger), CAPS, on_change=broken)
    await policies.update(GUILD, {"admins_only": True}, by=EDITOR)
    assert (await Policies(SqlitePolicyStore(ledger), CAPS).get(GUILD)).admins_only
    assert "Recording the policy change" in caplog.text


# ====================================================================== check_request


async def test_a_plain_request_passes(policies):
    assert await refusal(policies, prompt="a knight in shining armour") is None


async def test_who_may_use_the_bot_where_is_checked_first(policies):
    await policies.update(GUILD, {"channels": ["1"], "roles": ["r"]}, by=EDITOR)
    found = await refusal(policies, Place(channel="2", roles=frozenset({"r"})))
    assert found is not None and found.kind is RefusalKind.CHANNEL
    found = await refusal(policies, Place(channel="1"))
    assert found is not None and found.kind is RefusalKind.ROLE
    await policies.update(GUILD, {"channels": [], "roles": [], "admins_only": True}, by=EDITOR)
    found = await refusal(policies)
    assert found is not None and found.kind is RefusalKind.ADMINS_ONLY
    assert await refusal(policies, Place(is_admin=True)) is None


async def test_a_style_not_offered_is_refused(policies):
    await policies.update(GUILD, {"models": ["606"], "loras": ["540"]}, by=EDITOR)
    found = await refusal(policies, model="966")
    assert found is not None and (found.kind, found.detail) == (RefusalKind.MODEL, ("966",))
    found = await refusal(policies, model="606", lora="1170")
    assert found is not None and (found.kind, found.detail) == (RefusalKind.LORA, ("1170",))
    assert await refusal(policies, model="606", lora="540") is None


async def test_a_style_the_owner_disabled_is_refused_everywhere(policies):
    found = await refusal(policies, model="1097")
    assert found is not None and found.kind is RefusalKind.MODEL
    found = await refusal(policies, lora="1086")
    assert found is not None and found.kind is RefusalKind.LORA


@pytest.mark.parametrize(
    "private",
    [{"private_model": "me/my-model"}, {"private_lora": "me/my-lora"}, {"lora_url": LORA_URL}],
)
async def test_private_styles_need_the_scopes_permission(policies, private):
    found = await refusal(policies, **private)
    assert found is not None and found.kind is RefusalKind.PRIVATE_STYLES
    await policies.update(GUILD, {"private_styles": PrivateStyles.ADMINS}, by=EDITOR)
    found = await refusal(policies, **private)
    assert found is not None and found.kind is RefusalKind.PRIVATE_STYLES
    assert await refusal(policies, Place(is_admin=True), **private) is None


async def test_a_private_model_is_not_refused_for_the_listed_default(policies):
    # The catalog's default model stays in selectedModel beside a private one; a scope that
    # offers other models must not refuse the private model for it.
    await policies.update(GUILD, {"models": ["966"], "private_styles": "everyone"}, by=EDITOR)
    assert await refusal(policies, private_model="me/my-model") is None


async def test_a_lora_url_must_point_at_an_allowed_host(policies):
    await policies.update(GUILD, {"private_styles": "everyone"}, by=EDITOR)
    found = await refusal(policies, lora_url="https://evil.example/style.safetensors")
    assert found is not None and found.kind is RefusalKind.LORA_URL_HOST
    assert "only point at" in found.detail[0]
    found = await refusal(policies, lora_url="https://huggingface.co.evil.com/style.safetensors")
    assert found is not None and found.kind is RefusalKind.LORA_URL_HOST
    assert await refusal(policies, lora_url=LORA_URL) is None


async def test_the_safety_gate_outside_adult_places(policies):
    found = await refusal(policies, prompt="a nude portrait")
    assert found is not None and (found.kind, found.detail) == (
        RefusalKind.UNSAFE_PROMPT,
        ("nude",),
    )
    assert await refusal(policies, Place(age_restricted=True), prompt="a nude portrait") is None


async def test_a_chat_for_adults_needs_the_owners_consent(ledger):
    """Telegram checks no ages and every member administers their own private chat, so a
    chat's "for adults" flag opens the gate only with `ALLOW_ADULT_CHATS`."""
    strict = Policies(SqlitePolicyStore(ledger), CAPS)
    with pytest.raises(CapExceeded) as capped:
        await strict.update(GUILD, {"adult_allowed": True}, by=EDITOR)
    assert capped.value.field == "adult_allowed"
    allowing = Policies(
        SqlitePolicyStore(ledger), dataclasses.replace(CAPS, allow_adult_chats=True)
    )
    await allowing.update(GUILD, {"adult_allowed": True}, by=EDITOR)
    nude = options(prompt="a nude portrait")
    await allowing.check_request(GUILD, Place(), nude)
    # Stored while the owner allowed it, then the owner turned adult chats off: not trusted.
    strict.forget()
    with pytest.raises(PolicyRefusal):
        await strict.check_request(GUILD, Place(), nude)


async def test_the_scopes_own_words_are_screened(policies):
    assert await refusal(policies, prompt="a clown") is None
    await policies.update(GUILD, {"blocked_words": ["clown"]}, by=EDITOR)
    found = await refusal(policies, prompt="a sad CLOWN")
    assert found is not None and found.detail == ("clown",)


async def test_the_owner_can_turn_the_safety_gate_off(ledger):
    policies = Policies(SqlitePolicyStore(ledger), dataclasses.replace(CAPS, safety_filter=False))
    await policies.check_request(GUILD, Place(), options(prompt="a nude portrait"))


# ====================================================================== admission


async def test_admission_holds_a_scopes_tightened_limits(tmp_path, ledger, policies):
    admission = Admission(
        ledger,
        OWNER,
        SelfieStore(tmp_path / "selfies"),
        selfie_keep=timedelta(hours=1),
        wake=lambda: None,
        clock=lambda: START,
        fair_use_for=policies.fair_use,
    )

    def who(user: int, scope: str) -> Requester:
        return Requester("discord", f"discord:{user}", scope, scope, {"channel_id": 1})

    async def post_status(job: Any, position: int | None) -> None:
        return None

    # The owner allows 3 jobs in progress; this server allows 1.
    await policies.update(GUILD, {"member_max_active": 1}, by=EDITOR)
    job = await admission.admit(who(1, GUILD), {"options": {}}, b"selfie", post_status=post_status)
    limit = await admission.over_limit(who(1, GUILD))
    assert limit is not None and (limit.kind, limit.limit) == (LimitKind.ACTIVE, 1)
    with pytest.raises(LimitReached):
        await admission.admit(who(1, GUILD), {"options": {}}, b"selfie", post_status=post_status)
    assert await admission.over_limit(who(2, OTHER)) is None

    # A server quota of 1 portrait a day, once one reached Wiro.
    await policies.update(GUILD, {"scope_daily_quota": 1, "member_max_active": None}, by=EDITOR)
    await ledger.transition(job.id, JobState.SUBMITTING)  # it reached Wiro: it counts
    limit = await admission.over_limit(who(2, GUILD))
    assert limit is not None and (limit.kind, limit.limit) == (LimitKind.SCOPE_DAILY, 1)
    assert await admission.over_limit(who(2, OTHER)) is None  # the owner's 100 there


async def test_admission_without_policies_keeps_the_global_limits(tmp_path, ledger):
    admission = Admission(
        ledger,
        dataclasses.replace(OWNER, member_max_active=1),
        SelfieStore(tmp_path / "selfies"),
        selfie_keep=timedelta(hours=1),
        wake=lambda: None,
        clock=lambda: START,
    )
    who = Requester("discord", "discord:1", GUILD, GUILD, {})

    async def post_status(job: Any, position: int | None) -> None:
        return None

    await admission.admit(who, {"options": {}}, b"selfie", post_status=post_status)
    limit = await admission.over_limit(who)
    assert limit is not None and limit.kind is LimitKind.ACTIVE


async def test_services_hold_the_policies_under_the_owners_caps(tmp_path, ledger):
    settings = load_settings(
        {
            "WIRO_API_KEY": "wiro-key",
            "BOT_DATA_DIR": str(tmp_path),
            "DISABLED_MODELS": "1097",
            "MEMBER_DAILY_QUOTA": "4",
        }
    )
    services = build_services(settings, WiroClient(api_key="wiro-key"), ledger)
    assert services.policies.caps.disabled_models == frozenset({"1097"})
    await services.policies.update(GUILD, {"member_daily_quota": 2}, by=EDITOR)
    assert (await services.policies.fair_use(GUILD)).member_daily_quota == 2
    assert services.admission._fair_use_for == services.policies.fair_use
