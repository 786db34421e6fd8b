"""Prepared selfies on the bot's disk: each job's selfie waits here until the job is started
(it is uploaded to Wiro only then, right before the run call), and is kept afterwards for a
limited window, so result buttons can re-run a portrait without the member attaching the photo
again. Only the stripped, downscaled copy is kept (never the original upload), one file per
job, owner-only (0600 in a 0700 folder), removed when the window ends (at once with
SELFIE_KEEP_HOURS=0), when the job is pruned, or when the member deletes the result."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

from bot.storage import write_owner_only

log = logging.getLogger(__name__)


class SelfieStore:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def save(self, data: bytes) -> str:
        """Write ``data`` under a new unique name; returns its path. Raises OSError (a full
        disk, no permission): the caller refuses the request, nothing is queued without it."""
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self.folder / f"selfie-{uuid.uuid4().hex}.jpg"
        write_owner_only(path, data)
        return str(path)

    def load(self, path: str | None) -> bytes | None:
        if not path or not self._inside(Path(path)):
            return None
        try:
            return Path(path).read_bytes()
        except OSError:
            return None

    def delete(self, path: str | None) -> None:
        if not path or not self._inside(Path(path)):
            return
        try:
            Path(path).unlink(missing_ok=True)
        except OSError as error:
            log.warning("Could not delete a kept selfie: %s", error)

    def _inside(self, path: Path) -> bool:
        return path.resolve().parent == self.folder.resolve()
