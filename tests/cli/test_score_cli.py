"""`hilite score-dataset` as a CI job uses it: exit 0 unchanged, exit 3 on a regression."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
from PIL import Image

from support.cli import hilite
from support.photos import photo


def _dataset(tmp_path: Path, name: str, noise: int) -> Path:
    rng = np.random.default_rng(0)
    rows = []
    for i, pic in enumerate(["astronaut", "chelsea", "coffee"]):
        src = np.asarray(photo(pic, 48))
        edited = np.clip(src.astype(int) + rng.integers(-noise, noise + 1, src.shape), 0, 255).astype(np.uint8)
        Image.fromarray(src).save(tmp_path / f"{name}-{i}-s.png")
        Image.fromarray(edited).save(tmp_path / f"{name}-{i}-e.png")
        rows.append({"source": f"{name}-{i}-s.png", "edited": f"{name}-{i}-e.png", "instruction": "x",
                     "scores": {"instruction": 4.5, "aesthetics": 4.0}})
    path = tmp_path / f"{name}.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(r) for r in rows) + b"\n")
    return path


def test_gate_passes_unchanged_and_fails_on_drop(tmp_path: Path) -> None:
    good = _dataset(tmp_path, "good", 5)
    res = hilite("score-dataset", str(good), "--name", "d", "--metrics", "ssim", "--json", str(tmp_path / "base.json"),
                 "--report", str(tmp_path / "r.html"))
    assert res.returncode == 0, res.stderr
    assert b"<img" in (tmp_path / "r.html").read_bytes()
    res = hilite("score-dataset", str(good), "--name", "d", "--metrics", "ssim", "--baseline", str(tmp_path / "base.json"))
    assert res.returncode == 0, res.stderr
    worse = _dataset(tmp_path, "worse", 60)
    res = hilite("score-dataset", str(worse), "--name", "d", "--metrics", "ssim", "--baseline", str(tmp_path / "base.json"),
                 "--max-drop", "0.05")
    assert res.returncode == 3
    assert b"regression: d: ssim" in res.stderr
