"""Saved faces: a member's prepared selfies, kept encrypted so /portrait can reuse them.

A saved face is the output of `bot.core.request.selfie.prepare_selfie` (upright, no metadata,
downscaled JPEG), never the original upload. Its bytes are a Fernet token in
``BOT_DATA_DIR/faces/face-<random hex>.bin`` (``0600`` in a ``0700`` folder; see
`bot.core.faces.keys`); its row (who, name, default, file name, when) is in the ledger's
database, table ``saved_faces`` of migration ``0011_saved_faces.sql``, reached through
`SqlLedger.transaction` / `SqlLedger.reading` so this SQL stays out of the ledger's module.

Members are the ledger's requester keys (``"discord:<user id>"``); a member sees only their own
faces. Names are trimmed, 1-32 characters, unique per member regardless of case. At most
``per_member`` faces (``FACES_PER_MEMBER``). A face is decrypted only when a job using it is
dispatched (`read`), so the bytes never wait in memory or in the queue.

Errors: `FaceLimitReached`, `FaceNameTaken`, `FaceNameInvalid`, `FaceNotFound`,
`FaceUnreadable` (all `FaceError`s but the last, which comes from the key), and `LedgerError`
from the database.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from bot.core.faces.keys import FaceCipher, FaceUnreadable
from bot.core.jobs.ledger import Clock, ConstraintViolated, Job, LedgerError, utc_now
from bot.core.jobs.sql_ledger import SqlLedger
from bot.storage import write_owner_only

__all__ = [
    "FACE_PARAM",
    "NAME_MAX",
    "FaceError",
    "FaceLimitReached",
    "FaceNameInvalid",
    "FaceNameTaken",
    "FaceNotFound",
    "SavedFace",
    "SavedFaces",
]

log = logging.getLogger(__name__)

NAME_MAX = 32
FOLDER_NAME = "faces"
# The job parameter naming the saved face a job uses (its id), set by `Admission.admit`.
FACE_PARAM = "face_id"


class FaceError(Exception):
    """A saved-face request that cannot be done; the subclass says why (data for the front
    ends to word)."""


class FaceLimitReached(FaceError):
    """The member already has ``limit`` saved faces (``FACES_PER_MEMBER``)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"at most {limit} saved faces")
        self.limit = limit


class FaceNameTaken(FaceError):
    """The member already has a face of that name (compared without case)."""

    def __init__(self, name: str) -> None:
        super().__init__("that name is taken")
        self.name = name


class FaceNameInvalid(FaceError):
    """The name is empty after trimming, longer than `NAME_MAX`, or holds control characters."""


class FaceNotFound(FaceError):
    """The member has no saved face of that name (or id)."""


@dataclass(frozen=True)
class SavedFace:
    """One saved face's record (never its bytes). ``file``: the encrypted file's name inside
    the faces folder. ``created_at``: UTC."""

    id: int
    requester: str
    name: str
    is_default: bool
    created_at: datetime
    file: str


