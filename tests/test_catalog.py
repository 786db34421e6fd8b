import copy
import json

import pytest

from bot.core.catalog import Catalog, ScaleSetting, StyleOption, with_trigger_words

PAGE_MODEL_IDS = ("606", "1097", "966", "850", "927")
PAGE_LORA_IDS = ("540", "1086", "1170", "1375", "1362")
PAGE_SCHEDULERS = {
    "EulerDiscreteScheduler",
    "DDIMScheduler",
    "LMSDiscreteScheduler",
    "DPMSolverMultistepScheduler",
    "PNDMScheduler",
    "DDPMScheduler",
    "EulerAncestralDiscreteScheduler",
}


@pytest.fixture
def bundled() -> Catalog:
    return Catalog.bundled()


def _option(value, label, description="", triggerwords="[]", generatesettings="[]"):
    return {
        "value": value,
        "label": label,
        "description": description,
        "triggerwords": triggerwords,
        "generatesettings": generatesettings,
    }


def _scale_json(sid, default="0.7", low="0.00", high="1", step="0.1"):
    return json.dumps(
        [
            {
                "type": "float",
                "template": "",
                "id": sid,
                "label": f"{sid} scale",
                "minvalue": low,
                "maxvalue": high,
                "value": default,
                "defaultvalue": default,
                "incrementby": step,
                "options": [],
                "note": "",
            }
        ]
    )


def _detail(**overrides):
    """A /Tool/Detail answer shaped like Wiro's (parameters in groups of items)."""
    items = {
        "selectedModel": {
            "id": "selectedModel",
            "type": "select",
            "label": "select-model",
            "default": "79",  # a stale default that is not among the options
            "options": [
                _option("556", "wangqixun/YamerMIX v8.0", "An SDXL model."),
                _option("425", "StableDiffusionVN/SDVN7-NijiStyleXL", "Niji", '["niji style"]'),
                _option("1059", "Someone/Brand-New-XL", "New model", '["brandnew"]'),
            ],
        },
        "selectedLoraModel": {
            "id": "selectedLoraModel",
            "type": "select",
            "label": "select-lora-model",
            "default": "",
            "options": [
                _option(
                    "961",
                    "jjhuang/JJs Interior Style - Modern v1.0 - LoRA XL",
                    "Interior",
                    '["Modern Style"]',
                    _scale_json("JJs-Interior-Style-Modern-v1.0-LoRA-XL", "0.5"),
                ),
                _option(
                    "1082",
                    "RalFinger/Dissolve-Style-SDXL",
                    "Dissolve",
                    '["ral-dissolve"]',
                    _scale_json("Dissolve-Style-SDXL", "1.0"),
                ),
            ],
        },
        "scheduler": {
            "id": "scheduler",
            "type": "select",
            "default": "EulerAncestralDiscreteScheduler",
            "options": [
                {"value": "FlowMatchEulerDiscreteScheduler", "label": "FlowMatch"},
                {"value": "EulerDiscreteScheduler", "label": "EulerDiscreteScheduler"},
                {"value": "DDIMScheduler", "label": "DDIMScheduler"},
                {"value": "EulerDiscreteScheduler", "label": "EulerDiscreteScheduler"},
                {"value": "EulerAncestralDiscreteScheduler", "label": "EulerAncestral"},
            ],
        },
        "prompt": {"id": "prompt", "type": "textarea", "default": "a royal portrait"},
        "negativePrompt": {"id": "negativePrompt", "type": "textarea", "default": "blurry"},
        "steps": {"id": "steps", "type": "number", "default": "25"},
        "scale": {"id": "scale", "type": "float", "default": "4.5"},
        "ip_adapter_scale": {"id": "ip_adapter_scale", "type": "float", "default": "0.7"},
        "samples": {"id": "samples", "type": "number", "default": "1"},
        "seed": {"id": "seed", "type": "text", "default": "123"},
    }
    items.update(overrides)
    return {
        "result": True,
        "errors": [],
        "tool": [
            {
                "id": "1234",
                "slugowner": "wiro",
                "slugproject": "instant-id-lora",
                "parameters": [
                    {"title": "", "subtitle": "", "items": [v for v in items.values() if v]},
                ],
            }
        ],
    }


# ---------------------------------------------------------------------- bundled


def test_bundled_has_the_pages_models_loras_and_schedulers_once(bundled):
    assert tuple(m.id for m in bundled.models) == PAGE_MODEL_IDS
    assert tuple(lora.id for lora in bundled.loras) == PAGE_LORA_IDS
    assert set(bundled.schedulers) == PAGE_SCHEDULERS
    assert len(bundled.schedulers) == len(set(bundled.schedulers))  # EulerDiscrete once
    assert "FlowMatchEulerDiscreteScheduler" not in bundled.schedulers
    assert bundled.withheld_schedulers == ("FlowMatchEulerDiscreteScheduler",)


