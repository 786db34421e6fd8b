"""`python -m bot generate` end to end: a real subprocess against the fake Wiro."""

import asyncio
import io
import os
import sys
from pathlib import Path

import pytest
from PIL import Image

from tests.fakewiro import FakeWiro
from tests.support.images import selfie_jpeg

ROOT = Path(__file__).resolve().parents[1]
KEY, SECRET = "cli-key-0123456789", "cli-secret-0123456789"


@pytest.fixture
async def wiro():
    async with FakeWiro(api_key=KEY, api_secret=SECRET) as fake:
        yield fake


async def generate(tmp_path, base_url, *args, secret=SECRET, **extra_env):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "WIRO_"))}
    env.update(
        PYTHONPATH=str(ROOT), WIRO_API_KEY=KEY, WIRO_API_SECRET=secret, WIRO_API_BASE=base_url
    )
    env.update(extra_env)
    argv = [os.fsencode(arg) if isinstance(arg, str) else arg for arg in args]
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "generate", *argv,
        cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode, stdout.decode(), stderr.decode()


async def test_generate_saves_every_sample_and_prints_the_settings(wiro, tmp_path):
    (tmp_path / "me.jpg").write_bytes(selfie_jpeg())
    code, out, err = await generate(
        tmp_path, wiro.base_url,
        "--selfie", "me.jpg", "--out", "out", "--samples", "2", "--seed", "77",
        "--lora", "samaritan", "--prompt", "a pirate captain",
    )  # fmt: skip
    assert code == 0, err
    saved = sorted((tmp_path / "out").iterdir())
    assert [path.name for path in saved] == ["portrait-77-1.png", "portrait-77-2.png"]
    assert Image.open(io.BytesIO(saved[0].read_bytes())).size == (512, 640)
    assert "uploading the selfie" in out and "downloading the images" in out
    assert "Seed: 77" in out and "Samaritan" in out
    assert wiro.calls["/Tool/Detail"] == 1  # the catalog was refreshed from Wiro
    assert wiro.runs[0]["prompt"].startswith("a pirate captain")
    assert KEY not in out + err and SECRET not in out + err


async def test_generate_takes_the_inputs_discord_does_not_offer_yet(wiro, tmp_path):
    (tmp_path / "me.jpg").write_bytes(selfie_jpeg())
    code, _, err = await generate(
        tmp_path, wiro.base_url,
        "--selfie", "me.jpg", "--out", "out", "--private-model", "9001",
        "--lora-url", "https://example.com/styles/ink.safetensors",
    )  # fmt: skip
    assert code == 0, err
    run = wiro.runs[0]
    assert run["selectedModelPrivate"] == "9001"
    assert run["selectedLoraModelPrivateUrl"] == "https://example.com/styles/ink.safetensors"


async def test_a_bad_selfie_costs_nothing(wiro, tmp_path):
    (tmp_path / "notes.jpg").write_bytes(b"this is not a photo")
    code, _, err = await generate(tmp_path, wiro.base_url, "--selfie", "notes.jpg", "--out", "o")
    assert code == 2
    assert "isn't an image" in err
    assert wiro.calls["/File/Upload"] == 0 and wiro.calls["/Run/wiro/instant-id-lora"] == 0


async def test_wrong_keys_are_reported_plainly(wiro, tmp_path):
    (tmp_path / "me.jpg").write_bytes(selfie_jpeg())
    code, _, err = await generate(
        tmp_path, wiro.base_url, "--selfie", "me.jpg", "--out", "o", secret="wrong-secret-0000"
    )
    assert code == 1
    assert "refused the bot's API keys" in err
    assert "Traceback" not in err and "wrong-secret-0000" not in err


def nothing_spent(wiro) -> bool:
    return wiro.calls["/File/Upload"] == 0 and wiro.calls["/Run/wiro/instant-id-lora"] == 0


