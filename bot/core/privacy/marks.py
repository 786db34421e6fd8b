"""Quota marks: what is left of a forgotten member's recent jobs, so forgetting does not reset
a daily quota.

A member who asks to be forgotten may have made portraits in the last 24 hours, and those
still count against their own daily quota and their server's or chat's. Their job rows are
kept until that window ends, but with nothing in them that names the member: the requester
key becomes ``"forgotten:<HMAC-SHA256 of it>"`` under a random secret kept in
``BOT_DATA_DIR/forget.secret`` (``0600``), a scope that names the member (a Discord DM, a
Telegram private chat) is replaced the same way, and everything else (reply address and
secret, prompt and options, Wiro's ids and URLs, messages, failure texts) is cleared. Only
the row's times, state and a shared scope (a server, a group chat) stay.

The same member asking again is counted against their marks (`key_for` gives the same key for
the same requester), so the quota holds; without the secret the key cannot be traced back to
an id. Someone holding the data folder could test whether a given id was forgotten in the
last day (by computing its key): that is why the marks go when the window ends
(`bot.core.privacy.forget.Forgetting.prune_marks`).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from bot.storage import owner_only

__all__ = ["MARK_PREFIX", "SECRET_FILENAME", "QuotaMarks"]

MARK_PREFIX = "forgotten:"
SECRET_FILENAME = "forget.secret"


class QuotaMarks:
    """Turns a requester key into its quota mark; the secret is read (or made) on first use.
    OSError when the data folder cannot be read or written."""

    def __init__(self, data_dir: Path) -> None:
        self._path = data_dir / SECRET_FILENAME
        self._secret: bytes | None = None

    def __repr__(self) -> str:
        return f"QuotaMarks({self._path})"

    def key_for(self, requester: str) -> str:
        """``"forgotten:<32 hex digits>"``, the same for the same requester."""
        digest = hmac.new(self._key(), requester.encode("utf-8"), hashlib.sha256).hexdigest()
        return MARK_PREFIX + digest[:32]

    def _key(self) -> bytes:
        if self._secret is None:
            self._secret = _read_or_create(self._path)
        return self._secret


def _read_or_create(path: Path) -> bytes:
    try:
        secret = path.read_bytes()
    except FileNotFoundError:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        made = secrets.token_bytes(32)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_bytes()
        with os.fdopen(fd, "wb") as file:
            file.write(made)
        return made
    owner_only(path)
    if len(secret) < 16:  # damaged: a new secret (marks made before no longer match)
        path.unlink()
        return _read_or_create(path)
    return secret
