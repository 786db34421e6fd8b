"""Prepared selfies on the bot's disk: each job's selfie waits here until the job is started
(it is uploaded to Wiro only then, right before the run call), and is kept afterwards for a
limited window, so result buttons can re-run a portrait without the member attaching the photo
again. Only the stripped, downscaled copy is kept (never the original upload), one file per
job, owner-only (0600 in a 0700 folder), removed when the window ends (at once with
SELFIE_KEEP_HOURS=0), when the job is pruned, or when the member deletes the result."""

from __future__ import annotations

import logging
import re
import uuid
from pathlib import Path

from bot.storage import write_owner_only

log = logging.getLogger(__name__)

_SELFIE_NAME = re.compile(r"selfie-[0-9a-f]{32}\.jpg")


class SelfieStore:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def save(self, data: bytes) -> str:
        """Write ``data`` under a new unique name; returns that name (``selfie-<hex>.jpg``, what
        the ledger keeps: the folder may move, be copied, or be mounted elsewhere by another
        process). Raises OSError (a full disk, no permission): the caller refuses the request,
        nothing is queued without it."""
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        name = f"selfie-{uuid.uuid4().hex}.jpg"
        write_owner_only(self.folder / name, data)
        return name

    def load(self, path: str | None) -> bytes | None:
        """The bytes of the selfie ``path`` names (a name from `save`, or the full path older
        versions kept: only its file name counts); None when it is gone."""
        found = self._file(path)
        if found is None:
            return None
        try:
            return found.read_bytes()
        except OSError:
            return None

    def delete(self, path: str | None) -> None:
        found = self._file(path)
        if found is None:
            return
        try:
            found.unlink(missing_ok=True)
        except OSError as error:
            log.warning("Could not delete a kept selfie: %s", error)

    def _file(self, path: str | None) -> Path | None:
        """The file in this folder that ``path`` names; None for anything but a selfie's name
        (so a stored value can never reach outside the folder)."""
        name = Path(path).name if path else ""
        return self.folder / name if _SELFIE_NAME.fullmatch(name) else None
