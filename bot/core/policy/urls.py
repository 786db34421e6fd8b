"""LOCAL STAND-IN (branch i12-discord) for core-policy's LoRA URL check."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlparse


def lora_url_problem(url: str, hosts: Sequence[str]) -> str | None:
    """Why `url` may not be used as a LoRA URL (None = fine): only https:// to `hosts`."""
    parsed = urlparse(url.strip())
    if parsed.scheme != "https":
        return "LoRA URLs must start with https://"
    if (parsed.hostname or "").lower() not in {host.lower() for host in hosts}:
        return f"{parsed.hostname} is not an allowed host"
    return None
