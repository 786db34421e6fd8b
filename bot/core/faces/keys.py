"""The key saved faces are encrypted with, and the encryption itself.

Saved faces are encrypted at rest with Fernet (the `cryptography` package: AES-128-CBC with
an HMAC-SHA256 tag over the whole token, so a changed or truncated file, or another key, is
detected rather than decoded into garbage). The key is the ``FACES_KEY`` setting (a Fernet key:
32 bytes in urlsafe base64, ``python -c "from cryptography.fernet import Fernet;
print(Fernet.generate_key().decode())"``) or, when that is empty, ``BOT_DATA_DIR/faces.key``,
generated once (``0600``) and read at every later start.

A missing, damaged or changed key never stops the bot: the faces read as unavailable
(`FaceUnreadable`, worded by each front end) and new ones cannot be saved until it is fixed.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from bot.storage import owner_only

__all__ = ["KEY_FILENAME", "FaceCipher", "FaceUnreadable"]

log = logging.getLogger(__name__)

KEY_FILENAME = "faces.key"


class FaceUnreadable(Exception):
    """A saved face cannot be decrypted (the key was lost, changed or is damaged, or the file
    is missing or altered), or no face can be saved because the key is unusable. ``reason``
    is one line for the owner's log; members get the front end's own words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class FaceCipher:
    """Encrypts and decrypts saved faces with the configured key or the data folder's key
    file, loaded on first use (so a bad key costs saved faces only, never start-up)."""

    def __init__(self, data_dir: Path, configured_key: str = "") -> None:
        """``configured_key``: the ``FACES_KEY`` setting, "" to use (or create) the key file
        ``data_dir/faces.key``."""
        self._data_dir = data_dir
        self._configured = configured_key.strip()
        self._fernet: Fernet | None = None

    def __repr__(self) -> str:  # the key never reaches a log line
        source = "FACES_KEY" if self._configured else str(self._data_dir / KEY_FILENAME)
        return f"FaceCipher(key from {source})"

    def encrypt(self, data: bytes) -> bytes:
        """A Fernet token for ``data``; `FaceUnreadable` when the key is unusable."""
        return self._key().encrypt(data)

    def decrypt(self, token: bytes) -> bytes:
        """The bytes sealed in ``token``; `FaceUnreadable` when the key is unusable or is not
        the one the token was made with, or the token was altered."""
        fernet = self._key()
        try:
            return fernet.decrypt(token)
        except InvalidToken:
            raise FaceUnreadable(
                "a saved face does not match the faces key (the key changed, or the file was "
                "altered)"
            ) from None

    def _key(self) -> Fernet:
        if self._fernet is None:
            self._fernet = self._load()
        return self._fernet

    def _load(self) -> Fernet:
        if self._configured:
            try:
                return Fernet(self._configured.encode("ascii"))
            except (ValueError, UnicodeEncodeError):
                raise FaceUnreadable("FACES_KEY is not a Fernet key") from None
        path = self._data_dir / KEY_FILENAME
        try:
            return _read_or_create(path)
        except OSError as error:
            raise FaceUnreadable(
                f"the faces key {path} cannot be read or made ({error.strerror or error})"
            ) from None
        except ValueError:
            raise FaceUnreadable(f"the faces key {path} is damaged (not a Fernet key)") from None


def _read_or_create(path: Path) -> Fernet:
    """The key in ``path``, made (``0600``, never replacing one) when there is none.
    OSError for an unreadable file or folder, ValueError for a damaged key."""
    try:
        text = path.read_bytes().strip()
    except FileNotFoundError:
        text = b""
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        key = Fernet.generate_key()
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another start made it meanwhile: use theirs
            text = path.read_bytes().strip()
        else:
            with os.fdopen(fd, "wb") as file:
                file.write(key + b"\n")
                file.flush()
                os.fsync(file.fileno())
            log.info("Made a new key for saved faces in %s", path)
            return Fernet(key)
    owner_only(path)
    return Fernet(text)
