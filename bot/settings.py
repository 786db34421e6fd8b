"""Settings from the environment (and `.env`, read by python-dotenv in `bot.__main__`).

The names are a public interface: server owners put them in `.env`. A missing or malformed
setting raises `SettingsError` with one line naming it, never its value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from bot.core.jobs.database_url import is_postgres_url
from bot.core.jobs.limits import FairUse
from bot.core.policy.model import OwnerCaps


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names it and never shows its value."""


@dataclass(frozen=True)
class Settings:
    """The core's settings (each front end has its own: `bot.frontends.discord_bot.settings`,
    `bot.frontends.telegram_bot.settings`)."""

    wiro_api_key: str = field(repr=False)
    wiro_api_secret: str = field(repr=False)
    wiro_api_base: str
    wiro_socket_url: str
    wiro_output_hosts: tuple[str, ...]  # extra hosts outputs may be downloaded from
    data_dir: Path
    log_level: str
    task_timeout: float
    error_grace: float
    request_timeout: float
    selfie_max_mb: float
    status_edit_interval: float
    refresh_catalog: bool
    follow_socket: bool
    max_running_tasks: int
    member_max_active: int
    member_cooldown: float
    member_daily_quota: int
    guild_daily_quota: int
    busy_retry_seconds: float
    delete_wiro_files: bool
    retention_days: float
    delivery_retry_minutes: float
    selfie_keep_hours: float
    # The bot owner's caps over every server's and chat's policy (`owner_caps`).
    allow_lora_urls: bool = False
    lora_url_hosts: tuple[str, ...] = ()
    disabled_models: tuple[str, ...] = ()
    disabled_loras: tuple[str, ...] = ()
    safety_filter: bool = True
    allow_adult_chats: bool = False
    faces_key: str = field(default="", repr=False)  # "" = BOT_DATA_DIR/faces.key
    faces_per_member: int = 5
    wiro_health_minutes: float = 15.0  # between two checks of the Wiro keys (0: start-up only)
    # The job ledger's database: "" = the SQLite file in data_dir; else a PostgreSQL URL (it
    # may hold a password: never in repr or logs; `describe_database` shows it without).
    database_url: str = field(default="", repr=False)
    # Seconds a process that stopped (a crash) keeps its jobs and its Telegram polling before
    # another process on the same PostgreSQL database takes them over.
    process_lease_seconds: float = 30.0
    metrics_port: int | None = None  # /metrics and /healthz over HTTP; None = off
    metrics_host: str = "127.0.0.1"

    @property
    def signed(self) -> bool:
        """False in Wiro's API-key-only mode (no secret)."""
        return bool(self.wiro_api_secret)


_LOG_LEVELS = {"DEBUG", "INFO", "WARNING", "ERROR"}
# A host name or an IPv4 address (an IPv6 literal in brackets), without scheme, port or path.
_HOST = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?)+$|^\[[0-9A-Fa-f:.]+\]$")
# A model's or LoRA's id in the catalog (`/styles` shows them): Wiro's are numbers.
_CATALOG_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,99}$")
# Where LoRA URLs may point unless LORA_URL_HOSTS says otherwise: Hugging Face and Civitai
# (each also allows its subdomains).
DEFAULT_LORA_URL_HOSTS = (
    "huggingface.co",
    "hf.co",
    "cdn-lfs.huggingface.co",
    "cdn-lfs.hf.co",
    "civitai.com",
)
# Wiro does not publish a key format; reject only what is surely a copy mistake.
# A Fernet key: 32 bytes in urlsafe base64 (44 characters, the last one "=").
_FERNET_KEY = re.compile(r"^[A-Za-z0-9_-]{43}=$")
_WIRO_CREDENTIAL = re.compile(r"^[^\s'\"]+$")


