"""Jobs: a member's request followed from the selfie upload to the downloaded portrait."""

from bot.core.jobs.failures import FailureReason, PortraitFailed
from bot.core.jobs.runner import (
    JobLimits,
    Phase,
    PortraitImage,
    PortraitResult,
    Progress,
    make_portrait,
)

__all__ = [
    "FailureReason",
    "JobLimits",
    "Phase",
    "PortraitFailed",
    "PortraitImage",
    "PortraitResult",
    "Progress",
    "make_portrait",
]
