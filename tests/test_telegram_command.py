"""Telegram settings and `/portrait` captions: parsed into the same options Discord makes."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import pytest

from bot.core.catalog import Catalog
from bot.core.request.options import OptionError, resolve_options
from bot.frontends.telegram_bot.command import (
    KNOWN_FLAGS,
    Command,
    parse_command,
    parse_portrait,
    split_arguments,
)
from bot.frontends.telegram_bot.settings import DEFAULT_API_BASE, load_telegram_settings
from bot.settings import SettingsError

TOKEN = "7000000001:AAbbCCddEEffGGhhIIjjKKllMMnnOOppQQr"
SECRET = "s3cret_-Token"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.bundled()


# --- settings -------------------------------------------------------------------------------
def test_defaults_are_polling_against_telegram() -> None:
    settings = load_telegram_settings({"TELEGRAM_BOT_TOKEN": TOKEN})
    assert settings.enabled and not settings.uses_webhook
    assert settings.api_base == DEFAULT_API_BASE and settings.webhook_port == 8443
    assert TOKEN not in repr(settings)
    assert not load_telegram_settings({}).enabled


def test_webhook_mode_reads_url_port_and_secret() -> None:
    settings = load_telegram_settings(
        {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_BASE": "http://127.0.0.1:8081/",
            "TELEGRAM_WEBHOOK_URL": "https://bot.example.org:8443/tg",
            "TELEGRAM_WEBHOOK_PORT": "9000",
            "TELEGRAM_WEBHOOK_SECRET": SECRET,
        }
    )
    assert settings.uses_webhook and settings.webhook_port == 9000
    assert settings.api_base == "http://127.0.0.1:8081"
    assert SECRET not in repr(settings)
    local = load_telegram_settings(
        {"TELEGRAM_WEBHOOK_URL": "http://127.0.0.1:5555/hook", "TELEGRAM_WEBHOOK_SECRET": "x"}
    )
    assert local.webhook_url == "http://127.0.0.1:5555/hook"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"TELEGRAM_BOT_TOKEN": "not a token"}, "TELEGRAM_BOT_TOKEN"),
        ({"TELEGRAM_BOT_TOKEN": "12345:short"}, "TELEGRAM_BOT_TOKEN"),
        ({"TELEGRAM_API_BASE": "ftp://api.telegram.org"}, "TELEGRAM_API_BASE"),
        ({"TELEGRAM_WEBHOOK_URL": "http://bot.example.org/tg"}, "TELEGRAM_WEBHOOK_URL"),
        ({"TELEGRAM_WEBHOOK_URL": "https://bot.example.org:9999/"}, "TELEGRAM_WEBHOOK_URL"),
        ({"TELEGRAM_WEBHOOK_URL": "bot.example.org"}, "TELEGRAM_WEBHOOK_URL"),
        ({"TELEGRAM_WEBHOOK_PORT": "0"}, "TELEGRAM_WEBHOOK_PORT"),
        ({"TELEGRAM_WEBHOOK_PORT": "65536"}, "TELEGRAM_WEBHOOK_PORT"),
        ({"TELEGRAM_WEBHOOK_SECRET": "has space"}, "TELEGRAM_WEBHOOK_SECRET"),
        ({"TELEGRAM_WEBHOOK_SECRET": "x" * 257}, "TELEGRAM_WEBHOOK_SECRET"),
        ({"TELEGRAM_WEBHOOK_URL": "https://bot.example.org/tg"}, "TELEGRAM_WEBHOOK_SECRET"),
    ],
)
def test_bad_settings_name_the_setting_not_the_value(env: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_telegram_settings(env)
    message = str(caught.value)
    assert message.startswith(named) and "\n" not in message
    for value in env.values():
        assert value not in message


def test_token_can_be_required() -> None:
    with pytest.raises(SettingsError, match=r"^TELEGRAM_BOT_TOKEN is not set"):
        load_telegram_settings({}, required=True)


# --- commands -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/portrait oil painting", Command("portrait", "oil painting")),
        ("/Portrait@PortraitTestBot  oil", Command("portrait", "oil")),
        ("/portrait@portraittestbot", Command("portrait", "")),
        ("/portrait\nline two", Command("portrait", "line two")),
        ("/start", Command("start", "")),
        ("/help@PortraitTestBot", Command("help", "")),
        ("/styles", Command("styles", "")),
        ("/history", Command("history", "")),
        ("/cancel", Command("cancel", "")),
        ("/portrait@OtherBot oil", None),
        ("portrait oil", None),
        ("/", None),
        (None, None),
    ],
)
def test_commands_for_this_bot(text: str | None, expected: Command | None) -> None:
    assert parse_command(text, "PortraitTestBot") == expected


def test_flags_both_forms_quotes_and_apostrophes(catalog: Catalog) -> None:
    prompt, values = split_arguments(
        'a knight\'s portrait --steps 30 --guidance=7,5 --negative "blurry, text" '
        "in “golden light” --seed=42",
        catalog,
    )
    assert prompt == "a knight's portrait in golden light"
    assert values == {
        "steps": "30",
        "guidance": "7.5",
        "negative_prompt": "blurry, text",
        "seed": "42",
    }


def test_smart_dashes_and_multi_word_names(catalog: Catalog) -> None:
    model = catalog.models[3]
    prompt, values = split_arguments(f"astronaut —model {model.readable_name} on the moon", catalog)
    assert values == {"model": model.readable_name}
    assert prompt == "astronaut on the moon"


def test_options_are_exactly_what_discord_would_resolve(catalog: Catalog) -> None:
    lora = catalog.loras[0]
    request = parse_portrait(
        f'oil --model {catalog.models[1].short_name} --lora "{lora.readable_name}" '
        "--likeness 1.1 --samples 2 --scheduler ddimscheduler --seed 7",
        catalog,
    )
    assert request.error is None
    assert request.options == resolve_options(
        catalog,
        prompt="oil",
        model=catalog.models[1].id,
        lora=lora.id,
        likeness=1.1,
        samples=2,
        scheduler="DDIMScheduler",
        seed=7,
    )


def test_no_caption_means_the_defaults(catalog: Catalog) -> None:
    request = parse_portrait("", catalog, rng=random.Random(1))
    assert request.options == resolve_options(catalog, rng=random.Random(1))


@pytest.mark.parametrize(
    ("args", "says"),
    [
        ("oil --colour red", "I don't know the option --colour"),
        ("oil --steps", "--steps needs a value"),
        ("oil --steps --seed 3", "--steps needs a value"),
        ("oil --seed=", "--seed needs a value"),
        ("oil --steps 3 --steps 4", "--steps is given twice"),
        ('oil --negative "blurry', "quote"),
        ("oil --steps 300", "Steps must be between 1 and 50."),
        ("oil --steps many", "Steps must be a whole number."),
        ("oil --likeness 9", "Likeness must be between"),
        ("oil --model Nonexistent", 'I don\'t know a model called "Nonexistent"'),
        ("oil --lora Nope", "/styles"),
        ("oil --lora-scale 0.5", "LoRA strength only applies"),
        ("oil --scheduler Nope", "There is no scheduler called"),
    ],
)
def test_bad_input_says_what_to_fix(catalog: Catalog, args: str, says: str) -> None:
    request = parse_portrait(args, catalog)
    assert request.options is None and request.error is not None and says in request.error


def test_unknown_flag_lists_the_known_ones() -> None:
    with pytest.raises(OptionError) as caught:
        split_arguments("--colour red")
    assert all(flag in caught.value.message for flag in KNOWN_FLAGS)


def test_the_telegram_front_end_never_imports_discord() -> None:
    code = (
        "import sys, pkgutil, importlib, bot.frontends.telegram_bot as p\n"
        "for m in pkgutil.iter_modules(p.__path__):\n"
        "    importlib.import_module(p.__name__ + '.' + m.name)\n"
        "bad = [n for n in sys.modules if n.split('.')[0] in ('discord', 'cogs')"
        " or n.startswith('bot.frontends.discord_bot')]\n"
        "assert not bad, bad\n"
    )
    root = Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60, cwd=root)


def test_private_style_flags_reach_the_options(catalog: Catalog) -> None:
    url = "https://huggingface.co/me/x/resolve/main/style.safetensors"
    options = parse_portrait(f"oil --private-model my-model --lora_url={url}", catalog).options
    assert options is not None
    assert (options.private_model, options.lora_url, options.lora_id) == ("my-model", url, None)
    request = parse_portrait("oil --private-lora", catalog)
    assert request.error is not None and "--private-lora needs a value" in request.error


def test_the_chats_defaults_fill_only_what_the_member_left_empty(catalog: Catalog) -> None:
    from bot.core.policy.model import OwnerCaps, ScopePolicy, effective_policy

    policy = effective_policy(
        ScopePolicy(
            default_model=catalog.models[2].id,
            default_lora=catalog.loras[0].id,
            default_prompt="a watercolour",
        ),
        OwnerCaps(),
    )
    options = parse_portrait("", catalog, policy=policy).options
    assert options is not None and options.prompt == "a watercolour"
    assert (options.model_id, options.lora_id) == (catalog.models[2].id, catalog.loras[0].id)
    named = f"knight --model {catalog.models[4].readable_name}"
    options = parse_portrait(named, catalog, policy=policy).options
    assert options is not None and options.prompt == "knight"
    assert options.model_id == catalog.models[4].id
    url = "https://huggingface.co/me/x/resolve/main/style.safetensors"
    options = parse_portrait(f"--lora-url {url}", catalog, policy=policy).options
    assert options is not None and options.lora_id is None and options.lora_url == url
