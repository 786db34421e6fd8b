"""Finished portraits kept on disk while Discord will not take them.

A result is written here when its first post is refused for now (so a restart does not depend
on Wiro's output URLs) and stays when it could not be delivered anywhere, until the member asks
for it again from `/portrait-history` or `JOB_RETENTION_DAYS` pass. One folder per job,
``<folder>/<job id>/``, owner-only (0700 folder, 0600 files): these are people's faces.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from datetime import datetime
from pathlib import Path

from bot.core.jobs import PortraitImage

log = logging.getLogger(__name__)


class ResultStore:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _job_folder(self, job_id: int) -> Path:
        return self.folder / str(int(job_id))

    def has(self, job_id: int) -> bool:
        return self._job_folder(job_id).is_dir()

    def save(self, job_id: int, images: tuple[PortraitImage, ...]) -> None:
        """Write every image (replacing an earlier copy). Raises OSError (disk full...)."""
        target = self._job_folder(job_id)
        staging = self.folder / f".{int(job_id)}.tmp"
        shutil.rmtree(staging, ignore_errors=True)
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        staging.mkdir(mode=0o700)
        for index, image in enumerate(images):
            # The index keeps the order; the name is Wiro's, reduced to a plain file name.
            name = f"{index:02d}-{Path(image.filename).name}"
            fd = os.open(staging / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as file:
                file.write(image.data)
        shutil.rmtree(target, ignore_errors=True)
        staging.replace(target)

    def load(self, job_id: int) -> tuple[PortraitImage, ...] | None:
        """The kept images in their order, or None when nothing (readable) is kept."""
        folder = self._job_folder(job_id)
        try:
            paths = sorted(path for path in folder.iterdir() if path.is_file())
            images = tuple(
                PortraitImage(path.name.split("-", 1)[-1], path.read_bytes()) for path in paths
            )
        except OSError:
            return None
        return images or None

    def delete(self, job_id: int) -> None:
        try:
            shutil.rmtree(self._job_folder(job_id))
        except FileNotFoundError:
            pass
        except OSError as error:
            log.warning("Could not delete the kept result of job %s: %s", job_id, error)

    def prune(self, older_than: datetime) -> int:
        """Delete kept results written before ``older_than``; returns how many went."""
        cutoff = older_than.timestamp()
        pruned = 0
        try:
            folders = [path for path in self.folder.iterdir() if path.is_dir()]
        except FileNotFoundError:
            return 0
        for folder in folders:
            try:
                if folder.stat().st_mtime < min(cutoff, time.time()):
                    shutil.rmtree(folder)
                    pruned += 1
            except FileNotFoundError:
                continue  # gone meanwhile: a save's staging folder renamed, or pruned already
            except OSError as error:
                log.warning("Could not prune the kept result %s: %s", folder.name, error)
        return pruned
