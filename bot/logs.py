"""Logging set-up with a last line of defence: secrets and people's files never reach a log line.

Three kinds of text are taken out of every record the bot's handler writes:

* known secret values (the Discord token, the Wiro key and secret);
* Discord interaction tokens: the last part of ``/webhooks/<app id>/<token>`` and
  ``/interactions/<id>/<token>/callback`` paths, token-like values of fields named like
  ``token`` or ``accesskey``, and any very long token-shaped word (an interaction token is
  about 200 characters of base64);
* file URLs: the path of any URL of a stored file (Wiro's ``/File/<accesskey>/<name>`` upload
  URLs, which hold members' selfies, and output URLs: a ``cdn`` host or path, or a path with a
  UUID such as ``cdn1.wiro.ai/<task uuid>/0.png``), with or without its ``http(s)://``; the
  host stays, so a log still tells which service was involved. The bot itself writes file URLs
  as ``host/[redacted]`` (``bot.core.wiro.outputs.url_for_log``): this is the last line of defence.

Third-party libraries log request parameters and payloads at DEBUG (aiosqlite every SQL
statement with its values, aiohttp and websockets every frame), so their loggers stay at INFO or
above whatever ``LOG_LEVEL`` says; only the bot's own modules go down to DEBUG.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

REDACTED = "[redacted]"

OWN_LOGGERS = ("bot", "cogs", "__main__")
# Loggers of the libraries the bot uses; each is kept at INFO or above.
THIRD_PARTY_LOGGERS = (
    "aiogram",
    "aiosqlite",
    "asyncpg",
    "aiohttp",
    "asyncio",
    "discord",
    "websockets",
    "PIL",
    "urllib3",
    "filelock",
)

_WEBHOOK_TOKEN = re.compile(r"(/(?:webhooks|interactions)/\d+/)[^/\s?#\"']+")
_TOKEN_FIELD = re.compile(
    r"((?:token|tasktoken|socketaccesstoken|accesskey)[\"']?\s*[:=]\s*[\"']?)[\w.~-]{16,}",
    re.IGNORECASE,
)
_LONG_TOKEN = re.compile(r"(?<![\w.~-])[\w.~-]{80,}")
_URL = re.compile(r"(https?://[^/\s\"'<>]+)(/[^\s\"'<>]*)")
# A URL written without its scheme: a host name or address (with a port) right before a path.
_BARE_URL = re.compile(
    r"(?<![\w.:/@\\-])((?:(?:[A-Za-z0-9-]+\.)+[A-Za-z0-9-]+|localhost|\[[0-9A-Fa-f:.]+\])(?::\d+)?)"
    r"(/[^\s\"'<>]*)"
)
_TRAILING_PUNCTUATION = re.compile(r"[.,:;!?)\]]*$")
_FILE_PATH = re.compile(
    r"/File/[^/\s]+/|^/cdn/|[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}",
    re.IGNORECASE,
)


# A password inside a URL (``postgresql://user:PASSWORD@host``) or its query (``password=``),
# of any length: the part is blanked, the rest of the line (host, database) stays readable.
_URL_PASSWORD = re.compile(r"(\b[a-zA-Z][\w+.-]*://[^/\s:@]*:)[^@\s/]+(@)")
_QUERY_PASSWORD = re.compile(r"([?&]password=)[^&\s]+", re.IGNORECASE)


def redact_text(text: str) -> str:
    """``text`` with URL passwords, interaction tokens and file URLs replaced by
    :data:`REDACTED`."""
    text = _URL_PASSWORD.sub(rf"\1{REDACTED}\2", text)
    text = _QUERY_PASSWORD.sub(rf"\1{REDACTED}", text)
    text = _URL.sub(_redact_url, text)
    text = _BARE_URL.sub(_redact_url, text)
    text = _WEBHOOK_TOKEN.sub(rf"\1{REDACTED}", text)
    text = _TOKEN_FIELD.sub(rf"\1{REDACTED}", text)
    return _LONG_TOKEN.sub(REDACTED, text)


def _redact_url(match: re.Match[str]) -> str:
    host, path = match[1], match[2]
    if path != f"/{REDACTED}" and (_FILE_PATH.search(path) or "cdn" in host.lower()):
        # Punctuation after a URL ("…/0.png: HTTP 404") belongs to the sentence.
        return f"{host}/{REDACTED}{_TRAILING_PUNCTUATION.search(path)[0]}"
    return match[0]


class SecretRedactor(logging.Filter):
    """Replaces every known secret value, interaction token and file URL in a record's text."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        # Short values would redact ordinary words; real credentials are long.
        self._secrets = sorted({s for s in secrets if len(s) >= 8}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        exc_text = record.exc_text or ""
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
            exc_text = exc_text.replace(secret, REDACTED)
        record.msg, record.args = redact_text(text), None
        record.exc_text = redact_text(exc_text) or None
        return True


def setup_logging(level: str, secrets: Iterable[str]) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
    )
    handler.addFilter(SecretRedactor(secrets))
    # Library DEBUG output carries SQL parameters, HTTP payloads and gateway frames: the root
    # (which every library logger without a level of its own follows) stays at INFO or above,
    # and only the bot's own packages follow LOG_LEVEL down to DEBUG.
    library_level = max(logging.INFO, logging.getLevelName(level))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(library_level)
    for name in OWN_LOGGERS:
        logging.getLogger(name).setLevel(level)
    for name in THIRD_PARTY_LOGGERS:
        logging.getLogger(name).setLevel(library_level)
    # The bot has no voice features; discord.py's warnings about voice libraries are noise.
    logging.getLogger("discord.client").addFilter(
        lambda record: "voice will NOT be supported" not in record.getMessage()
    )
