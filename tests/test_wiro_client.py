"""WiroClient calls over real HTTP against the fake Wiro (tests/fakewiro.py)."""

import asyncio
import io
import json
import logging
import time

import aiohttp
import pytest
from PIL import Image

from bot.core.wiro import (
    TOOL_SLUG,
    PollSchedule,
    TaskRef,
    UploadedFile,
    WiroAuthError,
    WiroClient,
    WiroConcurrencyLimit,
    WiroConnectionError,
    WiroError,
    WiroInsufficientBalance,
    WiroNotFound,
    WiroRateLimited,
    WiroServerError,
    WiroValidationError,
)
from bot.core.wiro.client import SIGNATURE_ATTEMPTS
from tests.fakewiro import RUN_PATH, FakeWiro

KEY, SECRET = "test-key", "test-secret"


def jpeg(size: tuple[int, int] = (96, 120)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 150, 120)).save(buffer, format="JPEG")
    return buffer.getvalue()


def make_client(wiro: FakeWiro, **overrides: object) -> WiroClient:
    settings: dict = {
        "api_key": wiro.api_key,
        "api_secret": wiro.api_secret,
        "base_url": wiro.base_url,
        "poll_schedule": PollSchedule.constant(0.01),
        "retry_base_delay": 0.001,
        "request_timeout": 5.0,
    }
    settings.update(overrides)
    return WiroClient(**settings)


@pytest.fixture
async def client(fake_wiro):
    fake_wiro.scenario.duration = 0.1
    async with make_client(fake_wiro) as client:
        yield client


FIELDS = {"prompt": "a knight in shining armour", "inputImageUrl": "https://example.com/me.jpg"}


# --- auth ---------------------------------------------------------------------------------


async def test_signed_requests_are_accepted(fake_wiro, client):
    details = await client.tool_detail()
    assert details["slugproject"] == "instant-id-lora"
    method, path, headers = fake_wiro.requests[-1]
    assert (method, path) == ("POST", "/Tool/Detail")
    assert headers["x-api-key"] == KEY
    assert headers["x-nonce"].isdigit()
    assert len(headers["x-signature"]) == 64
    assert headers["x-signature"] == headers["x-signature"].lower()


async def test_a_wrong_secret_is_an_auth_error_without_secrets_in_it(fake_wiro, caplog):
    caplog.set_level(logging.DEBUG, logger="bot.core.wiro")
    async with make_client(fake_wiro, api_secret="wrong-secret") as client:
        with pytest.raises(WiroAuthError) as caught:
            await client.tool_detail()
    error = caught.value
    assert error.http_status == 401
    assert error.code == 0
    assert "Project authorization is not valid." in error.message
    signature = fake_wiro.requests[-1][2]["x-signature"]
    for secret in ("wrong-secret", signature, KEY):
        assert secret not in str(error) and secret not in repr(error)
        assert secret not in caplog.text
    # A refused signature is sent again with a fresh nonce (it may only have been overtaken
    # by a concurrent request or another process); a wrong secret fails every time.
    assert fake_wiro.calls["/Tool/Detail"] == SIGNATURE_ATTEMPTS


async def test_a_signature_project_rejects_key_only_requests(fake_wiro):
    async with make_client(fake_wiro, api_secret="") as client:
        with pytest.raises(WiroAuthError, match="requires signature"):
            await client.tool_detail()


async def test_an_unknown_key_is_an_auth_error(fake_wiro):
    async with make_client(fake_wiro, api_key="someone-else") as client:
        with pytest.raises(WiroAuthError, match="not founded"):
            await client.tool_detail()


async def test_api_key_only_projects_send_only_the_key():
    async with FakeWiro(api_key="solo", api_secret="") as wiro, make_client(wiro) as client:
        await client.tool_detail()
        await client.tool_detail()
        for _method, _path, headers in wiro.requests:
            assert headers["x-api-key"] == "solo"
            assert "x-nonce" not in headers and "x-signature" not in headers
        assert "api-key-only" in repr(client)


async def test_repr_hides_credentials(client):
    text = repr(client)
    assert KEY not in text and SECRET not in text
    assert "signature" in text


