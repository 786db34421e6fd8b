"""A strict fake of Wiro's REST API (``https://api.wiro.ai/v1``) on 127.0.0.1.

Our stand-in for the real service in tests and benchmarks. It follows
/work/shared/specs/wiro-api-facts.md and the tool page of
``wiro/instant-id-lora``, and it is deliberately picky so that client bugs show
up here rather than in production.

Usage::

    async with FakeWiro(api_key="k", api_secret="s") as wiro:
        client = WiroClient(api_key="k", api_secret="s", base_url=wiro.base_url)
        ...
        assert wiro.calls["/Run/wiro/instant-id-lora"] == 1
        assert wiro.runs[0]["prompt"] == "..."

What it checks on every ``POST``:

* auth headers exactly as the fact sheet says: ``x-api-key`` (unknown key: 401
  "Project authorization is not founded."); in signature mode ``x-nonce`` and
  ``x-signature`` (missing: 401 "Project requires signature authentication...";
  wrong: 401 "Project authorization is not valid."). ``api_secret=""`` gives an
  API-key-only project that needs ``x-api-key`` alone.
* nonces: integers, never reused, and strictly greater than the previous one
  (401 "Project authorization is not valid." otherwise). Concurrent requests
  on separate connections could in theory arrive out of order (on loopback with
  aiohttp they do not, in our measurements); a suite that sees this can pass
  ``nonce_reorder_window_ms=N`` to accept a lower, never-used nonce within N ms
  of the highest one seen.
* JSON bodies (``application/json``) for everything but ``/File/Upload``.

Endpoints (all ``POST`` under ``/v1`` unless noted):

* ``/File/Upload``: multipart with a ``file`` part that Pillow can decode;
  answers ``{"result", "errors", "list": [{id, name, contenttype, size,
  parentid, url, addedtime, accesskey}]}``; the url is
  ``{base_url}/File/<accesskey>/<name>``, served by ``GET`` without auth.
* ``/Run/wiro/instant-id-lora``: checks field names against the tool's inputs
  (plus LoRA scale fields named by a known LoRA ``generatesettings`` id, see
  ``lora_scale_ids``) and types/ranges with Wiro's message formats
  ("Request parameter [steps] must be integer or float", "... must be between
  1 and 100", "Request parameter [prompt] required", "Request parameters are
  invalid."). Accepted runs are recorded in ``wiro.runs``. Ranges (Wiro's are
  not public, these are our choice): steps 1-100, scale 0-20,
  ip_adapter_scale 0-1.5, samples 1-4, LoRA scales 0-1.
* ``/Task/Detail`` (``tasktoken`` or ``taskid``), ``/Task/Cancel`` (``taskid``
  only; only in ``task_queue``, else code 1 "Task is not in a cancellable
  state."), ``/Task/Kill`` (``socketaccesstoken`` or ``taskid``; the task moves
  to ``task_cancel``), ``/Task/InputOutputDelete`` (``tasktoken``; terminal
  tasks only), ``/Task/List``, ``/Tool/Detail``.
* anything else: HTTP 404 with code 0 "Error parsing url.".
* ``GET /cdn/<uuid>/<n>.png``: the outputs (real PNGs, 512x640 gradients with
  the sample index drawn), public like Wiro's CDN.

Task life cycle: ``task_queue → task_accept → task_preprocess_start →
task_preprocess_end → task_assign → task_start → task_output (×2, with a
tqdm-like progress line in ``debugoutput``) → task_output_full → task_end →
task_postprocess_start → task_postprocess_end``, driven by time (the whole run
takes ``Scenario.duration`` seconds, default 0.3) and/or stepped by hand:
``Scenario(duration=None)`` freezes tasks until ``wiro.step(task_id)``; you can
also force a state with ``wiro.set_status(task_id, "task_error")``.

Scenarios: ``wiro.scenario`` (a mutable :class:`Scenario`) applies to the runs
that follow; failure injection applies to the next matching calls::

    wiro.scenario.run_error = "balance"        # code 97; also "concurrency" (96),
                                               # "validation" (code 0), "auth" (HTTP 401)
    wiro.scenario.errors_as_strings = True     # errors: ["Insufficient balance"]
    wiro.scenario.outcome = "fail"             # pexit "1", no outputs, InstantID's
                                               # no-face traceback in debugerror
    wiro.scenario.outcome = "cancel"           # ends in task_cancel
    wiro.scenario.outcome = "hang"             # stays in task_start forever
    wiro.scenario.outcome = "error"            # stays in persisted task_error
    wiro.scenario.timeline = ("task_queue", "task_error", "task_start", ...)  # any path
    wiro.scenario.duration = None              # manual stepping: wiro.step(task_id, 3)
    wiro.fail("/Task/Detail", status=503, times=2)                  # then normal again
    wiro.fail("/Task/Detail", status=429, times=2, retry_after="0.05")
    wiro.fail("*", drop=True)                  # next call of any endpoint: connection dropped
    wiro.fail("/Task/Detail", delay=1.0)       # answer late (request timeouts)
    wiro.fail("/Task/List", code=97, message="Insufficient balance")  # Wiro's error envelope
                                               # (HTTP 200, result false) with that code
    wiro.fail("/Tool/Detail", status=200, body="<html>")  # a malformed answer
    wiro.scenario.tool_labels = {"850": "x" * 5000}  # /Tool/Detail labels by option value
    wiro.fail("/cdn/<uuid>/0.png", status=502) # GETs of files and outputs too
    wiro.fail("/Task/Detail", status=200, body="<html>", seconds=1.0)  # for a while, not
                                               # a number of calls; failure.hits counts them
    # What a successful task names as its outputs (an untrusted upstream):
    wiro.scenario.extra_outputs = 2            # more files than `samples` asked for
    wiro.scenario.output_url = lambda url: url.replace("127.0.0.1", "localhost")
                                               # report another URL for each output (given
                                               # the fake's own CDN URL of it)
    wiro.redirect_url(target)                  # GET /redirect?to=<target>: a 302 to target
    wiro.scenario.output_body = lambda i: ("text/plain", b"hello")  # serve other bytes as
                                               # output i (still named "<i>.png")

WebSocket (fact sheet §5): ``GET /socket/v1`` upgraded, at ``wiro.socket_url``
(``ws://127.0.0.1:PORT/socket/v1``), no auth, like ``wss://socket.wiro.ai/v1``.
A client sends ``{"type": "task_info", "tasktoken": <socketaccesstoken>}`` text
frames (any number per connection; ``wiro.socket_received`` keeps them). For a
known token the fake then pushes every later status change of that task as it
happens (no replay of what happened before the subscription: whether Wiro
replays is unknown, so clients must poll once anyway), one message per status
of the timeline, ``{"type": <status>, "id", "tasktoken", "message", "result":
true}``; ``message`` is null, except ``task_error`` (the stderr text),
``task_postprocess_end`` (the outputs array; ``[]`` when the task failed) and
``task_output``: three progress messages per ``task_output`` status, spread
over it, with increasing ``percentage`` (16.7, 33.3, 50, 66.7, 83.3, 100 for
the usual two; the old format rounds them: "17", "33", ...),
``stepCurrent``/``stepTotal`` from ``steps`` and a decreasing
``remainingTime`` (as if the model ran at 1.5 it/s). Forced statuses
(``set_status``, Kill/Cancel) are pushed too. A subscription ends after
``task_postprocess_end``/``task_cancel``; the fake never closes a connection
by itself. An unknown token gets
``{"type": "error", "result": false, "message": "Task not found."}`` (no id;
what Wiro really sends is not documented); other frames are ignored. Knobs::

    wiro.scenario.socket = "ok"            # "silent": accepts and subscribes, never sends;
                                           # "refuse": HTTP 503 on the upgrade
    wiro.scenario.socket_format = "old"    # "new": adds success/terminal/exitCode, no tasktoken;
                                           # old sends numbers as strings and remainingTime
                                           # as "MM:SS", new as numbers and seconds
    wiro.scenario.socket_progress = "object"  # "text": task_output is a tqdm line instead
    wiro.socket_drop()                     # abort every open connection now
    await wiro.socket_push({...} or "junk" or b"bytes")  # send anything to every connection
    wiro.socket_connections, wiro.socket_subscriptions  # counters (accepted upgrades,
                                                        # accepted task_info frames)

``wiro.fail("*", ...)`` never hits the socket path; ``wiro.fail("/socket/v1",
status=503)`` does.

Constructor options: ``FakeWiro(api_key, api_secret, scenario=Scenario(...),
lora_scale_ids={...}, nonce_reorder_window_ms=0)``. The ``fake_wiro`` fixture in
tests/conftest.py gives one with ``api_key="test-key", api_secret="test-secret"``.

Counters and records: ``wiro.calls`` (a Counter by path without ``/v1``,
injected failures included), ``wiro.runs`` (accepted Run bodies),
``wiro.uploads``, ``wiro.files`` (accesskey → name, type, bytes), ``wiro.tasks``
(id → :class:`FakeTask`), ``wiro.bodies`` (path → JSON bodies received),
``wiro.requests`` (every request's method, path and headers, for asserting e.g.
that downloads carry no credentials), ``wiro.auth_failures``.

``/Tool/Detail`` shape (findings): Wiro-Docs ``markdown/models.md`` and
``markdown/model-parameters.md`` and Wiro-MCP ``src/types.ts`` show
``{"result": true, "errors": [], "tool": [{id, title, slugowner, slugproject,
cleanslugowner, cleanslugproject, description, image, computingtime, readme,
categories, parameters: [{title, subtitle?, items: [{id, type, label,
required, advanced?, default?, placeholder?, note?, description?, options?:
[{value, label, ...}]}]}], inspire, samples, tags, marketplace, onlymembers,
dynamicprice, cps?, approximatelycost?, averagepoint, taskstat, seotitle}]}``.
Items use ``id`` where the tool page says ``name``. The item fields ``help``,
option ``description``/``triggerwords``/``generatesettings`` are taken from the
tool page as printed there; no public sample shows numeric min/max for
``number``/``float`` items, so none are given. Prices here (``cps``,
``approximatelycost``) are made up.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
import itertools
import json
import math
import re
import secrets
import string
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import quote

from aiohttp import WSMsgType, web
from PIL import Image, ImageDraw, ImageFont, UnidentifiedImageError

__all__ = [
    "DEFAULT_LORA_SCALE_IDS",
    "NO_FACE_DEBUGERROR",
    "RANGES",
    "RUN_PATH",
    "SOCKET_PATH",
    "SUCCESS_TIMELINE",
    "Failure",
    "FakeTask",
    "FakeWiro",
    "Scenario",
    "tool_detail_object",
]

RUN_PATH = "/Run/wiro/instant-id-lora"
SOCKET_PATH = "/socket/v1"

SUCCESS_TIMELINE: tuple[str, ...] = (
    "task_queue",
    "task_accept",
    "task_preprocess_start",
    "task_preprocess_end",
    "task_assign",
    "task_start",
    "task_output",
    "task_output",
    "task_output_full",
    "task_end",
    "task_postprocess_start",
    "task_postprocess_end",
)
_CANCEL_TIMELINE = (*SUCCESS_TIMELINE[:6], "task_cancel")
_HANG_TIMELINE = SUCCESS_TIMELINE[:6]
_ERROR_TIMELINE = (*SUCCESS_TIMELINE[:3], "task_error")
_TERMINAL = frozenset({"task_postprocess_end", "task_cancel"})

NO_FACE_DEBUGERROR = """\
/usr/local/lib/python3.10/site-packages/insightface/utils/transform.py:68: FutureWarning: \
`rcond` parameter will change to the default of machine precision times ``max(M, N)``.
  P = np.linalg.lstsq(X_homo, Y)[0].T # Affine matrix. 3 x 4
