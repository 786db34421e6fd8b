"""LOCAL STAND-IN (branch i12-telegram) for core-policy's LoRA URL check."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit


def lora_url_problem(url: str, hosts: Sequence[str]) -> str | None:
    """Why ``url`` may not be used (not https, host not allowed), None when it may."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:
        return "not a URL"
    if parts.scheme != "https":
        return "not https"
    if host not in {h.lower() for h in hosts}:
        return f"host {host} not allowed"
    return None
