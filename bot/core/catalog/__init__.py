"""The models, LoRAs, schedulers and defaults of Wiro's ``wiro/instant-id-lora`` tool."""

from bot.core.catalog.catalog import (
    Catalog,
    Defaults,
    ScaleSetting,
    StyleOption,
    with_trigger_words,
)

__all__ = ["Catalog", "Defaults", "ScaleSetting", "StyleOption", "with_trigger_words"]