async def test_concurrent_requests_get_unique_increasing_nonces(fake_wiro, client):
    ref = await client.run(FIELDS)
    fake_wiro.scenario.duration = None
    results = await asyncio.gather(*(client.task_detail(ref) for _ in range(60)))
    assert {task.id for task in results} == {ref.task_id}
    assert fake_wiro.auth_failures == 0  # the fake demands strictly increasing nonces
    nonces = [int(headers["x-nonce"]) for _m, _p, headers in fake_wiro.requests]
    assert len(set(nonces)) == len(nonces)


async def test_the_fake_rejects_a_replayed_nonce(fake_wiro, client):
    await client.tool_detail()
    replayed = {k: v for k, v in fake_wiro.requests[-1][2].items() if k.startswith("x-")}
    async with aiohttp.ClientSession() as session:
        response = await session.post(
            f"{fake_wiro.base_url}/Tool/Detail",
            json={"slugowner": "wiro", "slugproject": "instant-id-lora"},
            headers=replayed,
        )
        assert response.status == 401
        payload = await response.json()
    assert payload["errors"][0]["message"] == "Project authorization is not valid."


# --- typed errors from Run ----------------------------------------------------------------


@pytest.mark.parametrize("as_strings", [False, True], ids=["objects", "strings"])
@pytest.mark.parametrize(
    ("run_error", "kind", "code", "http_status"),
    [
        ("balance", WiroInsufficientBalance, 97, 200),
        ("concurrency", WiroConcurrencyLimit, 96, 200),
        ("validation", WiroValidationError, 0, 200),
        ("auth", WiroAuthError, 0, 401),
    ],
)
async def test_run_failures_become_typed_errors(
    fake_wiro, client, run_error, kind, code, http_status, as_strings
):
    fake_wiro.scenario.run_error = run_error
    fake_wiro.scenario.errors_as_strings = as_strings
    with pytest.raises(kind) as caught:
        await client.run(FIELDS)
    assert type(caught.value) is kind
    assert caught.value.code == (None if as_strings else code)
    assert caught.value.http_status == http_status
    # never repeated, except a refused signature: Wiro did nothing, a new nonce is safe
    assert fake_wiro.calls[RUN_PATH] == (SIGNATURE_ATTEMPTS if run_error == "auth" else 1)
    assert not fake_wiro.tasks


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"steps": "many"}, "Request parameter [steps] must be integer or float"),
        ({"steps": 20.5}, "Request parameter [steps] must be integer or float"),
        ({"samples": 9}, "Request parameter [samples] must be between 1 and 4"),
        (
            {"ip_adapter_scale": "2"},
            "Request parameter [ip_adapter_scale] must be between 0 and 1.5",
        ),
        (
            {"Diamond-Jewel-SDXL": 1.5},
            "Request parameter [Diamond-Jewel-SDXL] must be between 0 and 1",
        ),
        ({"prompt": "  "}, "Request parameter [prompt] required"),
        ({"inputImageUrl": ""}, "Request parameter [inputImageUrl] required"),
        ({"inputImageUrl": "selfie.jpg"}, "Request parameters are invalid."),
        ({"width": 512}, "Request parameters are invalid."),
        ({"selectedModel": "999999"}, "Request parameters are invalid."),
        ({"seed": "lucky"}, "Request parameter [seed] must be integer or float"),
    ],
)
async def test_the_fake_validates_run_fields_like_wiro(fake_wiro, client, changes, message):
    with pytest.raises(WiroValidationError) as caught:
        await client.run({**FIELDS, **changes})
    assert caught.value.message == message
    assert caught.value.code == 0


async def test_run_sends_json_and_returns_a_task_ref(fake_wiro, client):
    fields = {
        **FIELDS,
        "selectedModel": "850",
        "selectedLoraModel": "1170",
        "Diamond-Jewel-SDXL": 0.7,
        "negativePrompt": "blurry",
        "steps": 20,
        "scale": "5.0",
        "ip_adapter_scale": 0.8,
        "samples": 2,
        "seed": "3572004920",
        "scheduler": "EulerAncestralDiscreteScheduler",
    }
    ref = await client.run(fields)
    assert isinstance(ref, TaskRef)
    assert ref.task_id in fake_wiro.tasks
    assert fake_wiro.tasks[ref.task_id].token == ref.socket_token
    assert fake_wiro.runs == [fields]


# --- retries ------------------------------------------------------------------------------