def load_settings(env: Mapping[str, str], *, need_wiro: bool = True) -> Settings:
    """Read and check the core's settings; ``need_wiro``: the Wiro key must be set. Raises
    `SettingsError` (one line naming the setting) for anything missing or malformed."""
    reader = SettingsReader(env)
    return Settings(
        wiro_api_key=reader.secret("WIRO_API_KEY", _WIRO_CREDENTIAL, required=need_wiro),
        wiro_api_secret=reader.secret("WIRO_API_SECRET", _WIRO_CREDENTIAL, required=False),
        wiro_api_base=reader.url("WIRO_API_BASE", "https://api.wiro.ai/v1", {"http", "https"}),
        wiro_socket_url=reader.url("WIRO_SOCKET_URL", "wss://socket.wiro.ai/v1", {"ws", "wss"}),
        wiro_output_hosts=reader.hosts("WIRO_OUTPUT_HOSTS"),
        data_dir=Path(reader.text("BOT_DATA_DIR", "./data")),
        log_level=reader.choice("LOG_LEVEL", "INFO", _LOG_LEVELS),
        task_timeout=reader.number("WIRO_TASK_TIMEOUT", 600, minimum=30, maximum=3600),
        error_grace=reader.number("WIRO_ERROR_GRACE", 150, minimum=0, maximum=1800),
        request_timeout=reader.number("WIRO_REQUEST_TIMEOUT", 30, minimum=1, maximum=300),
        selfie_max_mb=reader.number("SELFIE_MAX_MB", 20, minimum=1, maximum=100),
        status_edit_interval=reader.number("STATUS_EDIT_INTERVAL", 3, minimum=1, maximum=60),
        refresh_catalog=reader.flag("WIRO_REFRESH_CATALOG", True),
        follow_socket=reader.flag("WIRO_FOLLOW_SOCKET", True),
        max_running_tasks=reader.whole("MAX_RUNNING_TASKS", 1, minimum=1, maximum=100),
        member_max_active=reader.whole("MEMBER_MAX_ACTIVE_JOBS", 1, minimum=1, maximum=20),
        member_cooldown=reader.number("MEMBER_COOLDOWN_SECONDS", 30, minimum=0, maximum=86400),
        member_daily_quota=reader.whole("MEMBER_DAILY_QUOTA", 10, minimum=0, maximum=10000),
        guild_daily_quota=reader.whole("GUILD_DAILY_QUOTA", 100, minimum=0, maximum=100000),
        busy_retry_seconds=reader.number("WIRO_BUSY_RETRY_SECONDS", 20, minimum=1, maximum=600),
        delete_wiro_files=reader.flag("DELETE_WIRO_FILES", True),
        retention_days=reader.number("JOB_RETENTION_DAYS", 30, minimum=1, maximum=3650),
        delivery_retry_minutes=reader.number(
            "DELIVERY_RETRY_MINUTES", 60, minimum=0, maximum=7 * 24 * 60
        ),
        selfie_keep_hours=reader.number("SELFIE_KEEP_HOURS", 24, minimum=0, maximum=24 * 30),
        allow_lora_urls=reader.flag("ALLOW_LORA_URLS", False),
        lora_url_hosts=reader.hosts("LORA_URL_HOSTS") or DEFAULT_LORA_URL_HOSTS,
        disabled_models=reader.ids("DISABLED_MODELS"),
        disabled_loras=reader.ids("DISABLED_LORAS"),
        safety_filter=reader.flag("SAFETY_FILTER", True),
        allow_adult_chats=reader.flag("ALLOW_ADULT_CHATS", False),
        faces_key=reader.secret("FACES_KEY", _FERNET_KEY, required=False),
        faces_per_member=reader.whole("FACES_PER_MEMBER", 5, minimum=0, maximum=50),
        wiro_health_minutes=reader.number("WIRO_HEALTH_MINUTES", 15, minimum=0, maximum=24 * 60),
        database_url=reader.database_url("DATABASE_URL"),
        process_lease_seconds=reader.number("PROCESS_LEASE_SECONDS", 30, minimum=3, maximum=600),
        metrics_port=reader.optional_whole("METRICS_PORT", minimum=1, maximum=65535),
        metrics_host=reader.text("METRICS_HOST", "127.0.0.1"),
    )


def owner_caps(settings: Settings) -> OwnerCaps:
    """The bot owner's ceilings over every scope's policy, from `settings`: the fair-use
    limits (`MEMBER_*`, `GUILD_DAILY_QUOTA`), `DISABLED_MODELS` / `DISABLED_LORAS`,
    `ALLOW_LORA_URLS` (private models, private LoRAs and LoRA URLs), `LORA_URL_HOSTS` and
    `SAFETY_FILTER`."""
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
        allow_adult_chats=settings.allow_adult_chats,
    )


