"""The data folder (``BOT_DATA_DIR``): made owner-only, checked before use, and held by one
bot process at a time.

The folder holds interaction tokens, prompts, Wiro file URLs (the job ledger) and prepared
selfies, so it is created ``0700`` and an existing folder of ours is tightened to that (a
shared folder, such as ``/tmp``, or another user's is refused, never changed). Two
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
# What the bot itself keeps in the folder: an open folder holding only these (or nothing) is
# ours to tighten; one holding anything else (BOT_DATA_DIR=/etc by mistake) is never changed.
OWN_ENTRIES = frozenset(
    {
        LOCK_FILENAME,
        "jobs.sqlite3",
        "jobs.sqlite3-wal",
        "jobs.sqlite3-shm",
        "jobs.sqlite3-journal",
        "selfies",
        "results",
        "command-sync.json",
        "faces",
        "faces.key",
        "forget.secret",
    }
)
FILE_MODE = 0o600


class DataDirError(Exception):
    """``BOT_DATA_DIR`` cannot be used; the message is one line naming the folder and why."""


def prepare_data_dir(path: Path) -> Path:
    """Create ``path`` (and its parents) owner-only, or check and tighten an existing folder.

    An existing folder must be the bot's own: one that is shared (world-writable or sticky,
    such as ``/tmp``) or belongs to another user is refused and never changed. Every folder
    must take a new file before its mode is touched, so a system folder (``/proc``, ``/sys``)
    is refused as it stands. Returns the folder; raises :class:`DataDirError` naming the step
    that failed (create, write, make owner-only) and the system's reason."""
    created = _create(path)
    try:
        info = path.stat()
    except OSError as error:
        raise DataDirError(
            f"BOT_DATA_DIR is not usable: cannot read {path} ({_why(error)})"
        ) from None
    if not stat.S_ISDIR(info.st_mode):
        raise DataDirError(f"BOT_DATA_DIR is not usable: {path} is not a folder")
    if not created:
        _refuse_shared(path, info)
    _check_writable(path)
    if stat.S_IMODE(info.st_mode) & 0o077:
        _refuse_foreign_content(path, stat.S_IMODE(info.st_mode))
        try:
            path.chmod(FOLDER_MODE)
        except OSError as error:
            raise DataDirError(
                f"BOT_DATA_DIR is not usable: cannot make {path} owner-only ({_why(error)})"
            ) from None
    return path


def _create(path: Path) -> bool:
    """Make the folder; True when this call made it, False when it was there already."""
    try:
        path.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=False)
    except FileExistsError:
        if path.is_dir():
            return False
        what = "a file, not a folder" if path.is_file() else "not a folder"
        raise DataDirError(f"BOT_DATA_DIR is not usable: {path} is {what}") from None
    except OSError as error:
        raise DataDirError(
            f"BOT_DATA_DIR is not usable: cannot create {path} ({_why(error)})"
        ) from None
    return True


def _refuse_foreign_content(path: Path, mode: int) -> None:
    """An open folder holding files that are not the bot's (a system or home folder given by
    mistake) is refused rather than made owner-only: changing its mode would break others."""
    try:
        foreign = sorted(entry.name for entry in path.iterdir() if entry.name not in OWN_ENTRIES)
    except OSError as error:
        raise DataDirError(
            f"BOT_DATA_DIR is not usable: cannot list {path} ({_why(error)})"
        ) from None
    if foreign:
        raise DataDirError(
            f"BOT_DATA_DIR {path} is open to others (mode {mode:04o}) and holds files that are "
            f"not the bot's (such as {foreign[0]!r}); give the bot a folder of its own"
        )


def _refuse_shared(path: Path, info: os.stat_result) -> None:
    """An existing folder others may write in, or another user's, holds no tokens of ours:
    tightening it would break whoever shares it (``/tmp`` losing its sticky bit)."""
    mode = stat.S_IMODE(info.st_mode)
    if mode & (stat.S_IWOTH | stat.S_ISVTX):
        raise DataDirError(
            f"BOT_DATA_DIR {path} is a shared folder (mode {mode:04o}); "
            "give the bot a folder of its own"
        )
    if info.st_uid != os.getuid():
        raise DataDirError(
            f"BOT_DATA_DIR {path} belongs to another user (uid {info.st_uid}); "
            "give the bot a folder of its own"
        )


def _check_writable(path: Path) -> None:
    """Write and remove a small file: the only test that also catches read-only mounts and
    file systems that refuse new files (``/proc``)."""
    probe = path / f".write-check-{os.getpid()}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        os.close(fd)
        probe.unlink()
    except OSError as error:
        raise DataDirError(
            f"BOT_DATA_DIR is not usable: {path} cannot be written ({_why(error)})"
        ) from None


def _why(error: OSError) -> str:
    """The system's reason, in words. A folder that exists but answers "no such file" to a new
    file is a virtual file system (``/proc``), whatever the message says."""
    if error.errno == errno.ENOENT and error.filename and Path(error.filename).parent.is_dir():
        return "the file system there takes no new files: a virtual one, such as /proc"
    return error.strerror or str(error)


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
        raise DataDirError(
            f"BOT_DATA_DIR is not usable: cannot create the lock file {path / LOCK_FILENAME} "
            f"({_why(error)})"
        ) from None
    try:
        yield
    finally:
        lock.release()


def owner_only(path: Path) -> None:
    """Make an existing file ``0600`` (a no-op for a missing file or one we do not own)."""
    with contextlib.suppress(FileNotFoundError, PermissionError):
        if path.stat().st_uid == os.getuid():
            path.chmod(FILE_MODE)


def write_owner_only(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (a ``.tmp`` beside it, then a rename), readable by
    the bot's user only (``0600``): people's faces. Raises OSError (a full disk, no
    permission); the temporary file is then gone."""
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        tmp.replace(path)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise
