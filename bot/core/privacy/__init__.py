"""Forget me (issue 13): deleting everything the bot keeps about a member.

`forget` (`Forgetting.forget_member` -> `ForgetReport`), `marks` (`QuotaMarks`: what stays of
a forgotten member's recent jobs so their quotas hold, naming no one) and `erase_sql` (its
SQL on the ledger's connection)."""

from bot.core.privacy.forget import ForgetReport, Forgetting, JobStopper
from bot.core.privacy.marks import QuotaMarks

__all__ = ["ForgetReport", "Forgetting", "JobStopper", "QuotaMarks"]
