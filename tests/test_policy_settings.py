"""The bot owner's caps as settings (`ALLOW_LORA_URLS`, `LORA_URL_HOSTS`, `DISABLED_MODELS`,
`DISABLED_LORAS`, `SAFETY_FILTER`) and `owner_caps`, in tests/test_settings.py's style."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.jobs.limits import FairUse
from bot.settings import DEFAULT_LORA_URL_HOSTS, SettingsError, load_settings, owner_caps

BASE = {"WIRO_API_KEY": "wiro-key-123456", "WIRO_API_SECRET": "s3cret-value"}
ENV_EXAMPLE = Path(__file__).resolve().parents[1] / ".env.example"
NAMES = ("ALLOW_LORA_URLS", "LORA_URL_HOSTS", "DISABLED_MODELS", "DISABLED_LORAS", "SAFETY_FILTER")


def test_defaults_are_the_documented_ones():
    settings = load_settings(BASE)
    assert settings.allow_lora_urls is False
    assert settings.lora_url_hosts == DEFAULT_LORA_URL_HOSTS
    assert set(DEFAULT_LORA_URL_HOSTS) == {
        "huggingface.co",
        "hf.co",
        "cdn-lfs.huggingface.co",
        "cdn-lfs.hf.co",
        "civitai.com",
    }
    assert settings.disabled_models == settings.disabled_loras == ()
    assert settings.safety_filter is True


def test_values_are_parsed():
    settings = load_settings(
        {
            **BASE,
            "ALLOW_LORA_URLS": "yes",
            "LORA_URL_HOSTS": "HuggingFace.co., example.org",
            "DISABLED_MODELS": "606, 1097,606",
            "DISABLED_LORAS": "540",
            "SAFETY_FILTER": "off",
        }
    )
    assert settings.allow_lora_urls is True
    assert settings.lora_url_hosts == ("huggingface.co", "example.org")
    assert settings.disabled_models == ("606", "1097")
    assert settings.disabled_loras == ("540",)
    assert settings.safety_filter is False


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ALLOW_LORA_URLS", "sometimes"),
        ("LORA_URL_HOSTS", "https://huggingface.co"),
        ("LORA_URL_HOSTS", "huggingface.co/models"),
        ("DISABLED_MODELS", "606 1097"),
        ("DISABLED_LORAS", "540;541"),
        ("SAFETY_FILTER", "maybe"),
    ],
)
def test_malformed_settings_are_named(name, value):
    with pytest.raises(SettingsError, match=name):
        load_settings({**BASE, name: value})


def test_owner_caps_carry_every_ceiling():
    settings = load_settings(
        {
            **BASE,
            "MEMBER_MAX_ACTIVE_JOBS": "3",
            "MEMBER_COOLDOWN_SECONDS": "45",
            "MEMBER_DAILY_QUOTA": "7",
            "GUILD_DAILY_QUOTA": "70",
            "ALLOW_LORA_URLS": "true",
            "DISABLED_MODELS": "606",
            "DISABLED_LORAS": "540",
            "SAFETY_FILTER": "false",
        }
    )
    caps = owner_caps(settings)
    assert caps.fair_use == FairUse(
        member_max_active=3, member_cooldown=45, member_daily_quota=7, guild_daily_quota=70
    )
    assert caps.disabled_models == frozenset({"606"})
    assert caps.disabled_loras == frozenset({"540"})
    assert caps.allow_private_styles is True
    assert caps.lora_url_hosts == DEFAULT_LORA_URL_HOSTS
    assert caps.safety_filter is False


def test_env_example_documents_each_setting_with_its_default():
    lines = ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
    for name in NAMES:
        (index,) = [i for i, line in enumerate(lines) if line.startswith(f"{name}=")]
        assert lines[index - 1].startswith("#"), name  # an explanation right above it
    settings = load_settings(
        {**BASE, **dict(line.split("=", 1) for line in lines if line.startswith(NAMES))}
    )
    assert settings == load_settings(BASE)
