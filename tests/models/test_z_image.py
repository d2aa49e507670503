"""Z-Image-Turbo as a mining source (a tiny random-weight ZImagePipeline through the real loading path)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from hilite_cli.models.base import TextToImage
from hilite_cli.models.loader import load_model
from support.cli import hilite


def test_z_image_batches_seeds_and_a_seed_gives_the_same_image_alone(
    tiny_dir: Callable[[str], Path], recorder: Any
) -> None:
    gen = load_model("z-image-turbo", weights={"z-image-turbo": tiny_dir("z-image-turbo")})
    assert isinstance(gen, TextToImage)
    gen.pipe = recorder(gen.pipe)
    batch = gen.generate("a red bicycle", seeds=[0, 1, 2], width=96, height=64, params={"steps": 2})
    alone = gen.generate("a red bicycle", seeds=[1], width=96, height=64, params={"steps": 2})
    call = gen.pipe.calls[0]
    assert call["num_images_per_prompt"] == 3 and call["guidance_scale"] == 0.0 and call["num_inference_steps"] == 2
    assert [im.size for im in batch] == [(96, 64)] * 3
    assert np.abs(np.asarray(batch[0], float) - np.asarray(batch[1], float)).mean() > 1.0
    assert np.abs(np.asarray(alone[0], float) - np.asarray(batch[1], float)).max() <= 4


def test_mine_makes_sources_with_z_image(tiny_dir: Callable[[str], Path], tmp_path: Path) -> None:
    (tmp_path / "specs.jsonl").write_bytes(orjson.dumps({"t2i_prompt": "a red bicycle", "edits": ["make it sepia"]}) + b"\n")
    res = hilite("mine", "specs.jsonl", "--t2i", "z-image-turbo", "--weights", f"z-image-turbo={tiny_dir('z-image-turbo')}",
                 "--t2i-steps", "2", "--editor", "classic", "--preset", "small", "--n-sources", "2", "--no-gate",
                 "--prefilter", "offline", "--no-lowlevel", "--keep-rejected", "--device", "cpu", "--no-progress",
                 "-o", "pool.jsonl", "--stats", "stats.json", "--out", "mined", cwd=tmp_path)
    assert res.returncode == 0, res.stderr.decode()[-3000:]
    stats = orjson.loads((tmp_path / "stats.json").read_bytes())
    assert stats["settings"]["t2i"] == "z-image-turbo"
    pool = [orjson.loads(x) for x in (tmp_path / "pool.jsonl").read_bytes().splitlines()]
    assert len(pool) == 2 and all(r["t2i_prompt"] == "a red bicycle" for r in pool)
