"""Saved faces: the store's rules, the encryption at rest and a lost or wrong key."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from bot.core.faces import (
    FaceCipher,
    FaceLimitReached,
    FaceNameInvalid,
    FaceNameTaken,
    FaceNotFound,
    FaceUnreadable,
    SavedFaces,
)
from bot.core.faces.keys import KEY_FILENAME
from bot.core.jobs.ledger import Job
from bot.core.jobs.sql_ledger import SqlLedger
from bot.core.request.selfie import prepare_selfie
from bot.settings import SettingsError, load_settings
from tests.support.images import selfie_jpeg
from tests.support.ledgers import OpenLedger

ALICE = "discord:111111111111111111"
BOB = "telegram:222222222"


@pytest.fixture
def prepared() -> bytes:
    return prepare_selfie(selfie_jpeg()).data


@pytest.fixture
async def ledger(open_ledger: OpenLedger) -> SqlLedger:
    """The ledger on each database in turn (tests/support/ledgers.py)."""
    return await open_ledger()


def faces_of(ledger: SqlLedger, data_dir: Path, key: str = "", per: int = 5) -> SavedFaces:
    return SavedFaces(ledger, data_dir / "faces", FaceCipher(data_dir, key), per_member=per)


async def test_save_list_get_default_rename_delete(ledger, tmp_path, prepared) -> None:
    faces = faces_of(ledger, tmp_path)
    first = await faces.save(ALICE, "  Me   at  home ", prepared)
    assert first.name == "Me at home" and first.is_default
    second = await faces.save(ALICE, "beach", prepared)
    assert not second.is_default
    assert [face.name for face in await faces.list(ALICE)] == ["Me at home", "beach"]
    assert await faces.list(BOB) == []
    assert (await faces.get(ALICE, "ME AT HOME")) == first
    assert await faces.get(BOB, "beach") is None  # another member's faces are not theirs
    assert await faces.read(second) == prepared

    await faces.set_default(ALICE, "beach")
    default = await faces.default(ALICE)
    assert default is not None and default.id == second.id
    assert [face.is_default for face in await faces.list(ALICE)] == [False, True]

    renamed = await faces.rename(ALICE, "beach", "Holiday")
    assert renamed.name == "Holiday" and (await faces.get(ALICE, "holiday")) is not None
    with pytest.raises(FaceNameTaken):
        await faces.rename(ALICE, "holiday", "me at HOME")

    # Deleting the default hands it to the oldest face left; the file goes too.
    path = faces.path_of(renamed.file)
    assert path.exists()
    await faces.delete(ALICE, "holiday")
    assert not path.exists()
    default = await faces.default(ALICE)
    assert default is not None and default.id == first.id
    with pytest.raises(FaceNotFound):
        await faces.delete(ALICE, "holiday")


async def test_a_job_s_saved_face_while_it_exists(ledger, tmp_path, prepared) -> None:
    faces = faces_of(ledger, tmp_path)
    face = await faces.save(ALICE, "me", prepared)

    async def job_with(params: dict[str, object], requester: str = ALICE) -> Job:
        return await ledger.create(
            platform="discord",
            requester=requester,
            scope="discord:guild:1",
            reply_address={},
            reply_secret="",
            params=params,
        )

    assert await faces.of_job(await job_with({"face_id": face.id})) == face
    assert await faces.of_job(await job_with({})) is None  # made from a photo
    assert await faces.of_job(await job_with({"face_id": face.id}, BOB)) is None
    assert await faces.of_job(await job_with({"face_id": str(face.id)})) is None
    await faces.delete(ALICE, "me")
    assert await faces.of_job(await job_with({"face_id": face.id})) is None


async def test_names_are_checked_and_unique_without_case(ledger, tmp_path, prepared) -> None:
    faces = faces_of(ledger, tmp_path)
    for bad in ("", "   ", "x" * 33, "two\x00parts"):
        with pytest.raises(FaceNameInvalid):
            await faces.save(ALICE, bad, prepared)
    await faces.save(ALICE, "x" * 32, prepared)
    await faces.save(ALICE, "Work", prepared)
    with pytest.raises(FaceNameTaken):
        await faces.save(ALICE, " work ", prepared)
    await faces.save(BOB, "work", prepared)  # names are per member
    assert len(list((tmp_path / "faces").iterdir())) == 3  # the refused ones left no file


async def test_the_limit_per_member(ledger, tmp_path, prepared) -> None:
    faces = faces_of(ledger, tmp_path, per=2)
    await faces.save(ALICE, "a", prepared)
    await faces.save(ALICE, "b", prepared)
    with pytest.raises(FaceLimitReached) as refused:
        await faces.save(ALICE, "c", prepared)
    assert refused.value.limit == 2
    await faces.save(BOB, "c", prepared)
    assert await faces.delete_all(ALICE) == 2
    assert await faces.list(ALICE) == [] and len(await faces.list(BOB)) == 1
    assert len(list((tmp_path / "faces").iterdir())) == 1
    with pytest.raises(FaceLimitReached):
        await faces_of(ledger, tmp_path, per=0).save(ALICE, "off", prepared)


async def test_the_file_on_disk_is_not_a_readable_image(ledger, tmp_path, prepared) -> None:
    faces = faces_of(ledger, tmp_path)
    face = await faces.save(ALICE, "me", prepared)
    path = faces.path_of(face.file)
    on_disk = path.read_bytes()
    assert b"\xff\xd8\xff" not in on_disk and b"JFIF" not in on_disk
    assert prepared[200:232] not in on_disk
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "faces").stat().st_mode) == 0o700
    key_file = tmp_path / KEY_FILENAME
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    # The key is made once and read again by the next start.
    made = key_file.read_bytes()
    again = faces_of(ledger, tmp_path)
    assert await again.read(face) == prepared
    assert key_file.read_bytes() == made


async def test_a_lost_or_changed_key_makes_faces_unreadable(ledger, tmp_path, prepared) -> None:
    faces = faces_of(ledger, tmp_path)
    face = await faces.save(ALICE, "me", prepared)

    (tmp_path / KEY_FILENAME).unlink()  # lost: a new key is made, the old faces cannot open
    with pytest.raises(FaceUnreadable):
        await faces_of(ledger, tmp_path).read(face)
    other = Fernet.generate_key().decode()
    with pytest.raises(FaceUnreadable):
        await faces_of(ledger, tmp_path, key=other).read(face)

    (tmp_path / KEY_FILENAME).write_bytes(b"not a key\n")  # damaged: reads and saves refuse
    damaged = faces_of(ledger, tmp_path)
    with pytest.raises(FaceUnreadable):
        await damaged.read(face)
    with pytest.raises(FaceUnreadable):
        await damaged.save(ALICE, "new", prepared)
    assert [f.name for f in await damaged.list(ALICE)] == ["me"]  # the records still list

    faces.path_of(face.file).unlink()  # the file is gone
    with pytest.raises(FaceUnreadable):
        await faces.read(face)


async def test_a_configured_key_is_used_and_no_key_file_is_made(ledger, tmp_path, prepared):
    key = Fernet.generate_key().decode()
    faces = faces_of(ledger, tmp_path, key=key)
    face = await faces.save(ALICE, "me", prepared)
    assert not (tmp_path / KEY_FILENAME).exists()
    token = faces.path_of(face.file).read_bytes()
    assert Fernet(key.encode()).decrypt(token) == prepared
    assert key not in repr(FaceCipher(tmp_path, key))


def test_settings_faces_key_and_limit() -> None:
    key = Fernet.generate_key().decode()
    settings = load_settings({"FACES_KEY": key, "FACES_PER_MEMBER": "3"}, need_wiro=False)
    assert settings.faces_key == key and settings.faces_per_member == 3
    assert key not in repr(settings)
    defaults = load_settings({}, need_wiro=False)
    assert defaults.faces_key == "" and defaults.faces_per_member == 5
    with pytest.raises(SettingsError, match="FACES_KEY") as bad:
        load_settings({"FACES_KEY": "short-key"}, need_wiro=False)
    assert "short-key" not in str(bad.value)
    with pytest.raises(SettingsError, match="FACES_PER_MEMBER"):
        load_settings({"FACES_PER_MEMBER": "-1"}, need_wiro=False)