class SettingsReader:
    """Reads one kind of value per method; each raises `SettingsError` naming the setting."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env

    def text(self, name: str, default: str) -> str:
        value = self._env.get(name, "").strip()
        return value or default

    def secret(self, name: str, pattern: re.Pattern[str], *, required: bool) -> str:
        value = self._env.get(name, "").strip()
        if not value:
            if required:
                raise SettingsError(f"{name} is not set: add it to .env or the environment.")
            return ""
        if not pattern.fullmatch(value):
            raise SettingsError(f"{name} does not look right: check it was copied whole.")
        return value

    def url(self, name: str, default: str, schemes: set[str]) -> str:
        value = self.text(name, default)
        parsed = urlparse(value)
        if parsed.scheme not in schemes or not parsed.netloc:
            wanted = " or ".join(sorted(f"{scheme}://" for scheme in schemes))
            raise SettingsError(f"{name} must be a URL starting with {wanted}.")
        return value.rstrip("/")

    def optional_url(self, name: str, schemes: set[str]) -> str | None:
        if not self._env.get(name, "").strip():
            return None
        return self.url(name, "", schemes)

    def hosts(self, name: str) -> tuple[str, ...]:
        """A comma-separated list of host names, lower case; empty when unset."""
        items = [item.strip() for item in self._env.get(name, "").split(",") if item.strip()]
        for item in items:
            if not _HOST.fullmatch(item):
                raise SettingsError(
                    f"{name} must be host names separated by commas (no scheme, port or path)."
                )
        return tuple(item.lower().rstrip(".").strip("[]") for item in items)

    def ids(self, name: str) -> tuple[str, ...]:
        """A comma-separated list of catalog ids (``606, 1097``); empty when unset."""
        items = [item.strip() for item in self._env.get(name, "").split(",") if item.strip()]
        for item in items:
            if not _CATALOG_ID.fullmatch(item):
                raise SettingsError(f"{name} must be catalog ids separated by commas.")
        return tuple(dict.fromkeys(items))

    def snowflake(self, name: str) -> int | None:
        value = self._env.get(name, "").strip()
        if not value:
            return None
        if not (value.isascii() and value.isdecimal()) or not 15 <= len(value) <= 20:
            raise SettingsError(f"{name} must be a server ID (a long number), or left empty.")
        return int(value)

    def database_url(self, name: str) -> str:
        """Empty, or a PostgreSQL URL (``postgresql://`` or ``postgres://``) naming a host or
        a database; the message never shows it (it may hold a password)."""
        value = self._env.get(name, "").strip()
        if not value:
            return ""
        try:
            parsed = urlparse(value)
            parsed.port  # noqa: B018 - raises ValueError for a malformed port
        except ValueError:
            raise SettingsError(f"{name} is not a valid URL.") from None
        if not is_postgres_url(value) or not (parsed.netloc or parsed.path.strip("/")):
            raise SettingsError(
                f"{name} must be empty (the SQLite file in BOT_DATA_DIR) or a PostgreSQL URL "
                "such as postgresql://user:password@host:5432/database."
            )
        return value

    def choice(self, name: str, default: str, choices: set[str]) -> str:
        value = self.text(name, default).upper()
        if value not in choices:
            raise SettingsError(f"{name} must be one of {', '.join(sorted(choices))}.")
        return value

    def number(self, name: str, default: float, *, minimum: float, maximum: float) -> float:
        raw = self._env.get(name, "").strip()
        if not raw:
            return float(default)
        try:
            value = float(raw)
        except ValueError:
            raise SettingsError(f"{name} must be a number.") from None
        if not minimum <= value <= maximum:
            raise SettingsError(f"{name} must be between {minimum:g} and {maximum:g}.")
        return value

    def optional_whole(self, name: str, *, minimum: int, maximum: int) -> int | None:
        """A whole number, or None when unset or empty."""
        if not self._env.get(name, "").strip():
            return None
        return self.whole(name, minimum, minimum=minimum, maximum=maximum)

    def whole(self, name: str, default: int, *, minimum: int, maximum: int) -> int:
        raw = self._env.get(name, "").strip()
        if not raw:
            return default
        if not (raw.isascii() and raw.isdecimal()):  # "5²" is a digit to isdigit()
            raise SettingsError(f"{name} must be a whole number.")
        value = int(raw)
        if not minimum <= value <= maximum:
            raise SettingsError(f"{name} must be between {minimum} and {maximum}.")
        return value

    def flag(self, name: str, default: bool) -> bool:
        raw = self._env.get(name, "").strip().lower()
        if not raw:
            return default
        if raw in {"1", "true", "yes", "on"}:
            return True
        if raw in {"0", "false", "no", "off"}:
            return False
        raise SettingsError(f"{name} must be true or false.")