async def test_the_files_at_wiro_are_deleted_after_saving(wiro, tmp_path):
    (tmp_path / "me.jpg").write_bytes(selfie_jpeg())
    code, _, err = await generate(tmp_path, wiro.base_url, "--selfie", "me.jpg", "--out", "o")
    assert code == 0, err
    assert len(list((tmp_path / "o").iterdir())) == 1
    assert wiro.calls["/Task/InputOutputDelete"] == 1
    assert wiro.task().files_deleted
    assert not wiro.files  # the uploaded selfie is gone from Wiro's storage


async def test_files_are_kept_at_wiro_when_the_owner_says_so(wiro, tmp_path):
    (tmp_path / "me.jpg").write_bytes(selfie_jpeg())
    code, _, err = await generate(
        tmp_path, wiro.base_url, "--selfie", "me.jpg", "--out", "o", DELETE_WIRO_FILES="false"
    )
    assert code == 0, err
    assert wiro.calls["/Task/InputOutputDelete"] == 0


async def test_the_files_of_a_failed_task_are_deleted_too(wiro, tmp_path):
    wiro.scenario.outcome = "fail"
    (tmp_path / "me.jpg").write_bytes(selfie_jpeg())
    code, _, _ = await generate(tmp_path, wiro.base_url, "--selfie", "me.jpg", "--out", "o")
    assert code == 1
    assert wiro.calls["/Task/InputOutputDelete"] == 1


async def test_a_failed_delete_is_only_a_warning(wiro, tmp_path):
    wiro.fail("/Task/InputOutputDelete", status=400, times=10)
    (tmp_path / "me.jpg").write_bytes(selfie_jpeg())
    code, _, err = await generate(tmp_path, wiro.base_url, "--selfie", "me.jpg", "--out", "o")
    assert code == 0, err
    assert len(list((tmp_path / "o").iterdir())) == 1
    assert "Could not delete the files of Wiro task" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("kind", ["a file", "under /proc"])
async def test_an_output_folder_that_cannot_be_written_is_refused_before_anything_is_spent(
    wiro, tmp_path, kind
):
    (tmp_path / "me.jpg").write_bytes(selfie_jpeg())
    if kind == "a file":
        (tmp_path / "taken").write_text("not a folder")
        out, reason = "taken", "it is a file, not a folder"
    else:
        out, reason = "/proc/x/out", ""
    code, stdout, err = await generate(tmp_path, wiro.base_url, "--selfie", "me.jpg", "--out", out)
    assert code == 2
    assert f"Cannot save images in {out}: {reason}" in err
    assert "Nothing was sent to Wiro" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and stdout == ""
    assert nothing_spent(wiro)


async def test_the_output_folder_and_its_parents_are_created_first(wiro, tmp_path):
    (tmp_path / "me.jpg").write_bytes(selfie_jpeg())
    code, _, err = await generate(
        tmp_path, wiro.base_url, "--selfie", "me.jpg", "--out", "a/b/c", "--seed", "5"
    )
    assert code == 0, err
    assert [p.name for p in (tmp_path / "a/b/c").iterdir()] == ["portrait-5-1.png"]


async def test_a_save_that_still_fails_keeps_the_images_in_a_temporary_folder(wiro, tmp_path):
    (tmp_path / "me.jpg").write_bytes(selfie_jpeg())
    (tmp_path / "o" / "portrait-9-1.png").mkdir(parents=True)  # the image's name is taken
    temp = tmp_path / "temp"
    temp.mkdir()
    code, _, err = await generate(
        tmp_path, wiro.base_url, "--selfie", "me.jpg", "--out", "o", "--seed", "9",
        TMPDIR=str(temp),
    )  # fmt: skip
    assert code == 1
    (fallback,) = temp.iterdir()
    assert fallback.name.startswith("portrait-")
    assert f"they were saved in {fallback}" in err and "Traceback" not in err
    saved = fallback / "portrait-9-1.png"
    assert Image.open(saved).size == (512, 640)
    assert wiro.calls["/Task/InputOutputDelete"] == 1  # the images are safe on disk


