"""The registry matches the schema contract and every knob names a real pipeline argument."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest

from hilite_cli.models.base import ModelSpec
from hilite_cli.models.registry import call_kwargs, effective_params, get_spec, load_registry
from hilite_cli.records import RecordError

EXPECTED = {
    "instruct-pix2pix": "instruction",
    "controlnet-sdxl-canny": "instruction",
    "paint-by-example": "reference",
    "infedit": "instruction",
    "deadiff": "style",
    "anydoor": "reference",
    "flux-kontext": "instruction",
    "qwen-image-edit": "instruction",
    "flux-schnell": "t2i",
    "classic": "classic",
    "flux2-dev": "instruction",
    "qwen-image-edit-plus": "instruction",
    "longcat-image-edit": "instruction",
    "flux2-klein": "instruction",
    "flux2-klein-9b": "instruction",
    "flux2-klein-t2i": "t2i",
    "z-image-turbo": "t2i",
    # hosted (configs/models.toml [hosted]): an editor and a T2I source per listed model
    **{f"{prefix}:{model}": kind
       for family, models in (("gemini", ("gemini-2.5-flash-image", "gemini-3-pro-image-preview")),
                              ("openai", ("gpt-image-1", "gpt-image-1-mini", "gpt-image-1.5")))
       for model in models for prefix, kind in ((f"{family}-image", "instruction"), (f"{family}-t2i", "t2i"))},
}


def test_every_model_is_registered_with_its_kind() -> None:
    registry = load_registry()
    assert {n: s.kind for n, s in registry.items()} == EXPECTED


def test_substitutes_say_what_they_stand_in_for() -> None:
    registry = load_registry()
    substitutes = {n for n, s in registry.items() if s.status == "substitute"}
    assert substitutes == {"infedit", "deadiff", "anydoor"}
    for name in substitutes:
        assert registry[name].substitute_for.split()[0].lower() == name


def _pipeline_args(spec: ModelSpec) -> set[str]:
    import diffusers

    cls = getattr(diffusers, spec.pipeline)
    args = set(inspect.signature(cls.__call__).parameters)
    if hasattr(cls, "invert"):
        args |= set(inspect.signature(cls.invert).parameters)
    return args


@pytest.mark.parametrize("name", [n for n, k in EXPECTED.items() if k != "classic" and ":" not in n])  # hosted: no pipeline
def test_knobs_and_fixed_args_name_real_pipeline_arguments(name: str) -> None:
    spec = get_spec(name)
    args = _pipeline_args(spec)
    for target in (spec.knobs.steps, spec.knobs.text_influence, spec.knobs.image_influence):
        if target:
            assert target.removeprefix("1-") in args, f"{name}: {target} is not an argument of {spec.pipeline}"
    assert set(spec.call) <= args
    assert spec.hub_id and "/" in spec.hub_id


def test_call_kwargs_maps_levels_and_defaults_to_native_values() -> None:
    spec = get_spec("instruct-pix2pix")
    assert call_kwargs(spec, {"steps": 3, "text_influence": None, "image_influence": 10}) == {
        "num_inference_steps": 3,
        "guidance_scale": 7.5,
        "image_guidance_scale": 2.0,
    }
    assert call_kwargs(get_spec("controlnet-sdxl-canny"), {"image_influence": 8})["controlnet_conditioning_scale"] == pytest.approx(0.8)


def test_more_image_influence_means_lower_img2img_strength_and_fixed_args_pass_through() -> None:
    strengths = [call_kwargs(get_spec("deadiff"), {"image_influence": level})["strength"] for level in range(11)]
    assert strengths == sorted(strengths, reverse=True) and strengths[0] > strengths[-1]
    schnell = call_kwargs(get_spec("flux-schnell"), {"text_influence": 9})
    assert schnell == {"guidance_scale": 0.0, "max_sequence_length": 256, "num_inference_steps": 4}


def test_effective_params_record_levels_native_values_and_na_knobs_as_none() -> None:
    params = effective_params(get_spec("paint-by-example"), {"image_influence": 3})
    assert params == {"steps": 50, "text_influence": 5.0, "image_influence": None,
                      "native": {"num_inference_steps": 50, "guidance_scale": 5.0}}
    assert effective_params(get_spec("paint-by-example"), params) == params  # idempotent: stages re-apply it
    with pytest.raises(RecordError) as err:
        effective_params(get_spec("instruct-pix2pix"), {"cfg": 1})
    assert err.value.kind == "bad_params"


EDITORS_WITH_TEXT = [n for n, s in load_registry().items() if s.kind != "t2i" and s.knobs.text_influence]


def _native(name: str, knob: str, level: int) -> float:
    spec = get_spec(name)
    return effective_params(spec, {knob: level})["native"][getattr(spec.knobs, knob)]


@pytest.mark.parametrize("name", EDITORS_WITH_TEXT)
def test_a_higher_text_influence_level_gives_a_larger_native_value(name: str) -> None:
    values = [_native(name, "text_influence", level) for level in range(11)]
    assert all(a < b for a, b in zip(values, values[1:], strict=False)), values


@pytest.mark.parametrize("knob", ["text_influence", "image_influence"])
def test_equal_levels_mean_the_same_relative_position_in_every_models_range(knob: str) -> None:
    specs = [s for s in load_registry().values() if getattr(s.knobs, knob)]
    assert len(specs) >= 2
    for level in range(11):
        positions = set()
        for spec in specs:
            rng = getattr(spec.scale, knob)
            positions.add(round((_native(spec.name, knob, level) - rng.level_0) / (rng.level_10 - rng.level_0), 6))
            assert rng.source.strip()
        assert positions == {level / 10}


@pytest.mark.parametrize(
    ("name", "params", "words"),
    [
        ("instruct-pix2pix", {"text_influence": 11}, "level from 0 to 10"),
        ("instruct-pix2pix", {"image_influence": -1}, "level from 0 to 10"),
        ("instruct-pix2pix", {"native": {"image_guidance_scale": 9.0}}, "outside its range 1..2"),
        ("instruct-pix2pix", {"native": {"strength": 0.5}}, "no native parameter strength"),
        ("flux-schnell", {"steps": 8}, "outside its documented 1..4"),
    ],
)
def test_out_of_range_values_are_refused(name: str, params: dict, words: str) -> None:
    with pytest.raises(RecordError, match=words) as err:
        effective_params(get_spec(name), params)
    assert err.value.kind == "bad_params"


def test_a_native_param_wins_over_the_level_and_its_level_is_recorded() -> None:
    params = effective_params(get_spec("instruct-pix2pix"), {"image_influence": 2, "native": {"image_guidance_scale": 1.8}})
    assert params["native"]["image_guidance_scale"] == 1.8 and params["image_influence"] == 8.0


def test_unknown_model_lists_registered_names() -> None:
    with pytest.raises(RecordError, match="instruct-pix2pix"):
        get_spec("no-such-model")


def test_importing_models_package_stays_light() -> None:
    code = (
        "import sys, hilite_cli.models, hilite_cli.models.loader, hilite_cli.models.t2i, "
        "hilite_cli.models.diffusers_editors\n"
        "heavy = [m for m in ('torch', 'diffusers', 'transformers', 'cv2') if m in sys.modules]\n"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