async def test_server_errors_are_retried_for_reads(fake_wiro, client):
    ref = await client.run(FIELDS)
    fake_wiro.fail("/Task/Detail", status=503, times=2)
    task = await client.task_detail(ref)
    assert task.id == ref.task_id
    assert fake_wiro.calls["/Task/Detail"] == 3


async def test_retries_stop_after_retry_attempts(fake_wiro, client):
    fake_wiro.fail("/Tool/Detail", status=502, times=5)
    with pytest.raises(WiroServerError) as caught:
        await client.tool_detail()
    assert caught.value.http_status == 502
    assert fake_wiro.calls["/Tool/Detail"] == 3  # retry_attempts is the total


async def test_rate_limits_honour_retry_after(fake_wiro, client):
    fake_wiro.fail("/Tool/Detail", status=429, times=2, retry_after="0.2")
    started = time.monotonic()
    await client.tool_detail()
    assert fake_wiro.calls["/Tool/Detail"] == 3
    assert time.monotonic() - started >= 0.3  # two waits of 0.2 s, not the 1 ms backoff


async def test_rate_limit_errors_surface_after_the_last_attempt(fake_wiro, client):
    fake_wiro.fail("/Tool/Detail", status=429, times=3, retry_after="0.01")
    with pytest.raises(WiroRateLimited) as caught:
        await client.tool_detail()
    assert caught.value.retry_after == 0.01
    assert caught.value.http_status == 429


async def test_retry_after_is_capped(fake_wiro):
    fake_wiro.fail("/Tool/Detail", status=429, times=1, retry_after="3600")
    async with make_client(fake_wiro, max_retry_after=0.05) as client:
        started = time.monotonic()
        await client.tool_detail()
    assert time.monotonic() - started < 5


async def test_dropped_connections_are_retried_for_reads(fake_wiro, client):
    fake_wiro.fail("/Tool/Detail", drop=True, times=2)
    await client.tool_detail()
    assert fake_wiro.calls["/Tool/Detail"] == 3


async def test_a_slow_answer_is_a_connection_error(fake_wiro):
    fake_wiro.fail("/Tool/Detail", delay=2.0, times=1)
    async with make_client(fake_wiro, request_timeout=0.2, retry_attempts=1) as client:
        with pytest.raises(WiroConnectionError, match="timed out"):
            await client.tool_detail()


async def test_a_refused_connection_is_a_connection_error():
    async with WiroClient(
        api_key=KEY, api_secret=SECRET, base_url="http://127.0.0.1:9/v1", retry_attempts=1
    ) as client:
        with pytest.raises(WiroConnectionError):
            await client.tool_detail()


async def test_malformed_json_is_a_server_error_and_not_retried(fake_wiro, client):
    fake_wiro.fail("/Tool/Detail", status=200, body="<html>maintenance</html>")
    with pytest.raises(WiroServerError, match="malformed"):
        await client.tool_detail()
    assert fake_wiro.calls["/Tool/Detail"] == 1


@pytest.mark.parametrize(
    ("failure", "kind"),
    [
        ({"status": 503}, WiroServerError),
        ({"status": 429, "retry_after": "0"}, WiroRateLimited),
        ({"drop": True}, WiroConnectionError),
    ],
)
async def test_run_is_never_repeated(fake_wiro, client, failure, kind):
    fake_wiro.fail(RUN_PATH, **failure)
    with pytest.raises(kind):
        await client.run(FIELDS)
    assert fake_wiro.calls[RUN_PATH] == 1
    assert not fake_wiro.runs


@pytest.mark.parametrize(
    ("failure", "kind"),
    [({"status": 500}, WiroServerError), ({"drop": True}, WiroConnectionError)],
)
async def test_upload_is_never_repeated(fake_wiro, client, failure, kind):
    fake_wiro.fail("/File/Upload", **failure)
    with pytest.raises(kind):
        await client.upload_file(jpeg(), filename="me.jpg", content_type="image/jpeg")
    assert fake_wiro.calls["/File/Upload"] == 1
    assert not fake_wiro.uploads


# --- files --------------------------------------------------------------------------------


async def test_upload_returns_a_public_url_that_serves_the_bytes(fake_wiro, client):
    data = jpeg()
    uploaded = await client.upload_file(data, filename="me.jpg", content_type="image/jpeg")
    assert uploaded == UploadedFile(url=uploaded.url, name="me.jpg", size=len(data))
    assert uploaded.url.startswith(f"{fake_wiro.base_url}/File/")
    assert await client.download(uploaded.url) == data


