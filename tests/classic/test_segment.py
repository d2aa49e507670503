"""Text-prompted masks through a tiny random-weight CLIPSeg loaded like a real checkpoint."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hilite_cli.models.segment import SegmentError, text_logits, text_mask


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    from skimage import data

    return Image.fromarray(data.chelsea()).resize((70, 50), Image.BILINEAR)


def test_mask_has_the_image_shape_and_is_boolean(tiny_clipseg: Path, photo: Image.Image) -> None:
    mask = text_mask(photo, "the cat", weights_dir=tiny_clipseg, device="cpu")
    assert mask.shape == (50, 70)
    assert mask.dtype == np.bool_


def test_same_call_is_deterministic(tiny_clipseg: Path, photo: Image.Image) -> None:
    first = text_logits(photo, "the cat", weights_dir=tiny_clipseg, device="cpu")
    second = text_logits(photo, "the cat", weights_dir=tiny_clipseg, device="cpu")
    np.testing.assert_array_equal(first, second)
    assert first.dtype == np.float32 and ((first >= 0) & (first <= 1)).all()


def test_threshold_selects_pixels_above_it(tiny_clipseg: Path, photo: Image.Image) -> None:
    probs = text_logits(photo, "the cat", weights_dir=tiny_clipseg, device="cpu")
    cut = float(np.median(probs))
    mask = text_mask(photo, "the cat", weights_dir=tiny_clipseg, device="cpu", threshold=cut)
    np.testing.assert_array_equal(mask, probs > cut)
    assert 0 < mask.sum() < mask.size
    assert not text_mask(photo, "the cat", weights_dir=tiny_clipseg, device="cpu", threshold=1.0).any()


def test_dilation_grows_the_mask(tiny_clipseg: Path, photo: Image.Image) -> None:
    probs = text_logits(photo, "the cat", weights_dir=tiny_clipseg, device="cpu")
    cut = float(np.quantile(probs, 0.9))
    plain = text_mask(photo, "the cat", weights_dir=tiny_clipseg, device="cpu", threshold=cut)
    grown = text_mask(photo, "the cat", weights_dir=tiny_clipseg, device="cpu", threshold=cut, dilate=2)
    assert (grown >= plain).all() and grown.sum() > plain.sum()


def test_text_changes_the_result(tiny_clipseg: Path, photo: Image.Image) -> None:
    cat = text_logits(photo, "the cat", weights_dir=tiny_clipseg, device="cpu")
    sky = text_logits(photo, "a blue sky", weights_dir=tiny_clipseg, device="cpu")
    assert not np.array_equal(cat, sky)


def test_bad_arguments_and_missing_weights(tiny_clipseg: Path, photo: Image.Image, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="threshold"):
        text_mask(photo, "the cat", weights_dir=tiny_clipseg, device="cpu", threshold=1.5)
    with pytest.raises(ValueError, match="text"):
        text_mask(photo, "  ", weights_dir=tiny_clipseg, device="cpu")
    with pytest.raises(SegmentError, match="hf download"):
        text_mask(photo, "the cat", weights_dir=tmp_path / "nothing-here", device="cpu")
