"""Small triplet datasets on disk built from scikit-image photos (no downloads)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pytest
from PIL import Image
from skimage import data

PHOTOS = ("astronaut", "chelsea", "coffee", "rocket")


def small(name: str, size: tuple[int, int] = (64, 48)) -> np.ndarray:
    return np.asarray(Image.fromarray(getattr(data, name)()).resize(size, Image.BICUBIC))


def block_edit(img: np.ndarray, seed: int) -> np.ndarray:
    """Invert one block whose size depends on the seed: a coherent local edit."""
    out = img.copy()
    side = 10 + 3 * (seed % 4)
    out[8 : 8 + side, 12 : 12 + side] = 255 - out[8 : 8 + side, 12 : 12 + side]
    return out


def write_dataset(folder: Path, n: int, *, scores: bool = True, categories: bool = True, noop_every: int = 0) -> Path:
    """`n` triplets in `folder/manifest.jsonl` with relative image paths; every `noop_every`-th edit changes nothing."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for i in range(n):
        src = small(PHOTOS[i % len(PHOTOS)])
        edited = src.copy() if noop_every and i % noop_every == 0 else block_edit(src, i)
        Image.fromarray(src).save(folder / f"src{i}.png")
        Image.fromarray(edited).save(folder / f"edit{i}.png")
        record = {
            "id": f"{folder.name}-{i}",
            "source": f"src{i}.png",
            "edited": f"edit{i}.png",
            "instruction": f"invert block {i}",
            "kind": "forward",
        }
        if scores:
            record["scores"] = {"instruction": 3.0 + (i % 3) * 0.5, "aesthetics": 4.0 + (i % 2) * 0.5}
        if categories:
            record["edit_type"] = ("add", "remove", "style")[i % 3]
        lines.append(orjson.dumps(record))
    manifest = folder / "manifest.jsonl"
    manifest.write_bytes(b"\n".join(lines) + b"\n")
    return manifest


@pytest.fixture
def dataset_a(tmp_path: Path) -> Path:
    return write_dataset(tmp_path / "a", 12)


@pytest.fixture
def dataset_b(tmp_path: Path) -> Path:
    return write_dataset(tmp_path / "b", 8, noop_every=4)


@pytest.fixture
def make_dataset(tmp_path: Path):
    """Build another dataset: make_dataset(name, n, **options) -> manifest path."""

    def make(name: str, n: int, **options) -> Path:
        return write_dataset(tmp_path / name, n, **options)

    return make
