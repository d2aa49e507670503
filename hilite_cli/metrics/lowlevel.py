"""NHR's low-level check (section 3.2): does the edit change one coherent region, or only noise?

D = |I_e - I_0| is thresholded (> 40); the changed pixels are labelled with OpenCV connected
components (Spaghetti, 4-connectivity, 32-bit labels), and the triplet is discarded when the
largest component covers less than 0.5 % of all changed pixels. Thresholds come from
`configs/thresholds.toml` [lowlevel] unless passed explicitly.

An edit that changes no pixel at all did nothing: that is the silent failure this check exists to
catch, so it does not pass (reason `no_change`), even though the paper's ratio is undefined there.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from hilite_cli.config import load_config
from hilite_cli.metrics._images import check_pair


@dataclass(frozen=True)
class LowLevelResult:
    passed: bool
    changed_fraction: float  # changed pixels / all pixels
    changed_pixels: int
    largest_component: int  # pixels in the largest connected component of the changed mask
    largest_component_fraction: float  # largest / changed; 0 when nothing changed
    reason: str | None  # None when passed; `no_change` or `fragmented` otherwise

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def lowlevel_settings() -> dict[str, Any]:
    """The [lowlevel] table of thresholds.toml: diff_threshold, min_component_fraction, connectivity."""
    return dict(load_config("thresholds")["lowlevel"])


def changed_mask(source: np.ndarray, edited: np.ndarray, threshold: int | None = None) -> np.ndarray:
    """Boolean HxW mask of |I_e - I_0| > threshold, taking the max over channels."""
    check_pair(source, edited)
    if threshold is None:
        threshold = int(lowlevel_settings()["diff_threshold"])
    diff = np.abs(edited.astype(np.int16) - source.astype(np.int16))
    if diff.ndim == 3:
        diff = diff.max(axis=2)
    return diff > threshold


def largest_component(mask: np.ndarray, connectivity: int = 4) -> int:
    """Pixel count of the largest connected component of a boolean mask (0 for an empty mask)."""
    import cv2

    if connectivity not in (4, 8):
        raise ValueError(f"`connectivity` must be 4 or 8, got {connectivity}")
    image = mask.astype(np.uint8)
    algorithm = getattr(cv2, "CCL_SPAGHETTI", cv2.CCL_DEFAULT)
    n, _, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(image, connectivity, cv2.CV_32S, algorithm)
    if n <= 1:
        return 0
    return int(stats[1:, cv2.CC_STAT_AREA].max())


def lowlevel_check(
    source: np.ndarray,
    edited: np.ndarray,
    *,
    threshold: int | None = None,
    min_component_fraction: float | None = None,
    connectivity: int | None = None,
) -> LowLevelResult:
    """Run NHR's check on one (source, edited) pair of same-shape uint8 images."""
    settings = lowlevel_settings()
    threshold = int(settings["diff_threshold"]) if threshold is None else threshold
    if min_component_fraction is None:
        min_component_fraction = float(settings["min_component_fraction"])
    connectivity = int(settings["connectivity"]) if connectivity is None else connectivity

    mask = changed_mask(source, edited, threshold)
    changed = int(mask.sum())
    total = mask.size
    if changed == 0:
        return LowLevelResult(False, 0.0, 0, 0, 0.0, "no_change")
    largest = largest_component(mask, connectivity)
    # A correctly rounded division equals the config literal exactly at the boundary (5/1000 == 0.005).
    fraction = largest / changed
    passed = fraction >= min_component_fraction
    return LowLevelResult(
        passed=passed,
        changed_fraction=changed / total,
        changed_pixels=changed,
        largest_component=largest,
        largest_component_fraction=fraction,
        reason=None if passed else "fragmented",
    )
