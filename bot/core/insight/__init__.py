"""Insight for the people who run the bot: the audit log of requests and policy changes
(`audit`), the figures per scope (`stats`) and their chart (`chart`), and Wiro's health with
the bot owner's alerts (`health`, `alerts`)."""
