"""An asyncio client for Wiro's REST API, shaped for ``wiro/instant-id-lora``.

One :class:`WiroClient` per process, built at startup and closed at shutdown::

    async with WiroClient(api_key=key, api_secret=secret) as wiro:
        upload = await wiro.upload_file(jpeg, filename="selfie.jpg", content_type="image/jpeg")
        ref = await wiro.run({"inputImageUrl": upload.url, "prompt": "..."})
        task = await wiro.wait(ref, on_change=show_progress)
        png = await wiro.download(task.outputs[0].url)

Every API call is a signed ``POST`` with a JSON body (``/File/Upload`` is
multipart). Idempotent calls are retried with jittered exponential backoff on
HTTP 408/429/5xx and connection errors (429 honours Retry-After); ``run`` and
``upload_file`` are billable or create state and are never repeated.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from types import TracebackType
from typing import Self, TypeVar

import aiohttp
from aiohttp.abc import AbstractResolver
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from .envelope import parse_response
from .errors import (
    WiroAuthError,
    WiroConnectionError,
    WiroError,
    WiroNotFound,
    WiroRateLimited,
    WiroServerError,
)
from .outputs import OutputHosts, fetch_output, guarded_session
from .pacing import TaskForecast
from .signing import auth_headers, skip_nonces
from .socket import WiroSocket
from .task import Task, TaskRef, UploadedFile
from .waiting import (
    DEFAULT_FAILURE_BUDGET,
    EndTiming,
    OnChange,
    OnProgress,
    PollSchedule,
    wait_for_task,
    watch_task,
)

__all__ = ["DEFAULT_BASE_URL", "TOOL_SLUG", "WiroClient"]

log = logging.getLogger(__name__)

TOOL_SLUG = "wiro/instant-id-lora"
DEFAULT_BASE_URL = "https://api.wiro.ai/v1"

_T = TypeVar("_T")


# Sends of one call while Wiro refuses its signature (a nonce out of order: see
# `_post_fresh_nonce`).
SIGNATURE_ATTEMPTS = 3


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, (WiroConnectionError, WiroRateLimited)):
        return True
    return isinstance(exc, WiroServerError) and (exc.http_status or 0) >= 500


class WiroClient:
    """Wiro REST client. Holds credentials privately; its repr never shows them.

    Parameters beyond the documented ones: ``retry_base_delay`` (first backoff,
    doubled per attempt up to ``retry_max_delay``, times a 0.8-1.2 jitter) and
    ``max_retry_after`` (the cap on a server's Retry-After). ``output_hosts`` says
    which hosts ``download()`` may fetch from (default: ``base_url``'s host and
    ``*.wiro.ai``, see :mod:`bot.core.wiro.outputs`); ``output_resolver`` resolves their
    names before that check (default: the system's resolver; tests map names with it).
    """

    def __init__(
        self,
        *,
        api_key: str,
        api_secret: str = "",
        base_url: str = DEFAULT_BASE_URL,
        session: aiohttp.ClientSession | None = None,
        request_timeout: float = 30.0,
        retry_attempts: int = 3,
        poll_schedule: PollSchedule | None = None,
        retry_base_delay: float = 0.5,
        retry_max_delay: float = 8.0,
        max_retry_after: float = 60.0,
        output_hosts: OutputHosts | None = None,
        output_resolver: AbstractResolver | None = None,
    ) -> None:
        if not api_key:
            raise ValueError("api_key is required")
        self.__api_key = api_key
        self.__api_secret = api_secret
        self.base_url = base_url.rstrip("/")
        self._session = session
        self._owns_session = session is None
        self.request_timeout = request_timeout
        self.retry_attempts = max(1, retry_attempts)
        self.poll_schedule = poll_schedule or PollSchedule()
        self.retry_base_delay = retry_base_delay
        self.retry_max_delay = retry_max_delay
        self.max_retry_after = max_retry_after
        self.output_hosts = output_hosts or OutputHosts.from_settings(self.base_url)
        self._output_resolver = output_resolver
        self._download_session: aiohttp.ClientSession | None = None
        # Told of every API call's path and error (None: it succeeded): the metrics.
        self.call_observer: Callable[[str, WiroError | None], None] | None = None

    def __repr__(self) -> str:
        mode = "signature" if self.__api_secret else "api-key-only"
        return f"WiroClient(base_url={self.base_url!r}, auth={mode!r})"

    @property
    def signed(self) -> bool:
        """True for signature-based projects, False for API-key-only ones."""
        return bool(self.__api_secret)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the HTTP session if this client created it, and the downloads' session."""
        if self._download_session is not None:
            await self._download_session.close()
            self._download_session = None
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    # -- API calls ---------------------------------------------------------------------------

    async def upload_file(self, data: bytes, *, filename: str, content_type: str) -> UploadedFile:
        """Store a file on Wiro (``/File/Upload``); its public URL can go in ``inputImageUrl``."""

        def form() -> aiohttp.FormData:
            body = aiohttp.FormData()
            body.add_field("file", data, filename=filename, content_type=content_type)
            return body

        payload = await self._call("/File/Upload", form=form, idempotent=False)
        items = payload.get("list")
        if not isinstance(items, list) or not items or not isinstance(items[0], Mapping):
            raise WiroServerError("POST /File/Upload: response has no file in 'list'")
        uploaded = UploadedFile.from_api(items[0])
        if not uploaded.url:
            raise WiroServerError("POST /File/Upload: uploaded file has no URL")
        return uploaded

    async def run(self, fields: Mapping[str, object], *, tool: str = TOOL_SLUG) -> TaskRef:
        """Start a task (``/Run/{tool}``). Billable: never retried automatically."""
        path = f"/Run/{tool.strip('/')}"
        payload = await self._call(path, json=dict(fields), idempotent=False)
        task_id = payload.get("taskid")
        token = payload.get("socketaccesstoken")
        if not task_id or not token:
            raise WiroServerError(f"POST {path}: response lacks taskid or socketaccesstoken")
        return TaskRef(task_id=str(task_id), socket_token=str(token))

    async def task_detail(self, ref: TaskRef | str) -> Task:
        """The task's current state, by :class:`TaskRef` or socket access token."""
        token = ref.socket_token if isinstance(ref, TaskRef) else ref
        payload = await self._call("/Task/Detail", json={"tasktoken": token})
        tasks = payload.get("tasklist")
        if isinstance(tasks, list) and not tasks:
            raise WiroNotFound("POST /Task/Detail: no task in the response")
        if not isinstance(tasks, list) or not isinstance(tasks[0], Mapping):
            # A garbled answer, not a word on the task: transient, like a 5xx.
            raise WiroServerError("POST /Task/Detail: malformed 'tasklist' in the response")
        return Task.from_api(tasks[0])

    async def cancel(self, task_id: str) -> None:
        """Cancel a task that is still queued (code 1 / :class:`WiroNotFound` otherwise)."""
        await self._call("/Task/Cancel", json={"taskid": task_id})

    async def kill(self, socket_token: str) -> None:
        """Stop a running task; it ends in ``task_cancel``."""
        await self._call("/Task/Kill", json={"socketaccesstoken": socket_token})

    async def abort(self, ref: TaskRef) -> None:
        """Cancel the task if still queued, otherwise kill it."""
        try:
            await self.cancel(ref.task_id)
        except WiroNotFound as exc:
            log.debug("Cancel of task %s refused (%s); killing it", ref.task_id, exc.message)
            await self.kill(ref.socket_token)

    async def tool_detail(
        self, owner: str = "wiro", project: str = "instant-id-lora"
    ) -> dict[str, object]:
        """The tool's description: ``parameters`` groups, options, pricing (``tool[0]``)."""
        payload = await self._call(
            "/Tool/Detail", json={"slugowner": owner, "slugproject": project}
        )
        tools = payload.get("tool")
        if not isinstance(tools, list) or not tools or not isinstance(tools[0], dict):
            raise WiroNotFound(f"POST /Tool/Detail: no tool {owner}/{project} in the response")
        return tools[0]

    async def delete_inputs_outputs(self, socket_token: str) -> None:
        """Delete a finished task's input and output files from Wiro's storage."""
        await self._call("/Task/InputOutputDelete", json={"tasktoken": socket_token})

    async def list_tasks(self, *, limit: int = 20, model_name: str | None = None) -> list[Task]:
        """The most recent tasks of this project, newest first."""
        body: dict[str, object] = {
            "type": "model",
            "sort": "id",
            "order": "DESC",
            "start": "0",
            "limit": str(limit),
        }
        if model_name:
            body["modelName"] = model_name
        payload = await self._call("/Task/List", json=body)
        tasks = payload.get("tasklist")
        if tasks is None:
            tasks = payload.get("list")
        if not isinstance(tasks, list):
            return []
        return [Task.from_api(item) for item in tasks if isinstance(item, Mapping)]

    # -- following a task --------------------------------------------------------------------

    async def wait(
        self,
        ref: TaskRef,
        *,
        timeout: float = 600.0,  # noqa: ASYNC109 - the public interface: an overall deadline
        error_grace: float = 150.0,
        on_change: OnChange | None = None,
        socket: WiroSocket | None = None,
        on_progress: OnProgress | None = None,
        failure_budget: float = DEFAULT_FAILURE_BUDGET,
        forecast: TaskForecast | None = None,
        started_ago: float = 0.0,
        timing: EndTiming | None = None,
    ) -> Task:
        """Poll until the task succeeds and return it (see :mod:`bot.core.wiro.waiting`).

        With ``socket`` (a shared :class:`WiroSocket`) the task is also followed over
        Wiro's WebSocket; ``on_progress`` gets each new generation progress;
        ``failure_budget``: seconds of failed polls in a row before giving up;
        ``forecast``: the task's expected length, which the poll plan centres on;
        ``started_ago``: seconds the task has run already (a resumed wait polls at once);
        ``timing``: filled in with when the end was seen."""
        return await wait_for_task(
            self.task_detail,
            ref,
            schedule=self.poll_schedule,
            timeout=timeout,
            error_grace=error_grace,
            on_change=on_change,
            failure_budget=failure_budget,
            socket=socket,
            on_progress=on_progress,
            forecast=forecast,
            started_ago=started_ago,
            timing=timing,
        )

    def watch(
        self,
        ref: TaskRef,
        *,
        timeout: float = 600.0,
        error_grace: float = 150.0,
        socket: WiroSocket | None = None,
        on_progress: OnProgress | None = None,
        failure_budget: float = DEFAULT_FAILURE_BUDGET,
        forecast: TaskForecast | None = None,
    ) -> AsyncIterator[Task]:
        """Iterate over the task's changes; the last item has succeeded, else it raises."""
        return watch_task(
            self.task_detail,
            ref,
            schedule=self.poll_schedule,
            timeout=timeout,
            error_grace=error_grace,
            failure_budget=failure_budget,
            socket=socket,
            on_progress=on_progress,
            forecast=forecast,
        )

    async def download(self, url: str, *, max_bytes: int = 50 * 1024 * 1024) -> bytes:
        """Fetch an output file from one of Wiro's hosts (:mod:`bot.core.wiro.outputs`). Sends no
        credentials; retried like other idempotent calls. Raises
        :class:`~bot.core.wiro.outputs.OutputRefused` for a URL outside Wiro's hosts."""
        self.output_hosts.check_url(url)
        if self._download_session is None or self._download_session.closed:
            self._download_session = guarded_session(self.output_hosts, self._output_resolver)
        session = self._download_session
        return await self._retrying(
            lambda: fetch_output(
                session, self.output_hosts, url, max_bytes=max_bytes, timeout=self.request_timeout
            )
        )

    # -- plumbing ----------------------------------------------------------------------------

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            if not self._owns_session:
                raise WiroError("the aiohttp session given to WiroClient is closed")
            self._session = aiohttp.ClientSession()
        return self._session

    async def _call(
        self,
        path: str,
        *,
        json: Mapping[str, object] | None = None,
        form: Callable[[], aiohttp.FormData] | None = None,
        idempotent: bool = True,
    ) -> dict[str, object]:
        if not idempotent:
            return await self._post_fresh_nonce(path, json=json, form=form)
        return await self._retrying(lambda: self._post_fresh_nonce(path, json=json, form=form))

    async def _post_fresh_nonce(
        self,
        path: str,
        *,
        json: Mapping[str, object] | None,
        form: Callable[[], aiohttp.FormData] | None,
    ) -> dict[str, object]:
        """One POST; again with a new nonce (up to `SIGNATURE_ATTEMPTS` in all, a few
        milliseconds apart) while the signature is refused.

        Concurrent requests on separate connections, or from several bot processes sharing the
        key, can reach Wiro out of nonce order, and Wiro does not publish its nonce rule. A
        refused signature means Wiro did nothing, so even a billable call is safe to send
        again; a really wrong secret fails every time."""
        for attempt in range(1, SIGNATURE_ATTEMPTS + 1):
            try:
                return await self._post_once(path, json=json, form=form)
            except WiroAuthError as error:
                if not (self.__api_secret and "not valid" in error.message):
                    raise
                if attempt == SIGNATURE_ATTEMPTS:
                    raise
                log.info("Wiro refused a signature on %s; again with a new nonce", path)
                skip_nonces(random.randint(1, 100))  # out of step with another process
                await asyncio.sleep(random.uniform(0.005, 0.05))
        raise AssertionError("unreachable")  # pragma: no cover

    async def _retrying(self, attempt_once: Callable[[], Awaitable[_T]]) -> _T:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.retry_attempts),
            wait=self._backoff,
            retry=retry_if_exception(_is_transient),
            before_sleep=self._log_retry,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await attempt_once()
        raise AssertionError("unreachable")  # pragma: no cover

    def _backoff(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, WiroRateLimited) and exc.retry_after is not None:
            return min(exc.retry_after, self.max_retry_after)
        base = self.retry_base_delay * 2 ** (state.attempt_number - 1)
        return min(base, self.retry_max_delay) * random.uniform(0.8, 1.2)

    def _log_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        delay = state.next_action.sleep if state.next_action else 0.0
        log.warning(
            "Wiro call failed (attempt %d/%d), retrying in %.2fs: %s",
            state.attempt_number,
            self.retry_attempts,
            delay,
            exc,
        )

    async def _post_once(
        self,
        path: str,
        *,
        json: Mapping[str, object] | None,
        form: Callable[[], aiohttp.FormData] | None,
    ) -> dict[str, object]:
        what = f"POST {path}"
        session = self._get_session()
        body = form() if form is not None else None
        headers = auth_headers(self.__api_key, self.__api_secret)
        started = time.perf_counter()
        try:
            async with session.post(
                self.base_url + path,
                json=None if body is not None else (json or {}),
                data=body,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.request_timeout),
                allow_redirects=False,
            ) as response:
                raw = await response.read()
                status = response.status
                response_headers = response.headers
        except (aiohttp.ClientError, TimeoutError) as exc:
            elapsed = (time.perf_counter() - started) * 1000
            log.debug("%s failed after %.0f ms: %s", what, elapsed, type(exc).__name__)
            error = WiroConnectionError(f"{what}: {_describe(exc)}")
            self._observe(path, error)
            raise error from exc
        log.debug("%s -> %d in %.0f ms", what, status, (time.perf_counter() - started) * 1000)
        try:
            answer = parse_response(status, raw, response_headers, what=what)
        except WiroError as error:
            self._observe(path, error)
            raise
        self._observe(path, None)
        return answer

    def _observe(self, path: str, error: WiroError | None) -> None:
        if self.call_observer is not None:
            self.call_observer(path, error)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "request timed out"
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
