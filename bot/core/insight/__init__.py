"""Insight for the bot's owner and server owners: audit log, stats, chart, Wiro health.
(LOCAL STAND-IN package on branch i12-discord; the insight helper's files win.)"""
