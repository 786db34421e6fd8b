"""The LoRA URL allowlist: where a member's ``selectedLoraModelPrivateUrl`` may point.

Wiro downloads the file itself, so the URL is checked before anything is spent: ``https://``
only, to a host on the owner's list (`LORA_URL_HOSTS`) or a subdomain of one, without a user
name or password, an IP address, or a port other than 443. The check is on the text of the
URL; nothing is fetched.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from urllib.parse import urlsplit

__all__ = ["lora_url_problem"]

_SHOWN_HOSTS = 5


def lora_url_problem(url: str, hosts: Sequence[str]) -> str | None:
    """Why `url` may not be used as a LoRA URL, as one sentence for the member; None when it
    may. `hosts`: the allowed host names (lower case; each also allows its subdomains, so
    ``huggingface.co`` allows ``cdn-lfs.huggingface.co`` but not ``huggingface.co.evil.com``).
    An empty `hosts` allows no URL at all."""
    text = url.strip() if isinstance(url, str) else ""
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return "That LoRA URL doesn't look right: send the https:// link to the file."
    if parts.scheme.lower() != "https":
        return "The LoRA URL must start with https://."
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        return "The LoRA URL must not contain a user name or password."
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        return "That LoRA URL doesn't look right: send the https:// link to the file."
    if _is_ip(host):
        return "The LoRA URL must name a site, not an IP address."
    if port not in (None, 443):
        return "The LoRA URL must not name a port."
    allowed = [h.strip().rstrip(".").lower() for h in hosts if h and h.strip()]
    if not any(host == h or host.endswith("." + h) for h in allowed):
        if not allowed:
            return "LoRA URLs are not accepted here."
        shown = ", ".join(allowed[:_SHOWN_HOSTS]) + (", …" if len(allowed) > _SHOWN_HOSTS else "")
        return f"LoRA URLs may only point at these sites: {shown}."
    return None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        # Forms that resolvers read as IPv4 but `ip_address` does not: 2130706433, 0x7f.1
        return host.replace(".", "").isdigit() or host.startswith("0x")
    return True
