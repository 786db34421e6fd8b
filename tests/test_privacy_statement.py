"""The data statement members read before Forget me follows the owner's settings."""

from __future__ import annotations

from bot.core.privacy.forget import ForgetReport
from bot.core.privacy.statement import data_statement, forget_summary


def text_of(**settings: object) -> dict[str, str]:
    values: dict[str, object] = {
        "selfie_keep_hours": 24,
        "retention_days": 30,
        "faces_per_member": 5,
        "delete_wiro_files": True,
    }
    values.update(settings)
    return dict(data_statement(**values).sections)  # type: ignore[arg-type]


def test_the_statement_names_this_bots_windows() -> None:
    sections = text_of(selfie_keep_hours=48, retention_days=7, faces_per_member=3)
    assert "kept for 2 days" in sections["Your photo"]
    assert "for 7 days" in sections["Your requests"]
    assert "up to 3" in sections["Saved faces"]
    assert "30 minutes" in sections["Face check"]
    assert "asks Wiro to delete" in sections["At Wiro"]
    assert all(len(text) <= 1024 for text in sections.values())  # a Discord embed field


def test_the_statement_does_not_promise_what_is_turned_off() -> None:
    sections = text_of(selfie_keep_hours=0, faces_per_member=0, delete_wiro_files=False)
    assert "deleted as soon as the portrait is done" in sections["Your photo"]
    assert "kept for" not in sections["Your photo"]
    assert sections["Saved faces"] == "Saving faces is turned off on this bot."
    assert "turned off deleting files at Wiro" in sections["At Wiro"]
    assert "asks Wiro to delete" not in sections["At Wiro"]


def test_the_summary_counts_what_went() -> None:
    text = forget_summary(ForgetReport(stopped=1, faces=1, jobs_deleted=1, quota_marks=2))
    assert "1 saved face, 3 requests, 0 tasks at Wiro" in text  # quota marks name nobody
    assert "1 unfinished portrait stopped" in text
    assert "stopped" not in forget_summary(ForgetReport())
