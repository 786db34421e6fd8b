"""One portrait job through the one-shot pipeline (the dispatcher `generate` uses), over real
HTTP against the strict fake Wiro."""

import io

import pytest
from PIL import Image

from bot.core.catalog import Catalog
from bot.core.jobs import FailureReason, JobLimits, Phase, PortraitFailed
from bot.core.jobs.dispatcher import DispatchRules
from bot.core.jobs.oneshot import make_portrait
from bot.core.request.options import resolve_options
from bot.core.request.selfie import prepare_selfie
from bot.core.wiro import PollSchedule, WiroClient
from tests.fakewiro import FakeWiro
from tests.support.images import selfie_jpeg

CATALOG = Catalog.bundled()


@pytest.fixture
async def wiro():
    async with FakeWiro(api_key="job-key", api_secret="job-secret") as fake:
        yield fake


@pytest.fixture
async def client(wiro):
    async with WiroClient(
        api_key="job-key",
        api_secret="job-secret",
        base_url=wiro.base_url,
        poll_schedule=PollSchedule.constant(0.02),
        retry_base_delay=0.01,
    ) as client:
        yield client


@pytest.fixture
def selfie():
    return prepare_selfie(selfie_jpeg())


async def test_a_job_uploads_runs_and_downloads_every_sample(wiro, client, selfie):
    lora = CATALOG.loras[0]
    options = resolve_options(CATALOG, prompt="a knight", lora=lora.id, samples=2, seed=1234)
    phases: list[Phase] = []

    async def on_progress(progress):
        phases.append(progress.phase)

    kept_at_wiro = DispatchRules(delete_wiro_files=False)
    result = await make_portrait(
        client, CATALOG, options, selfie, rules=kept_at_wiro, on_progress=on_progress
    )

    assert [image.filename for image in result.images] == [
        "portrait-1234-1.png",
        "portrait-1234-2.png",
    ]
    for image in result.images:
        assert Image.open(io.BytesIO(image.data)).format == "PNG"
    assert phases[:2] == [Phase.UPLOADING, Phase.QUEUED]
    assert phases[-1] == Phase.DOWNLOADING
    assert len(phases) == len(set(phases))  # each phase reported once
    run = wiro.runs[0]
    assert run["inputImageUrl"] == wiro.uploads[0]["url"]
    (uploaded,) = wiro.files.values()
    assert uploaded[2] == selfie.data  # the prepared copy, not the member's original file
    assert run["seed"] == "1234"
    assert run["samples"] == 2
    assert run["selectedLoraModel"] == lora.id
    assert wiro.calls["/Run/wiro/instant-id-lora"] == 1


async def test_no_face_is_a_plain_reason(wiro, client, selfie):
    wiro.scenario.outcome = "fail"
    with pytest.raises(PortraitFailed) as caught:
        await make_portrait(client, CATALOG, resolve_options(CATALOG), selfie)
    assert caught.value.reason is FailureReason.NO_FACE


async def test_empty_balance_fails_before_any_task(wiro, client, selfie):
    wiro.scenario.run_error = "balance"
    with pytest.raises(PortraitFailed) as caught:
        await make_portrait(client, CATALOG, resolve_options(CATALOG), selfie)
    assert caught.value.reason is FailureReason.BALANCE
    assert caught.value.owner_should_act
    assert not wiro.tasks


async def test_a_hanging_task_is_stopped_at_wiro_after_the_timeout(wiro, client, selfie):
    wiro.scenario.outcome = "hang"
    with pytest.raises(PortraitFailed) as caught:
        await make_portrait(
            client,
            CATALOG,
            resolve_options(CATALOG),
            selfie,
            rules=DispatchRules(job_limits=JobLimits(timeout=0.5)),
        )
    assert caught.value.reason is FailureReason.TIMEOUT
    (task,) = wiro.tasks.values()
    assert task.status == "task_cancel"


async def test_a_cancelled_task_reads_as_cancelled(wiro, client, selfie):
    wiro.scenario.outcome = "cancel"
    with pytest.raises(PortraitFailed) as caught:
        await make_portrait(client, CATALOG, resolve_options(CATALOG), selfie)
    assert caught.value.reason is FailureReason.CANCELLED


async def test_outputs_that_cannot_be_downloaded_fail_clearly(wiro, client, selfie, monkeypatch):
    async def broken_download(url, **kwargs):
        from bot.core.wiro import WiroConnectionError

        raise WiroConnectionError("connection reset")

    monkeypatch.setattr(client, "download", broken_download)
    with pytest.raises(PortraitFailed) as caught:
        await make_portrait(client, CATALOG, resolve_options(CATALOG), selfie)
    assert caught.value.reason is FailureReason.UNAVAILABLE
    assert "couldn't download" in caught.value.message


async def test_a_job_that_gives_up_on_garbage_polls_stops_and_cleans_up_its_task(
    wiro, client, selfie
):
    wiro.scenario.duration = None  # the task would run forever
    wiro.fail("/Task/Detail", status=200, body="<html>502 Bad Gateway</html>", times=10_000)
    with pytest.raises(PortraitFailed) as caught:
        await make_portrait(
            client,
            CATALOG,
            resolve_options(CATALOG),
            selfie,
            rules=DispatchRules(job_limits=JobLimits(timeout=30, poll_failure_budget=0.3)),
        )
    assert caught.value.reason is FailureReason.UNAVAILABLE
    (task,) = wiro.tasks.values()
    assert task.status == "task_cancel"  # stopped at Wiro: Cancel (queued) or Kill
    assert wiro.calls["/Task/Cancel"] + wiro.calls["/Task/Kill"] >= 1


async def test_wiro_keeps_no_file_of_a_finished_job(wiro, client, selfie):
    await make_portrait(client, CATALOG, resolve_options(CATALOG), selfie)
    assert wiro.uploads and not wiro.files  # the selfie and the outputs are deleted at Wiro
