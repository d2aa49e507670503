"""SSIM equals scikit-image; the unchanged-region SSIM averages the right part of the map."""

from __future__ import annotations

import numpy as np
import pytest
from skimage import data
from skimage.metrics import structural_similarity

from hilite_cli.metrics.lowlevel import changed_mask
from hilite_cli.metrics.ssim import ssim, ssim_unchanged


def edited_photo() -> tuple[np.ndarray, np.ndarray]:
    source = data.coffee()[:160, :200]
    edited = source.copy()
    edited[40:100, 60:140] = 255 - edited[40:100, 60:140]
    rng = np.random.default_rng(0)
    edited = np.clip(edited.astype(np.int16) + rng.integers(-6, 7, edited.shape), 0, 255).astype(np.uint8)
    return source, edited


@pytest.mark.parametrize("photo", [data.astronaut, data.chelsea, data.rocket])
def test_ssim_equals_skimage(photo) -> None:
    source = photo()[:128, :128]
    rng = np.random.default_rng(3)
    edited = np.clip(source.astype(np.int16) + rng.integers(-30, 31, source.shape), 0, 255).astype(np.uint8)
    expected = structural_similarity(source, edited, channel_axis=-1, data_range=255)
    assert ssim(source, edited) == pytest.approx(expected, abs=1e-6)
    assert ssim(source, source) == pytest.approx(1.0, abs=1e-12)


def test_unchanged_region_is_the_mean_of_the_map_outside_the_mask() -> None:
    source, edited = edited_photo()
    changed = changed_mask(source, edited)
    _, full = structural_similarity(source, edited, channel_axis=-1, data_range=255, full=True)
    per_pixel = full.mean(axis=2)
    keep = ~changed
    keep[:3], keep[-3:], keep[:, :3], keep[:, -3:] = False, False, False, False
    value = ssim_unchanged(source, edited, changed)
    assert value == pytest.approx(per_pixel[keep].mean(), abs=1e-9)
    assert value > ssim(source, edited)  # the edited block is what lowers the whole-image SSIM


def test_unchanged_with_empty_mask_equals_ssim() -> None:
    source, edited = edited_photo()
    empty = np.zeros(source.shape[:2], bool)
    assert ssim_unchanged(source, edited, empty) == pytest.approx(ssim(source, edited), abs=1e-9)


def test_unchanged_is_none_when_everything_changed() -> None:
    source, edited = edited_photo()
    assert ssim_unchanged(source, edited, np.ones(source.shape[:2], bool)) is None


def test_mask_shape_is_checked() -> None:
    source, edited = edited_photo()
    with pytest.raises(ValueError, match="`changed`"):
        ssim_unchanged(source, edited, np.zeros((5, 5), bool))