def test_bundled_defaults_follow_the_page(bundled):
    d = bundled.defaults
    assert d.prompt.startswith("olympic athlete, standing")
    assert d.negative_prompt.startswith("(lowres, low quality")
    assert (d.steps, d.guidance, d.likeness, d.samples) == (20, 5.0, 0.8, 1)
    assert d.seed == 3572004920
    assert d.scheduler == "EulerAncestralDiscreteScheduler"
    assert d.model_id == "606"  # our choice: the page's first model
    assert bundled.default_model().label == "wangqixun/YamerMIX v8.0"


def test_bundled_trigger_words_and_lora_scales(bundled):
    assert bundled.model("966").trigger_words == ("niji style",)
    assert bundled.model("606").trigger_words == ()
    assert all(m.scale is None for m in bundled.models)
    jj = bundled.lora("540")
    assert jj.trigger_words == ("Modern Style",)
    assert jj.scale == ScaleSetting("JJs-Interior-Style-Modern-v1.0-LoRA-XL", 0.0, 1.0, 0.5, 0.1)
    assert bundled.lora("1086").scale.default == 1.0
    assert bundled.lora("1086").trigger_words == ()
    assert all(lora.scale is not None for lora in bundled.loras)


def test_bundled_is_cached_and_immutable(bundled):
    assert Catalog.bundled() is bundled
    with pytest.raises(AttributeError):
        bundled.models = ()  # type: ignore[misc]


# ------------------------------------------------------------------ readable names


def test_readable_names(bundled):
    assert bundled.model("606").readable_name == "YamerMIX v8.0 (wangqixun)"
    assert (
        bundled.lora("540").readable_name == "JJs Interior Style - Modern v1.0 - LoRA XL (jjhuang)"
    )
    assert StyleOption("1", "NoOwner XL", "", (), None).readable_name == "NoOwner XL"
    assert StyleOption("1", "", "", (), None).readable_name == "1"


# ------------------------------------------------------------------------ lookups


@pytest.mark.parametrize(
    "key",
    [
        "606",
        "wangqixun/YamerMIX v8.0",
        "WANGQIXUN/yamermix V8.0",
        "YamerMIX v8.0 (wangqixun)",
        "  yamermix   v8.0 (wangqixun) ",
        "yamermix v8.0",
    ],
)
def test_model_lookup_by_id_label_or_name(bundled, key):
    assert bundled.model(key).id == "606"


def test_lookup_misses(bundled):
    assert bundled.model("") is None
    assert bundled.model("   ") is None
    assert bundled.model("XL") is None  # a part of several names is ambiguous
    assert bundled.model("540") is None  # a LoRA id is not a model
    assert bundled.lora("dissolve-style-sdxl").id == "1362"
    assert bundled.lora("606") is None


def test_a_unique_partial_name_is_enough(bundled):
    assert bundled.model("yamer").id == "606"
    assert bundled.lora("samaritan").id == "1086"


def test_short_name_lookup_refuses_ambiguity():
    a = StyleOption("1", "alice/Portrait XL", "", (), None)
    b = StyleOption("2", "bob/Portrait XL", "", (), None)
    catalog = Catalog((a, b), (), ("DDIMScheduler",), Catalog.bundled().defaults)
    assert catalog.model("Portrait XL") is None
    assert catalog.model("Portrait XL (bob)") is b


def test_scheduler_lookup_is_case_insensitive(bundled):
    assert bundled.scheduler("ddimscheduler") == "DDIMScheduler"
    assert bundled.scheduler("FlowMatchEulerDiscreteScheduler") is None


# --------------------------------------------------------------------- autocomplete


def test_search_empty_text_lists_all_in_order(bundled):
    assert [m.id for m in bundled.search_models("")] == list(PAGE_MODEL_IDS)
    assert len(bundled.search_loras("", limit=2)) == 2
    assert bundled.search_models("", limit=0) == []


def test_search_ranks_prefix_then_word_then_substring(bundled):
    names = [m.readable_name for m in bundled.search_models("xl")]
    # "-XL" starts a word in three names; "NijiStyleXL" only contains it.
    assert names == [
        "PureRealism-Mix-XL (Coolreal)",
        "DreamShaper-XL (Lykon)",
        "Endjourney-XL (Hevok)",
        "SDVN7-NijiStyleXL (StableDiffusionVN)",
    ]
    assert [m.id for m in bundled.search_models("dream")] == ["850"]
    assert [m.id for m in bundled.search_models("LYKON")] == ["850"]  # owner is in the name
    assert bundled.search_models("no such model") == []