@pytest.mark.parametrize(
    ("option", "value", "what"),
    [
        ("--prompt", b"a caf\xe9 portrait", "a byte that is not UTF-8"),
        ("--negative-prompt", b"blurry \xff", "a byte that is not UTF-8"),
        ("--model", b"dream\xc3", "a byte that is not UTF-8"),
        ("--prompt", "bell\x07 ringing", "a control character (U+0007)"),
        ("--prompt", "escape \x1b[31m red", "a control character (U+001B)"),
    ],
)
async def test_text_that_is_not_valid_is_refused_before_anything_is_spent(
    wiro, tmp_path, option, value, what
):
    (tmp_path / "me.jpg").write_bytes(selfie_jpeg())
    code, stdout, err = await generate(
        tmp_path, wiro.base_url, "--selfie", "me.jpg", "--out", "o", option, value,
        LC_ALL="C.UTF-8",
    )  # fmt: skip
    assert code == 2, err
    assert err.startswith(f"Error: {option} is not valid text: {what}")
    assert "Nothing was sent to Wiro" in err and "Traceback" not in err
    assert nothing_spent(wiro) and wiro.calls["/Tool/Detail"] == 0
    assert not (tmp_path / "o").exists() and stdout == ""


async def test_a_prompt_on_several_lines_is_fine(wiro, tmp_path):
    (tmp_path / "me.jpg").write_bytes(selfie_jpeg())
    code, _, err = await generate(
        tmp_path, wiro.base_url, "--selfie", "me.jpg", "--out", "o", "--prompt", "a knight,\n\toil"
    )
    assert code == 0, err
    assert wiro.runs[0]["prompt"].startswith("a knight,")


def one_line_refusal(code: int, stdout: str, err: str) -> str:
    assert code == 2, err
    assert "Traceback" not in err and stdout == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


async def test_a_huge_selfie_is_refused_by_its_size_without_being_read(wiro, tmp_path):
    # Sparse: 6 GB on paper, nothing on disk. Reading it whole would take the memory.
    (tmp_path / "huge.jpg").touch()
    os.truncate(tmp_path / "huge.jpg", 6 * 1024**3)
    result = await generate(
        tmp_path, wiro.base_url, "--selfie", "huge.jpg", "--out", "o", SELFIE_MAX_MB="2"
    )
    line = one_line_refusal(*result)
    assert line == "Error: That image is 6144.0 MB; the limit is 2 MB."
    assert nothing_spent(wiro)


async def test_a_selfie_just_over_the_limit_is_refused(wiro, tmp_path):
    (tmp_path / "big.jpg").write_bytes(selfie_jpeg() + b"\0" * (1024 * 1024))
    result = await generate(
        tmp_path, wiro.base_url, "--selfie", "big.jpg", "--out", "o", SELFIE_MAX_MB="1"
    )
    assert "MB; the limit is 1 MB." in one_line_refusal(*result)
    assert nothing_spent(wiro)


@pytest.mark.parametrize("kind", ["a character device", "a FIFO", "a folder"])
async def test_a_selfie_that_is_not_a_regular_file_is_refused_unread(wiro, tmp_path, kind):
    # Never /dev/zero here: before the fix it was read until the memory ran out.
    if kind == "a character device":
        selfie = "/dev/null"
    elif kind == "a FIFO":
        selfie = str(tmp_path / "pipe.jpg")
        os.mkfifo(selfie)  # opening it to read would wait for a writer forever
    else:
        selfie = str(tmp_path)
    result = await generate(tmp_path, wiro.base_url, "--selfie", selfie, "--out", "o")
    line = one_line_refusal(*result)
    assert line.startswith(f"Error: --selfie must be a regular file; {selfie} is ")
    assert nothing_spent(wiro)


@pytest.mark.parametrize("out", ["x" * 300, "a/" + "y" * 300 + "/b", "/proc/self/x"])
async def test_any_output_folder_error_is_one_line_and_costs_nothing(wiro, tmp_path, out):
    (tmp_path / "me.jpg").write_bytes(selfie_jpeg())
    result = await generate(tmp_path, wiro.base_url, "--selfie", "me.jpg", "--out", out)
    line = one_line_refusal(*result)
    assert line.startswith(f"Error: Cannot save images in {out}: ")
    assert line.endswith("Nothing was sent to Wiro.")
    assert nothing_spent(wiro)
