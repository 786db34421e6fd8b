"""Shared fixtures: a fake Wiro server on 127.0.0.1 (see tests/fakewiro.py)."""

from collections.abc import AsyncIterator

import pytest

from tests.fakewiro import FakeWiro


@pytest.fixture
async def fake_wiro() -> AsyncIterator[FakeWiro]:
    """A running FakeWiro with api_key="test-key", api_secret="test-secret"."""
    async with FakeWiro(api_key="test-key", api_secret="test-secret") as wiro:
        yield wiro