def test_search_loras_matches_substrings_and_limits(bundled):
    assert [x.id for x in bundled.search_loras("style")] == ["540", "1362"]  # ties: page order
    assert [x.id for x in bundled.search_loras("dissolve")] == ["1362"]
    assert [x.id for x in bundled.search_loras("sdxl", limit=1)] == ["1086"]


# -------------------------------------------------------------------- trigger words


def test_trigger_words_added_once_and_case_insensitively(bundled):
    niji, jj = bundled.model("966"), bundled.lora("540")
    assert with_trigger_words("a knight", niji, jj) == "a knight, niji style, Modern Style"
    assert with_trigger_words("a knight in NIJI Style", niji, jj) == (
        "a knight in NIJI Style, Modern Style"
    )
    once = with_trigger_words("a knight", niji, niji)
    assert once == "a knight, niji style"
    assert with_trigger_words(once, niji) == once
    assert with_trigger_words("a knight", None, bundled.model("606")) == "a knight"
    assert with_trigger_words("", niji) == "niji style"


def test_trigger_word_must_be_a_whole_phrase(bundled):
    dissolve = bundled.lora("1362")
    assert with_trigger_words("ral-dissolved", dissolve) == "ral-dissolved, ral-dissolve"
    assert with_trigger_words("(ral-dissolve:1.2) face", dissolve) == "(ral-dissolve:1.2) face"


# ------------------------------------------------------------------ /Tool/Detail


def test_from_tool_detail_takes_drifted_ids(bundled):
    catalog = Catalog.from_tool_detail(_detail())
    assert [m.id for m in catalog.models] == ["556", "425", "1059"]
    assert catalog.model("YamerMIX v8.0 (wangqixun)").id == "556"
    assert catalog.model("425").trigger_words == ("niji style",)
    assert catalog.model("1059").trigger_words == ("brandnew",)
    assert [x.id for x in catalog.loras] == ["961", "1082"]
    assert catalog.lora("961").scale == ScaleSetting(
        "JJs-Interior-Style-Modern-v1.0-LoRA-XL", 0.0, 1.0, 0.5, 0.1
    )
    assert catalog.lora("961").trigger_words == ("Modern Style",)
    # the stale default "79" is ignored; our choice (YamerMIX) is kept under its new id
    assert catalog.defaults.model_id == "556"
    d = catalog.defaults
    assert (d.prompt, d.negative_prompt) == ("a royal portrait", "blurry")
    assert (d.steps, d.guidance, d.likeness, d.samples, d.seed) == (25, 4.5, 0.7, 1, 123)
    assert d.scheduler == "EulerAncestralDiscreteScheduler"


def test_from_tool_detail_schedulers_deduplicated_flowmatch_withheld():
    catalog = Catalog.from_tool_detail(_detail())
    assert catalog.schedulers == (
        "EulerDiscreteScheduler",
        "DDIMScheduler",
        "EulerAncestralDiscreteScheduler",
    )
    assert catalog.withheld_schedulers == ("FlowMatchEulerDiscreteScheduler",)


def test_from_tool_detail_accepts_the_tool_object_and_a_flat_item_list():
    answer = _detail()
    tool = answer["tool"][0]
    flat = dict(tool, parameters=tool["parameters"][0]["items"])
    for shape in (tool, flat):
        catalog = Catalog.from_tool_detail(shape)
        assert [m.id for m in catalog.models] == ["556", "425", "1059"]


def test_from_tool_detail_trigger_words_and_settings_as_lists_or_strings():
    model_list = _option("7", "a/List XL", triggerwords=["one", "two", "One"])
    model_plain = _option("8", "b/Plain XL", triggerwords="solo word")
    model_empty = _option("9", "c/Empty XL", triggerwords="")
    lora_list = _option("5", "d/Lora", generatesettings=json.loads(_scale_json("d-lora", "0.3")))
    answer = _detail(
        selectedModel={
            "id": "selectedModel",
            "options": json.dumps([model_list, model_plain, model_empty]),
        },
        selectedLoraModel={"id": "selectedLoraModel", "options": [lora_list]},
    )
    catalog = Catalog.from_tool_detail(answer)
    assert catalog.model("7").trigger_words == ("one", "two")
    assert catalog.model("8").trigger_words == ("solo word",)
    assert catalog.model("9").trigger_words == ()
    assert catalog.lora("5").scale == ScaleSetting("d-lora", 0.0, 1.0, 0.3, 0.1)
    assert catalog.defaults.model_id == "7"  # no YamerMIX any more: the first model


