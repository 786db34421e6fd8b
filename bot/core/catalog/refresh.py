"""Refresh the bundled catalog from Wiro's `/Tool/Detail`: option ids drift between versions."""

from __future__ import annotations

import asyncio
import logging

from bot.core.catalog import Catalog
from bot.core.wiro import WiroClient, WiroError

log = logging.getLogger(__name__)


REFRESH_TIMEOUT = 15.0  # seconds; start-up must not hang on a slow Wiro


async def load_catalog(wiro: WiroClient | None) -> Catalog:
    """The live catalog when Wiro answers in time, else the bundled one."""
    bundled = Catalog.bundled()
    if wiro is None:
        return bundled
    try:
        tool = await asyncio.wait_for(wiro.tool_detail(), REFRESH_TIMEOUT)
    except (WiroError, TimeoutError) as error:
        log.warning("Using the bundled model list: Wiro's tool detail is unavailable (%s)", error)
        return bundled
    catalog = Catalog.from_tool_detail(tool, fallback=bundled)
    log.info(
        "Catalog refreshed from Wiro: %d models, %d LoRAs, %d schedulers",
        len(catalog.models),
        len(catalog.loras),
        len(catalog.schedulers),
    )
    return catalog


class CatalogProvider:
    """The one place every part reads the catalog from: the bundled one until `refresh`
    replaces it with Wiro's live tool detail."""

    def __init__(self, catalog: Catalog | None = None) -> None:
        self._catalog = catalog or Catalog.bundled()

    def get(self) -> Catalog:
        return self._catalog

    async def refresh(self, wiro: WiroClient | None) -> Catalog:
        """Load Wiro's live catalog (the bundled one when Wiro does not answer in time)."""
        self._catalog = await load_catalog(wiro)
        return self._catalog
