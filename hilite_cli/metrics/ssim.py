"""SSIM between source and edit (HILITE's structure-preservation metric), whole image or unchanged region.

Computed with scikit-image on RGB (channel_axis=-1, data_range=255, its default 7x7 window), so
numbers match `skimage.metrics.structural_similarity` exactly.
"""

from __future__ import annotations

import numpy as np

from hilite_cli.metrics._images import check_pair


def _ssim_map(a: np.ndarray, b: np.ndarray) -> tuple[float, np.ndarray]:
    from skimage.metrics import structural_similarity

    check_pair(a, b)
    channel_axis = -1 if a.ndim == 3 else None
    score, full = structural_similarity(a, b, channel_axis=channel_axis, data_range=255, full=True)
    if full.ndim == 3:
        full = full.mean(axis=2)
    return float(score), full


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM of two same-shape uint8 images."""
    return _ssim_map(a, b)[0]


def ssim_unchanged(a: np.ndarray, b: np.ndarray, changed: np.ndarray) -> float | None:
    """Mean of the SSIM map over pixels NOT in `changed`: does the edit preserve what it should not touch?

    Like skimage's own mean, the border (half a window wide, where the map is padded) is left out,
    so with an empty `changed` mask this equals `ssim(a, b)`. None when no unchanged pixel remains.
    """
    _, full = _ssim_map(a, b)
    if changed.shape != full.shape:
        raise ValueError(f"`changed` must have shape {full.shape}, got {changed.shape}")
    pad = (7 - 1) // 2
    keep = ~changed.astype(bool)
    keep[:pad, :] = False
    keep[-pad:, :] = False
    keep[:, :pad] = False
    keep[:, -pad:] = False
    if not keep.any():
        return None
    return float(full[keep].mean())