async def test_upload_rejects_files_that_are_not_images(client):
    with pytest.raises(WiroValidationError):
        await client.upload_file(b"MZ\x90\x00", filename="me.exe", content_type="image/jpeg")


async def test_download_sends_no_credentials_and_is_retried(fake_wiro, client):
    ref = await client.run({**FIELDS, "samples": 2})
    task = await client.wait(ref, timeout=5)
    url = task.outputs[1].url
    path = url.removeprefix(fake_wiro.root_url)
    fake_wiro.fail(path, status=502, times=1)
    data = await client.download(url)
    assert Image.open(io.BytesIO(data)).size == (512, 640)
    assert fake_wiro.calls[path] == 2
    for method, seen_path, headers in fake_wiro.requests:
        if seen_path == path:
            assert method == "GET"
            assert not {"x-api-key", "x-nonce", "x-signature"} & {h.lower() for h in headers}


async def test_download_enforces_max_bytes(fake_wiro, client):
    task = await client.wait(await client.run(FIELDS), timeout=5)
    with pytest.raises(WiroError, match="over 1000"):
        await client.download(task.outputs[0].url, max_bytes=1000)


async def test_download_of_a_missing_file_is_not_found(fake_wiro, client):
    with pytest.raises(WiroNotFound):
        await client.download(f"{fake_wiro.root_url}/cdn/nope/0.png")
    assert fake_wiro.calls["/cdn/nope/0.png"] == 1


async def test_delete_inputs_outputs_removes_the_files(fake_wiro, client):
    uploaded = await client.upload_file(jpeg(), filename="me.jpg", content_type="image/jpeg")
    ref = await client.run({**FIELDS, "inputImageUrl": uploaded.url})
    task = await client.wait(ref, timeout=5)
    await client.delete_inputs_outputs(ref.socket_token)
    await client.delete_inputs_outputs(ref.socket_token)  # idempotent
    assert fake_wiro.bodies["/Task/InputOutputDelete"][0] == {"tasktoken": ref.socket_token}
    with pytest.raises(WiroNotFound):
        await client.download(task.outputs[0].url)
    with pytest.raises(WiroNotFound):
        await client.download(uploaded.url)


async def test_delete_inputs_outputs_refuses_running_tasks(fake_wiro, client):
    fake_wiro.scenario.duration = None
    ref = await client.run(FIELDS)
    with pytest.raises(WiroValidationError, match="must be completed"):
        await client.delete_inputs_outputs(ref.socket_token)


# --- task endpoints -----------------------------------------------------------------------


async def test_task_detail_by_ref_or_token(fake_wiro, client):
    fake_wiro.scenario.duration = None
    ref = await client.run(FIELDS)
    by_ref = await client.task_detail(ref)
    by_token = await client.task_detail(ref.socket_token)
    assert by_ref.status == by_token.status == "task_queue"
    assert fake_wiro.bodies["/Task/Detail"] == [{"tasktoken": ref.socket_token}] * 2


async def test_task_detail_of_an_unknown_task_is_not_found(fake_wiro, client):
    with pytest.raises(WiroNotFound) as caught:
        await client.task_detail("no-such-token")
    assert caught.value.code == 1
    fake_wiro.scenario.errors_as_strings = True
    with pytest.raises(WiroNotFound) as caught:
        await client.task_detail("no-such-token")
    assert caught.value.code is None


async def test_cancel_a_queued_task(fake_wiro, client):
    fake_wiro.scenario.duration = None
    ref = await client.run(FIELDS)
    await client.cancel(ref.task_id)
    assert fake_wiro.bodies["/Task/Cancel"] == [{"taskid": ref.task_id}]
    assert (await client.task_detail(ref)).status == "task_cancel"


async def test_cancel_refuses_a_started_task(fake_wiro, client):
    fake_wiro.scenario.duration = None
    ref = await client.run(FIELDS)
    fake_wiro.step(ref.task_id, 5)
    with pytest.raises(WiroNotFound, match="not in a cancellable state") as caught:
        await client.cancel(ref.task_id)
    assert caught.value.code == 1


async def test_kill_stops_a_running_task(fake_wiro, client):
    fake_wiro.scenario.outcome = "hang"
    ref = await client.run(FIELDS)
    await client.kill(ref.socket_token)
    assert fake_wiro.bodies["/Task/Kill"] == [{"socketaccesstoken": ref.socket_token}]
    assert fake_wiro.task(ref.task_id).status == "task_cancel"


