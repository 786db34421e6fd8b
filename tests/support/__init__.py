"""Helpers shared by the test suites and bench/ (images made in code, never downloaded)."""
