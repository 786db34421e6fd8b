"""The Telegram front end's settings, read from the environment like `bot.settings`.

Public interface (server owners put these names in `.env`):

* ``TELEGRAM_BOT_TOKEN``: the token from @BotFather (``<bot id>:<secret>``); empty = no
  Telegram front end.
* ``TELEGRAM_API_BASE``: the Bot API server, default ``https://api.telegram.org`` (tests
  point it at the local stand-in).
* ``TELEGRAM_WEBHOOK_URL``: empty = long polling (the default); else the public https address
  Telegram POSTs updates to (Bot API ``setWebhook``: ports 443, 80, 88 or 8443 only).
* ``TELEGRAM_WEBHOOK_PORT``: the local port the webhook server listens on (1-65535, default
  8443; a reverse proxy may sit in front).
* ``TELEGRAM_WEBHOOK_SECRET``: required in webhook mode; Telegram echoes it in the
  ``X-Telegram-Bot-Api-Secret-Token`` header, so forged updates can be refused. Bot API
  ``setWebhook.secret_token``: 1-256 characters, only ``A-Z a-z 0-9 _ -``.
* ``TELEGRAM_OWNER_IDS``: the bot owner's Telegram user ids, comma-separated (empty = none);
  they are told directly when Wiro is out of credit or refuses the keys. Each must have
  started the bot (Telegram lets a bot write only to users who did).

Errors are `bot.settings.SettingsError`: one line naming the setting, never its value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlparse

from bot.settings import SettingsError, SettingsReader

DEFAULT_API_BASE = "https://api.telegram.org"
DEFAULT_WEBHOOK_PORT = 8443
# setWebhook: "Ports currently supported for webhooks: 443, 80, 88, 8443."
WEBHOOK_PORTS = frozenset({443, 80, 88, 8443})
_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
# @BotFather tokens: the bot's numeric id, a colon, then a base64url secret (35 characters
# today; accept a range so a format change does not lock owners out).
_TOKEN = re.compile(r"^[0-9]{1,20}:[A-Za-z0-9_-]{20,100}$")
_WEBHOOK_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


@dataclass(frozen=True)
class TelegramSettings:
    bot_token: str = field(repr=False)
    api_base: str = DEFAULT_API_BASE
    webhook_url: str | None = None  # None: long polling
    webhook_port: int = DEFAULT_WEBHOOK_PORT
    webhook_secret: str = field(default="", repr=False)
    owner_ids: tuple[int, ...] = ()

    @property
    def enabled(self) -> bool:
        """True when a token is set, i.e. the Telegram front end should run."""
        return bool(self.bot_token)

    @property
    def uses_webhook(self) -> bool:
        return self.webhook_url is not None


def load_telegram_settings(env: Mapping[str, str], *, required: bool = False) -> TelegramSettings:
    """Read and check the six ``TELEGRAM_*`` settings from ``env``.

    ``required``: the token must be set (a command that only makes sense with Telegram).
    Raises `SettingsError` (one line, naming the setting) for anything malformed.
    """
    reader = SettingsReader(env)
    token = reader.secret("TELEGRAM_BOT_TOKEN", _TOKEN, required=required)
    api_base = reader.url("TELEGRAM_API_BASE", DEFAULT_API_BASE, {"http", "https"})
    webhook_url = _webhook_url(env.get("TELEGRAM_WEBHOOK_URL", "").strip())
    port = reader.whole("TELEGRAM_WEBHOOK_PORT", DEFAULT_WEBHOOK_PORT, minimum=1, maximum=65535)
    secret = reader.secret("TELEGRAM_WEBHOOK_SECRET", _WEBHOOK_SECRET, required=False)
    if webhook_url is not None and not secret:
        raise SettingsError(
            "TELEGRAM_WEBHOOK_SECRET is not set: webhook mode needs it "
            "(1-256 characters of A-Z, a-z, 0-9, _ and -)."
        )
    return TelegramSettings(
        bot_token=token,
        api_base=api_base,
        webhook_url=webhook_url,
        webhook_port=port,
        webhook_secret=secret,
        owner_ids=_owner_ids(env.get("TELEGRAM_OWNER_IDS", "")),
    )


def _owner_ids(value: str) -> tuple[int, ...]:
    """Comma-separated positive user ids ("" = none)."""
    ids: list[int] = []
    for part in value.split(","):
        part = part.strip()
        if not part:
            continue
        if not (part.isascii() and part.isdecimal()) or not 0 < int(part) < 2**52:
            raise SettingsError(
                "TELEGRAM_OWNER_IDS must be Telegram user ids (numbers) separated by commas."
            )
        ids.append(int(part))
    return tuple(dict.fromkeys(ids))


def _webhook_url(value: str) -> str | None:
    """The webhook address: https with a host, on a port Telegram allows; plain http and any
    port only on this machine (tests with the stand-in)."""
    if not value:
        return None
    name = "TELEGRAM_WEBHOOK_URL"
    try:
        parsed = urlparse(value)
        port = parsed.port
    except ValueError:
        raise SettingsError(f"{name} must be an https:// address, or left empty.") from None
    host = (parsed.hostname or "").lower()
    if not host or parsed.scheme not in {"http", "https"}:
        raise SettingsError(f"{name} must be an https:// address, or left empty.")
    if host in _LOCAL_HOSTS:
        return value
    if parsed.scheme != "https":
        raise SettingsError(f"{name} must start with https:// (Telegram requires it).")
    if port is not None and port not in WEBHOOK_PORTS:
        raise SettingsError(
            f"{name} must use port 443, 80, 88 or 8443 (Telegram allows only those)."
        )
    if parsed.username is not None or parsed.password is not None:
        raise SettingsError(f"{name} must not contain a user name or password.")
    return value
