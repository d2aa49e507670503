"""ClassicEditor: each operation checked pixel-wise on a real photo, and every refusal is explicit."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from hilite_cli.models.classic import SEPIA, ClassicEditor, parse_instruction
from hilite_cli.models.registry import get_spec
from hilite_cli.records import RecordError


@pytest.fixture(scope="module")
def editor() -> ClassicEditor:
    return ClassicEditor(get_spec("classic"))


def run(editor: ClassicEditor, image: Image.Image, prompt: str, **kwargs) -> np.ndarray:
    (out,) = editor.edit(image, prompt=prompt, seeds=[0], params=kwargs.pop("params", {}), **kwargs)
    assert out.size == image.size and out.mode == "RGB"
    return np.asarray(out).astype(np.int64)


def test_grayscale_has_equal_channels(editor: ClassicEditor, astronaut: Image.Image) -> None:
    out = run(editor, astronaut, "make it black and white")
    assert (out[..., 0] == out[..., 1]).all() and (out[..., 1] == out[..., 2]).all()
    assert out[..., 0].std() > 10


def test_sepia_applies_the_sepia_matrix(editor: ClassicEditor, astronaut: Image.Image) -> None:
    src = np.asarray(astronaut).astype(np.float64)
    expected = np.clip(src @ SEPIA.T, 0, 255).round()
    np.testing.assert_array_equal(run(editor, astronaut, "apply a sepia filter"), expected)


def test_brighter_and_darker_move_the_mean(editor: ClassicEditor, astronaut: Image.Image) -> None:
    mean = np.asarray(astronaut).mean()
    assert run(editor, astronaut, "make it brighter").mean() > mean + 10
    assert run(editor, astronaut, "darken the photo").mean() < mean - 10


def test_warmer_and_cooler_shift_red_against_blue(editor: ClassicEditor, astronaut: Image.Image) -> None:
    src = np.asarray(astronaut).astype(np.int64)
    balance = (src[..., 0] - src[..., 2]).mean()
    assert (run(editor, astronaut, "make the colours warmer")[..., 0] >= src[..., 0]).all()
    assert (lambda o: (o[..., 0] - o[..., 2]).mean())(run(editor, astronaut, "make it warmer")) > balance
    assert (lambda o: (o[..., 0] - o[..., 2]).mean())(run(editor, astronaut, "make it cooler")) < balance


def test_blur_smooths_and_sharpen_adds_contrast(editor: ClassicEditor, astronaut: Image.Image) -> None:
    def roughness(a: np.ndarray) -> float:
        return float(np.abs(np.diff(a.astype(np.float64), axis=1)).mean())

    src = np.asarray(astronaut)
    assert roughness(run(editor, astronaut, "blur the image")) < roughness(src)
    assert roughness(run(editor, astronaut, "sharpen it")) > roughness(src)


def test_invert_is_255_minus_source(editor: ClassicEditor, astronaut: Image.Image) -> None:
    np.testing.assert_array_equal(run(editor, astronaut, "invert the colors"), 255 - np.asarray(astronaut))


def test_pencil_sketch_is_grey_and_cartoon_changes_the_image(editor: ClassicEditor, astronaut: Image.Image) -> None:
    sketch = run(editor, astronaut, "turn it into a pencil sketch")
    assert (sketch[..., 0] == sketch[..., 2]).all()
    cartoon = run(editor, astronaut, "make it look like a cartoon")
    assert np.abs(cartoon - np.asarray(astronaut)).mean() > 5


def test_strength_blends_source_and_effect(editor: ClassicEditor, astronaut: Image.Image) -> None:
    src = np.asarray(astronaut).astype(np.float64)
    full = run(editor, astronaut, "invert the colors")
    # level 5 of 0-10 lands halfway along classic's strength range 0.1..1: 0.55
    half = run(editor, astronaut, "invert the colors", params={"text_influence": 5})
    np.testing.assert_allclose(half, np.round(src + 0.55 * (full - src)), atol=1)
    native = run(editor, astronaut, "invert the colors", params={"native": {"strength": 0.5}})
    np.testing.assert_allclose(native, np.round(src + 0.5 * (full - src)), atol=1)
    for params in ({"text_influence": 11}, {"native": {"strength": 1.5}}):
        with pytest.raises(RecordError) as err:
            run(editor, astronaut, "invert the colors", params=params)
        assert err.value.kind == "bad_params"


def test_remove_inpaints_only_inside_the_mask(
    editor: ClassicEditor, astronaut: Image.Image, square_mask: np.ndarray
) -> None:
    src = np.asarray(astronaut).astype(np.int64)
    out = run(editor, astronaut, "remove the helmet", mask=square_mask)
    changed = (out != src).any(axis=2)
    assert not changed[~square_mask].any()
    assert changed[square_mask].mean() > 0.5


def test_filters_with_a_mask_stay_inside_it(
    editor: ClassicEditor, astronaut: Image.Image, square_mask: np.ndarray
) -> None:
    src = np.asarray(astronaut).astype(np.int64)
    out = run(editor, astronaut, "make the face grayscale", mask=square_mask)
    np.testing.assert_array_equal(out[~square_mask], src[~square_mask])
    inside = out[square_mask]
    assert (inside[:, 0] == inside[:, 2]).all()


def test_every_seed_gives_the_same_image_and_says_so(editor: ClassicEditor, astronaut: Image.Image) -> None:
    outs = editor.edit(astronaut, prompt="make it sepia", seeds=[0, 1, 2], params={})
    assert len(outs) == 3
    assert all(np.array_equal(np.asarray(outs[0]), np.asarray(o)) for o in outs[1:])
    assert "same image" in editor.seed_note


@pytest.mark.parametrize(
    ("prompt", "kind"),
    [
        ("make it winter", "unsupported_instruction"),
        ("add a hat", "unsupported_instruction"),
        ("make the cat grayscale", "unsupported_instruction"),
        ("make it brighter and darker", "unsupported_instruction"),
        ("do not blur the photo", "unsupported_instruction"),
        ("make it black and white and add snow", "unsupported_instruction"),
        ("remove the cat", "missing_input"),
    ],
)
def test_refuses_what_it_cannot_do(editor: ClassicEditor, astronaut: Image.Image, prompt: str, kind: str) -> None:
    with pytest.raises(RecordError) as err:
        editor.edit(astronaut, prompt=prompt, seeds=[0], params={})
    assert err.value.kind == kind
    assert prompt in err.value.message


def test_refusal_lists_what_it_can_do(editor: ClassicEditor, astronaut: Image.Image) -> None:
    with pytest.raises(RecordError, match="grayscale.*sepia.*pencil sketch"):
        editor.edit(astronaut, prompt="make it winter", seeds=[0], params={})


def test_never_returns_the_input_unchanged(editor: ClassicEditor) -> None:
    grey = Image.fromarray(np.full((16, 16, 3), 128, np.uint8))
    with pytest.raises(RecordError) as err:
        editor.edit(grey, prompt="make it grayscale", seeds=[0], params={})
    assert err.value.kind == "no_change"


def test_remove_cannot_share_an_instruction(square_mask: np.ndarray) -> None:
    with pytest.raises(RecordError, match="cannot be combined"):
        parse_instruction("remove the cat and make it sepia", has_mask=True)


@pytest.mark.parametrize(
    ("prompt", "ops"),
    [
        ("Convert to greyscale", ["grayscale"]),
        ("make it B&W", ["grayscale"]),
        ("give it a vintage look", ["sepia"]),
        ("lower the brightness", ["darker"]),
        ("increase the brightness", ["brighter"]),
        ("make it warmer and blur it", ["warmer", "blur"]),
        ("add some warmth", ["warmer"]),
        ("turn the photo into a comic book drawing", ["cartoon"]),
        ("make it a line drawing", ["pencil_sketch"]),
    ],
)
def test_keyword_rules(prompt: str, ops: list[str]) -> None:
    assert [op.name for op in parse_instruction(prompt, has_mask=False)] == ops
