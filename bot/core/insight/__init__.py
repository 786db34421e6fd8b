"""Audit log, figures, chart and Wiro health (LOCAL STAND-IN package on branch i12-telegram)."""
