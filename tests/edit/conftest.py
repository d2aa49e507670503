"""Fixtures for the edit stage: real photos on disk and a seeded second editor beside `classic`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from hilite_cli.models.base import Editor, ModelSpec
from hilite_cli.models.classic import ClassicEditor
from hilite_cli.models.registry import get_spec
from hilite_cli.records import RecordError


class NoiseEditor:
    """A real, tiny Editor: adds seeded noise scaled by the native `guidance_scale`, so each seed differs.

    It records every call, so tests can check that the M seeds of one (image, model) are ONE call.
    """

    def __init__(self, name: str = "noise", prompt_style: str = "instruction", needs: list[str] | None = None) -> None:
        self.spec = ModelSpec(
            name=name,
            kind="instruction",
            pipeline="",
            hub_id=f"test/{name}",
            status="implemented",
            needs=needs or [],
            prompt_style=prompt_style,
            defaults={"steps": 2, "text_influence": 4.0},
            knobs={"steps": "num_inference_steps", "text_influence": "guidance_scale"},
            scale={"text_influence": {"level_0": 0.0, "level_10": 8.0, "source": "test: noise sigma"}},
        )
        self.calls: list[dict[str, Any]] = []

    def edit(
        self, image: Image.Image, *, prompt: str | None, seeds: list[int], params: dict[str, Any], **extra: Any
    ) -> list[Image.Image]:
        self.calls.append({"prompt": prompt, "seeds": list(seeds), "params": dict(params), **extra})
        src = np.asarray(image).astype(np.float64)
        out = []
        for seed in seeds:
            noise = np.random.default_rng(seed).normal(0, params["native"]["guidance_scale"], src.shape)
            out.append(Image.fromarray(np.clip(src + noise, 0, 255).astype(np.uint8)))
        return out


class Loader:
    """Hands out `classic` (the real one) and the test editors by name; counts loads."""

    def __init__(self, *editors: NoiseEditor, broken: dict[str, RecordError] | None = None) -> None:
        self.editors: dict[str, Editor] = {e.spec.name: e for e in editors}
        self.editors["classic"] = ClassicEditor(get_spec("classic"))
        self.broken = broken or {}
        self.loads: list[str] = []

    def __call__(self, name: str, **kwargs: Any) -> Editor:
        self.loads.append(name)
        if name in self.broken:
            raise self.broken[name]
        if name not in self.editors:
            raise RecordError("unknown_model", f"unknown model {name!r}")
        return self.editors[name]


def _save(array: np.ndarray, path: Path) -> str:
    Image.fromarray(array).resize((64, 64), Image.BILINEAR).save(path)
    return str(path)


@pytest.fixture
def photos(tmp_path: Path) -> dict[str, str]:
    from skimage import data

    src = tmp_path / "src"
    src.mkdir()
    return {
        "astronaut": _save(data.astronaut(), src / "astronaut.png"),
        "chelsea": _save(data.chelsea(), src / "chelsea.png"),
    }


@pytest.fixture
def mask_path(tmp_path: Path) -> str:
    mask = np.zeros((64, 64), np.uint8)
    mask[20:40, 24:44] = 255
    path = tmp_path / "src" / "mask.png"
    path.parent.mkdir(exist_ok=True)
    Image.fromarray(mask).save(path)
    return str(path)


def route(record_id: str, image: str, instruction: str, *models: tuple[str, int], **extra: Any) -> dict[str, Any]:
    """A route record (DESIGN.md) routing `instruction` to `models` as (name, rank)."""
    return {
        "id": record_id,
        "image": image,
        "instruction": instruction,
        "intent": "global",
        "models": [{"name": name, "prompt": None, "rank": rank} for name, rank in models],
        "router": {"provider": "offline", "model": None},
        **extra,
    }


@pytest.fixture
def noise_editor() -> type[NoiseEditor]:
    return NoiseEditor


@pytest.fixture
def loader_cls() -> type[Loader]:
    return Loader


@pytest.fixture
def make_route() -> Any:
    return route
