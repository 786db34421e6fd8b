"""Jobs: a member's request followed from the selfie upload to the downloaded portrait.
(`bot.core.jobs.oneshot.make_portrait` runs one outside any chat, for `generate`.)"""

from bot.core.jobs.failures import FailureReason, PortraitFailed
from bot.core.jobs.runner import (
    JobLimits,
    Phase,
    PortraitImage,
    PortraitResult,
    Progress,
)

__all__ = [
    "FailureReason",
    "JobLimits",
    "Phase",
    "PortraitFailed",
    "PortraitImage",
    "PortraitResult",
    "Progress",
]