def test_from_tool_detail_missing_pieces_come_from_the_bundled_option(bundled):
    bare = {"value": "4242", "label": "StableDiffusionVN/SDVN7-NijiStyleXL"}
    bare_lora = {"value": "4343", "label": "desertPixel/Diamond-Jewel-SDXL"}
    answer = _detail(
        selectedModel={"id": "selectedModel", "options": [bare]},
        selectedLoraModel={"id": "selectedLoraModel", "options": [bare_lora]},
    )
    catalog = Catalog.from_tool_detail(answer)
    niji = catalog.model("4242")
    assert niji.trigger_words == ("niji style",)
    assert niji.description == "SDVN7-NijiStyleXL"
    jewel = catalog.lora("4343")
    assert jewel.scale == bundled.lora("1170").scale
    assert jewel.trigger_words == ("damndjewl style",)


def test_from_tool_detail_odd_lora_settings_give_no_scale():
    odd = [
        _option("1", "a/Broken", generatesettings="{not json"),
        _option("2", "a/Backwards", generatesettings=_scale_json("x", low="1", high="0")),
        _option("3", "a/Text", generatesettings=json.dumps([{"type": "text", "id": "t"}])),
        _option("4", "a/Clamped", generatesettings=_scale_json("c", default="7", step="0")),
    ]
    catalog = Catalog.from_tool_detail(
        _detail(selectedLoraModel={"id": "selectedLoraModel", "options": odd})
    )
    assert [catalog.lora(i).scale for i in "123"] == [None, None, None]
    assert catalog.lora("4").scale == ScaleSetting("c", 0.0, 1.0, 1.0, 0.1)


@pytest.mark.parametrize(
    "garbage",
    [
        {},
        {"result": False, "errors": [{"code": 1, "message": "tool-not-accessible"}]},
        {"tool": []},
        {"tool": None},
        {"tool": ["nonsense"]},
        {"tool": [{"parameters": None}]},
        {"tool": [{"parameters": "not json"}]},
        {"tool": [{"parameters": [1, "x", None, {"items": "nope"}]}]},
        {"tool": [{"parameters": [{"items": [{"id": "selectedModel", "options": 5}]}]}]},
        {"tool": [{"parameters": [{"items": [{"id": "selectedModel", "options": [{}]}]}]}]},
        {"tool": "[]"},
        {"tool": [{"parameters": {"weird": True}}]},
    ],
)
def test_from_tool_detail_garbage_falls_back(bundled, garbage):
    catalog = Catalog.from_tool_detail(garbage)
    assert catalog.models == bundled.models
    assert catalog.loras == bundled.loras
    assert catalog.schedulers == bundled.schedulers
    assert catalog.defaults == bundled.defaults


def test_from_tool_detail_bad_defaults_keep_the_fallbacks(bundled):
    answer = _detail(
        steps={"id": "steps", "default": "lots"},
        scale={"id": "scale", "default": "-3"},
        ip_adapter_scale={"id": "ip_adapter_scale", "default": None},
        samples={"id": "samples", "default": "1.5"},
        seed={"id": "seed", "default": "-1"},
        prompt={"id": "prompt", "default": "   "},
        scheduler={
            "id": "scheduler",
            "default": "FlowMatchEulerDiscreteScheduler",
            "options": ["DDIMScheduler", "FlowMatchEulerDiscreteScheduler"],
        },
    )
    d = Catalog.from_tool_detail(answer).defaults
    b = bundled.defaults
    assert (d.steps, d.guidance, d.likeness, d.samples, d.seed, d.prompt) == (
        b.steps,
        b.guidance,
        b.likeness,
        b.samples,
        b.seed,
        b.prompt,
    )
    assert d.scheduler == "DDIMScheduler"  # neither Wiro's nor ours is offered: first offered


def test_from_tool_detail_keeps_a_valid_wiro_model_default():
    answer = _detail()
    answer["tool"][0]["parameters"][0]["items"][0]["default"] = "1059"
    assert Catalog.from_tool_detail(answer).defaults.model_id == "1059"


def test_from_tool_detail_uses_the_given_fallback(bundled):
    custom = Catalog(bundled.models[:1], bundled.loras[:1], ("DDIMScheduler",), bundled.defaults)
    answer = _detail()
    del answer["tool"][0]["parameters"][0]["items"][1]  # no selectedLoraModel
    catalog = Catalog.from_tool_detail(answer, fallback=custom)
    assert catalog.loras == custom.loras
    assert [m.id for m in catalog.models] == ["556", "425", "1059"]


def test_from_tool_detail_does_not_mutate_its_input():
    answer = _detail()
    before = copy.deepcopy(answer)
    Catalog.from_tool_detail(answer)
    assert answer == before
