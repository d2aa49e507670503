"""Real photos for tests: scikit-image ships them, so nothing is downloaded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def photo(name: str = "astronaut", size: int | None = 64) -> Image.Image:
    """`skimage.data.<name>()` as an RGB PIL image, optionally resized to size×size."""
    from skimage import data

    arr = getattr(data, name)()
    if arr.ndim == 2:
        arr = np.stack([arr] * 3, axis=-1)
    img = Image.fromarray(arr[..., :3].astype(np.uint8))
    return img.resize((size, size), Image.BICUBIC) if size else img


def save_photo(folder: Path, name: str = "astronaut", size: int | None = 64, fmt: str = "png") -> Path:
    path = Path(folder) / f"{name}.{fmt}"
    photo(name, size).save(path)
    return path
