import json
import random
from dataclasses import replace

import pytest

from bot.core.catalog import Catalog
from bot.core.request.options import (
    GUIDANCE_RANGE,
    LIKENESS_RANGE,
    NEGATIVE_PROMPT_MAX_CHARS,
    PROMPT_MAX_CHARS,
    SAMPLES_RANGE,
    SEED_RANGE,
    STEPS_RANGE,
    OptionError,
    PortraitOptions,
    resolve_options,
    run_fields,
)

IMAGE_URL = "https://api.wiro.ai/v1/File/abc/selfie.jpg"
RUN_FIELDS = {
    "selectedModel",
    "selectedModelPrivate",
    "selectedLoraModel",
    "selectedLoraModelPrivate",
    "selectedLoraModelPrivateUrl",
    "inputImageUrl",
    "prompt",
    "negativePrompt",
    "steps",
    "scale",
    "ip_adapter_scale",
    "samples",
    "seed",
    "scheduler",
}


@pytest.fixture
def catalog() -> Catalog:
    return Catalog.bundled()


def resolve(catalog, **kwargs):
    kwargs.setdefault("rng", random.Random(7))
    return resolve_options(catalog, **kwargs)


def error_of(catalog, **kwargs) -> str:
    with pytest.raises(OptionError) as caught:
        resolve(catalog, **kwargs)
    assert caught.value.message == str(caught.value)
    return caught.value.message


# ------------------------------------------------------------------------ defaults


def test_everything_left_out_gives_the_catalog_defaults(catalog):
    options = resolve(catalog)
    d = catalog.defaults
    assert options == PortraitOptions(
        prompt=d.prompt,
        negative_prompt=d.negative_prompt,
        model_id="606",
        lora_id=None,
        lora_scale=None,
        steps=20,
        guidance=5.0,
        likeness=0.8,
        samples=1,
        seed=random.Random(7).randint(*SEED_RANGE),
        scheduler="EulerAncestralDiscreteScheduler",
    )


def test_random_seed_is_in_range_and_varies(catalog):
    seeds = {resolve_options(catalog).seed for _ in range(20)}
    assert len(seeds) > 1
    assert all(SEED_RANGE[0] <= s <= SEED_RANGE[1] for s in seeds)


def test_prompt_is_stripped_and_blank_means_default(catalog):
    assert resolve(catalog, prompt="  a pirate  ").prompt == "a pirate"
    assert resolve(catalog, prompt="   ").prompt == catalog.defaults.prompt
    assert resolve(catalog, negative_prompt="").negative_prompt == catalog.defaults.negative_prompt
    assert resolve(catalog, negative_prompt=" hats ").negative_prompt == "hats"


def test_drifted_defaults_are_clamped_into_our_ranges(catalog):
    wild = replace(catalog.defaults, steps=80, guidance=30.0, samples=9)
    options = resolve(replace(catalog, defaults=wild))
    assert (options.steps, options.guidance, options.samples) == (50, 20.0, 4)


# -------------------------------------------------------------------- model / LoRA


def test_model_and_lora_by_id_or_name(catalog):
    options = resolve(catalog, model="DreamShaper-XL (Lykon)", lora="1362", lora_scale=0.4)
    assert (options.model_id, options.lora_id, options.lora_scale) == ("850", "1362", 0.4)
    assert resolve(catalog, model="850").lora_id is None
    assert resolve(catalog, lora="dissolve-style-sdxl").lora_id == "1362"


def test_unknown_model_and_lora_name_what_was_typed(catalog):
    message = error_of(catalog, model="Midjourney v7")
    assert '"Midjourney v7"' in message and "suggestions" in message
    message = error_of(catalog, lora="Pixar")
    assert '"Pixar"' in message and "LoRA" in message


def test_lora_scale_needs_a_lora_with_a_strength_setting(catalog):
    assert "choose a LoRA" in error_of(catalog, lora_scale=0.5)
    assert "from the list" in error_of(
        catalog, lora_url="https://example.com/x.safetensors", lora_scale=0.5
    )
    no_scale = replace(catalog.loras[0], scale=None)
    bare = replace(catalog, loras=(no_scale, *catalog.loras[1:]))
    assert "no strength setting" in error_of(bare, lora=no_scale.id, lora_scale=0.5)


@pytest.mark.parametrize("scale", [-0.1, 1.01, float("nan"), float("inf")])
def test_lora_scale_range(catalog, scale):
    message = error_of(catalog, lora="540", lora_scale=scale)
    assert message.startswith("LoRA strength must be")


