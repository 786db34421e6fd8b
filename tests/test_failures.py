from pathlib import Path

import pytest

from bot.core.jobs.failures import (
    REJECTED_MESSAGE,
    TECHNICAL_MESSAGE,
    FailureReason,
    explain,
    is_no_face,
)
from bot.core.wiro import (
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


def test_every_member_message_is_a_fixed_sentence_without_wiro_text():
    raw = "RAW-WIRO-TEXT <script> [steps] must be integer"
    for error_type in (
        WiroInsufficientBalance,
        WiroConcurrencyLimit,
        WiroAuthError,
        WiroValidationError,
        WiroRateLimited,
        WiroServerError,
        WiroConnectionError,
    ):
        failure = explain(error_type(raw))
        assert "RAW-WIRO-TEXT" not in failure.message and "[steps]" not in failure.message
        assert raw in failure.detail  # for the log and the ledger's failure_detail
    for error in (WiroTimeout(raw, task=None), WiroTaskCancelled(raw, task=None), failed(raw)):
        assert "RAW-WIRO-TEXT" not in explain(error).message


def test_rejected_settings_read_as_a_plain_sentence():
    failure = explain(WiroValidationError("Request parameter [steps] must be integer"))
    assert failure.message == REJECTED_MESSAGE
    assert "steps" not in failure.message
    assert "Request parameter [steps] must be integer" in failure.detail


# -- is_no_face: the frame that raised decides, and only detection wording counts ----------

TB = "Traceback (most recent call last):\n"
FACE_STEP_INDEX_ERROR = (
    TB + '  File "/app/infer.py", line 88, in <module>\n'
    "    face_info = sorted(face_info, key=lambda x: x['bbox'][2])[-1]\n"
    "IndexError: list index out of range"
)
PIPELINE_FRAME = (
    '  File "/app/infer.py", line 120, in <module>\n'
    "    images = pipe(prompt, image_embeds=face_emb, image=face_kps).images\n"
)


def test_the_verbatim_case_file_reads_as_no_face():
    text = (Path(__file__).parent / "cases" / "instantid_noface_debugerror.txt").read_text()
    assert is_no_face(text)
    assert is_no_face(text.replace("\n", "\r\n"))


@pytest.mark.parametrize(
    "text",
    [
        "Detected 0 faces in the input image",
        "0 faces detected",
        "WARNING: no faces found",
        "found no faces in image",
        "insightface: no face was detected",
        FACE_STEP_INDEX_ERROR,
        FACE_STEP_INDEX_ERROR.replace("\n", "\r\n"),
        FACE_STEP_INDEX_ERROR.removeprefix(TB),  # the log was cut before the header
        # Python 3.11 carets under the source line
        FACE_STEP_INDEX_ERROR.replace("[-1]\n", "[-1]\n                ^^^^^^^^^^^^^^^^^^^^^\n"),
        # the face step as the last frame, inside insightface
        TB
        + PIPELINE_FRAME.replace("images = pipe", "faces = app.get")
        + '  File "/usr/lib/python3/site-packages/insightface/app/face_analysis.py", line 59\n'
        "    kpss = kpss[order]\n"
        "IndexError: index 0 is out of bounds for axis 0 with size 0",
        # the face step's IndexError led to another error while being handled
        FACE_STEP_INDEX_ERROR + "\n\nDuring handling of the above exception, another exception "
        "occurred:\n\n"
        + TB
        + '  File "/app/run.py", line 3\n    raise SystemExit(1)\nSystemExit: 1',
        FACE_STEP_INDEX_ERROR + "\n\nThe above exception was the direct cause of the following "
        "exception:\n\n" + TB + '  File "/app/run.py", line 9\n    raise RuntimeError("predict")\n'
        "RuntimeError: predict",
    ],
    ids=[
        "detected-0-faces",
        "0-faces-detected",
        "no-faces-found",
        "found-no-faces",
        "no-face-was-detected",
        "indexerror-face-step",
        "crlf",
        "no-header",
        "carets",
        "insightface-frame",
        "chained-during-handling",
        "chained-direct-cause",
    ],
)
def test_no_face_is_recognised(text):
    assert is_no_face(text)


@pytest.mark.parametrize(
    "text",
    [
        # the pipeline frame (with face_kps) above an IndexError raised in the scheduler
        TB + PIPELINE_FRAME + '  File "/app/scheduler.py", line 5, in step\n'
        "    t = timesteps[i]\nIndexError: index 50 is out of bounds",
        # the prompt echoed in the log: "no face paint" is not about detection
        "prompt: warrior, negative: no face paint, blurry\n"
        + TB
        + PIPELINE_FRAME
        + "torch.OutOfMemoryError: CUDA out of memory",
        "prompt: a man with no face tattoos\nRuntimeError: boom",
        # a KeyError in the face step: a face was found, something else went wrong
        TB + '  File "/app/infer.py", line 88\n    face_info = app.get(img)[0]["embedding"]\n'
        "KeyError: 'embedding'",
        # a face-step IndexError in an earlier, separate traceback, then an unrelated error
        FACE_STEP_INDEX_ERROR
        + "\nretrying\n"
        + TB
        + PIPELINE_FRAME
        + "torch.OutOfMemoryError: CUDA out of memory",
        # the face step's IndexError handled, then a scheduler IndexError raised on its own
        TB + '  File "/app/scheduler.py", line 5, in step\n    t = timesteps[i]\n'
        "IndexError: index 50 is out of bounds\n  face_info was fine",
        "detected 2 faces, using the largest\nRuntimeError: CUDA out of memory.",
    ],
    ids=[
        "indexerror-in-scheduler",
        "no-face-paint",
        "no-face-tattoos",
        "keyerror-face-step",
        "earlier-separate-traceback",
        "trailing-face-word",
        "detected-2-faces",
    ],
)
def test_other_failures_are_not_no_face(text):
    assert not is_no_face(text)
