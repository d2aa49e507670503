"""FLUX.1-schnell text-to-image through a tiny local pipeline: one batched call, seeds reproduce."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hilite_cli.models.base import TextToImage
from hilite_cli.models.loader import load_model
from hilite_cli.records import RecordError


def test_schnell_batches_seeds_with_registry_defaults(tiny_dir: Callable[[str], Path], recorder: Any) -> None:
    t2i = load_model("flux-schnell", weights={"flux-schnell": tiny_dir("flux-schnell")})
    assert isinstance(t2i, TextToImage)
    t2i.pipe = recorder(t2i.pipe)
    prompt = "a red cat on the snow"
    batch = t2i.generate(prompt, seeds=[1, 2, 3, 4], width=48, height=32, params={"steps": 2})
    alone = t2i.generate(prompt, seeds=[3], width=48, height=32, params={"steps": 2})

    call = t2i.pipe.calls[0]
    assert call["num_images_per_prompt"] == 4 and len(call["generator"]) == 4
    assert call["num_inference_steps"] == 2 and call["guidance_scale"] == 0.0
    assert (call["width"], call["height"]) == (48, 32)
    assert [im.size for im in batch] == [(48, 32)] * 4
    arrays = [np.asarray(im, dtype=np.float64) for im in batch]
    assert all(np.abs(arrays[i] - arrays[j]).mean() > 1.0 for i in range(4) for j in range(i + 1, 4))
    assert np.abs(np.asarray(alone[0], dtype=np.float64) - arrays[2]).mean() < 0.5


def test_schnell_default_is_four_steps(tiny_dir: Callable[[str], Path]) -> None:
    t2i = load_model("flux-schnell", weights={"flux-schnell": tiny_dir("flux-schnell")})
    request = t2i.request("a cat", seeds=[0], width=32, height=32, params={})
    assert request["num_inference_steps"] == 4 and request["guidance_scale"] == 0.0


def test_schnell_refuses_sizes_off_the_model_multiple(tiny_dir: Callable[[str], Path]) -> None:
    t2i = load_model("flux-schnell", weights={"flux-schnell": tiny_dir("flux-schnell")})
    with pytest.raises(RecordError, match="multiples of 16"):
        t2i.request("a cat", seeds=[0], width=40, height=32, params={})