async def test_abort_cancels_a_queued_task(fake_wiro, client):
    fake_wiro.scenario.duration = None
    ref = await client.run(FIELDS)
    await client.abort(ref)
    assert fake_wiro.task(ref.task_id).status == "task_cancel"
    assert fake_wiro.calls["/Task/Cancel"] == 1
    assert fake_wiro.calls["/Task/Kill"] == 0


async def test_abort_kills_a_task_that_can_no_longer_be_cancelled(fake_wiro, client):
    fake_wiro.scenario.duration = None
    ref = await client.run(FIELDS)
    fake_wiro.step(ref.task_id, 6)  # task_start
    await client.abort(ref)
    assert fake_wiro.task(ref.task_id).status == "task_cancel"
    assert fake_wiro.calls["/Task/Cancel"] == 1
    assert fake_wiro.calls["/Task/Kill"] == 1


async def test_list_tasks_newest_first(fake_wiro, client):
    fake_wiro.scenario.duration = None
    refs = [await client.run(FIELDS) for _ in range(3)]
    tasks = await client.list_tasks(limit=2, model_name="instant-id-lora")
    assert [t.id for t in tasks] == [refs[2].task_id, refs[1].task_id]
    assert fake_wiro.bodies["/Task/List"] == [
        {
            "type": "model",
            "sort": "id",
            "order": "DESC",
            "start": "0",
            "limit": "2",
            "modelName": "instant-id-lora",
        }
    ]
    assert await client.list_tasks(model_name="someone/else") == []


async def test_tool_detail_mirrors_the_tool_page(fake_wiro, client):
    tool = await client.tool_detail()
    assert fake_wiro.bodies["/Tool/Detail"] == [
        {"slugowner": "wiro", "slugproject": "instant-id-lora"}
    ]
    items = {item["id"]: item for group in tool["parameters"] for item in group["items"]}
    assert {"inputImageUrl", "prompt", "steps", "samples", "seed", "scheduler"} <= items.keys()
    assert items["prompt"]["required"] and items["inputImageUrl"]["required"]
    assert [o["value"] for o in items["selectedModel"]["options"]] == [
        "606",
        "1097",
        "966",
        "850",
        "927",
    ]
    lora = items["selectedLoraModel"]["options"][0]
    assert lora["generatesettings"][0]["id"] == "JJs-Interior-Style-Modern-v1.0-LoRA-XL"
    with pytest.raises(WiroNotFound):
        await client.tool_detail("wiro", "no-such-tool")


async def test_unknown_endpoints_are_not_found(client):
    with pytest.raises(WiroNotFound, match="Error parsing url") as caught:
        await client.run(FIELDS, tool="wiro/not-a-tool")
    assert caught.value.http_status == 404


async def test_requests_are_logged_at_debug_without_secrets(fake_wiro, client, caplog):
    caplog.set_level(logging.DEBUG, logger="bot.core.wiro")
    fake_wiro.fail("/Tool/Detail", status=503, times=1)
    await client.tool_detail()
    assert "POST /Tool/Detail -> 503" in caplog.text
    assert "POST /Tool/Detail -> 200" in caplog.text
    for _method, _path, headers in fake_wiro.requests:
        assert headers["x-signature"] not in caplog.text
    assert SECRET not in caplog.text and KEY not in caplog.text


async def test_a_given_session_is_used_and_left_open(fake_wiro):
    async with aiohttp.ClientSession() as session:
        async with make_client(fake_wiro, session=session) as client:
            await client.tool_detail()
        assert not session.closed


async def test_the_default_tool_slug():
    assert TOOL_SLUG == "wiro/instant-id-lora"


async def test_a_refused_signature_is_sent_again_once_with_a_new_nonce(fake_wiro):
    refused = json.dumps(
        {"result": False, "errors": [{"code": 0, "message": "Project authorization is not valid."}]}
    )
    fake_wiro.fail(RUN_PATH, status=401, body=refused)  # e.g. overtaken by a later nonce
    async with make_client(fake_wiro) as client:
        ref = await client.run(FIELDS)
    assert ref.task_id in fake_wiro.tasks
    assert fake_wiro.calls[RUN_PATH] == 2 and len(fake_wiro.runs) == 1