Traceback (most recent call last):
  File "/app/predict.py", line 231, in <module>
    main()
  File "/app/predict.py", line 198, in main
    face_info = app.get(cv2.cvtColor(np.array(face_image), cv2.COLOR_RGB2BGR))
  File "/app/pipeline.py", line 87, in get_face_info
    raise Exception("Cannot find any face in the image! Please upload another person image")
    ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
Exception: Cannot find any face in the image! Please upload another person image
"""
_ERROR_DEBUGERROR = "Output folder creation failed"

Outcome = Literal["success", "fail", "cancel", "hang", "error"]
RunError = Literal["balance", "concurrency", "validation", "auth"]
SocketMode = Literal["ok", "silent", "refuse"]
SocketFormat = Literal["old", "new"]
SocketProgress = Literal["object", "text"]


# --- the tool, as its public page describes it ----------------------------------------------

_MODEL_OPTIONS = [
    ("606", "wangqixun/YamerMIX v8.0", "An instruction-based image editing model SDXL.", []),
    ("1097", "Coolreal/PureRealism-Mix-XL", "PureRealism Mix XL", []),
    ("966", "StableDiffusionVN/SDVN7-NijiStyleXL", "SDVN7-NijiStyleXL", ["niji style"]),
    ("850", "Lykon/DreamShaper-XL", "DreamShaper XL", []),
    ("927", "Hevok/Endjourney-XL", "Endjourney XL", []),
]
_LORA_OPTIONS = [
    (
        "540",
        "jjhuang/JJs Interior Style - Modern v1.0 - LoRA XL",
        "A text-to-image model with Stable Diffusion XL and Lora XL. The LoRA has a high "
        "capacity to generate interior design!",
        ["Modern Style"],
        "JJs-Interior-Style-Modern-v1.0-LoRA-XL",
        "0.5",
    ),
    (
        "1086",
        "PromptSharingSamaritan/Samaritan-3d-Cartoon-SDXL",
        "Samaritan 3d Cartoon SDXL",
        [],
        "Samaritan-3d-Cartoon-SDXL",
        "1.0",
    ),
    (
        "1170",
        "desertPixel/Diamond-Jewel-SDXL",
        "Diamond Jewel SDXL",
        ["damndjewl style"],
        "Diamond-Jewel-SDXL",
        "1.0",
    ),
    (
        "1375",
        "HailoKnight/Weapon-Dual-Pistols",
        "Weapon Dual Pistols",
        ["dual pistols"],
        "Weapon-Dual-Pistols",
        "1.0",
    ),
    (
        "1362",
        "RalFinger/Dissolve-Style-SDXL",
        "Dissolve Style SDXL",
        ["ral-dissolve"],
        "Dissolve-Style-SDXL",
        "1.0",
    ),
]
_SCHEDULERS = [
    "FlowMatchEulerDiscreteScheduler",
    "EulerDiscreteScheduler",
    "DDIMScheduler",
    "LMSDiscreteScheduler",
    "DPMSolverMultistepScheduler",
    "EulerDiscreteScheduler",
    "PNDMScheduler",
    "DDPMScheduler",
    "EulerAncestralDiscreteScheduler",
]
_DEFAULT_PROMPT = (
    "olympic athlete, standing, wearing olympics uniform, Paris background, photorealistic, "
    "realistic, embodies the spirit of victory, captured by the official Olympic Games "
    "photographer 2024, the image is framed through photographer Steve McCurry, 2015, used a "
    "classic 50mm lens and illuminated by the brilliance of stadium floodlights, realistic"
)
_DEFAULT_NEGATIVE = (
    "(lowres, low quality, worst quality:1.2), (text:1.2), watermark, (frame:1.2), deformed, "
    "ugly, deformed eyes, blur, out of focus, blurry, mutation, mutated arms, deformed cat, "
    "deformed, anthropomorphic cat, monochrome, 3d, drones, drone, nsfw"
)

DEFAULT_LORA_SCALE_IDS: frozenset[str] = frozenset(option[4] for option in _LORA_OPTIONS)
_MODEL_IDS = frozenset(option[0] for option in _MODEL_OPTIONS)
_LORA_IDS = frozenset(option[0] for option in _LORA_OPTIONS)

_INPUT_FIELDS = frozenset(
    {
        "selectedModel",
        "selectedModelPrivate",
        "selectedLoraModel",
        "selectedLoraModelPrivate",
        "selectedLoraModelPrivateUrl",
        "inputImageUrl",
        "prompt",
        "negativePrompt",
        "steps",
        "scale",
        "ip_adapter_scale",
        "samples",
        "seed",
        "scheduler",
        "callbackUrl",
        "projectid",
    }
)
RANGES: Mapping[str, tuple[float, float]] = {
    "steps": (1, 100),
    "scale": (0, 20),
    "ip_adapter_scale": (0, 1.5),
    "samples": (1, 4),
}
_LORA_SCALE_RANGE = (0.0, 1.0)


def _item(
    item_id: str,
    item_type: str,
    label: str,
    help_text: str,
    default: str,
    *,
    required: bool = False,
    advanced: bool = False,
    options: list[dict[str, object]] | None = None,
) -> dict[str, object]:
    item: dict[str, object] = {
        "id": item_id,
        "type": item_type,
        "label": label,
        "help": help_text,
        "default": default,
        "required": required,
        "advanced": advanced,
        "placeholder": "",
        "note": "",
    }
    if options is not None:
        item["options"] = options
    return item


def _lora_option(
    value: str, label: str, description: str, triggers: list[str], setting: str, default: str
) -> dict[str, object]:
    return {
        "value": value,
        "label": label,
        "description": description,
        "triggerwords": triggers,
        "generatesettings": [
            {
                "type": "float",
                "template": "",
                "id": setting,
                "placeholder": f"{setting} scale",
                "label": f"{setting} scale",
                "minvalue": "0.00",
                "maxvalue": "1",
                "value": default,
                "defaultvalue": default,
                "incrementby": "0.1",
                "options": [],
                "note": "",
            }
        ],
    }


def tool_detail_object(labels: Mapping[str, str] | None = None) -> dict[str, object]:
    """The ``tool[0]`` object ``/Tool/Detail`` returns for wiro/instant-id-lora; ``labels``
    replaces the label of the options with those values."""
    labels = labels or {}
    models = [
        {
            "value": v,
            "label": labels.get(v, lab),
            "description": d,
            "triggerwords": t,
            "generatesettings": [],
        }
        for v, lab, d, t in _MODEL_OPTIONS
    ]
    loras = [
        _lora_option(value, labels.get(value, label), *rest)
        for value, label, *rest in _LORA_OPTIONS
    ]
    schedulers = [{"value": name, "label": name} for name in _SCHEDULERS]
    items = [
        _item("selectedModel", "select", "select-model", "select-model-help", "", options=models),
        _item(
            "selectedModelPrivate",
            "select",
            "select-model-private",
            "select-model-private-help",
            "",
            options=[],
        ),
        _item(
            "selectedLoraModel",
            "select",
            "select-lora-model",
            "select-lora-model-help",
            "",
            options=loras,
        ),
        _item(
            "selectedLoraModelPrivate",
            "select",
            "select-lora-model-private",
            "select-lora-model-private-help",
            "",
            options=[],
        ),
        _item(
            "selectedLoraModelPrivateUrl",
            "text",
            "LoRA Model Url",
            "You can provide a direct URL to a LoRA model (.safetensors). We’ll apply it during "
            "generation. You can also use links from platforms like Google Drive, AWS S3, or any "
            "publicly accessible file host.",
            "",
        ),
        _item(
            "inputImageUrl", "text", "input-image-url", "input-image-url-help", "", required=True
        ),
        _item("prompt", "textarea", "prompt", "prompt-help", _DEFAULT_PROMPT, required=True),
        _item(
            "negativePrompt", "textarea", "negativeprompt", "negativeprompt-help", _DEFAULT_NEGATIVE
        ),
        _item("steps", "number", "inferencesteps", "inferencesteps-help", "20", advanced=True),
        _item("scale", "float", "guidancescale", "guidancescale-help", "5.0", advanced=True),
        _item(
            "ip_adapter_scale",
            "float",
            "ip_adapter_scale",
            "guidancescale-help",
            "0.8",
            advanced=True,
        ),
        _item("samples", "number", "samples", "guidancescale-help", "1", advanced=True),
        _item("seed", "text", "seed", "seed-help", "3572004920", advanced=True),
        _item(
            "scheduler",
            "select",
            "scheduler",
            "scheduler-help",
            "EulerAncestralDiscreteScheduler",
            advanced=True,
            options=schedulers,
        ),
    ]
    return {
        "id": "1148",
        "title": "InstantID LoRA",
        "slugowner": "wiro",
        "slugproject": "instant-id-lora",
        "cleanslugowner": "wiro",
        "cleanslugproject": "instant-id-lora",
        "description": "InstantID is a method to achieve ID-preserving generation with only "
        "single image.",
        "image": "https://cdn.wiro.ai/uploads/models/wiro-instant-id-cover.png",
        "computingtime": "20 seconds",
        "readme": "",
        "categories": ["tool", "image-to-image", "persistent"],
        "parameters": [{"title": "", "subtitle": "", "items": items}],
        "inspire": [],
        "samples": [],
        "tags": [],
        "marketplace": 1,
        "onlymembers": "1",
        "dynamicprice": None,
        "cps": "0.001",
        "approximatelycost": "0.0200",
        "averagepoint": "4.50",
        "commentcount": "0",
        "ratedusercount": "0",
        "taskstat": {"runcount": 0, "successcount": "0", "errorcount": "0", "lastruntime": "0"},
        "seotitle": "InstantID LoRA",
        "seodescription": None,
    }


# --- scenarios ----------------------------------------------------------------------------


@dataclass
class Scenario:
    """How the fake behaves for the runs that follow (mutable; set fields in tests)."""

    outcome: Outcome = "success"
    run_error: RunError | None = None
    errors_as_strings: bool = False
    duration: float | None = 0.3
    debug_error: str = NO_FACE_DEBUGERROR
    timeline: tuple[str, ...] | None = None
    socket: SocketMode = "ok"
    socket_format: SocketFormat = "old"
    socket_progress: SocketProgress = "object"
    # Labels /Tool/Detail gives instead of the usual ones, by option value (model or LoRA id):
    # Wiro's labels are external data of any length.
    tool_labels: dict[str, str] = field(default_factory=dict)
    extra_outputs: int = 0
    output_url: Callable[[str], str] | None = None
    output_body: Callable[[int], tuple[str, bytes]] | None = None


@dataclass
class Failure:
    """An injected failure for the next ``times`` calls of ``path`` (``"*"``: any path)."""

    path: str
    times: int = 1
    status: int | None = None
    retry_after: str | None = None
    drop: bool = False
    delay: float = 0.0
    body: str | None = None
    code: int | None = None  # Wiro's error code, in an HTTP 200 envelope with ``message``
    message: str = ""
    until: float | None = None  # monotonic time: active until then, whatever ``times`` says
    hits: int = 0  # calls it answered

    def active(self, now: float) -> bool:
        return now < self.until if self.until is not None else self.times > 0


_TIME_FIELDS = {
    "task_accept": "accepttime",
    "task_preprocess_start": "preprocessstarttime",
    "task_preprocess_end": "preprocessendtime",
    "task_assign": "assigntime",
    "task_start": "starttime",
    "task_end": "endtime",
    "task_postprocess_start": "postprocessstarttime",
    "task_postprocess_end": "postprocessendtime",
    "task_cancel": "canceltime",
}


@dataclass
class FakeTask:
    """One task inside the fake. ``status`` moves with time and :meth:`FakeWiro.step`."""

    id: str
    uuid: str
    token: str
    fields: dict[str, object]
    outcome: Outcome
    timeline: tuple[str, ...]
    duration: float | None
    debug_error: str
    created: float = field(default_factory=time.monotonic)
    created_unix: int = field(default_factory=lambda: int(time.time()))
    steps: int = 0
    forced: str | None = None
    seen: dict[str, int] = field(default_factory=dict)
    outputs: list[dict[str, object]] | None = None
    files_deleted: bool = False

    @property
    def samples(self) -> int:
        return int(float(str(self.fields.get("samples") or 1)))

    def index(self, now: float | None = None) -> int:
        return int(self.position(now))

    def position(self, now: float | None = None) -> float:
        """Where the task is on its timeline, with the fraction of the current status."""
        last = len(self.timeline) - 1
        by_time = 0.0
        if self.duration is not None:
            elapsed = (time.monotonic() if now is None else now) - self.created
            step = self.step_seconds
            by_time = float(last) if step <= 0 else elapsed / step
        return min(float(last), by_time + self.steps)

    @property
    def step_seconds(self) -> float:
        """How long one status lasts (0 for manual stepping or a one-status timeline)."""
        last = len(self.timeline) - 1
        if self.duration is None or not last:
            return 0.0
        return self.duration / last

    @property
    def status(self) -> str:
        return self.forced or self.timeline[self.index()]

    @property
    def is_terminal(self) -> bool:
        return self.status in _TERMINAL


@dataclass(frozen=True)
class _SocketItem:
    """One message of a task's socket stream, due once the task's position reaches ``due``."""

    due: float
    status: str
    percentage: float | None = None


def _socket_items(task: FakeTask) -> list[_SocketItem]:
    outputs = max(1, task.timeline.count("task_output"))
    items: list[_SocketItem] = []
    seen_outputs = 0
    for index, status in enumerate(task.timeline):
        if status != "task_output":
            items.append(_SocketItem(float(index), status))
            continue
        seen_outputs += 1
        for part in range(_PROGRESS_PER_OUTPUT):
            share = (seen_outputs - 1 + (part + 1) / _PROGRESS_PER_OUTPUT) / outputs
            due = index + part / _PROGRESS_PER_OUTPUT
            items.append(_SocketItem(due, status, round(100 * share, 1)))
    return items


@dataclass
class _SocketFollow:
    """One task followed on one socket connection."""

    task: FakeTask
    items: list[_SocketItem]
    sent: int = 0
    forced: str | None = None
    done: bool = False


@dataclass(eq=False)
class _SocketConnection:
    ws: web.WebSocketResponse
    request: web.Request
    follows: dict[str, _SocketFollow] = field(default_factory=dict)
    pusher: asyncio.Task[None] | None = None


_PROGRESS_PER_OUTPUT = 3
_SOCKET_TICK = 0.005
_MODEL_SPEED = 1.5  # it/s, for the progress messages' timings


def _clock(seconds: float) -> str:
    whole = max(0, round(seconds))
    return f"{whole // 60:02d}:{whole % 60:02d}"


# --- the server ---------------------------------------------------------------------------


def _png(index: int, width: int = 512, height: int = 640) -> bytes:
    vertical = Image.linear_gradient("L").resize((width, height))
    horizontal = Image.linear_gradient("L").rotate(90).resize((width, height))
    flat = Image.new("L", (width, height), (60 + 70 * index) % 256)
    image = Image.merge("RGB", (vertical, horizontal, flat))
    draw = ImageDraw.Draw(image)
    try:
        font: ImageFont.ImageFont | ImageFont.FreeTypeFont = ImageFont.load_default(size=160)
    except (TypeError, OSError):  # pragma: no cover - Pillow without FreeType
        font = ImageFont.load_default()
    draw.text((width // 2, height // 2), f"#{index}", fill="white", anchor="mm", font=font)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def _token(length: int = 30) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


def _is_http_url(value: object) -> bool:
    return isinstance(value, str) and re.match(r"^https?://[^\s/]+", value) is not None


def _param_text(value: object) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value)


def _number(value: object, *, integer: bool) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str) and value.strip():
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    if math.isnan(number) or math.isinf(number):
        return None
    if integer and not number.is_integer():
        return None
    return number


class FakeWiro:
    """See the module docstring."""

    def __init__(
        self,
        api_key: str = "test-key",
        api_secret: str = "test-secret",
        *,
        scenario: Scenario | None = None,
        lora_scale_ids: Iterable[str] = DEFAULT_LORA_SCALE_IDS,
        nonce_reorder_window_ms: int = 0,
        host: str = "127.0.0.1",
    ) -> None:
        self.api_key = api_key
        self.api_secret = api_secret
        self.scenario = scenario or Scenario()
        self.lora_scale_ids = frozenset(lora_scale_ids)
        self.nonce_reorder_window_ms = nonce_reorder_window_ms
        self.host = host
        self.calls: Counter[str] = Counter()
        self.runs: list[dict[str, object]] = []
        self.uploads: list[dict[str, object]] = []
        self.tasks: dict[str, FakeTask] = {}
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.bodies: defaultdict[str, list[dict[str, object]]] = defaultdict(list)
        self.failures: list[Failure] = []
        self.auth_failures = 0
        self.files: dict[str, tuple[str, str, bytes]] = {}  # accesskey -> name, type, bytes
        self.cdn: dict[str, tuple[str, bytes]] = {}  # "/cdn/<uuid>/<name>" -> type, bytes
        self._nonces: set[int] = set()
        self._max_nonce = 0
        self._ids = itertools.count(2221)
        self.socket_connections = 0
        self.socket_subscriptions = 0
        self.socket_received: list[str] = []
        self._sockets: set[_SocketConnection] = set()
        self._runner: web.AppRunner | None = None
        self.root_url = ""
        self.base_url = ""
        self.socket_url = ""

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> FakeWiro:
        app = web.Application(middlewares=[self._middleware], client_max_size=110 * 1024**2)
        post = {
            "/v1/File/Upload": self._upload,
            "/v1" + RUN_PATH: self._run,
            "/v1/Task/Detail": self._task_detail,
            "/v1/Task/Cancel": self._task_cancel,
            "/v1/Task/Kill": self._task_kill,
            "/v1/Task/InputOutputDelete": self._task_io_delete,
            "/v1/Task/List": self._task_list,
            "/v1/Tool/Detail": self._tool_detail,
        }
        for path, handler in post.items():
            app.router.add_post(path, handler)
        app.router.add_get("/v1/File/{accesskey}/{name}", self._get_file)
        app.router.add_get("/cdn/{uuid}/{name}", self._get_cdn)
        app.router.add_get("/redirect", self._redirect)
        app.router.add_get(SOCKET_PATH, self._socket)
        self._runner = web.AppRunner(
            app, access_log=None, shutdown_timeout=0.5, handler_cancellation=True
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.root_url = f"http://{self.host}:{port}"
        self.base_url = f"{self.root_url}/v1"
        self.socket_url = f"ws://{self.host}:{port}{SOCKET_PATH}"
        return self

    async def close(self) -> None:
        self.socket_drop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeWiro:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- test controls ----------------------------------------------------------------------

    def fail(
        self,
        path: str = "*",
        *,
        status: int | None = None,
        times: int = 1,
        retry_after: str | float | None = None,
        drop: bool = False,
        delay: float = 0.0,
        body: str | None = None,
        seconds: float | None = None,
        code: int | None = None,
        message: str = "",
    ) -> Failure:
        """Inject a failure (HTTP ``status``, dropped connection, or a delay) for ``times`` calls,
        or with ``seconds`` for every call during that many seconds from now.

        5xx answers carry an HTML body (like a proxy would), 429 a JSON envelope and
        ``Retry-After`` when given; ``body`` replaces the answer's body (e.g.
        ``status=200, body="not json"``); ``code`` answers Wiro's error envelope with that
        code and ``message`` instead (e.g. ``code=97, message="Insufficient balance"``).
        """
        failure = Failure(
            path=path,
            times=times,
            status=status,
            retry_after=None if retry_after is None else str(retry_after),
            drop=drop,
            delay=delay,
            body=body,
            code=code,
            message=message,
            until=None if seconds is None else time.monotonic() + seconds,
        )
        self.failures.append(failure)
        return failure

    def redirect_url(self, target: str) -> str:
        """A URL on this fake that answers ``302 Found`` to ``target``."""
        return f"{self.root_url}/redirect?to={quote(target, safe='')}"

    def task(self, task_id: str | None = None) -> FakeTask:
        """A task by id, or the most recent one."""
        if task_id is None:
            return list(self.tasks.values())[-1]
        return self.tasks[task_id]

    def step(self, task_id: str | None = None, n: int = 1) -> str:
        """Advance a task ``n`` statuses along its timeline; returns the new status."""
        task = self.task(task_id)
        task.steps += n
        return task.status

    def set_status(self, task_id: str | None, status: str | None) -> None:
        """Force a status (``None`` returns the task to its timeline)."""
        self.task(task_id).forced = status

    def socket_drop(self) -> int:
        """Abort every open socket connection now (as a network failure would); returns how many."""
        dropped = 0
        for connection in list(self._sockets):
            self._sockets.discard(connection)
            if connection.pusher is not None:
                connection.pusher.cancel()
            transport = connection.request.transport
            if transport is not None:
                transport.abort()
            dropped += 1
        return dropped

    async def socket_push(self, message: object) -> None:
        """Send ``message`` to every open socket: str as text, bytes as binary, else JSON."""
        for connection in list(self._sockets):
            if isinstance(message, str):
                await connection.ws.send_str(message)
            elif isinstance(message, bytes):
                await connection.ws.send_bytes(message)
            else:
                await connection.ws.send_str(json.dumps(message))

    # -- middleware: counting, failure injection, auth ---------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler):  # type: ignore[no-untyped-def]
        path = request.path.removeprefix("/v1") if request.path.startswith("/v1/") else request.path
        self.calls[path] += 1
        self.requests.append((request.method, path, dict(request.headers)))

        failure = self._take_failure(path)
        if failure is not None:
            if failure.delay:
                await asyncio.sleep(failure.delay)
            if failure.drop:
                assert request.transport is not None
                request.transport.abort()
                return web.Response(status=500)
            if failure.code is not None:
                return self._error(failure.code, failure.message or f"error {failure.code}")
            if failure.body is not None:
                return web.Response(
                    status=failure.status or 200, text=failure.body, content_type="text/plain"
                )
            if failure.status == 429:
                headers = {"Retry-After": failure.retry_after} if failure.retry_after else {}
                return self._error(0, "Too many requests.", status=429, headers=headers)
            if failure.status is not None and failure.status >= 500:
                return web.Response(
                    status=failure.status,
                    text=f"<html><body><h1>{failure.status} Server Error</h1></body></html>",
                    content_type="text/html",
                )
            if failure.status is not None:
                return self._error(0, f"HTTP {failure.status}", status=failure.status)

        if request.method == "GET":
            try:
                return await handler(request)
            except web.HTTPNotFound:
                return web.Response(status=404, text="Not Found")

        if request.match_info.http_exception is not None:  # unknown path or method
            return self._error(0, "Error parsing url.", status=404)

        problem = self._check_auth(request)
        if problem is not None:
            self.auth_failures += 1
            return self._error(0, problem, status=401)
        return await handler(request)

    def _take_failure(self, path: str) -> Failure | None:
        now = time.monotonic()
        for failure in self.failures:
            if failure.active(now) and (
                failure.path == path or (failure.path == "*" and path != SOCKET_PATH)
            ):
                failure.times -= 1
                failure.hits += 1
                return failure
        return None

    def _check_auth(self, request: web.Request) -> str | None:
        key = request.headers.get("x-api-key")
        if not key or not hmac.compare_digest(key, self.api_key):
            return "Project authorization is not founded."
        if not self.api_secret:
            return None
        nonce = request.headers.get("x-nonce")
        signature = request.headers.get("x-signature")
        if not nonce or not signature:
            return (
                "Project requires signature authentication. "
                "x-signature and x-nonce headers are required."
            )
        expected = hmac.new(
            self.api_key.encode(), (self.api_secret + nonce).encode(), hashlib.sha256
        ).hexdigest()
        if not hmac.compare_digest(signature, expected):
            return "Project authorization is not valid."
        if not nonce.isdigit():
            return "Project authorization is not valid."
        value = int(nonce)
        if value in self._nonces:
            return "Project authorization is not valid."
        if value <= self._max_nonce - max(0, self.nonce_reorder_window_ms):
            return "Project authorization is not valid."
        self._nonces.add(value)
        self._max_nonce = max(self._max_nonce, value)
        return None

    # -- envelopes --------------------------------------------------------------------------

    def _error(
        self,
        code: int,
        message: str,
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> web.Response:
        entry: object = {"code": code, "message": message}
        if self.scenario.errors_as_strings:
            entry = message
        return web.json_response(
            {"result": False, "errors": [entry]}, status=status, headers=headers
        )

    @staticmethod
    def _ok(**payload: object) -> web.Response:
        return web.json_response({"result": True, "errors": [], **payload})

    async def _json_body(self, request: web.Request) -> dict[str, object] | web.Response:
        if request.content_type != "application/json":
            return self._error(0, "Request parameters are invalid.")
        try:
            body = await request.json()
        except (ValueError, UnicodeDecodeError):
            return self._error(0, "Request parameters are invalid.")
        if not isinstance(body, dict):
            return self._error(0, "Request parameters are invalid.")
        self.bodies[request.path.removeprefix("/v1")].append(body)
        return body

    # -- files ------------------------------------------------------------------------------

    async def _upload(self, request: web.Request) -> web.Response:
        if request.content_type != "multipart/form-data":
            return self._error(0, "Request parameter [file] required")
        reader = await request.multipart()
        data = b""
        filename = ""
        content_type = ""
        async for part in reader:
            if getattr(part, "name", None) == "file" and getattr(part, "filename", None):
                data = await part.read()  # type: ignore[union-attr]
                filename = part.filename or "upload"
                content_type = part.headers.get("Content-Type", "application/octet-stream")
            else:
                await part.release()
        if not data:
            return self._error(0, "Request parameter [file] required")
        try:
            with Image.open(io.BytesIO(data)) as image:
                image.verify()
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
            return self._error(0, "File type is not allowed.")
        accesskey = _token()
        name = re.sub(r"[^A-Za-z0-9._-]", "_", filename)
        self.files[accesskey] = (name, content_type, data)
        item = {
            "id": uuid.uuid4().hex,
            "name": name,
            "contenttype": content_type,
            "size": str(len(data)),
            "parentid": uuid.uuid4().hex,
            "url": f"{self.base_url}/File/{accesskey}/{name}",
            "addedtime": str(int(time.time())),
            "accesskey": accesskey,
        }
        self.uploads.append(item)
        return self._ok(list=[item])

    async def _get_file(self, request: web.Request) -> web.Response:
        stored = self.files.get(request.match_info["accesskey"])
        if stored is None or stored[0] != request.match_info["name"]:
            return web.Response(status=404, text="Not Found")
        _name, content_type, data = stored
        return web.Response(body=data, content_type=content_type)

    async def _get_cdn(self, request: web.Request) -> web.Response:
        stored = self.cdn.get(request.path)
        if stored is None:  # as S3 behind a CDN answers: the error page names the file
            key = request.path.removeprefix("/cdn/")
            return web.Response(
                status=404,
                text=f"<Error><Code>NoSuchKey</Code><Key>{key}</Key></Error>",
                content_type="application/xml",
            )
        content_type, data = stored
        return web.Response(body=data, content_type=content_type)

    async def _redirect(self, request: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": request.query.get("to", "/")})

    # -- run --------------------------------------------------------------------------------

    async def _run(self, request: web.Request) -> web.Response:
        body = await self._json_body(request)
        if isinstance(body, web.Response):
            return body
        problem = self._validate_run(body)
        if problem is not None:
            return self._error(0, problem)
        scenario = self.scenario
        if scenario.run_error == "balance":
            return self._error(97, "Insufficient balance")
        if scenario.run_error == "concurrency":
            return self._error(
                96,
                "Concurrent task limit reached. Your balance allows 1 concurrent task(s); "
                "wait for a running task to finish.",
            )
        if scenario.run_error == "validation":
            return self._error(0, "Request parameter [inputImageUrl] required")
        if scenario.run_error == "auth":
            return self._error(0, "Project authorization is not valid.", status=401)

        self.runs.append(dict(body))
        outcome = scenario.outcome
        timeline = (
            scenario.timeline
            or {
                "success": SUCCESS_TIMELINE,
                "fail": SUCCESS_TIMELINE,
                "cancel": _CANCEL_TIMELINE,
                "hang": _HANG_TIMELINE,
                "error": _ERROR_TIMELINE,
            }[outcome]
        )
        debug_error = _ERROR_DEBUGERROR if outcome == "error" else scenario.debug_error
        task = FakeTask(
            id=str(next(self._ids)),
            uuid=str(uuid.uuid4()),
            token=_token(),
            fields=dict(body),
            outcome=outcome,
            timeline=tuple(timeline),
            duration=scenario.duration,
            debug_error=debug_error,
        )
        self.tasks[task.id] = task
        return self._ok(taskid=task.id, socketaccesstoken=task.token)

    def _validate_run(self, body: Mapping[str, object]) -> str | None:
        invalid = "Request parameters are invalid."
        allowed = _INPUT_FIELDS | self.lora_scale_ids
        if any(name not in allowed for name in body):
            return invalid
        image_url = body.get("inputImageUrl")
        if image_url in (None, ""):
            return "Request parameter [inputImageUrl] required"
        if not _is_http_url(image_url):
            return invalid
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            return "Request parameter [prompt] required"
        if not isinstance(body.get("negativePrompt", ""), str):
            return invalid
        for name, (low, high) in RANGES.items():
            if name not in body:
                continue
            value = _number(body[name], integer=name in ("steps", "samples"))
            if value is None:
                return f"Request parameter [{name}] must be integer or float"
            if not low <= value <= high:
                return f"Request parameter [{name}] must be between {low:g} and {high:g}"
        for name in self.lora_scale_ids & body.keys():
            value = _number(body[name], integer=False)
            if value is None:
                return f"Request parameter [{name}] must be integer or float"
            low, high = _LORA_SCALE_RANGE
            if not low <= value <= high:
                return f"Request parameter [{name}] must be between {low:g} and {high:g}"
        seed = body.get("seed", "")
        if isinstance(seed, bool) or not (
            (isinstance(seed, int)) or (isinstance(seed, str) and re.fullmatch(r"-?\d*", seed))
        ):
            return "Request parameter [seed] must be integer or float"
        scheduler = body.get("scheduler", "")
        if scheduler != "" and scheduler not in _SCHEDULERS:
            return invalid
        if not self._valid_choice(body.get("selectedModel", ""), _MODEL_IDS):
            return invalid
        lora = body.get("selectedLoraModel", "")
        if isinstance(lora, list):
            if len(lora) > 1 or not all(self._valid_choice(v, _LORA_IDS) for v in lora):
                return invalid
        elif not self._valid_choice(lora, _LORA_IDS):
            return invalid
        for name in ("selectedModelPrivate", "selectedLoraModelPrivate"):
            if not isinstance(body.get(name, ""), (str, int, list)):
                return invalid
        for name in ("selectedLoraModelPrivateUrl", "callbackUrl"):
            value = body.get(name, "")
            if value != "" and not _is_http_url(value):
                return invalid
        if not isinstance(body.get("projectid", ""), (str, int)):
            return invalid
        return None

    @staticmethod
    def _valid_choice(value: object, choices: frozenset[str]) -> bool:
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            return False
        return value == "" or str(value) in choices

    # -- tasks ------------------------------------------------------------------------------

    def _find(self, body: Mapping[str, object], *keys: str) -> FakeTask | str | None:
        """The task named by the first of ``keys`` present, None if unknown, str if no key."""
        for key in keys:
            value = body.get(key)
            if value in (None, ""):
                continue
            for task in self.tasks.values():
                if (key == "taskid" and task.id == str(value)) or (
                    key != "taskid" and task.token == value
                ):
                    return task
            return None
        return "missing"

    def _render(self, task: FakeTask) -> dict[str, object]:
        status = task.status
        reached = task.timeline[: task.index() + 1]
        now_unix = int(time.time())
        for seen_status in (*reached, status):
            task.seen.setdefault(seen_status, now_unix)
        times = {name: "0" for name in _TIME_FIELDS.values()}
        for seen_status, when in task.seen.items():
            if seen_status in _TIME_FIELDS:
                times[_TIME_FIELDS[seen_status]] = str(when)

        output_steps = [s for s in reached if s == "task_output"]
        total_output_steps = max(1, task.timeline.count("task_output"))
        steps = int(float(str(task.fields.get("steps") or 20)))
        progress_lines = []
        for k in range(1, len(output_steps) + 1):
            done = round(steps * k / total_output_steps)
            pct = round(100 * k / total_output_steps)
            bar = "#" * (pct // 10) + " " * (10 - pct // 10)
            progress_lines.append(f"{pct:3d}%|{bar}| {done}/{steps} [00:0{k}<00:00,  9.50it/s]")

        pexit = ""
        debug_error = ""
        outputs: list[dict[str, object]] = []
        total_cost = "0"
        if status == "task_error":
            debug_error = task.debug_error
        if status == "task_postprocess_end":
            if task.outcome == "success":
                pexit = "0"
                outputs = self._outputs(task)
                total_cost = f"{0.004 * task.samples:.4f}"
            else:
                pexit = "1"
                debug_error = task.debug_error

        start = task.seen.get("task_start")
        end = task.seen.get("task_postprocess_end") or task.seen.get("task_cancel") or now_unix
        elapsed = 0.0 if start is None else max(0.0, float(end - start))
        size = sum(int(str(o["size"])) for o in outputs)
        return {
            "id": task.id,
            "uuid": task.uuid,
            "name": "",
            "socketaccesstoken": task.token,
            "parameters": {key: _param_text(value) for key, value in task.fields.items()},
            "debugoutput": "\n".join(progress_lines),
            "debugerror": debug_error,
            "status": status,
            "pexit": pexit,
            "createtime": str(task.created_unix),
            **times,
            "elapsedseconds": f"{elapsed:.4f}",
            "cps": "0.001",
            "totalcost": total_cost,
            "projectid": "1",
            "modelid": "1148",
            "runtype": "model",
            "callbackurl": str(task.fields.get("callbackUrl") or ""),
            "categories": '["tool","image-to-image","persistent"]',
            "modeldescription": "InstantID is a method to achieve ID-preserving generation "
            "with only single image.",
            "modelslugowner": "wiro",
            "modelslugproject": "instant-id-lora",
            "outputs": outputs,
            "size": str(size),
        }

    def _outputs(self, task: FakeTask) -> list[dict[str, object]]:
        if task.files_deleted:
            return []
        if task.outputs is None:
            task.outputs = []
            added = str(int(time.time()))
            scenario = self.scenario
            for index in range(task.samples + scenario.extra_outputs):
                name = f"{index}.png"
                path = f"/cdn/{task.uuid}/{name}"
                if scenario.output_body is not None:
                    content_type, data = scenario.output_body(index)
                else:
                    content_type, data = "image/png", _png(index)
                self.cdn[path] = (content_type, data)
                url = self.root_url + path
                if scenario.output_url is not None:
                    url = scenario.output_url(url)
                task.outputs.append(
                    {
                        "id": uuid.uuid4().hex,
                        "name": name,
                        "contenttype": "image/png",
                        "parentid": uuid.uuid4().hex,
                        "uuid": task.uuid,
                        "size": str(len(data)),
                        "addedtime": added,
                        "modifiedtime": added,
                        "accesskey": _token(),
                        "foldercount": "0",
                        "filecount": "0",
                        "ispublic": "1",
                        "expiretime": None,
                        "url": url,
                    }
                )
        return task.outputs

    async def _task_detail(self, request: web.Request) -> web.Response:
        body = await self._json_body(request)
        if isinstance(body, web.Response):
            return body
        task = self._find(body, "tasktoken", "taskid")
        if task == "missing":
            return self._error(0, "taskid or socketaccesstoken is required")
        if not isinstance(task, FakeTask):
            return self._error(1, "There is no task yet.")
        return self._ok(total="1", tasklist=[self._render(task)])

    async def _task_cancel(self, request: web.Request) -> web.Response:
        body = await self._json_body(request)
        if isinstance(body, web.Response):
            return body
        if "tasktoken" in body or "socketaccesstoken" in body:
            return self._error(0, "Request parameters are invalid.")
        task = self._find(body, "taskid")
        if task == "missing":
            return self._error(0, "Request parameter [taskid] required")
        if not isinstance(task, FakeTask):
            return self._error(1, "There is no task yet.")
        if task.status != "task_queue":
            return self._error(1, "Task is not in a cancellable state.")
        task.forced = "task_cancel"
        return self._ok(total="1", tasklist=[self._render(task)])

    async def _task_kill(self, request: web.Request) -> web.Response:
        body = await self._json_body(request)
        if isinstance(body, web.Response):
            return body
        if "tasktoken" in body:
            return self._error(0, "Request parameters are invalid.")
        task = self._find(body, "socketaccesstoken", "taskid")
        if task == "missing":
            return self._error(0, "taskid or socketaccesstoken is required")
        if not isinstance(task, FakeTask):
            return self._error(1, "There is no task yet.")
        if task.is_terminal:
            return self._error(1, "Task could not be killed: task is already finished.")
        task.forced = "task_cancel"
        return self._ok(total="1", tasklist=[self._render(task)])

    async def _task_io_delete(self, request: web.Request) -> web.Response:
        body = await self._json_body(request)
        if isinstance(body, web.Response):
            return body
        task = self._find(body, "tasktoken")
        if task == "missing":
            return self._error(0, "Request parameter [tasktoken] required")
        if not isinstance(task, FakeTask):
            return self._error(1, "task-not-exist")
        if not task.is_terminal:
            return self._error(0, "Task must be completed or cancelled before deleting files")
        for output in task.outputs or []:
            self.cdn.pop(f"/cdn/{task.uuid}/{output['name']}", None)
        image_url = str(task.fields.get("inputImageUrl") or "")
        for accesskey in list(self.files):
            if image_url.startswith(f"{self.base_url}/File/{accesskey}/"):
                del self.files[accesskey]
        task.files_deleted = True
        return self._ok()

    async def _task_list(self, request: web.Request) -> web.Response:
        body = await self._json_body(request)
        if isinstance(body, web.Response):
            return body
        known = {"type", "sort", "order", "start", "limit", "modelName"}
        if any(key not in known for key in body):
            return self._error(0, "Request parameters are invalid.")
        start = _number(body.get("start", "0"), integer=True)
        limit = _number(body.get("limit", "20"), integer=True)
        if start is None or limit is None or start < 0 or limit < 1:
            return self._error(0, "Request parameters are invalid.")
        tasks = sorted(self.tasks.values(), key=lambda t: int(t.id), reverse=True)
        if body.get("order") == "ASC":
            tasks.reverse()
        model = body.get("modelName")
        if model and model not in ("instant-id-lora", "wiro/instant-id-lora"):
            tasks = []
        page = tasks[int(start) : int(start) + int(limit)]
        return self._ok(total=str(len(tasks)), tasklist=[self._render(t) for t in page])

    async def _tool_detail(self, request: web.Request) -> web.Response:
        body = await self._json_body(request)
        if isinstance(body, web.Response):
            return body
        owner, project = body.get("slugowner"), body.get("slugproject")
        if not owner or not project:
            return self._error(0, "Request parameter [slugowner] required")
        if (owner, project) != ("wiro", "instant-id-lora"):
            return self._error(1, "slug-owner-project-not-exist")
        return self._ok(tool=[tool_detail_object(self.scenario.tool_labels)])

    # -- the WebSocket ----------------------------------------------------------------------

    async def _socket(self, request: web.Request) -> web.StreamResponse:
        if self.scenario.socket == "refuse":
            return web.Response(
                status=503,
                text="<html><body><h1>503 Service Unavailable</h1></body></html>",
                content_type="text/html",
            )
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        connection = _SocketConnection(ws=ws, request=request)
        self.socket_connections += 1
        self._sockets.add(connection)
        connection.pusher = asyncio.create_task(self._socket_pusher(connection))
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    await self._socket_frame(connection, message.data)
        finally:
            self._sockets.discard(connection)
            connection.pusher.cancel()
        return ws

    async def _socket_frame(self, connection: _SocketConnection, text: str) -> None:
        self.socket_received.append(text)
        try:
            body = json.loads(text)
        except ValueError:
            return
        if not isinstance(body, dict) or body.get("type") != "task_info":
            return
        token = body.get("tasktoken")
        task = next((t for t in self.tasks.values() if t.token == token), None)
        if task is None:
            if self.scenario.socket == "ok":
                await connection.ws.send_json(
                    {"type": "error", "result": False, "message": "Task not found."}
                )
            return
        self.socket_subscriptions += 1
        if task.id in connection.follows:
            return
        items = _socket_items(task)
        position = task.position()
        sent = sum(1 for item in items if item.due <= position + 1e-9)
        connection.follows[task.id] = _SocketFollow(
            task=task, items=items, sent=sent, forced=task.forced, done=task.is_terminal
        )

    async def _socket_pusher(self, connection: _SocketConnection) -> None:
        try:
            while not connection.ws.closed:
                if self.scenario.socket == "ok":
                    for follow in list(connection.follows.values()):
                        for message in self._socket_due(follow):
                            await connection.ws.send_str(json.dumps(message))
                await asyncio.sleep(_SOCKET_TICK)
        except (ConnectionError, RuntimeError):
            return

    def _socket_due(self, follow: _SocketFollow) -> list[dict[str, object]]:
        """The messages of a followed task that are due now (and marks them sent)."""
        if follow.done:
            return []
        task = follow.task
        messages: list[dict[str, object]] = []
        if task.forced is not None:
            if follow.forced != task.forced:
                follow.forced = task.forced
                messages.append(self._socket_message(task, task.forced))
                follow.done = task.forced in _TERMINAL
            return messages
        follow.forced = None
        position = task.position()
        while follow.sent < len(follow.items) and follow.items[follow.sent].due <= position + 1e-9:
            item = follow.items[follow.sent]
            follow.sent += 1
            messages.append(self._socket_message(task, item.status, item.percentage))
            if item.status in _TERMINAL:
                follow.done = True
                break
        return messages

    def _socket_message(
        self, task: FakeTask, status: str, percentage: float | None = None
    ) -> dict[str, object]:
        new = self.scenario.socket_format == "new"
        message: object = None
        if status == "task_error":
            message = task.debug_error
        elif status == "task_output" and percentage is not None:
            message = self._socket_progress(task, percentage, numbers=new)
        elif status == "task_postprocess_end":
            message = self._outputs(task) if task.outcome == "success" else []
        body: dict[str, object] = {"type": status, "id": task.id}
        if not new:
            body["tasktoken"] = task.token
        body["message"] = message
        body["result"] = True
        if new:
            success: bool | None = None
            exit_code: int | None = None
            if status == "task_postprocess_end":
                success = task.outcome == "success"
                exit_code = 0 if success else 1
            elif status == "task_cancel":
                success = False
            body.update(success=success, terminal=status in _TERMINAL, exitCode=exit_code)
        return body

    def _socket_progress(self, task: FakeTask, percentage: float, *, numbers: bool) -> object:
        steps = int(float(str(task.fields.get("steps") or 20)))
        done = round(steps * percentage / 100)
        elapsed = done / _MODEL_SPEED
        remaining = (steps - done) / _MODEL_SPEED
        if self.scenario.socket_progress == "text":
            bar = "#" * int(percentage // 10) + " " * (10 - int(percentage // 10))
            return (
                f"{round(percentage):3d}%|{bar}| {done}/{steps} "
                f"[{_clock(elapsed)}<{_clock(remaining)}, {_MODEL_SPEED:.2f}it/s]"
            )
        if numbers:
            return {
                "type": "progressGenerate",
                "task": "Generate",
                "percentage": percentage,
                "stepCurrent": done,
                "stepTotal": steps,
                "speed": _MODEL_SPEED,
                "speedType": "it/s",
                "elapsedTime": round(elapsed, 1),
                "remainingTime": round(remaining, 1),
            }
        return {
            "type": "progressGenerate",
            "task": "Generate",
            "percentage": f"{round(percentage)}",
            "stepCurrent": str(done),
            "stepTotal": str(steps),
            "speed": f"{_MODEL_SPEED:.2f}",
            "speedType": "it/s",
            "elapsedTime": _clock(elapsed),
            "remainingTime": _clock(remaining),
        }
