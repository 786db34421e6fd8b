"""Client for Wiro's hosted ``wiro/instant-id-lora`` tool (no Discord code here).

Modules: :mod:`.signing` (auth headers, nonces), :mod:`.envelope` (responses to
errors), :mod:`.errors`, :mod:`.task` (typed results), :mod:`.waiting`
(polling a task to its end), :mod:`.socket` (:class:`WiroSocket`, following
tasks over Wiro's WebSocket), :mod:`.outputs` (downloading outputs from Wiro's
hosts only), :mod:`.client` (:class:`WiroClient`).
"""

from .client import DEFAULT_BASE_URL, TOOL_SLUG, WiroClient
from .errors import (
    WiroAuthError,
    WiroConcurrencyLimit,
    WiroConnectionError,
    WiroError,
    WiroInsufficientBalance,
    WiroNotFound,
    WiroRateLimited,
    WiroServerError,
    WiroTaskCancelled,
    WiroTaskFailed,
    WiroTimeout,
    WiroValidationError,
)
from .outputs import OutputHosts, OutputRefused
from .pacing import DEFAULT_FORECAST, PollPlan, TaskForecast
from .socket import SocketEvent, Subscription, TaskProgress, WiroSocket
from .task import Stage, Task, TaskOutput, TaskRef, UploadedFile
from .waiting import OnChange, OnProgress, PollSchedule

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_FORECAST",
    "TOOL_SLUG",
    "OnChange",
    "OnProgress",
    "OutputHosts",
    "OutputRefused",
    "PollPlan",
    "PollSchedule",
    "SocketEvent",
    "Stage",
    "Subscription",
    "Task",
    "TaskForecast",
    "TaskOutput",
    "TaskProgress",
    "TaskRef",
    "UploadedFile",
    "WiroAuthError",
    "WiroClient",
    "WiroConcurrencyLimit",
    "WiroConnectionError",
    "WiroError",
    "WiroInsufficientBalance",
    "WiroNotFound",
    "WiroRateLimited",
    "WiroServerError",
    "WiroSocket",
    "WiroTaskCancelled",
    "WiroTaskFailed",
    "WiroTimeout",
    "WiroValidationError",
]
