"""The data folder (``BOT_DATA_DIR``): made owner-only, checked before use, and held by one
bot process at a time.

The folder holds interaction tokens, prompts, Wiro file URLs (the job ledger) and prepared
selfies, so it is created ``0700`` and an existing folder of ours is tightened to that. Two
processes on one folder would both resume the same jobs (the member gets an error and a
portrait, the ledger says FAILED), so start-up takes an exclusive lock on
``BOT_DATA_DIR/bot.lock`` (an advisory ``flock`` through the ``filelock`` library, released by
the operating system when the process ends, however it ends).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

LOCK_FILENAME = "bot.lock"
FOLDER_MODE = 0o700
FILE_MODE = 0o600


class DataDirError(Exception):
    """``BOT_DATA_DIR`` cannot be used; the message is one line naming the folder and why."""


def prepare_data_dir(path: Path) -> Path:
    """Create ``path`` (and its parents) owner-only, or tighten an existing folder we own.

    Returns the folder; raises :class:`DataDirError` when it is a file, cannot be created,
    or cannot be written (a read-only file system, another owner, a virtual file system)."""
    try:
        path.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    except FileExistsError:
        raise DataDirError(f"BOT_DATA_DIR is not usable: {path} is a file, not a folder") from None
    except OSError as error:
        reason = error.strerror or str(error)
        raise DataDirError(f"BOT_DATA_DIR is not usable: cannot create {path} ({reason})") from None
    try:
        info = path.stat()
        if not stat.S_ISDIR(info.st_mode):
            raise DataDirError(f"BOT_DATA_DIR is not usable: {path} is not a folder")
        if info.st_uid == os.getuid() and stat.S_IMODE(info.st_mode) & 0o077:
            path.chmod(FOLDER_MODE)
        _check_writable(path)
    except OSError as error:
        reason = error.strerror or str(error)
        raise DataDirError(f"BOT_DATA_DIR is not usable: {path} ({reason})") from None
    return path


def _check_writable(path: Path) -> None:
    """Write and remove a small file: the only test that also catches read-only mounts and
    file systems that refuse new files (``/proc``)."""
    probe = path / f".write-check-{os.getpid()}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        os.close(fd)
    except OSError as error:
        if error.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            raise DataDirError(
                f"BOT_DATA_DIR is not usable: cannot write in {path} ({error.strerror})"
            ) from None
        raise
    probe.unlink(missing_ok=True)


@contextlib.contextmanager
def exclusive_use(path: Path) -> Iterator[None]:
    """Hold the folder's lock for the block; :class:`DataDirError` if another process has it."""
    lock = FileLock(path / LOCK_FILENAME, timeout=0, mode=FILE_MODE)
    try:
        lock.acquire()
    except Timeout:
        raise DataDirError(
            f"another Portrait Bot is already using BOT_DATA_DIR ({path.resolve()})"
        ) from None
    except OSError as error:
        reason = error.strerror or str(error)
        raise DataDirError(f"BOT_DATA_DIR is not usable: cannot lock {path} ({reason})") from None
    try:
        yield
    finally:
        lock.release()


def owner_only(path: Path) -> None:
    """Make an existing file ``0600`` (a no-op for a missing file or one we do not own)."""
    with contextlib.suppress(FileNotFoundError, PermissionError):
        if path.stat().st_uid == os.getuid():
            path.chmod(FILE_MODE)
