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


@pytest.mark.parametrize("name", [n for n, k in EXPECTED.items() if k != "classic"])
def test_knobs_and_fixed_args_name_real_pipeline_arguments(name: str) -> None:
    spec = get_spec(name)
    args = _pipeline_args(spec)
    for target in (spec.knobs.steps, spec.knobs.text_influence, spec.knobs.image_influence):
        if target:
            assert target.removeprefix("1-") in args, f"{name}: {target} is not an argument of {spec.pipeline}"
    assert set(spec.call) <= args
    assert spec.hub_id and "/" in spec.hub_id


def test_call_kwargs_maps_knobs_with_defaults() -> None:
    spec = get_spec("instruct-pix2pix")
    assert call_kwargs(spec, {"steps": 3, "text_influence": None, "image_influence": 2}) == {
        "num_inference_steps": 3,
        "guidance_scale": 7.5,
        "image_guidance_scale": 2.0,
    }
    assert call_kwargs(get_spec("controlnet-sdxl-canny"), {"image_influence": 0.8})["controlnet_conditioning_scale"] == 0.8


def test_strength_knob_is_inverted_and_fixed_args_pass_through() -> None:
    assert call_kwargs(get_spec("deadiff"), {"image_influence": 0.25})["strength"] == pytest.approx(0.75)
    schnell = call_kwargs(get_spec("flux-schnell"), {"text_influence": 9.0})
    assert schnell == {"guidance_scale": 0.0, "max_sequence_length": 256, "num_inference_steps": 4}


def test_effective_params_report_na_knobs_as_none() -> None:
    assert effective_params(get_spec("paint-by-example"), {"image_influence": 3.0}) == {
        "steps": 50,
        "text_influence": 5.0,
        "image_influence": None,
    }
    with pytest.raises(RecordError) as err:
        effective_params(get_spec("instruct-pix2pix"), {"cfg": 1})
    assert err.value.kind == "bad_params"


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
