"""What ``wiro/instant-id-lora`` offers: base models, LoRAs, schedulers and default values.

The bundled copy (``instant_id_lora.json``) is built from the tool's public page. Wiro's
option ids drift between versions of that page, so at start-up the bot asks Wiro for the
live list (``POST /v1/Tool/Detail`` with ``{"slugowner": "wiro", "slugproject":
"instant-id-lora"}``) and builds the catalog with :meth:`Catalog.from_tool_detail`.

Shape of the ``/Tool/Detail`` answer, as found in Wiro's own material:

* ``wiroai/Wiro-Docs`` ``markdown/models.md``: ``{"result": true, "errors": [], "tool": [{
  "id", "title", "slugowner", "slugproject", ..., "parameters": [{"title": "", "subtitle":
  "", "items": [{"id": "prompt", "type": "textarea", "required": true, "advanced":
  false}, ...]}], "dynamicprice": [...], ...}]}``.
* ``wiroai/Wiro-MCP`` ``src/types.ts`` (``ToolParameterItem``) and
  ``src/utils/structured.ts`` (``toStructuredModelDetail``): each item has ``id, type,
  label, description?, default?, required?, placeholder?, note?, options?: [{label,
  value}], min?, max?, step?, advanced?, jsonschema?``; ``parameters`` may be ``null``;
  the MCP client already copes with ``dynamicprice`` arriving as a JSON string or a list.
* The tool page (same data, rendered) shows that each option of ``selectedModel`` /
  ``selectedLoraModel`` also carries ``description``, ``triggerwords`` (a JSON array,
  e.g. ``["niji style"]``) and ``generatesettings`` (a JSON array of ``{"type": "float",
  "id": ..., "minvalue": "0.00", "maxvalue": "1", "value": "0.5", "defaultvalue": "0.5",
  "incrementby": "0.1", ...}``); numbers arrive as strings there.

So the parser accepts ``{"tool": [obj]}``, a bare ``obj``, ``parameters`` as groups with
``items`` or as a flat list of items (or a JSON string of either), and ``triggerwords`` /
``generatesettings`` as lists or JSON strings. Anything missing or odd falls back, piece by
piece, to the bundled (or given) catalog; nothing here raises on a strange answer.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
from typing import Any

log = logging.getLogger(__name__)

BUNDLED_FILE = "instant_id_lora.json"

# Option-parameter ids of wiro/instant-id-lora (the Run body uses the same names).
MODEL_PARAM = "selectedModel"
LORA_PARAM = "selectedLoraModel"
SCHEDULER_PARAM = "scheduler"
_DEFAULT_PARAMS = {
    "prompt": "prompt",
    "negative_prompt": "negativePrompt",
    "steps": "steps",
    "guidance": "scale",
    "likeness": "ip_adapter_scale",
    "samples": "samples",
    "seed": "seed",
}

# Flow-matching schedulers belong to SD3/FLUX-style models, not to these SDXL pipelines.
_WITHHELD_SCHEDULER_PREFIXES = ("FlowMatch",)


@dataclass(frozen=True)
class ScaleSetting:
    """The strength setting a LoRA declares in its ``generatesettings``."""

    id: str
    minimum: float
    maximum: float
    default: float
    step: float


@dataclass(frozen=True)
class StyleOption:
    """One base model or LoRA the tool offers."""

    id: str
    label: str
    description: str
    trigger_words: tuple[str, ...]
    scale: ScaleSetting | None

    @property
    def readable_name(self) -> str:
        """``"owner/Name"`` shown as ``"Name (owner)"``; a label without an owner as is."""
        owner, sep, name = self.label.partition("/")
        owner, name = owner.strip(), name.strip()
        if sep and owner and name:
            return f"{name} ({owner})"
        return self.label.strip() or self.id

    @property
    def short_name(self) -> str:
        """The label without its owner: ``"YamerMIX v8.0"``."""
        _, sep, name = self.label.partition("/")
        return name.strip() if sep and name.strip() else self.label.strip()


@dataclass(frozen=True)
class Defaults:
    prompt: str
    negative_prompt: str
    steps: int
    guidance: float
    likeness: float
    samples: int
    seed: int
    scheduler: str
    model_id: str


@dataclass(frozen=True)
class Catalog:
    """Models, LoRAs, offered schedulers and defaults of ``wiro/instant-id-lora``.

    ``schedulers`` holds only the schedulers we offer members. ``withheld_schedulers``
    holds the ones Wiro lists that we know but do not offer (flow-matching schedulers).
    """

    models: tuple[StyleOption, ...]
    loras: tuple[StyleOption, ...]
    schedulers: tuple[str, ...]
    defaults: Defaults
    withheld_schedulers: tuple[str, ...] = field(default=())

    # ----------------------------------------------------------------- construction

    @classmethod
    def bundled(cls) -> Catalog:
        """The catalog shipped with the bot (built from the tool page)."""
        return _load_bundled()

    @classmethod
    def from_tool_detail(cls, tool: Mapping, fallback: Catalog | None = None) -> Catalog:
        """Build a catalog from Wiro's ``/Tool/Detail`` answer (whole answer or ``tool[0]``).

        Each piece (models, LoRAs, schedulers, each default) that is missing or unreadable
        is taken from ``fallback`` (the bundled catalog when not given).
        """
        base = fallback if fallback is not None else cls.bundled()
        try:
            items = _parameter_items(_tool_object(tool))
        except Exception:  # never let an odd answer stop the bot from starting
            log.warning("Unreadable /Tool/Detail answer; using the bundled catalog", exc_info=True)
            return base
        if not items:
            log.warning("/Tool/Detail answer has no parameters; using the bundled catalog")
            return base

        models = _safe(lambda: _parse_styles(items.get(MODEL_PARAM), base.models), "models")
        loras = _safe(lambda: _parse_styles(items.get(LORA_PARAM), base.loras), "LoRAs")
        scheds = _safe(lambda: _parse_schedulers(items.get(SCHEDULER_PARAM), base), "schedulers")
        models = models or base.models
        loras = loras or base.loras
        offered, withheld = scheds or (base.schedulers, base.withheld_schedulers)

        defaults = _safe(lambda: _parse_defaults(items, base, models, offered), "defaults")
        if defaults is None:
            defaults = replace(
                base.defaults,
                model_id=_default_model_id(None, base, models),
                scheduler=_default_scheduler(None, base, offered),
            )
        return cls(
            models=models,
            loras=loras,
            schedulers=offered,
            defaults=defaults,
            withheld_schedulers=withheld,
        )

    # ---------------------------------------------------------------------- lookups

    def model(self, key: str) -> StyleOption | None:
        """A base model by id, label, readable name or name without owner (any case)."""
        return _find(self.models, key)

    def lora(self, key: str) -> StyleOption | None:
        """A LoRA by id, label, readable name or name without owner (any case)."""
        return _find(self.loras, key)

    def default_model(self) -> StyleOption | None:
        return self.model(self.defaults.model_id)

    def scheduler(self, key: str) -> str | None:
        """The offered scheduler whose name matches ``key`` (any case)."""
        wanted = _norm(key)
        return next((s for s in self.schedulers if _norm(s) == wanted), None)

    def search_models(self, text: str, limit: int = 25) -> list[StyleOption]:
        """Models whose readable name contains ``text``, best match first (for pickers
        that narrow as the member types)."""
        return _search(self.models, text, limit)

    def search_loras(self, text: str, limit: int = 25) -> list[StyleOption]:
        """LoRAs whose readable name contains ``text``, best match first (for pickers
        that narrow as the member types)."""
        return _search(self.loras, text, limit)


def with_trigger_words(prompt: str, *styles: StyleOption | None) -> str:
    """Append each style's trigger words that the prompt lacks (case-insensitive).

    ``with_trigger_words("a knight", niji)`` -> ``"a knight, niji style"``. A word counts as
    present when it appears as a whole phrase, so "ral-dissolved" does not hide
    "ral-dissolve". Each word is added at most once even if two styles share it.
    """
    result = prompt.strip()
    for style in styles:
        if style is None:
            continue
        for word in style.trigger_words:
            word = word.strip()
            if not word or _contains_phrase(result, word):
                continue
            result = f"{result}, {word}" if result else word
    return result


# =================================================================== implementation


def _contains_phrase(text: str, phrase: str) -> bool:
    pattern = r"(?<!\w)" + re.escape(phrase) + r"(?!\w)"
    return re.search(pattern, text, flags=re.IGNORECASE) is not None


def _norm(text: object) -> str:
    return " ".join(str(text).split()).casefold()


def _find(options: Sequence[StyleOption], key: str) -> StyleOption | None:
    if not isinstance(key, str) or not key.strip():
        return None
    raw = key.strip()
    for option in options:
        if option.id == raw:
            return option
    wanted = _norm(raw)
    for option in options:
        if wanted in (_norm(option.label), _norm(option.readable_name)):
            return option
    # "YamerMIX v8.0" alone works too, unless two owners publish the same name.
    hits = [o for o in options if _norm(o.short_name) == wanted]
    if len(hits) == 1:
        return hits[0]
    # A typed part of a name ("dreamshaper") works when it names exactly one option.
    partial = _search(options, raw, 2)
    return partial[0] if len(partial) == 1 else None


def _search(options: Sequence[StyleOption], text: str, limit: int) -> list[StyleOption]:
    if limit <= 0:
        return []
    wanted = _norm(text or "")
    if not wanted:
        return list(options[:limit])
    ranked: list[tuple[int, int, StyleOption]] = []
    for index, option in enumerate(options):
        name = _norm(option.readable_name)
        if option.id == text.strip() or name == wanted:
            rank = 0
        elif name.startswith(wanted):
            rank = 1
        elif re.search(r"(?<!\w)" + re.escape(wanted), name):
            rank = 2  # a word in the name starts with the text
        elif wanted in name:
            rank = 3
        else:
            continue
        ranked.append((rank, index, option))
    ranked.sort(key=lambda r: (r[0], r[1]))
    return [option for _, _, option in ranked[:limit]]


# --------------------------------------------------------------------- bundled file


@cache
def _load_bundled() -> Catalog:
    text = resources.files(__package__).joinpath(BUNDLED_FILE).read_text(encoding="utf-8")
    data = json.loads(text)

    def style(entry: Mapping[str, Any]) -> StyleOption:
        scale = entry.get("scale")
        return StyleOption(
            id=str(entry["id"]),
            label=str(entry["label"]),
            description=str(entry.get("description", "")),
            trigger_words=tuple(str(w) for w in entry.get("trigger_words", ())),
            scale=ScaleSetting(
                id=str(scale["id"]),
                minimum=float(scale["min"]),
                maximum=float(scale["max"]),
                default=float(scale["default"]),
                step=float(scale["step"]),
            )
            if scale
            else None,
        )

    d = data["defaults"]
    schedulers = list(data["schedulers"])
    return Catalog(
        models=tuple(style(e) for e in data["models"]),
        loras=tuple(style(e) for e in data["loras"]),
        schedulers=tuple(str(s["id"]) for s in schedulers if s.get("offered", True)),
        withheld_schedulers=tuple(str(s["id"]) for s in schedulers if not s.get("offered", True)),
        defaults=Defaults(
            prompt=str(d["prompt"]),
            negative_prompt=str(d["negative_prompt"]),
            steps=int(d["steps"]),
            guidance=float(d["guidance"]),
            likeness=float(d["likeness"]),
            samples=int(d["samples"]),
            seed=int(d["seed"]),
            scheduler=str(d["scheduler"]),
            model_id=str(d["model_id"]),
        ),
    )


# ------------------------------------------------------------- /Tool/Detail parsing


def _safe(build, what: str):
    try:
        return build()
    except Exception:
        log.warning(
            "Could not read %s from /Tool/Detail; keeping the bundled ones", what, exc_info=True
        )
        return None


def _maybe_json(value: Any) -> Any:
    """Decode ``value`` if it is a JSON string; return it unchanged otherwise."""
    if isinstance(value, (str, bytes, bytearray)):
        text = value.decode("utf-8", "replace") if not isinstance(value, str) else value
        text = text.strip()
        if not text:
            return None
        try:
            return json.loads(text)
        except ValueError:
            return value
    return value


def _tool_object(tool: Any) -> Mapping[str, Any]:
    tool = _maybe_json(tool)
    if isinstance(tool, Sequence) and not isinstance(tool, (str, bytes, bytearray)):
        tool = tool[0] if tool else None
    if isinstance(tool, Mapping) and "tool" in tool and "parameters" not in tool:
        inner = _maybe_json(tool["tool"])
        if isinstance(inner, Sequence) and not isinstance(inner, (str, bytes, bytearray)):
            inner = inner[0] if inner else None
        tool = inner
    if not isinstance(tool, Mapping):
        raise ValueError("no tool object in the answer")
    return tool


def _parameter_items(tool: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """Every parameter item by id, from groups with ``items`` or from a flat list."""
    params = _maybe_json(tool.get("parameters"))
    if isinstance(params, Mapping):
        params = params.get("items", list(params.values()))
        params = _maybe_json(params)
    if not isinstance(params, Sequence) or isinstance(params, (str, bytes, bytearray)):
        return {}
    found: dict[str, Mapping[str, Any]] = {}

    def add(item: Any) -> None:
        if isinstance(item, Mapping) and isinstance(item.get("id"), str):
            found.setdefault(item["id"], item)

    for entry in params:
        entry = _maybe_json(entry)
        if not isinstance(entry, Mapping):
            continue
        group_items = _maybe_json(entry.get("items"))
        if isinstance(group_items, Sequence) and not isinstance(group_items, (str, bytes)):
            for item in group_items:
                add(_maybe_json(item))
        else:
            add(entry)
    return found


def _as_list(value: Any) -> list[Any]:
    value = _maybe_json(value)
    if value is None:
        return []
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes, bytearray)):
        return list(value)
    if isinstance(value, Mapping):
        return [value]
    raise ValueError(f"not a list: {value!r}")


def _trigger_words(value: Any) -> tuple[str, ...]:
    value = _maybe_json(value)
    if isinstance(value, str):  # a plain "word, other word" string
        words: Iterable[Any] = value.split(",")
    else:
        words = _as_list(value)
    out: list[str] = []
    for word in words:
        if isinstance(word, (str, int, float)) and not isinstance(word, bool):
            text = " ".join(str(word).split())
            if text and text.casefold() not in (w.casefold() for w in out):
                out.append(text)
    return tuple(out)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(str(value).strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _scale_setting(value: Any) -> ScaleSetting | None:
    for entry in _as_list(value):
        entry = _maybe_json(entry)
        if not isinstance(entry, Mapping):
            continue
        kind = str(entry.get("type", "float")).lower()
        sid = entry.get("id")
        if kind not in ("float", "number", "range", "int", "integer") or not isinstance(sid, str):
            continue
        if not sid.strip():
            continue
        low = _number(entry.get("minvalue", entry.get("min")))
        high = _number(entry.get("maxvalue", entry.get("max")))
        low = 0.0 if low is None else low
        high = 1.0 if high is None else high
        if low > high:
            continue
        default = _number(entry.get("defaultvalue", entry.get("value", entry.get("default"))))
        default = high if default is None else min(max(default, low), high)
        step = _number(entry.get("incrementby", entry.get("step")))
        step = step if step is not None and step > 0 else 0.1
        return ScaleSetting(id=sid.strip(), minimum=low, maximum=high, default=default, step=step)
    return None


def _parse_styles(
    item: Mapping[str, Any] | None, fallback: tuple[StyleOption, ...]
) -> tuple[StyleOption, ...] | None:
    if not isinstance(item, Mapping):
        return None
    by_label = {_norm(o.label): o for o in fallback}
    by_id = {o.id: o for o in fallback}
    parsed: list[StyleOption] = []
    seen: set[str] = set()
    for raw in _as_list(item.get("options")):
        raw = _maybe_json(raw)
        if not isinstance(raw, Mapping):
            continue
        value = raw.get("value", raw.get("id"))
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            continue
        value = str(value).strip()
        if not value or value in seen:
            continue
        label = raw.get("label")
        label = " ".join(label.split()) if isinstance(label, str) and label.strip() else value
        # Pieces Wiro leaves out come from the bundled option with the same label (ids drift).
        known = by_label.get(_norm(label)) or (by_id.get(value) if label == value else None)

        description = raw.get("description")
        if not isinstance(description, str):
            description = known.description if known else ""
        if "triggerwords" in raw:
            try:
                triggers = _trigger_words(raw["triggerwords"])
            except ValueError:
                triggers = known.trigger_words if known else ()
        else:
            triggers = known.trigger_words if known else ()
        if "generatesettings" in raw:
            try:
                scale = _scale_setting(raw["generatesettings"])
            except ValueError:
                scale = known.scale if known else None
        else:
            scale = known.scale if known else None

        seen.add(value)
        parsed.append(
            StyleOption(
                id=value,
                label=label,
                description=description.strip(),
                trigger_words=triggers,
                scale=scale,
            )
        )
    return tuple(parsed) or None


def _parse_schedulers(
    item: Mapping[str, Any] | None, base: Catalog
) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    if not isinstance(item, Mapping):
        return None
    withheld_known = {_norm(s) for s in base.withheld_schedulers}
    offered: list[str] = []
    withheld: list[str] = []
    for raw in _as_list(item.get("options")):
        raw = _maybe_json(raw)
        value = raw.get("value") if isinstance(raw, Mapping) else raw
        if not isinstance(value, str) or not value.strip():
            continue
        name = value.strip()
        if _norm(name) in {_norm(s) for s in (*offered, *withheld)}:
            continue  # the page lists EulerDiscreteScheduler twice
        if _norm(name) in withheld_known or name.startswith(_WITHHELD_SCHEDULER_PREFIXES):
            withheld.append(name)
        else:
            offered.append(name)
    if not offered:
        return None
    return tuple(offered), tuple(withheld)


def _item_default(item: Mapping[str, Any] | None) -> Any:
    if not isinstance(item, Mapping):
        return None
    for key in ("default", "defaultvalue", "value"):
        value = item.get(key)
        if value is not None and not (isinstance(value, str) and not value.strip()):
            return value
    return None


def _default_model_id(wanted: Any, base: Catalog, models: tuple[StyleOption, ...]) -> str:
    ids = {m.id for m in models}
    if isinstance(wanted, (str, int)) and not isinstance(wanted, bool) and str(wanted) in ids:
        return str(wanted)
    # Keep our choice (the first model of the page) when Wiro names none or an unknown one.
    ours = base.model(base.defaults.model_id)
    if ours is not None:
        same_label = [m for m in models if _norm(m.label) == _norm(ours.label)]
        if same_label:
            return same_label[0].id
    return models[0].id


def _default_scheduler(wanted: Any, base: Catalog, offered: tuple[str, ...]) -> str:
    by_norm = {_norm(s): s for s in offered}
    for candidate in (wanted, base.defaults.scheduler):
        if isinstance(candidate, str) and _norm(candidate) in by_norm:
            return by_norm[_norm(candidate)]
    return offered[0]


def _parse_defaults(
    items: Mapping[str, Mapping[str, Any]],
    base: Catalog,
    models: tuple[StyleOption, ...],
    offered: tuple[str, ...],
) -> Defaults:
    fb = base.defaults

    def text(field_name: str, fallback: str) -> str:
        value = _item_default(items.get(_DEFAULT_PARAMS[field_name]))
        return value.strip() if isinstance(value, str) and value.strip() else fallback

    def positive(field_name: str, fallback: float, whole: bool) -> Any:
        value = _number(_item_default(items.get(_DEFAULT_PARAMS[field_name])))
        if value is None or value <= 0 or (whole and not value.is_integer()):
            return fallback
        return int(value) if whole else value

    def non_negative(field_name: str, fallback: float) -> float:
        value = _number(_item_default(items.get(_DEFAULT_PARAMS[field_name])))
        return fallback if value is None or value < 0 else value

    seed_value = _item_default(items.get(_DEFAULT_PARAMS["seed"]))
    seed = fb.seed
    if isinstance(seed_value, (str, int)) and not isinstance(seed_value, bool):
        seed_text = str(seed_value).strip()
        if seed_text.isascii() and seed_text.isdigit() and int(seed_text) < 2**32:
            seed = int(seed_text)

    return Defaults(
        prompt=text("prompt", fb.prompt),
        negative_prompt=text("negative_prompt", fb.negative_prompt),
        steps=positive("steps", fb.steps, whole=True),
        guidance=float(positive("guidance", fb.guidance, whole=False)),
        likeness=float(non_negative("likeness", fb.likeness)),
        samples=positive("samples", fb.samples, whole=True),
        seed=seed,
        scheduler=_default_scheduler(_item_default(items.get(SCHEDULER_PARAM)), base, offered),
        model_id=_default_model_id(_item_default(items.get(MODEL_PARAM)), base, models),
    )