class SavedFaces:
    """The saved faces of every member; see the module docstring."""

    def __init__(
        self,
        ledger: SqlLedger,
        folder: Path,
        cipher: FaceCipher,
        *,
        per_member: int = 5,
        clock: Clock = utc_now,
    ) -> None:
        self._ledger = ledger
        self.folder = folder
        self._cipher = cipher
        self.per_member = per_member
        self._clock = clock

    # ------------------------------------------------------------------ writes

    async def save(self, requester: str, name: str, prepared: bytes) -> SavedFace:
        """Encrypt and keep ``prepared`` (the bytes of a `PreparedSelfie`) as ``name``. The
        member's first face becomes their default. Raises `FaceNameInvalid`,
        `FaceNameTaken`, `FaceLimitReached`, `FaceUnreadable` (the key is unusable: nothing
        is saved), `OSError` (the disk) or `LedgerError`."""
        name = clean_name(name)
        requester = _requester(requester)
        if self.per_member <= 0:
            raise FaceLimitReached(0)
        token = await asyncio.to_thread(self._cipher.encrypt, bytes(prepared))
        file = await asyncio.to_thread(self._write, token)
        try:
            async with self._ledger.transaction() as db:
                rows = await db.execute_fetchall(
                    "SELECT COUNT(*), SUM(CASE WHEN name_key = ? THEN 1 ELSE 0 END) "
                    "FROM saved_faces WHERE requester = ?",
                    (name.casefold(), requester),
                )
                count, taken = next(iter(rows))
                if taken:
                    raise FaceNameTaken(name)
                if count >= self.per_member:
                    raise FaceLimitReached(self.per_member)
                face_id = await db.fetch_value(
                    "INSERT INTO saved_faces "
                    "(requester, name, name_key, is_default, file, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                    (requester, name, name.casefold(), int(count == 0), file, self._now()),
                )
        except BaseException:
            await asyncio.to_thread(self._unlink, file)
            raise
        assert face_id is not None
        face = await self.by_id(requester, face_id)
        assert face is not None
        return face

    async def set_default(self, requester: str, name: str) -> SavedFace:
        """Make ``name`` the member's default face (the one /portrait uses without a photo).
        Raises `FaceNotFound`."""
        face = await self.get(requester, name)
        if face is None:
            raise FaceNotFound(name)
        async with self._ledger.transaction() as db:
            await db.execute(
                "UPDATE saved_faces SET is_default = 0 WHERE requester = ? AND is_default = 1",
                (face.requester,),
            )
            await db.execute("UPDATE saved_faces SET is_default = 1 WHERE id = ?", (face.id,))
        return _with(face, is_default=True)

    async def rename(self, requester: str, name: str, new_name: str) -> SavedFace:
        """Rename a face. Raises `FaceNotFound`, `FaceNameInvalid`, `FaceNameTaken`."""
        new_name = clean_name(new_name)
        face = await self.get(requester, name)
        if face is None:
            raise FaceNotFound(name)
        try:
            async with self._ledger.transaction() as db:
                await db.execute(
                    "UPDATE saved_faces SET name = ?, name_key = ? WHERE id = ?",
                    (new_name, new_name.casefold(), face.id),
                )
        except ConstraintViolated:
            raise FaceNameTaken(new_name) from None
        return _with(face, name=new_name)

    async def delete(self, requester: str, name: str) -> SavedFace:
        """Delete a face (row and file). When it was the default, the member's oldest other
        face becomes the default. Returns the deleted record; raises `FaceNotFound`."""
        face = await self.get(requester, name)
        if face is None:
            raise FaceNotFound(name)
        async with self._ledger.transaction() as db:
            await db.execute("DELETE FROM saved_faces WHERE id = ?", (face.id,))
            if face.is_default:
                await db.execute(
                    "UPDATE saved_faces SET is_default = 1 WHERE id = "
                    "(SELECT id FROM saved_faces WHERE requester = ? ORDER BY id LIMIT 1)",
                    (face.requester,),
                )
        await asyncio.to_thread(self._unlink, face.file)
        return face

    async def delete_all(self, requester: str) -> int:
        """Delete every face of the member (rows and files); returns how many."""
        faces = await self.list(requester)
        async with self._ledger.transaction() as db:
            await db.execute(
                "DELETE FROM saved_faces WHERE requester = ?", (_requester(requester),)
            )
        for face in faces:
            await asyncio.to_thread(self._unlink, face.file)
        return len(faces)

    # ------------------------------------------------------------------ reads

    async def list(self, requester: str) -> builtins.list[SavedFace]:
        """The member's faces, oldest first."""
        return await self._select("requester = ? ORDER BY id", (_requester(requester),))

    async def get(self, requester: str, name: str) -> SavedFace | None:
        """The member's face named ``name`` (case and surrounding spaces ignored), or None."""
        try:
            key = clean_name(name).casefold()
        except FaceNameInvalid:
            return None
        found = await self._select("requester = ? AND name_key = ?", (_requester(requester), key))
        return found[0] if found else None

    async def by_id(self, requester: str, face_id: int) -> SavedFace | None:
        """The member's face with this id (as a job's ``params["face_id"]``), or None: a face
        of another member is never returned."""
        found = await self._select(
            "requester = ? AND id = ?", (_requester(requester), int(face_id))
        )
        return found[0] if found else None

    async def of_job(self, job: Job) -> SavedFace | None:
        """The saved face ``job`` was made with (``params["face_id"]``), while it exists: what
        a result button re-runs with (no keep window for saved faces). None for a job made
        from a photo, or when the face was deleted."""
        face_id = job.params.get(FACE_PARAM)
        if isinstance(face_id, bool) or not isinstance(face_id, int):
            return None
        return await self.by_id(job.requester, face_id)

    async def default(self, requester: str) -> SavedFace | None:
        """The member's default face, or None when they have none."""
        found = await self._select("requester = ? AND is_default = 1", (_requester(requester),))
        return found[0] if found else None

    async def read(self, face: SavedFace) -> bytes:
        """The face's prepared JPEG bytes, decrypted. Raises `FaceUnreadable` when its file is
        gone or the key cannot open it (lost, changed, damaged)."""
        return await asyncio.to_thread(self._read, face.file)

    # ------------------------------------------------------------------ files

    def path_of(self, file: str) -> Path:
        """The encrypted file's path; ValueError for a name that is not a plain file name."""
        if not file or Path(file).name != file or file.startswith("."):
            raise ValueError(f"not a saved face's file name: {file!r}")
        return self.folder / file

    def _write(self, token: bytes) -> str:
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        file = f"face-{uuid.uuid4().hex}.bin"
        write_owner_only(self.folder / file, token)
        return file

    def _read(self, file: str) -> bytes:
        try:
            token = self.path_of(file).read_bytes()
        except (OSError, ValueError) as error:
            raise FaceUnreadable(f"a saved face's file is missing ({error})") from None
        return self._cipher.decrypt(token)

    def _unlink(self, file: str) -> None:
        try:
            self.path_of(file).unlink(missing_ok=True)
        except (OSError, ValueError) as error:
            log.warning("Could not delete a saved face's file: %s", error)

    # ------------------------------------------------------------------ plumbing

    async def _select(self, where: str, args: tuple[object, ...]) -> builtins.list[SavedFace]:
        async with self._ledger.reading() as db:
            rows = await db.execute_fetchall(
                "SELECT id, requester, name, is_default, created_at, file "
                f"FROM saved_faces WHERE {where}",
                args,
            )
        return [
            SavedFace(
                id=int(row[0]),
                requester=row[1],
                name=row[2],
                is_default=bool(row[3]),
                created_at=datetime.fromisoformat(row[4]).astimezone(UTC),
                file=row[5],
            )
            for row in rows
        ]

    def _now(self) -> str:
        now = self._clock().astimezone(UTC).replace(tzinfo=None)
        return now.isoformat(timespec="microseconds") + "Z"  # the ledger's time format


def clean_name(name: str) -> str:
    """``name`` trimmed; `FaceNameInvalid` unless 1-`NAME_MAX` characters without control
    characters (line breaks, tabs) once trimmed."""
    if not isinstance(name, str):
        raise FaceNameInvalid("a face's name must be text")
    text = " ".join(name.split())  # inner runs of spaces become one; tabs and breaks too
    if not text or len(text) > NAME_MAX or not text.isprintable():
        raise FaceNameInvalid(f"a face's name is 1-{NAME_MAX} characters")
    return text


def _requester(requester: str) -> str:
    if not isinstance(requester, str) or not requester.strip():
        raise LedgerError("a saved face's requester must be non-empty text")
    return requester


def _with(face: SavedFace, **changes: object) -> SavedFace:
    return replace(face, **changes)  # type: ignore[arg-type]
