"""Tiny random-weight pipelines, built once per session and loaded like real `--weights NAME=DIR` folders."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """name -> folder holding that registry entry's tiny pipeline (built on first use)."""
    from support.tiny_models import build

    root = tmp_path_factory.mktemp("tiny-models")
    built: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in built:
            built[name] = build(name, root / name)
        return built[name]

    return get


@pytest.fixture(scope="session")
def photo() -> Image.Image:
    """A real photo (scikit-image's astronaut), small and deliberately not square or a multiple of 8."""
    from skimage import data

    return Image.fromarray(data.astronaut()).resize((44, 36), Image.BILINEAR)


@pytest.fixture(scope="session")
def mask() -> np.ndarray:
    m = np.zeros((36, 44), dtype=bool)
    m[8:28, 10:34] = True
    return m


class CallRecorder:
    """Wraps a real pipeline: records each __call__'s keyword arguments, then runs the pipeline."""

    def __init__(self, pipe: object) -> None:
        self._pipe = pipe
        self.calls: list[dict] = []

    def __call__(self, **kwargs: object) -> object:
        self.calls.append(kwargs)
        return self._pipe(**kwargs)

    def __getattr__(self, name: str) -> object:
        return getattr(self._pipe, name)


@pytest.fixture()
def recorder() -> type[CallRecorder]:
    return CallRecorder
