"""``DATABASE_URL`` without the driver: whether it names PostgreSQL, and how to show it.

The URL may hold a password (``postgresql://user:password@host:5432/db``, or ``password=`` in
its query): it is never logged nor put in a message; :func:`describe_url` keeps the user,
host, port and database only.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

__all__ = ["POSTGRES_SCHEMES", "describe_url", "is_postgres_url", "passwords_in", "redacted"]

POSTGRES_SCHEMES = ("postgresql", "postgres")


def is_postgres_url(url: str) -> bool:
    """Whether ``url`` names a PostgreSQL database (``postgresql://`` or ``postgres://``)."""
    return urlsplit(url.strip()).scheme.lower() in POSTGRES_SCHEMES


def describe_url(url: str) -> str:
    """``url`` without its password or options: ``postgresql://user@host:port/database``."""
    try:
        parts = urlsplit(url.strip())
        user = f"{unquote(parts.username)}@" if parts.username else ""
        host = parts.hostname or "(local socket)"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:  # a malformed port
        return "postgresql://(malformed URL)"
    database = unquote(parts.path.lstrip("/")) or "(the user's database)"
    return f"postgresql://{user}{host}{port}/{database}"


def passwords_in(url: str) -> list[str]:
    """The password(s) ``url`` holds (after ``user:`` or as ``password=`` in its query), as
    written and decoded: what logs and messages must never show."""
    parts = urlsplit(url.strip())
    found = [parts.password or ""]
    for item in parts.query.split("&"):
        key, _, value = item.partition("=")
        if key.lower() == "password":
            found.append(value)
    return sorted({text for secret in found if secret for text in (secret, unquote(secret))})


def redacted(text: str, url: str) -> str:
    """``text`` with the URL's password (if any) blanked, should a driver's error quote it."""
    for secret in sorted(passwords_in(url), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text
