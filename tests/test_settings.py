import pytest

from bot.frontends.discord_bot.settings import load_discord_settings
from bot.settings import SettingsError, load_settings

TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GaBcDe.abcdefghijklmnopqrstuvwxyz0123456789AB"
BASE = {
    "DISCORD_TOKEN": TOKEN,
    "WIRO_API_KEY": "wiro-key-123456",
    "WIRO_API_SECRET": "s3cret-value",
}


def test_defaults_are_the_documented_ones():
    settings = load_settings(BASE)
    assert settings.wiro_api_base == "https://api.wiro.ai/v1"
    assert settings.wiro_socket_url == "wss://socket.wiro.ai/v1"
    assert load_discord_settings(BASE).guild_id is None
    assert str(settings.data_dir) == "data"
    assert settings.task_timeout == 600
    assert settings.signed


def test_empty_secret_means_api_key_only_mode():
    settings = load_settings({**BASE, "WIRO_API_SECRET": ""})
    assert not settings.signed


def test_missing_required_setting_is_named():
    env = {k: v for k, v in BASE.items() if k != "WIRO_API_KEY"}
    with pytest.raises(SettingsError, match="WIRO_API_KEY"):
        load_settings(env)
    without_token = {k: v for k, v in BASE.items() if k != "DISCORD_TOKEN"}
    with pytest.raises(SettingsError, match="DISCORD_TOKEN"):
        load_discord_settings(without_token, required=True)  # `python -m bot sync`


def test_the_discord_token_is_optional_for_the_core_and_telegram():
    env = {k: v for k, v in BASE.items() if k != "DISCORD_TOKEN"}
    load_settings(env)  # the core needs no Discord token (`generate`, Telegram alone)
    assert not load_discord_settings(env).enabled


def test_malformed_secret_is_named_but_never_shown():
    bad = "not a token with spaces"
    with pytest.raises(SettingsError) as caught:
        load_discord_settings({**BASE, "DISCORD_TOKEN": bad})
    assert "DISCORD_TOKEN" in str(caught.value)
    assert bad not in str(caught.value)


def test_secrets_stay_out_of_repr():
    text = repr(load_settings(BASE)) + repr(load_discord_settings(BASE))
    assert TOKEN not in text and "s3cret-value" not in text and "wiro-key-123456" not in text


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("WIRO_API_BASE", "api.wiro.ai/v1"),
        ("WIRO_SOCKET_URL", "https://socket.wiro.ai/v1"),
        ("DISCORD_GUILD_ID", "my-server"),
        ("WIRO_TASK_TIMEOUT", "ten"),
        ("WIRO_TASK_TIMEOUT", "5"),
        ("LOG_LEVEL", "LOUD"),
        ("WIRO_REFRESH_CATALOG", "maybe"),
    ],
)
def test_malformed_optional_settings_are_named(name, value):
    with pytest.raises(SettingsError, match=name):
        env = {**BASE, name: value}
        load_settings(env)
        load_discord_settings(env)


def test_values_are_parsed():
    settings = load_settings(
        {
            **BASE,
            "DISCORD_GUILD_ID": "123456789012345678",
            "WIRO_API_BASE": "http://127.0.0.1:8080/v1/",
            "WIRO_REFRESH_CATALOG": "off",
            "SELFIE_MAX_MB": "8",
        }
    )
    assert (
        load_discord_settings({**BASE, "DISCORD_GUILD_ID": "123456789012345678"}).guild_id
        == 123456789012345678
    )
    assert settings.wiro_api_base == "http://127.0.0.1:8080/v1"
    assert settings.refresh_catalog is False
    assert settings.selfie_max_mb == 8


def test_database_url_picks_the_ledger_and_never_shows_its_password():
    assert load_settings(BASE).database_url == ""  # the SQLite file in BOT_DATA_DIR
    url = "postgresql://bot:hunter2-pw@db.example:5433/portraits?sslmode=require"
    settings = load_settings({**BASE, "DATABASE_URL": f"  {url} "})
    assert settings.database_url == url
    assert "hunter2-pw" not in repr(settings)
    assert load_settings({**BASE, "DATABASE_URL": "postgres:///portraits"}).database_url
    for wrong in ("mysql://bot:hunter2-pw@db/x", "hunter2-pw", "postgresql://h:port/x"):
        with pytest.raises(SettingsError, match="DATABASE_URL") as refused:
            load_settings({**BASE, "DATABASE_URL": wrong})
        assert "hunter2-pw" not in str(refused.value)


def test_numbers_with_non_ascii_digits_are_a_settings_error_not_a_crash() -> None:
    from bot.settings import SettingsError, load_settings

    base = {"DISCORD_TOKEN": "x", "WIRO_API_KEY": "k"}
    for name in ("FACES_PER_MEMBER", "MAX_RUNNING_TASKS", "METRICS_PORT"):
        with pytest.raises(SettingsError, match=name):
            load_settings({**base, name: "5²"})
