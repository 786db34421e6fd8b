"""The Discord front end: the bot class (`app.py`), command sync, and how jobs and results are
shown in Discord (status, result, buttons, error messages). Its slash commands live in the
top-level `cogs/` package."""
