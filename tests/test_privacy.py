"""Unit tests of what keeps members' data private: the log redactor and library log levels, and
the owner-only data folder."""

from __future__ import annotations

import logging
import os
import stat
import sys
from pathlib import Path

import pytest

from bot.logs import REDACTED, SecretRedactor, redact_text, setup_logging
from bot.storage import DataDirError, exclusive_use, prepare_data_dir

INTERACTION_TOKEN = "aW50ZXJhY3Rpb246MTIzNDU2Nzg5" + "Ab3_-x" * 30
UPLOAD_URL = "https://api.wiro.ai/v1/File/9f8e7d6c5b4a/selfie.jpg"
OUTPUT_URL = "https://cdn1.wiro.ai/6a1b2c3d-0000/0.png"


@pytest.mark.parametrize(
    ("line", "kept", "gone"),
    [
        (
            f"POST http://127.0.0.1:8/api/v10/webhooks/1234/{INTERACTION_TOKEN}/messages/@original",
            "/webhooks/1234/",
            INTERACTION_TOKEN,
        ),
        (
            f"POST /api/v10/interactions/99/{INTERACTION_TOKEN[:40]}/callback failed",
            "/interactions/99/",
            INTERACTION_TOKEN[:40],
        ),
        (f"uploaded the selfie as {UPLOAD_URL}", "https://api.wiro.ai", "9f8e7d6c5b4a"),
        (f"output {OUTPUT_URL} downloaded", "https://cdn1.wiro.ai", "6a1b2c3d"),
        ('{"tasktoken": "abcdef0123456789abcdef"}', "tasktoken", "abcdef0123456789abcdef"),
        (f"token={INTERACTION_TOKEN[:30]}", "token=", INTERACTION_TOKEN[:30]),
        (f"a bare interaction token {INTERACTION_TOKEN}.", "a bare", INTERACTION_TOKEN),
    ],
)
def test_tokens_and_file_urls_are_redacted(line, kept, gone):
    redacted = redact_text(line)
    assert gone not in redacted and REDACTED in redacted
    assert kept in redacted


UUID = "0c4f2a7e-1b2c-4d5e-8f90-123456789abc"


@pytest.mark.parametrize(
    ("line", "shown"),
    [
        (
            f"downloading outputs: GET cdn1.wiro.ai/{UUID}/0.png: HTTP 404",
            "downloading outputs: GET cdn1.wiro.ai/[redacted]: HTTP 404",
        ),
        (
            f"Dropped Wiro output '0.png' from 127.0.0.1:33441/cdn/{UUID}/0.png: not an image",
            "Dropped Wiro output '0.png' from 127.0.0.1:33441/[redacted]: not an image",
        ),
        (
            "GET api.wiro.ai/v1/File/abcdefACCESSKEY/selfie.jpg: HTTP 404",
            "GET api.wiro.ai/[redacted]: HTTP 404",
        ),
        (f"files.example.test/{UUID.replace('-', '')}/0.png", "files.example.test/[redacted]"),
        (f"[::1]:8080/x/{UUID}/0.png.", "[::1]:8080/[redacted]."),
        ("localhost/File/key/me.jpg", "localhost/[redacted]"),
        (f"(https://cdn1.wiro.ai/{UUID}/0.png)", "(https://cdn1.wiro.ai/[redacted])"),
    ],
)
def test_file_urls_without_their_scheme_are_redacted_too(line, shown):
    assert redact_text(line) == shown


@pytest.mark.parametrize(
    "line",
    [
        "POST /Task/Detail -> 200 in 12 ms",
        "api.wiro.ai/v1/Task/Detail answered",
        "discord.py 2.7.1/aiohttp 3.12",
        "ratio 3/4 of 1.5/2",
    ],
)
def test_scheme_less_paths_that_are_not_files_are_left_alone(line):
    assert redact_text(line) == line


def test_ordinary_lines_are_left_alone():
    line = "Job 7 is Wiro task 2221; POST https://api.wiro.ai/v1/Task/Detail took 0.2 s"
    assert redact_text(line) == line


def test_the_filter_redacts_arguments_and_tracebacks():
    record = logging.LogRecord(
        "bot.core.jobs", logging.ERROR, __file__, 1, "could not post to %s", (UPLOAD_URL,), None
    )
    try:
        raise RuntimeError(f"POST /webhooks/1/{INTERACTION_TOKEN} failed with key-secret-123")
    except RuntimeError:
        record.exc_info = sys.exc_info()
    assert SecretRedactor(["key-secret-123"]).filter(record)
    text = logging.Formatter().format(record)
    for private in ("9f8e7d6c5b4a", INTERACTION_TOKEN, "key-secret-123"):
        assert private not in text


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    yield
    root.handlers[:], level = saved
    root.setLevel(level)
    for name in ("bot", "cogs", "__main__", "aiosqlite", "aiohttp", "discord", "websockets"):
        logging.getLogger(name).setLevel(logging.NOTSET)


