"""The data statement a member reads before Forget me (Discord `/portrait-privacy`, Telegram
`/privacy`): what the bot keeps about them, where, for how long, what Wiro keeps and when it is
deleted. One text for both front ends, built from the owner's settings so it never promises
what this bot does not do; the README's "Privacy" section says the same at more length.

Plain text (no markup): front ends lay out the (heading, text) pairs their own way and escape
nothing in them (no member's text is inside).
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.privacy.forget import ForgetReport
from bot.core.request.held import HOLD_TIME

__all__ = ["FORGET_CONFIRM", "DataStatement", "data_statement", "forget_summary"]


@dataclass(frozen=True)
class DataStatement:
    """``sections``: (heading, text) pairs, in reading order; each text under 1,024
    characters (a Discord embed field's limit)."""

    title: str
    sections: tuple[tuple[str, str], ...]


def data_statement(
    *,
    selfie_keep_hours: float,
    retention_days: float,
    faces_per_member: int,
    delete_wiro_files: bool,
) -> DataStatement:
    """The statement for these settings (``SELFIE_KEEP_HOURS``, ``JOB_RETENTION_DAYS``,
    ``FACES_PER_MEMBER``, ``DELETE_WIRO_FILES``)."""
    keep = _hours(selfie_keep_hours)
    days = _days(retention_days)
    hold = _count(int(HOLD_TIME.total_seconds() // 60), "minute")
    selfie = (
        "Your photo is cleaned first (location and camera data removed, turned upright, made "
        "smaller). The cleaned copy waits on the bot's server until your portrait starts"
        + (
            f", then is kept for {keep} so the buttons under your portrait can make more "
            "without asking for the photo again, or until you delete that portrait."
            if selfie_keep_hours > 0
            else ", and is deleted as soon as the portrait is done."
        )
        + " The original photo you sent is never stored."
    )
    faces = (
        f"Faces you save with /face save (up to {faces_per_member}) are kept "
        "encrypted until you delete them or use Forget me. Only you can use them."
        if faces_per_member > 0
        else "Saving faces is turned off on this bot."
    )
    check = (
        "Before anything is queued, the bot looks for a face in your photo on its own server "
        f"(no outside service). A photo without one waits up to {hold} for you to press "
        "“Use it anyway”, then is deleted."
    )
    requests = (
        f"Each request (your prompt, style, the outcome and its cost) is kept for {days}, "
        "with your account id: for your history, the fair-use limits and the server's or "
        "chat's moderators, who can read recent entries. Then it is deleted."
    )
    wiro = (
        "Your cleaned photo goes to Wiro, the image service, only when your portrait starts. "
        + (
            "When the portrait is done, the bot asks Wiro to delete the task's photo and "
            "pictures. If Wiro refused the task before it began, that copy cannot be deleted "
            "by the bot and stays with Wiro."
            if delete_wiro_files
            else "This bot's owner has turned off deleting files at Wiro: Wiro keeps them "
            "under its own terms."
        )
    )
    forget = (
        "Forget me stops your unfinished portraits and deletes your saved faces, kept photos, "
        "portraits kept for the buttons, your requests and their log entries, and your files "
        "at Wiro. Portraits already posted in a chat stay there: delete those messages "
        "yourself. A count without your name stays until your 24-hour limits end."
    )
    return DataStatement(
        title="What Portrait Bot keeps about you",
        sections=(
            ("Your photo", selfie),
            ("Saved faces", faces),
            ("Face check", check),
            ("Your requests", requests),
            ("At Wiro", wiro),
            ("Forget me", forget),
        ),
    )


FORGET_CONFIRM = (
    "This deletes everything the bot keeps about you: saved faces, kept photos and portraits, "
    "your requests and their log entries, and your files at Wiro. Unfinished portraits are "
    "stopped. It cannot be undone."
)


def forget_summary(report: ForgetReport) -> str:
    """What the member is told afterwards. A recent job kept as a nameless quota mark counts as
    deleted: nothing of it names the member any more."""
    requests = report.jobs_deleted + report.quota_marks
    parts = [
        _count(report.faces, "saved face"),
        _count(requests, "request"),
        f"{_count(report.wiro_files_deleted, 'task')} at Wiro",
    ]
    stopped = report.stopped
    stopped_text = f" {_count(stopped, 'unfinished portrait')} stopped." if stopped else ""
    return (
        "Done: the bot has forgotten you. Deleted: "
        + ", ".join(parts)
        + "."
        + stopped_text
        + " Portraits already posted in chats stay there until you delete those messages."
    )


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _hours(hours: float) -> str:
    if hours >= 48 and hours % 24 == 0:
        return _count(int(hours // 24), "day")
    return _count(int(hours), "hour") if hours == int(hours) else f"{hours:g} hours"


def _days(days: float) -> str:
    return _count(int(days), "day") if days == int(days) else f"{days:g} days"