def test_lora_scale_range_message(catalog):
    assert error_of(catalog, lora="540", lora_scale=2) == "LoRA strength must be between 0 and 1."


def test_only_one_kind_of_lora_and_of_model(catalog):
    url = "https://example.com/my.safetensors"
    assert "only one LoRA" in error_of(catalog, lora="540", lora_url=url)
    assert "only one LoRA" in error_of(catalog, private_lora="77", lora_url=url)
    assert "not both" in error_of(catalog, model="850", private_model="abc")


def test_private_model_lora_and_url_are_kept(catalog):
    options = resolve(
        catalog,
        private_model=" my-model ",
        private_lora=" ",
        lora_url=" https://cdn.example.com/a/b.SafeTensors?token=1&x=2 ",
    )
    assert options.private_model == "my-model"
    assert options.private_lora is None
    assert options.lora_url == "https://cdn.example.com/a/b.SafeTensors?token=1&x=2"
    assert options.model_id == catalog.defaults.model_id


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/a.safetensors",
        "https://example.com/a.ckpt",
        "https://example.com/a.safetensors.zip",
        "https:///a.safetensors",
        "ftp://example.com/a.safetensors",
        "https://user:pass@example.com/a.safetensors",
        "https://example.com/a b.safetensors",
        "https://[::1/a.safetensors",
        "example.com/a.safetensors",
        "https://example.com/?file=a.safetensors",
        "https://example.com/" + "a" * 3000 + ".safetensors",
    ],
)
def test_bad_lora_urls(catalog, url):
    assert ".safetensors" in error_of(catalog, lora_url=url)


# ------------------------------------------------------------------------ numbers


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("steps", 0, "Steps must be between 1 and 50."),
        ("steps", 51, "Steps must be between 1 and 50."),
        ("steps", 2.5, "Steps must be a whole number."),
        ("steps", True, "Steps must be a whole number."),
        ("steps", "ten", "Steps must be a whole number."),
        ("guidance", 0.05, "Guidance must be between 0.1 and 20."),
        ("guidance", 20.5, "Guidance must be between 0.1 and 20."),
        ("guidance", float("nan"), "Guidance must be a number."),
        ("guidance", "strong", "Guidance must be a number."),
        ("likeness", -0.01, "Likeness must be between 0 and 1.5."),
        ("likeness", 1.6, "Likeness must be between 0 and 1.5."),
        ("samples", 0, "Samples must be between 1 and 4."),
        ("samples", 5, "Samples must be between 1 and 4."),
        ("seed", -1, "Seed must be between 0 and 4294967295."),
        ("seed", 2**32, "Seed must be between 0 and 4294967295."),
    ],
)
def test_numeric_option_errors(catalog, field, value, message):
    assert error_of(catalog, **{field: value}) == message


def test_numeric_edges_are_accepted(catalog):
    low = resolve(
        catalog,
        steps=STEPS_RANGE[0],
        guidance=GUIDANCE_RANGE[0],
        likeness=LIKENESS_RANGE[0],
        samples=SAMPLES_RANGE[0],
        seed=SEED_RANGE[0],
    )
    high = resolve(
        catalog,
        steps=STEPS_RANGE[1],
        guidance=GUIDANCE_RANGE[1],
        likeness=LIKENESS_RANGE[1],
        samples=SAMPLES_RANGE[1],
        seed=SEED_RANGE[1],
    )
    assert (low.steps, low.guidance, low.likeness, low.samples, low.seed) == (1, 0.1, 0.0, 1, 0)
    assert (high.steps, high.samples, high.seed) == (50, 4, 2**32 - 1)
    assert resolve(catalog, steps=30.0, seed="42").steps == 30
    assert resolve(catalog, seed="42").seed == 42


def test_text_length_limits(catalog):
    assert resolve(catalog, prompt="x" * PROMPT_MAX_CHARS).prompt == "x" * PROMPT_MAX_CHARS
    message = error_of(catalog, prompt="x" * 1234)
    assert message == "The prompt is 1,234 characters long; the limit is 1,000."
    message = error_of(catalog, negative_prompt="y" * (NEGATIVE_PROMPT_MAX_CHARS + 1))
    assert message.startswith("The negative prompt is 1,001 characters long")


# ---------------------------------------------------------------------- scheduler


def test_scheduler_is_case_insensitive(catalog):
    assert resolve(catalog, scheduler="ddimscheduler").scheduler == "DDIMScheduler"


def test_scheduler_errors(catalog):
    message = error_of(catalog, scheduler="FlowMatchEulerDiscreteScheduler")
    assert "flow-matching" in message and "DDIMScheduler" in message
    message = error_of(catalog, scheduler="UniPC")
    assert '"UniPC"' in message and "EulerAncestralDiscreteScheduler" in message


