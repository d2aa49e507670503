"""Tiny random-weight editors loaded through `--weights NAME=DIR`: batching, seeds, knobs, sizes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from hilite_cli.models.base import Editor
from hilite_cli.models.diffusers_editors import DiffusersEditor
from hilite_cli.models.loader import load_model

SEEDS = [11, 22, 33, 44]
PARAMS = {"steps": 2, "text_influence": 7, "image_influence": 3}
EDITORS = ["instruct-pix2pix", "paint-by-example", "flux-kontext", "controlnet-sdxl-canny", "anydoor", "deadiff"]
SAME_SEED_MAX_MEAN_DIFF = 1.0  # 1/255 of the range: a seed's image alone and inside a batch are the same


def _inputs(name: str, mask: np.ndarray, photo: Image.Image) -> dict[str, Any]:
    return {
        "prompt": "make it winter",
        "target_prompt": "a snowy photo of an astronaut",
        "mask": mask,
        "reference": photo.transpose(Image.FLIP_LEFT_RIGHT),
    }


def _arr(img: Image.Image) -> np.ndarray:
    return np.asarray(img, dtype=np.float64)


@pytest.mark.parametrize("name", EDITORS)
def test_seeds_batch_into_one_call_and_reproduce(
    name: str, tiny_dir: Callable[[str], Path], photo: Image.Image, mask: np.ndarray, recorder: Any
) -> None:
    import warnings

    editor = load_model(name, weights={name: tiny_dir(name)})
    assert isinstance(editor, Editor) and isinstance(editor, DiffusersEditor)
    editor.pipe = recorder(editor.pipe)
    inputs = _inputs(name, mask, photo)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        batch = editor.edit(photo, seeds=SEEDS, params=PARAMS, **inputs)
    alone = editor.edit(photo, seeds=[SEEDS[2]], params=PARAMS, **inputs)
    # each pipeline is called the way its current API wants: no deprecation warning per batched call
    assert [str(w.message) for w in caught if issubclass(w.category, FutureWarning)] == []

    # one pipeline call per request, one generator per seed
    assert len(editor.pipe.calls) == 2
    call = editor.pipe.calls[0]
    assert len(call["generator"]) == 4
    assert call["num_images_per_prompt"] == 4 or (call["num_images_per_prompt"] == 1 and len(call["image"]) == 4)
    # the knobs reach the pipeline call under the registry's argument names, as the levels' native values
    spec = editor.spec
    assert call[spec.knobs.steps] == 2
    text = spec.scale.text_influence
    assert call[spec.knobs.text_influence] == pytest.approx(text.level_0 + 0.7 * (text.level_10 - text.level_0))
    if spec.knobs.image_influence:
        image = spec.scale.image_influence
        assert call[spec.knobs.image_influence] == pytest.approx(image.level_0 + 0.3 * (image.level_10 - image.level_0))
    # outputs: the input's size, four different images, and the same seed gives the same image
    assert len(batch) == 4 and all(img.size == photo.size for img in batch)
    for i in range(4):
        for j in range(i + 1, 4):
            assert np.abs(_arr(batch[i]) - _arr(batch[j])).mean() > 1.0
    diff = np.abs(_arr(alone[0]) - _arr(batch[2]))
    assert diff.mean() <= SAME_SEED_MAX_MEAN_DIFF and diff.max() <= 4


def test_controlnet_gets_a_canny_edge_map(tiny_dir: Callable[[str], Path], photo: Image.Image) -> None:
    editor = load_model("controlnet-sdxl-canny", weights={"controlnet-sdxl-canny": tiny_dir("controlnet-sdxl-canny")})
    request = editor.request(photo, prompt="a snowy photo", seeds=[1], params={})
    control = np.asarray(request["image"])
    assert set(np.unique(control)) <= {0, 255} and control.any()
    assert request["controlnet_conditioning_scale"] == 0.5 and request["prompt"] == "a snowy photo"


def test_ledits_substitute_gives_a_seed_the_same_image_alone_or_in_any_batch(
    tiny_dir: Callable[[str], Path], recorder: Any
) -> None:
    """LEDITS++ mixes batch items in its cross-attention mask, so the registry runs it once per seed."""
    from skimage import data

    photo = Image.fromarray(data.chelsea()).resize((64, 48))
    editor = load_model("infedit", weights={"infedit": tiny_dir("infedit")})
    assert editor.spec.batching == "per_seed" and "batch" in editor.spec.batching_note
    kwargs = dict(prompt=None, source_prompt="a cat", target_prompt="a cat in snow", params=PARAMS)
    request = editor.request(photo, seeds=[1], **kwargs)
    assert request["invert"]["num_inversion_steps"] == 2 and request["invert"]["skip"] == pytest.approx(0.09)
    assert request["edit"]["edit_guidance_scale"] == pytest.approx(9.5) and request["edit"]["editing_prompt"] == ["a cat in snow"]
    editor.pipe = recorder(editor.pipe)
    batch = editor.edit(photo, seeds=[5, 6], **kwargs)
    assert len(editor.pipe.calls) == 2  # one call per seed
    alone = editor.edit(photo, seeds=[6], **kwargs)
    assert [im.size for im in batch] == [photo.size] * 2
    assert np.abs(_arr(batch[0]) - _arr(batch[1])).mean() > 1.0
    assert np.abs(_arr(alone[0]) - _arr(batch[1])).mean() <= SAME_SEED_MAX_MEAN_DIFF


def test_classic_gives_a_seed_the_same_image_alone_or_in_a_batch(photo: Image.Image) -> None:
    editor = load_model("classic")
    batch = editor.edit(photo, prompt="make it black and white", seeds=[1, 2, 3], params={})
    alone = editor.edit(photo, prompt="make it black and white", seeds=[2], params={})
    assert np.abs(_arr(alone[0]) - _arr(batch[1])).mean() <= SAME_SEED_MAX_MEAN_DIFF
    assert editor.spec.deterministic


def test_anydoor_is_not_paint_by_example_again(
    tiny_dir: Callable[[str], Path], photo: Image.Image, mask: np.ndarray, recorder: Any
) -> None:
    """The AnyDoor stand-in is a different family (FLUX.1 Kontext inpainting with the reference), not PbE."""
    anydoor = load_model("anydoor", weights={"anydoor": tiny_dir("anydoor")})
    pbe = load_model("paint-by-example", weights={"paint-by-example": tiny_dir("paint-by-example")})
    assert type(anydoor.pipe).__name__ != type(pbe.pipe).__name__
    anydoor.pipe = recorder(anydoor.pipe)
    inputs = _inputs("anydoor", mask, photo)
    a = anydoor.edit(photo, seeds=[3], params=PARAMS, **inputs)[0]
    b = pbe.edit(photo, seeds=[3], params=PARAMS, **inputs)[0]
    call = anydoor.pipe.calls[0]
    assert call["image_reference"] is not None and call["mask_image"] is not None and call["prompt"] == "make it winter"
    assert np.abs(_arr(a) - _arr(b)).mean() > 1.0


def test_deadiff_substitute_takes_its_style_from_the_reference(
    tiny_dir: Callable[[str], Path], photo: Image.Image, recorder: Any
) -> None:
    from skimage import data

    editor = load_model("deadiff", weights={"deadiff": tiny_dir("deadiff")})
    editor.pipe = recorder(editor.pipe)
    styles = [Image.fromarray(data.coffee()).resize((64, 48)), Image.fromarray(data.rocket()).resize((64, 48))]
    outs = [editor.edit(photo, prompt=None, target_prompt="an oil painting", seeds=[3], params={"steps": 2}, reference=s)[0] for s in styles]
    assert editor.pipe.calls[0]["ip_adapter_image"] is not None
    assert np.abs(_arr(outs[0]) - _arr(outs[1])).mean() > 0.1


@pytest.mark.parametrize("name", [*EDITORS, "infedit"])
def test_a_higher_text_level_sends_a_larger_native_value_to_each_tiny_pipeline(
    name: str, tiny_dir: Callable[[str], Path], photo: Image.Image, mask: np.ndarray
) -> None:
    editor = load_model(name, weights={name: tiny_dir(name)})
    inputs = _inputs(name, mask, photo) | {"source_prompt": "a photo"}
    arg = editor.spec.knobs.text_influence

    def sent(level: int) -> float:
        request = editor.request(photo, seeds=[1], params={"text_influence": level}, **inputs)
        return request.get("edit", request)[arg]

    assert sent(3) < sent(7)
