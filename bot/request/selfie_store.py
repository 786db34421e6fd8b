"""Prepared selfies kept for a limited window, so result buttons can re-run a portrait without
the member attaching the photo again. Only the stripped, downscaled copy is kept (never the
original upload), one file per job, removed when the window ends, when the job is pruned, or
when the member deletes the result."""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)


class SelfieStore:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def save(self, job_id: int, data: bytes) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"job-{job_id}.jpg"
        tmp = path.with_suffix(".tmp")
        # Owner-only: these are people's faces.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        tmp.replace(path)
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
