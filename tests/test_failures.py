import pytest

from bot.jobs.failures import FailureReason, explain
from bot.wiro import (
    WiroAuthError,
    WiroConcurrencyLimit,
    WiroConnectionError,
    WiroInsufficientBalance,
    WiroRateLimited,
    WiroServerError,
    WiroTaskCancelled,
    WiroTaskFailed,
    WiroTimeout,
    WiroValidationError,
)

INSTANTID_NO_FACE = """Traceback (most recent call last):
  File "/app/predict.py", line 210, in predict
    face_info = sorted(face_info, key=lambda x: x['bbox'][2])[-1]
Exception: Cannot find any face in the image! Please upload another person image"""


def failed(text: str) -> WiroTaskFailed:
    return WiroTaskFailed(text, task=None)


@pytest.mark.parametrize(
    "text",
    [INSTANTID_NO_FACE, "No face detected", "face not found in input", "Could not detect a face"],
)
def test_face_detector_failures_read_as_no_face(text):
    assert explain(failed(text)).reason is FailureReason.NO_FACE


def test_other_task_failures_show_wiros_last_line():
    failure = explain(failed("Traceback...\n  File x\nRuntimeError: CUDA out of memory\n"))
    assert failure.reason is FailureReason.FAILED
    assert failure.message.endswith("RuntimeError: CUDA out of memory")


def test_long_error_text_is_cut_for_members():
    failure = explain(failed("E" * 5000))
    assert len(failure.message) < 400


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (WiroInsufficientBalance("Insufficient balance", code=97), FailureReason.BALANCE),
        (WiroConcurrencyLimit("limit", code=96), FailureReason.BUSY),
        (WiroAuthError("Project authorization is not valid.", code=0), FailureReason.AUTH),
        (WiroValidationError("Request parameter [steps] must be integer"), FailureReason.REJECTED),
        (WiroRateLimited("slow down", retry_after=3), FailureReason.BUSY),
        (WiroServerError("boom", http_status=502), FailureReason.UNAVAILABLE),
        (WiroConnectionError("reset"), FailureReason.UNAVAILABLE),
        (WiroTimeout("timed out", task=None), FailureReason.TIMEOUT),
        (WiroTaskCancelled("cancelled", task=None), FailureReason.CANCELLED),
    ],
)
def test_each_wiro_error_has_a_plain_reason(error, reason):
    failure = explain(error)
    assert failure.reason is reason
    assert "Traceback" not in failure.message
    assert failure.owner_should_act == (reason in {FailureReason.BALANCE, FailureReason.AUTH})
