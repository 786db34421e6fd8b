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


async def generate(tmp_path, base_url, *args, secret=SECRET):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "WIRO_"))}
    env.update(
        PYTHONPATH=str(ROOT), WIRO_API_KEY=KEY, WIRO_API_SECRET=secret, WIRO_API_BASE=base_url
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "generate", *args,
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
