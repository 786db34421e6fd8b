import pytest

from bot.jobs.failures import TECHNICAL_MESSAGE, FailureReason, explain
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


# What outside testers saw from Wiro for a photo without a face, verbatim
# (shared/cases/instantid_noface_debugerror.txt).
INDEX_ERROR_IN_FACE_STEP = (
    "Traceback (most recent call last):\n"
    '  File "/app/infer.py", line 88, in <module>\n'
    "    face_info = sorted(face_info, key=lambda x:(x['bbox'][2]-x['bbox'][0])"
    "*x['bbox'][3]-x['bbox'][1])[-1]  # only use the maximum face\n"
    "IndexError: list index out of range"
)
INDEX_ERROR_ELSEWHERE = """Traceback (most recent call last):
  File "/app/pipeline.py", line 412, in __call__
    t = self.scheduler.timesteps[i + 1]
IndexError: index 20 is out of bounds for dimension 0 with size 20"""
CUDA_OOM = """Traceback (most recent call last):
  File "/app/infer.py", line 120, in <module>
    images = pipe(prompt, image_embeds=face_emb, image=face_kps).images
torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 23.65 GiB total)"""
WARNING_THEN_OOM = "Detected 2 faces, using the largest\nRuntimeError: CUDA out of memory."


@pytest.mark.parametrize(
    "text",
    [
        INSTANTID_NO_FACE,
        INDEX_ERROR_IN_FACE_STEP,
        "No face detected",
        "face not found in input",
        "Could not detect a face",
        "Cannot find any face in the image!",
        "ValueError: no faces found in the input image",
        "Error: faces were not detected",
    ],
    ids=[
        "instantid-demo",
        "indexerror-face-step",
        "no-face-detected",
        "face-not-found",
        "could-not-detect",
        "cannot-find-any",
        "no-faces-found",
        "faces-not-detected",
    ],
)
def test_face_detector_failures_read_as_no_face_with_selfie_tips(text):
    failure = explain(failed(text))
    assert failure.reason is FailureReason.NO_FACE
    assert "face" in failure.message and "selfie" in failure.message
    assert "Traceback" not in failure.message and "Error" not in failure.message
    assert text.strip().splitlines()[-1] in failure.detail  # the raw text is kept for the log


@pytest.mark.parametrize(
    "text",
    [
        CUDA_OOM,
        INDEX_ERROR_ELSEWHERE,
        WARNING_THEN_OOM,
        "Traceback...\n  File x\nRuntimeError: CUDA out of memory\n",
        "RuntimeError: Expected all tensors to be on the same device",
        "",
        "E" * 5000,
    ],
    ids=[
        "cuda-oom",
        "indexerror-elsewhere",
        "face-log-then-oom",
        "runtime",
        "tensors",
        "empty",
        "long",
    ],
)
def test_technical_failures_read_as_a_plain_sentence(text):
    failure = explain(failed(text))
    assert failure.reason is FailureReason.FAILED
    assert failure.message == TECHNICAL_MESSAGE
    assert "Nothing was charged" in failure.message
    for raw in ("Traceback", "CUDA", "IndexError", "RuntimeError", "EEEE"):
        assert raw not in failure.message
    if text.strip():
        assert text.strip().splitlines()[-1][-50:] in failure.detail  # kept for the log


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
