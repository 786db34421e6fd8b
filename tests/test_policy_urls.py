"""The LoRA URL allowlist: https only, to an allowed host or a subdomain of one, without
credentials, IP addresses or odd ports; each refusal says what is wrong."""

from __future__ import annotations

import pytest

from bot.core.policy.urls import lora_url_problem
from bot.settings import DEFAULT_LORA_URL_HOSTS

HOSTS = DEFAULT_LORA_URL_HOSTS


@pytest.mark.parametrize(
    "url",
    [
        "https://huggingface.co/user/repo/resolve/main/style.safetensors",
        "https://HuggingFace.co./user/repo/resolve/main/style.safetensors",
        "https://hf.co/user/repo/resolve/main/style.safetensors?download=true",
        "https://cdn-lfs.huggingface.co/repos/ab/cd/style.safetensors",
        "https://civitai.com/models/1/style.safetensors",
        "https://huggingface.co:443/user/repo/resolve/main/style.safetensors",
    ],
)
def test_allowed_urls_pass(url):
    assert lora_url_problem(url, HOSTS) is None


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://huggingface.co/u/r/style.safetensors", "https://"),
        ("ftp://huggingface.co/style.safetensors", "https://"),
        ("huggingface.co/style.safetensors", "https://"),
        ("https://example.com/style.safetensors", "only point at"),
        ("https://huggingface.co.evil.com/style.safetensors", "only point at"),
        ("https://evilhuggingface.co/style.safetensors", "only point at"),
        ("https://user:pass@huggingface.co/style.safetensors", "user name or password"),
        ("https://huggingface.co@evil.com/style.safetensors", "user name or password"),
        ("https://93.184.216.34/style.safetensors", "IP address"),
        ("https://[::1]/style.safetensors", "IP address"),
        ("https://2130706433/style.safetensors", "IP address"),
        ("https://huggingface.co:8443/style.safetensors", "port"),
        ("https://huggingface.co:99999/style.safetensors", "doesn't look right"),
        ("https:///style.safetensors", "doesn't look right"),
    ],
)
def test_other_urls_are_refused_with_a_reason(url, says):
    problem = lora_url_problem(url, HOSTS)
    assert problem is not None and says in problem


def test_the_refusal_names_the_allowed_sites_and_an_empty_list_allows_none():
    problem = lora_url_problem("https://example.com/a.safetensors", ["huggingface.co"])
    assert problem == "LoRA URLs may only point at these sites: huggingface.co."
    assert lora_url_problem("https://huggingface.co/a.safetensors", []) == (
        "LoRA URLs are not accepted here."
    )