# ---------------------------------------------------------------------- run_fields


def test_run_fields_names_and_types(catalog):
    options = resolve(catalog, prompt="a pirate", seed=123)
    body = run_fields(options, catalog, IMAGE_URL)
    assert set(body) == RUN_FIELDS
    assert body == {
        "selectedModel": "606",
        "selectedModelPrivate": "",
        "selectedLoraModel": "",
        "selectedLoraModelPrivate": "",
        "selectedLoraModelPrivateUrl": "",
        "inputImageUrl": IMAGE_URL,
        "prompt": "a pirate",
        "negativePrompt": catalog.defaults.negative_prompt,
        "steps": 20,
        "scale": 5.0,
        "ip_adapter_scale": 0.8,
        "samples": 1,
        "seed": "123",
        "scheduler": "EulerAncestralDiscreteScheduler",
    }
    assert type(body["steps"]) is int and type(body["samples"]) is int
    assert type(body["scale"]) is float and type(body["ip_adapter_scale"]) is float
    assert isinstance(body["seed"], str) and body["seed"].isdigit()
    json.dumps(body)  # serialisable as is


def test_run_fields_adds_trigger_words_and_the_lora_scale_field(catalog):
    options = resolve(catalog, prompt="a pirate", model="966", lora="540", lora_scale=0.7)
    body = run_fields(options, catalog, IMAGE_URL)
    assert body["selectedModel"] == "966"
    assert body["selectedLoraModel"] == "540"
    assert body["prompt"] == "a pirate, niji style, Modern Style"
    assert body["JJs-Interior-Style-Modern-v1.0-LoRA-XL"] == 0.7
    assert set(body) == RUN_FIELDS | {"JJs-Interior-Style-Modern-v1.0-LoRA-XL"}


def test_run_fields_leaves_the_lora_scale_out_when_not_set(catalog):
    options = resolve(catalog, prompt="Modern Style lounge portrait", lora="540")
    body = run_fields(options, catalog, IMAGE_URL)
    assert set(body) == RUN_FIELDS
    assert body["prompt"] == "Modern Style lounge portrait"  # already present: not doubled


def test_run_fields_private_choices_go_in_their_own_fields(catalog):
    options = resolve(
        catalog,
        prompt="a pirate",
        private_model="pm-1",
        private_lora="pl-2",
    )
    body = run_fields(options, catalog, IMAGE_URL)
    assert body["selectedModelPrivate"] == "pm-1"
    assert body["selectedLoraModelPrivate"] == "pl-2"
    assert body["selectedLoraModel"] == ""
    url_body = run_fields(
        resolve(catalog, lora_url="https://h.example/l.safetensors"), catalog, IMAGE_URL
    )
    assert url_body["selectedLoraModelPrivateUrl"] == "https://h.example/l.safetensors"
    assert set(url_body) == RUN_FIELDS


def test_run_fields_private_model_skips_the_listed_models_trigger_words(catalog):
    niji_default = replace(catalog, defaults=replace(catalog.defaults, model_id="966"))
    options = resolve(niji_default, prompt="a pirate", private_model="pm-1")
    assert run_fields(options, niji_default, IMAGE_URL)["prompt"] == "a pirate"
    plain = resolve(niji_default, prompt="a pirate")
    assert run_fields(plain, niji_default, IMAGE_URL)["prompt"] == "a pirate, niji style"


def test_run_fields_with_a_catalog_that_lost_the_choice(catalog):
    options = resolve(catalog, model="850", lora="1362")
    smaller = replace(catalog, models=catalog.models[:1])
    with pytest.raises(OptionError, match="model is no longer offered"):
        run_fields(options, smaller, IMAGE_URL)
    no_loras = replace(catalog, loras=())
    with pytest.raises(OptionError, match="LoRA is no longer offered"):
        run_fields(options, no_loras, IMAGE_URL)
    with pytest.raises(ValueError):
        run_fields(options, catalog, " ")


@pytest.mark.parametrize(
    ("url", "kept"),
    [
        ("https://civitai.com/api/download/models/128713", True),
        ("https://civitai.com/api/download/models/128713?type=Model&format=SafeTensor", True),
        ("https://civitai.com/api/download/models/abc", False),
        ("https://civitai.com/models/128713/some-style", False),
    ],
)
def test_civitai_download_links_need_no_file_suffix(catalog, url, kept):
    if kept:
        assert resolve(catalog, lora_url=url).lora_url == url
    else:
        assert "Civitai download link" in error_of(catalog, lora_url=url)
