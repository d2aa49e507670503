"""NHR 3.2 low-level check: agreement with a direct OpenCV computation and the 0.5 % boundary."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage import data

from hilite_cli.metrics.lowlevel import changed_mask, largest_component, lowlevel_check

PHOTOS = {"astronaut": data.astronaut, "chelsea": data.chelsea, "coffee": data.coffee, "rocket": data.rocket}


def direct_opencv(source: np.ndarray, edited: np.ndarray) -> tuple[int, int]:
    """The paper's recipe written straight in OpenCV: (changed pixels, largest 4-connected component)."""
    diff = cv2.absdiff(edited, source).max(axis=2)
    _, binary = cv2.threshold(diff, 40, 255, cv2.THRESH_BINARY)
    n, _, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=4, ltype=cv2.CV_32S)
    largest = int(stats[1:, cv2.CC_STAT_AREA].max()) if n > 1 else 0
    return int(np.count_nonzero(binary)), largest


def object_edit(img: np.ndarray) -> np.ndarray:
    """A local edit: one recoloured block plus mild global noise (which stays under the threshold)."""
    rng = np.random.default_rng(0)
    out = img.astype(np.int16) + rng.integers(-10, 11, img.shape)
    h, w = img.shape[:2]
    out[h // 4 : h // 2, w // 3 : w // 2] = 255 - out[h // 4 : h // 2, w // 3 : w // 2]
    return np.clip(out, 0, 255).astype(np.uint8)


def speckle_edit(img: np.ndarray) -> np.ndarray:
    """A silent failure: scattered strong single-pixel noise, no coherent change."""
    rng = np.random.default_rng(1)
    out = img.copy()
    ys, xs = rng.integers(0, img.shape[0], 4000), rng.integers(0, img.shape[1], 4000)
    out[ys, xs] = 255 - out[ys, xs]
    return out


@pytest.mark.parametrize("name", sorted(PHOTOS))
@pytest.mark.parametrize("edit", [object_edit, speckle_edit])
def test_agrees_with_direct_opencv_on_real_photos(name: str, edit) -> None:
    source = PHOTOS[name]()
    edited = edit(source)
    changed, largest = direct_opencv(source, edited)
    result = lowlevel_check(source, edited)
    assert result.changed_pixels == changed
    assert result.largest_component == largest
    assert result.changed_fraction == changed / (source.shape[0] * source.shape[1])
    assert result.passed == (largest / changed >= 0.005)


def test_object_edit_passes_and_speckle_fails() -> None:
    source = data.astronaut()
    assert lowlevel_check(source, object_edit(source)).passed
    speckled = lowlevel_check(source, speckle_edit(source))
    assert not speckled.passed
    assert speckled.reason == "fragmented"


def scattered(n_isolated: int, component: int, shape: tuple[int, int] = (120, 120)) -> np.ndarray:
    """A changed mask with `n_isolated` single pixels (grid spacing 2: isolated even at 8-connectivity)
    and one horizontal run of `component` pixels in a row of its own."""
    mask = np.zeros(shape, bool)
    ys, xs = np.mgrid[0 : shape[0] - 4 : 2, 0 : shape[1] : 2]
    coords = np.stack([ys.ravel(), xs.ravel()], axis=1)[:n_isolated]
    assert len(coords) == n_isolated
    mask[coords[:, 0], coords[:, 1]] = True
    mask[shape[0] - 2, :component] = True
    return mask


def images_from_mask(mask: np.ndarray, delta: int = 41) -> tuple[np.ndarray, np.ndarray]:
    source = np.full((*mask.shape, 3), 100, np.uint8)
    edited = source.copy()
    edited[mask, 1] += delta
    return source, edited


@pytest.mark.parametrize(
    ("component", "passed"),
    [(5, True), (4, False), (6, True)],
)
def test_half_percent_boundary(component: int, passed: bool) -> None:
    """1000 changed pixels: a largest component of 5 px is exactly 0.5 % (kept), 4 px is 0.4 % (discarded)."""
    mask = scattered(1000 - component, component)
    result = lowlevel_check(*images_from_mask(mask))
    assert result.changed_pixels == 1000
    assert result.largest_component == component
    assert result.largest_component_fraction == component / 1000
    assert result.passed is passed
    assert result.reason == (None if passed else "fragmented")


def test_boundary_at_another_total() -> None:
    """1400 changed pixels: 7 px is exactly 0.5 % (kept), 6 px just below (discarded)."""
    assert lowlevel_check(*images_from_mask(scattered(1393, 7))).passed
    assert not lowlevel_check(*images_from_mask(scattered(1394, 6))).passed


def test_difference_threshold_is_strict() -> None:
    """|I_e - I_0| > 40: a change of exactly 40 is not a change, 41 is."""
    mask = np.zeros((32, 32), bool)
    mask[8:16, 8:16] = True
    assert not changed_mask(*images_from_mask(mask, delta=40)).any()
    assert (changed_mask(*images_from_mask(mask, delta=41)) == mask).all()


def test_diagonal_pixels_connect_only_at_8_connectivity() -> None:
    mask = np.zeros((20, 20), bool)
    idx = np.arange(10)
    mask[idx, idx] = True
    assert largest_component(mask, 4) == 1
    assert largest_component(mask, 8) == 10
    source, edited = images_from_mask(mask)
    assert lowlevel_check(source, edited, connectivity=4).largest_component == 1
    assert lowlevel_check(source, edited, connectivity=8).largest_component == 10
    assert not lowlevel_check(source, edited, connectivity=4, min_component_fraction=0.5).passed
    assert lowlevel_check(source, edited, connectivity=8, min_component_fraction=0.5).passed


def test_no_change_is_a_silent_failure() -> None:
    source = data.chelsea()
    result = lowlevel_check(source, source.copy())
    assert not result.passed
    assert result.reason == "no_change"
    assert (result.changed_pixels, result.largest_component, result.largest_component_fraction) == (0, 0, 0.0)


def test_thresholds_come_from_config(tmp_path, monkeypatch) -> None:
    from hilite_cli.config import load_config

    (tmp_path / "thresholds.toml").write_text(
        "[lowlevel]\ndiff_threshold = 50\nmin_component_fraction = 0.5\nconnectivity = 8\n"
    )
    monkeypatch.setenv("HILITE_CONFIG_DIR", str(tmp_path))
    load_config.cache_clear()
    try:
        mask = np.zeros((20, 20), bool)
        mask[np.arange(10), np.arange(10)] = True
        result = lowlevel_check(*images_from_mask(mask, delta=45))
        assert result.reason == "no_change"  # 45 <= 50
        result = lowlevel_check(*images_from_mask(mask, delta=60))
        assert result.passed and result.largest_component == 10  # 8-connectivity, 100 % >= 50 %
    finally:
        monkeypatch.delenv("HILITE_CONFIG_DIR")
        load_config.cache_clear()


def test_mismatched_inputs_raise() -> None:
    a = np.zeros((10, 10, 3), np.uint8)
    with pytest.raises(ValueError, match="differ in shape"):
        lowlevel_check(a, np.zeros((10, 12, 3), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        lowlevel_check(a, a.astype(np.float32))
