"""The channel: how jobs and results are shown in Discord (status, result, error messages)."""
