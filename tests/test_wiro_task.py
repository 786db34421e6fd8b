"""Task parsing, stages, success rules and the poll schedule (fact sheet §3, §7)."""

import pytest

from bot.core.wiro import PollSchedule, Stage, Task, TaskOutput, TaskRef
from bot.core.wiro.task import summarize_debug_error
from tests.fakewiro import NO_FACE_DEBUGERROR

# The Task/Detail sample from the tool page, trimmed.
SAMPLE = {
    "id": "2221",
    "uuid": "15bce51f-442f-4f44-a71d-13c6374a62bd",
    "socketaccesstoken": "eDcCm5yyUfIvMFspTwww49OUfgXkQt",
    "parameters": {},
    "debugoutput": "",
    "debugerror": "",
    "starttime": "1734513809",
    "elapsedseconds": "6.0000",
    "status": "task_postprocess_end",
    "pexit": "0",
    "totalcost": "0.0043",
    "outputs": [
        {
            "id": "6bc392c93856dfce3a7d1b4261e15af3",
            "name": "0.png",
            "contenttype": "image/png",
            "size": "202472",
            "url": "https://cdn1.wiro.ai/6a6af820/0.png",
        }
    ],
    "size": "202472",
}


def task(**changes: object) -> Task:
    return Task.from_api({**SAMPLE, **changes})


def test_the_tool_pages_sample_parses():
    parsed = task()
    assert parsed.id == "2221"
    assert parsed.socket_token == "eDcCm5yyUfIvMFspTwww49OUfgXkQt"
    assert parsed.ref == TaskRef("2221", "eDcCm5yyUfIvMFspTwww49OUfgXkQt")
    assert parsed.elapsed_seconds == 6.0
    assert parsed.total_cost == 0.0043
    assert parsed.outputs == (
        TaskOutput(
            name="0.png",
            url="https://cdn1.wiro.ai/6a6af820/0.png",
            content_type="image/png",
            size=202472,
        ),
    )
    assert parsed.raw["uuid"] == SAMPLE["uuid"]
    assert parsed.is_terminal and parsed.succeeded and parsed.stage is Stage.DONE


def test_missing_and_odd_fields_do_not_break_parsing():
    parsed = Task.from_api({"id": 7, "status": "task_queue", "outputs": None, "pexit": None})
    assert parsed.id == "7"
    assert parsed.pexit == ""
    assert parsed.outputs == ()
    assert parsed.elapsed_seconds is None and parsed.total_cost is None
    assert hash(parsed)  # usable in sets despite the raw mapping


def test_success_needs_exit_code_zero_and_outputs():
    assert not task(pexit="1").succeeded
    assert not task(pexit="").succeeded
    assert not task(outputs=[]).succeeded
    assert task(pexit="1").is_terminal


def test_task_end_is_not_terminal_but_cancel_is():
    assert not task(status="task_end").is_terminal
    assert task(status="task_cancel").is_terminal
    assert not task(status="task_error").is_terminal


@pytest.mark.parametrize(
    ("status", "stage"),
    [
        ("task_queue", Stage.QUEUED),
        ("task_accept", Stage.QUEUED),
        ("task_preprocess_start", Stage.QUEUED),
        ("task_preprocess_end", Stage.QUEUED),
        ("task_assign", Stage.QUEUED),
        ("task_start", Stage.GENERATING),
        ("task_output", Stage.GENERATING),
        ("task_output_full", Stage.GENERATING),
        ("task_end", Stage.FINISHING),
        ("task_postprocess_start", Stage.FINISHING),
        ("task_postprocess_end", Stage.DONE),
        ("task_cancel", Stage.CANCELLED),
        ("task_error", Stage.ERROR),
    ],
)
def test_stages(status, stage):
    assert task(status=status).stage is stage


def test_unknown_statuses_are_running_and_placed_by_start_time():
    assert task(status="task_stream_ready", starttime="0").stage is Stage.QUEUED
    assert task(status="task_stream_ready", starttime="1734513809").stage is Stage.GENERATING
    assert not task(status="task_killed").is_terminal


def test_progress_comes_from_the_last_percentage_in_debugoutput():
    assert task(debugoutput="").progress is None
    text = " 25%|##  | 5/20\n 50%|#####     | 10/20 [00:02<00:02,  9.50it/s]"
    assert task(debugoutput=text).progress == 50.0


def test_debug_error_summary_keeps_the_last_meaningful_lines():
    summary = summarize_debug_error(NO_FACE_DEBUGERROR)
    lines = summary.splitlines()
    assert lines[-1] == (
        "Exception: Cannot find any face in the image! Please upload another person image"
    )
    assert not any(set(line.strip()) <= {"^"} for line in lines)
    assert summary == summary.strip()


def test_debug_error_summary_is_bounded():
    noisy = "\n".join(f"warning line {i} " + "x" * 80 for i in range(200)) + "\nValueError: boom"
    summary = summarize_debug_error(noisy)
    assert len(summary) <= 1500
    assert summary.endswith("ValueError: boom")
    one_huge_line = "E" * 5000
    assert len(summarize_debug_error(one_huge_line)) == 1500
    assert summarize_debug_error("  \n\n ") == ""


def test_poll_schedule_matches_wiros_mcp_client():
    schedule = PollSchedule()
    assert [schedule.interval(t) for t in (0, 14.9, 15, 59.9, 60, 600)] == [2, 2, 5, 5, 10, 10]
    fast = PollSchedule.constant(0.01)
    assert {fast.interval(t) for t in (0, 30, 3600)} == {0.01}
