"""Output URLs are fetched only from Wiro's hosts, over real HTTP to the fake Wiro (issue 8).

A name that resolves to 127.0.0.1 stands for any loopback, private or link-local address: the
`MappedResolver` seam maps test host names onto the fake, so no test touches the network."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from bot.core.wiro import OutputHosts, OutputRefused, PollSchedule, WiroClient, WiroError
from bot.core.wiro.outputs import MAX_REDIRECTS, is_public_address, url_for_log
from tests.fakewiro import FakeWiro

FIELDS = {"prompt": "a portrait", "inputImageUrl": "https://example.com/me.jpg"}


class MappedResolver(AbstractResolver):
    """Resolves the names it is given to fixed addresses; any other name is an error."""

    def __init__(self, names: dict[str, str]) -> None:
        self.names = names
        self.asked: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.asked.append(host)
        address = self.names.get(host.rstrip("."))
        if address is None:
            raise OSError(f"unknown test host {host}")
        return [
            {"hostname": host, "host": address, "port": port, "family": family, "proto": 0,
             "flags": socket.AI_NUMERICHOST}
        ]  # fmt: skip

    async def close(self) -> None:
        pass


RESOLVER = MappedResolver(
    {
        "cdn1.wiro.ai": "127.0.0.1",  # Wiro's name, but a loopback answer (DNS rebinding)
        "files.example.test": "127.0.0.1",  # the owner's own host (WIRO_OUTPUT_HOSTS)
        "localhost": "127.0.0.1",
    }
)


@pytest.fixture
async def client(fake_wiro: FakeWiro) -> AsyncIterator[WiroClient]:
    fake_wiro.scenario.duration = 0.05
    hosts = OutputHosts.from_settings(
        fake_wiro.base_url, fake_wiro.socket_url, extra_hosts=["files.example.test"]
    )
    async with WiroClient(
        api_key=fake_wiro.api_key,
        api_secret=fake_wiro.api_secret,
        base_url=fake_wiro.base_url,
        poll_schedule=PollSchedule.constant(0.01),
        retry_attempts=1,
        output_hosts=hosts,
        output_resolver=RESOLVER,
    ) as client:
        yield client


async def finished_output(fake_wiro: FakeWiro, client: WiroClient) -> tuple[str, str]:
    """The fake's own URL of a finished task's first output, and its path."""
    task = await client.wait(await client.run(FIELDS), timeout=5)
    url = task.outputs[0].url
    return url, url.removeprefix(fake_wiro.root_url)


def on_host(url: str, host: str) -> str:
    return url.replace("127.0.0.1", host, 1)


# ---------------------------------------------------------------------------- the rules


@pytest.mark.parametrize(
    "host", ["wiro.ai", "cdn1.wiro.ai", "CDN1.Wiro.AI.", "api.wiro.ai", "127.0.0.1"]
)
def test_wiro_hosts_and_configured_hosts_are_allowed(host):
    assert OutputHosts.from_settings("http://127.0.0.1:9/v1").allows_host(host)


@pytest.mark.parametrize(
    "host",
    ["localhost", "evilwiro.ai", "wiro.ai.evil.example", "example.com", "169.254.169.254", "::1"],
)
def test_other_hosts_are_refused(host):
    assert not OutputHosts.from_settings("http://127.0.0.1:9/v1").allows_host(host)


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "10.1.2.3", "192.168.0.5", "172.16.0.1", "169.254.169.254", "0.0.0.0", "::1",
     "fe80::1", "fc00::1", "::ffff:127.0.0.1", "100.64.0.1", "224.0.0.1", "240.0.0.1"],
)  # fmt: skip
def test_wiro_names_must_resolve_to_public_addresses(address):
    hosts = OutputHosts.from_settings("https://api.wiro.ai/v1")
    assert not is_public_address(address)
    assert not hosts.allows_address("cdn1.wiro.ai", address)
    assert hosts.allows_address("cdn1.wiro.ai", "104.18.2.3")


@pytest.mark.parametrize(
    "url",
    [
        "ftp://cdn1.wiro.ai/0.png",
        "file:///etc/passwd",
        "http://user:pass@cdn1.wiro.ai/0.png",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/0.png",
        "http://10.0.0.1/0.png",
        "https://cdn1.wiro.ai.example.com/0.png",
        "//cdn1.wiro.ai/0.png",
    ],
)
def test_bad_output_urls_are_refused_before_any_request(url):
    with pytest.raises(OutputRefused):
        OutputHosts.from_settings("https://api.wiro.ai/v1").check_url(url)


# ---------------------------------------------------------------------------- real HTTP


async def test_an_output_on_wiros_configured_host_is_downloaded(fake_wiro, client):
    url, _ = await finished_output(fake_wiro, client)
    assert (await client.download(url)).startswith(b"\x89PNG")


async def test_an_output_on_a_foreign_host_is_never_requested(fake_wiro, client):
    url, path = await finished_output(fake_wiro, client)
    with pytest.raises(OutputRefused):
        await client.download(on_host(url, "localhost"))
    assert fake_wiro.calls[path] == 0


async def test_the_cloud_metadata_address_is_never_requested(client):
    with pytest.raises(OutputRefused):
        await client.download("http://169.254.169.254/latest/meta-data/iam/security-credentials/")


async def test_a_wiro_name_resolving_to_loopback_is_never_requested(fake_wiro, client):
    url, path = await finished_output(fake_wiro, client)
    with pytest.raises(OutputRefused) as caught:
        await client.download(on_host(url, "cdn1.wiro.ai"))
    assert "non-public" in str(caught.value)
    assert fake_wiro.calls[path] == 0
    assert "cdn1.wiro.ai" in RESOLVER.asked  # refused at resolution, where it connects


async def test_a_host_the_owner_configured_may_be_private(fake_wiro, client):
    url, path = await finished_output(fake_wiro, client)
    assert (await client.download(on_host(url, "files.example.test"))).startswith(b"\x89PNG")
    assert fake_wiro.calls[path] == 1


async def test_a_redirect_within_wiros_hosts_is_followed(fake_wiro, client):
    url, path = await finished_output(fake_wiro, client)
    assert (await client.download(fake_wiro.redirect_url(url))).startswith(b"\x89PNG")
    assert fake_wiro.calls["/redirect"] == 1 and fake_wiro.calls[path] == 1


@pytest.mark.parametrize(
    "target",
    [
        lambda url: on_host(url, "localhost"),
        lambda url: on_host(url, "cdn1.wiro.ai"),
        lambda url: "http://169.254.169.254/latest/meta-data/",
        lambda url: "file:///etc/passwd",
    ],
    ids=["foreign-host", "wiro-name-on-loopback", "metadata", "file"],
)
async def test_a_redirect_out_of_wiros_hosts_is_refused(fake_wiro, client, target):
    url, path = await finished_output(fake_wiro, client)
    with pytest.raises(OutputRefused):
        await client.download(fake_wiro.redirect_url(target(url)))
    assert fake_wiro.calls["/redirect"] == 1
    assert fake_wiro.calls[path] == 0


async def test_endless_redirects_are_refused(fake_wiro, client):
    url, path = await finished_output(fake_wiro, client)
    for _ in range(MAX_REDIRECTS + 1):
        url = fake_wiro.redirect_url(url)
    with pytest.raises(OutputRefused):
        await client.download(url)
    assert fake_wiro.calls["/redirect"] == MAX_REDIRECTS + 1
    assert fake_wiro.calls[path] == 0


async def test_refusals_do_not_show_the_urls_query(client):
    with pytest.raises(OutputRefused) as caught:
        await client.download("https://evil.example/0.png?X-Amz-Signature=secret123")
    assert "secret123" not in str(caught.value)


# ---------------------------------------------- URLs that cannot be parsed, or are read two ways


@pytest.mark.parametrize(
    "url",
    [
        "https://[evil.com].wiro.ai/1.png",  # urlsplit raises ValueError
        "https://evil.com].wiro.ai/1.png",
        "http://[::1",
        "https://cdn1.wiro.ai:99999/0.png",  # a port out of range
        "https://cdn1.wiro.ai:port/0.png",
        "http://evil.com\\.wiro.ai/x.png",  # urlsplit: *.wiro.ai; yarl: refused
        "https://evil.com\\@cdn1.wiro.ai/x.png",
        "https://evil.com%2f.wiro.ai/x.png",  # percent-encoded characters in a host
        "https://evil.com%00.wiro.ai/x.png",
        "https://evil.com .wiro.ai/x.png",
        "https://evil.com;.wiro.ai/x.png",
        "https://evil.com\t.wiro.ai/x.png",  # both parsers drop the tab without a word
        "https://cdn1.wiro.ai/0.png\n",
        "https://evil\u3002wiro.ai/x",  # an ideographic full stop, a "." only for yarl
        "https://cdn1.wiro.ai\uff0eevil.com/x",
        "https://.wiro.ai/x",
        "https://evil.com\u2025wiro.ai/x",
    ],
)
def test_unparsable_or_ambiguous_output_urls_are_refused_never_raised(url):
    hosts = OutputHosts.from_settings("https://api.wiro.ai/v1")
    with pytest.raises(OutputRefused) as caught:
        hosts.check_url(url)
    assert "/x.png" not in str(caught.value) and "/1.png" not in str(caught.value)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://cdn1.wiro.ai/0c4f2a7e/0.png?sig=1", "https://cdn1.wiro.ai/[redacted]"),
        ("http://127.0.0.1:8080/cdn/uuid/0.png", "http://127.0.0.1:8080/[redacted]"),
        ("https://user:pw@cdn1.wiro.ai/0.png", "https://cdn1.wiro.ai/[redacted]"),
        ("https://[evil.com].wiro.ai/1.png", "https://[evil.com].wiro.ai/[redacted]"),
        ("https://evil.com\n.wiro.ai/x", "https://evil.com?.wiro.ai/[redacted]"),
        ("not a url", "[unparsable URL]"),
        ("", "[unparsable URL]"),
    ],
)
def test_output_urls_are_logged_by_host_only(url, shown):
    assert url_for_log(url) == shown


@pytest.mark.parametrize(
    "location",
    ["http://[::1", "http://evil.com\\.wiro.ai/x.png", "https://[evil.com].wiro.ai/1.png"],
    ids=["unclosed-ipv6", "backslash-host", "bracketed-name"],
)
async def test_a_redirect_to_an_unparsable_location_is_refused_once(fake_wiro, client, location):
    await finished_output(fake_wiro, client)
    with pytest.raises(OutputRefused):
        await client.download(fake_wiro.redirect_url(location))
    assert fake_wiro.calls["/redirect"] == 1  # refused, not retried


async def test_a_cdn_error_page_never_reaches_the_error_text(fake_wiro, client):
    url, _ = await finished_output(fake_wiro, client)
    missing = url.replace("/0.png", "/gone.png")
    with pytest.raises(WiroError) as caught:
        await client.download(missing)
    # the fake's 404 page names the file, as S3 does: neither it nor the path is shown
    assert "gone.png" not in str(caught.value) and "NoSuchKey" not in str(caught.value)
    assert "HTTP 404" in str(caught.value)