def test_debug_is_for_the_bot_only(restore_logging):
    setup_logging("DEBUG", [])
    assert logging.getLogger("bot.core.jobs.dispatcher").isEnabledFor(logging.DEBUG)
    assert logging.getLogger("cogs.portrait").isEnabledFor(logging.DEBUG)
    for library in ("aiosqlite", "aiohttp.client", "websockets.client", "discord.http", "asyncio"):
        assert not logging.getLogger(library).isEnabledFor(logging.DEBUG), library
    assert not logging.getLogger("some.other.library").isEnabledFor(logging.DEBUG)
    setup_logging("WARNING", [])
    assert not logging.getLogger("aiosqlite").isEnabledFor(logging.INFO)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_data_folder_is_made_owner_only_and_an_open_one_tightened(tmp_path):
    made = prepare_data_dir(tmp_path / "new" / "data")
    assert mode(made) == 0o700
    existing = tmp_path / "existing"
    existing.mkdir(mode=0o755)
    os.chmod(existing, 0o755)
    prepare_data_dir(existing)
    assert mode(existing) == 0o700
    assert list(existing.iterdir()) == []  # the write check leaves nothing behind


def test_an_open_folder_with_other_files_is_refused_and_left_as_it_was(tmp_path):
    # BOT_DATA_DIR=/etc (or a home folder) by mistake: never made owner-only under its owner.
    system = tmp_path / "etc"
    system.mkdir()
    os.chmod(system, 0o755)
    (system / "passwd").write_text("root:x:0:0::/root:/bin/sh")
    with pytest.raises(DataDirError, match="holds files that are not the bot's") as refused:
        prepare_data_dir(system)
    assert "give the bot a folder of its own" in str(refused.value)
    assert mode(system) == 0o755
    # The bot's own files do not count: an open folder it used before is tightened.
    own = tmp_path / "data"
    (own / "selfies").mkdir(parents=True)
    (own / "jobs.sqlite3").write_bytes(b"")
    os.chmod(own, 0o755)
    prepare_data_dir(own)
    assert mode(own) == 0o700


@pytest.mark.parametrize(("mode_bits", "owner"), [(0o1777, None), (0o777, None), (0o755, 4321)])
def test_a_shared_or_foreign_data_folder_is_refused_and_left_as_it_was(tmp_path, mode_bits, owner):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, mode_bits)
    if owner is not None:
        if os.getuid() != 0:
            pytest.skip("only root can give a folder to another user")
        os.chown(shared, owner, -1)
    with pytest.raises(DataDirError, match="give the bot a folder of its own") as refused:
        prepare_data_dir(shared)
    if owner is None:
        assert f"is a shared folder (mode {mode_bits:04o})" in str(refused.value)
    else:
        assert f"belongs to another user (uid {owner})" in str(refused.value)
    assert mode(shared) == mode_bits  # never changed
    assert list(shared.iterdir()) == []


def test_a_folder_the_bot_creates_under_a_shared_one_is_its_own(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    made = prepare_data_dir(shared / "bot")
    assert mode(made) == 0o700 and mode(shared) == 0o1777


@pytest.mark.parametrize(
    ("where", "reason"),
    [
        ("/proc", "/proc cannot be written (the file system there takes no new files"),
        ("/proc/x", "cannot create /proc/x (the file system there takes no new files"),
        ("/sys/kernel", "/sys/kernel cannot be written ("),
    ],
)
def test_a_system_folder_is_refused_for_its_real_reason_and_left_as_it_was(where, reason):
    before = mode(Path(where)) if Path(where).exists() else None
    with pytest.raises(DataDirError) as refused:
        prepare_data_dir(Path(where))
    assert reason in str(refused.value)
    assert "No such file" not in str(refused.value)
    if before is not None:
        assert mode(Path(where)) == before


def test_a_read_only_folder_is_refused_as_it_cannot_be_written(tmp_path):
    if os.getuid() == 0:
        pytest.skip("root writes in a read-only folder anyway")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    with pytest.raises(DataDirError, match=r"locked cannot be written \(Permission denied\)"):
        prepare_data_dir(locked)
    assert mode(locked) == 0o500


def test_a_lock_file_that_cannot_be_made_is_named(tmp_path):
    (tmp_path / "bot.lock").mkdir()
    refused = pytest.raises(DataDirError, match=r"cannot create the lock file .*bot\.lock")
    with refused, exclusive_use(tmp_path):
        pass


def test_a_data_folder_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "data").write_text("")
    with pytest.raises(DataDirError, match="is a file, not a folder"):
        prepare_data_dir(tmp_path / "data")


def test_one_holder_of_the_data_folder_at_a_time(tmp_path):
    refused = pytest.raises(DataDirError, match="another Portrait Bot is already using")
    with exclusive_use(tmp_path), refused, exclusive_use(tmp_path):
        pass
    with exclusive_use(tmp_path):  # released with the first holder
        pass


def test_a_database_password_is_blanked_in_urls_whatever_its_length() -> None:
    from bot.logs import redact_text

    line = "Job database postgresql://portrait:pw@db:5432/portrait open; portrait ok"
    assert redact_text(line) == (
        "Job database postgresql://portrait:[redacted]@db:5432/portrait open; portrait ok"
    )  # a short password is blanked, and the user and database names stay readable
    query = "postgres://u@h/d?sslmode=require&password=s3cret"
    assert redact_text(query) == "postgres://u@h/d?sslmode=require&password=[redacted]"
