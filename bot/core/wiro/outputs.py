"""Fetching a task's output files from Wiro's own hosts only.

Wiro names each output by URL (Task/Detail ``outputs[].url``, the socket's
``task_postprocess_end``), and the bot posts what it fetches, so a URL is
fetched only when (issue 8, "Output URLs"):

* its scheme is ``http`` or ``https`` and it carries no user name or password;
* its host is Wiro's: ``wiro.ai`` or ``*.wiro.ai`` (the CDN is ``cdn1.wiro.ai``,
  fact sheet §3), or a host the owner configured (the hosts of
  ``WIRO_API_BASE`` and ``WIRO_SOCKET_URL``, and ``WIRO_OUTPUT_HOSTS``);
* every address the bot connects to is a public one, unless the host is one the
  owner configured (an owner may run a Wiro proxy on a private address; the
  tests' fake Wiro is on 127.0.0.1). The check runs in the connector's resolver,
  on the very addresses it then connects to, so a name that changes its answer
  between a check and the connection (DNS rebinding) gains nothing;
* redirects are followed by hand, at most :data:`MAX_REDIRECTS`, each hop checked
  by the same rules.

A refused URL raises :class:`OutputRefused` (never retried), and so does a URL or a redirect's
``Location`` that cannot be parsed, or whose host is not a plain host name or IP address (a
backslash, a space, a non-ASCII dot...): Python's ``urlsplit`` and the ``yarl`` parser aiohttp
connects with read such hosts differently, so both must agree on the host before a fetch.

Output URLs point at members' portraits: logs and errors show them through
:func:`url_for_log`, host only.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

from .envelope import parse_response
from .errors import WiroConnectionError, WiroError

__all__ = [
    "MAX_REDIRECTS",
    "OutputHosts",
    "OutputRefused",
    "fetch_output",
    "guarded_session",
    "url_for_log",
]

MAX_REDIRECTS = 3
WIRO_DOMAIN = "wiro.ai"
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CHUNK = 64 * 1024
# A host name as DNS has it (RFC 1123 labels: ASCII letters, digits, hyphens; an IDN comes in
# its xn-- form), an IPv4 address, or an IPv6 literal in brackets.
_HOST_NAME = re.compile(
    r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.?"
)
_IP_LITERAL = re.compile(r"\[[0-9A-Fa-f:.]+\]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# What may appear of a host in a log line; anything else (a newline...) becomes "?".
_LOG_UNSAFE = re.compile(r"[^A-Za-z0-9.:\[\]-]")


class OutputRefused(WiroError):
    """An output URL is not one of Wiro's, cannot be parsed, resolves to a private address, or
    redirects so."""


def url_for_log(url: str) -> str:
    """``url`` as logs and errors may show it: ``scheme://host[:port]/[redacted]`` (path, query
    and any user name dropped: an output's path names a member's portrait). Never raises."""
    scheme, _, rest = url.partition("://")
    if not rest:
        return "[unparsable URL]"
    netloc = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0].rpartition("@")[2]
    scheme = _LOG_UNSAFE.sub("?", scheme[:10])
    return f"{scheme}://{_LOG_UNSAFE.sub('?', netloc[:255])}/[redacted]"


def _normal_host(host: str) -> str:
    return host.strip().rstrip(".").lower().strip("[]")


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def is_public_address(text: str) -> bool:
    """False for loopback, private, link-local, reserved, multicast and unspecified addresses."""
    address = _ip(text)
    return address is not None and address.is_global and not address.is_multicast


@dataclass(frozen=True)
class OutputHosts:
    """Which hosts outputs may come from. ``configured``: the owner's own hosts (lower case),
    the only ones allowed to resolve to a non-public address."""

    configured: frozenset[str]

    @classmethod
    def from_settings(cls, *urls: str, extra_hosts: Iterable[str] = ()) -> OutputHosts:
        """The hosts of ``urls`` (``WIRO_API_BASE``, ``WIRO_SOCKET_URL``) plus ``extra_hosts``."""
        hosts = {_normal_host(urlsplit(url).hostname or "") for url in urls}
        hosts.update(_normal_host(host) for host in extra_hosts)
        hosts.discard("")
        return cls(frozenset(hosts))

    def allows_host(self, host: str) -> bool:
        host = _normal_host(host)
        return host in self.configured or host == WIRO_DOMAIN or host.endswith("." + WIRO_DOMAIN)

    def allows_address(self, host: str, address: str) -> bool:
        """Whether the bot may connect to ``address`` for ``host``."""
        return _normal_host(host) in self.configured or is_public_address(address)

    def check_url(self, url: str) -> None:
        """Raise :class:`OutputRefused` unless ``url`` may be fetched (its address is checked
        again at connection time, see :func:`guarded_session`)."""
        shown = url_for_log(url)
        if _CONTROL.search(url):  # urlsplit and yarl drop tabs and newlines without a word
            raise OutputRefused(f"output URL has control characters: {shown}")
        try:
            parts = urlsplit(url)
            port = parts.port  # ValueError for a port that is not a number
            raw_host = parts.netloc.rpartition("@")[2]
            if port is not None or raw_host.endswith(":"):
                raw_host = raw_host.rpartition(":")[0]
            connect_host = URL(url).raw_host  # where aiohttp would connect
        except ValueError:
            raise OutputRefused(f"output URL cannot be parsed: {shown}") from None
        if parts.scheme not in ("http", "https") or not raw_host:
            raise OutputRefused(f"output URL is not http(s): {shown}")
        if parts.username is not None or parts.password is not None:
            raise OutputRefused(f"output URL carries credentials: {shown}")
        if not (_HOST_NAME.fullmatch(raw_host) or _IP_LITERAL.fullmatch(raw_host)):
            raise OutputRefused(f"output URL has an invalid host: {shown}")
        host = _normal_host(raw_host)
        if _normal_host(connect_host or "") != host:
            raise OutputRefused(f"output URL's host is read two ways: {shown}")
        if not self.allows_host(host):
            raise OutputRefused(f"output URL is not on a Wiro host: {shown}")
        if _ip(host) is not None and not self.allows_address(host, host):
            raise OutputRefused(f"output URL points to a private address: {shown}")


class _AddressRefused(OSError):
    """Raised by the resolver: aiohttp wraps it in a ClientConnectorDNSError."""


class GuardedResolver(AbstractResolver):
    """Resolves with ``inner`` and keeps only the addresses :class:`OutputHosts` allows."""

    def __init__(self, hosts: OutputHosts, inner: AbstractResolver | None = None) -> None:
        self._hosts = hosts
        self._inner = inner or DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        allowed = [r for r in results if self._hosts.allows_address(host, r["host"])]
        if not allowed:
            raise _AddressRefused(f"{_normal_host(host)} resolves only to non-public addresses")
        return allowed

    async def close(self) -> None:
        await self._inner.close()


def guarded_session(
    hosts: OutputHosts, resolver: AbstractResolver | None = None
) -> aiohttp.ClientSession:
    """A session whose every connection goes through :class:`GuardedResolver`. Never trusts
    proxy settings from the environment (a proxy would do the resolving instead)."""
    connector = aiohttp.TCPConnector(resolver=GuardedResolver(hosts, resolver))
    return aiohttp.ClientSession(connector=connector, trust_env=False)


async def fetch_output(
    session: aiohttp.ClientSession,
    hosts: OutputHosts,
    url: str,
    *,
    max_bytes: int,
    timeout: float,  # noqa: ASYNC109 - one request's total time, like the client's other calls
) -> bytes:
    """The body of ``url`` after at most :data:`MAX_REDIRECTS` checked redirects.

    Raises :class:`OutputRefused`, :class:`WiroConnectionError` (retryable), or the
    :class:`WiroError` matching an HTTP error status; the URL's query string never
    appears in an error (it may hold a signature)."""
    current = url
    for _hop in range(MAX_REDIRECTS + 1):
        hosts.check_url(current)
        what = f"GET {url_for_log(current)}"
        started = time.perf_counter()
        try:
            async with session.get(
                current,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as response:
                status = response.status
                if status in _REDIRECTS:
                    current = _redirect_target(current, response.headers.get("Location", ""))
                    if current is None:
                        raise OutputRefused(f"{what}: HTTP {status} without a usable Location")
                    continue
                if status >= 300:
                    # The right error class from the status and headers alone: a CDN's error
                    # page may name the stored file, so its body is not read.
                    parse_response(status, b"", response.headers, what=what)
                    raise WiroError(f"{what}: HTTP {status}", http_status=status)
                return await _read_capped(response, what, max_bytes)
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, _AddressRefused):
                raise OutputRefused(f"{what}: {exc.os_error}") from None
            raise WiroConnectionError(f"{what}: {type(exc).__name__}") from exc
        except aiohttp.InvalidURL:
            raise OutputRefused(f"{what}: aiohttp cannot use this URL") from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            elapsed = (time.perf_counter() - started) * 1000
            kind = "request timed out" if isinstance(exc, TimeoutError) else type(exc).__name__
            raise WiroConnectionError(f"{what}: {kind} after {elapsed:.0f} ms") from exc
    raise OutputRefused(f"GET {url_for_log(url)}: more than {MAX_REDIRECTS} redirects")


async def _read_capped(response: aiohttp.ClientResponse, what: str, max_bytes: int) -> bytes:
    if (response.content_length or 0) > max_bytes:
        raise WiroError(f"{what}: file is {response.content_length} bytes, over {max_bytes}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(_CHUNK):
        size += len(chunk)
        if size > max_bytes:
            raise WiroError(f"{what}: file is over {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _redirect_target(current: str, location: str) -> str | None:
    """The absolute URL a redirect points to, or None when ``Location`` is missing or cannot be
    parsed (it is checked like any output URL on the next hop)."""
    if not location:
        return None
    try:
        return str(URL(current).join(URL(location)))
    except ValueError:
        return None
