"""Input checks shared by the pixel metrics: both images must be the same uint8 array shape."""

from __future__ import annotations

import numpy as np


def check_pair(source: np.ndarray, edited: np.ndarray) -> None:
    """Refuse pairs a pixel comparison would silently get wrong.

    Different sizes raise rather than resize: interpolation changes almost every pixel by a few
    levels and moves edges, which would inflate the changed mask and lower SSIM for reasons that
    have nothing to do with the edit. A caller that wants a size-tolerant comparison resizes
    explicitly (score-dataset does, and records that it did).
    """
    for name, img in (("source", source), ("edited", edited)):
        if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or img.ndim not in (2, 3):
            got = f"{type(img).__name__} {getattr(img, 'dtype', '')} {getattr(img, 'shape', '')}".strip()
            raise ValueError(f"`{name}` must be a uint8 HxW or HxWxC array, got {got}")
    if source.shape != edited.shape:
        raise ValueError(
            f"`source` and `edited` differ in shape: {source.shape} vs {edited.shape}; "
            "resize the edit to the source size before comparing"
        )
