"""Tiny real image files and scored-candidate / triplet records pointing at them."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))


def write_image(path: Path, seed: int, size: int = 12) -> str:
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(path)
    return str(path.resolve())


def candidate(cid: str, source: str, instruction: str, output: str, adh: float | None, aes: float | None) -> dict[str, Any]:
    geo = None if adh is None or aes is None else (adh * aes) ** 0.5
    return {
        "id": cid,
        "parent": f"task-{Path(source).stem}-{instruction[:4]}",
        "image": source,
        "instruction": instruction,
        "model": "classic",
        "seed": int(cid.split("-")[-1]),
        "output": output,
        "scores": {"instruction": adh, "aesthetics": aes, "geometric": geo},
        "checks": {},
        "judge": {
            "provider": "gemini",
            "model": "gemini-2.5-flash",
            "status": "ok" if geo is not None else "unparsed",
            "raw": "{}",
            "prompt_version": "A.2",
        },
        "t2i_prompt": "a cat on a sofa",
    }


# (adherence, aesthetics) per candidate: two sources x two instructions, one unscored, one tie.
SCORES: dict[tuple[str, str], list[tuple[float | None, float | None]]] = {
    ("src0", "make it winter"): [(4.9, 4.8), (3.0, 4.9), (4.8, 4.9), (None, 4.0)],
    ("src0", "add a hat"): [(2.0, 2.0), (4.0, 1.0), (4.7, 4.7)],
    ("src1", "make it winter"): [(4.5, 5.0), (5.0, 4.5), (1.0, 1.5)],
}


@pytest.fixture
def scored(tmp_path: Path) -> list[dict[str, Any]]:
    """Scored candidates for three (source, instruction) groups, with real PNG/JPEG files."""
    img_dir = tmp_path / "inputs"
    img_dir.mkdir()
    sources = {
        "src0": write_image(img_dir / "src0.png", 0),
        "src1": write_image(img_dir / "src1.jpg", 1),
    }
    records = []
    seed = 100
    for (src, instruction), scores in SCORES.items():
        for adh, aes in scores:
            seed += 1
            out = write_image(img_dir / f"edit-{seed}.png", seed)
            records.append(candidate(f"cand-{seed}", sources[src], instruction, out, adh, aes))
    return records


@pytest.fixture
def triplets(scored: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Forward triplets made from the scored candidates (one per candidate with scores)."""
    out = []
    for rec in scored:
        if rec["scores"]["geometric"] is None:
            continue
        out.append(
            {
                "id": f"trip-{rec['id']}",
                "source": rec["image"],
                "instruction": rec["instruction"],
                "edited": rec["output"],
                "scores": rec["scores"],
                "kind": "forward",
                "parents": [rec["id"]],
                "t2i_prompt": rec["t2i_prompt"],
                "judge": rec["judge"],
                "user_field": "kept",
            }
        )
    return out


def _expected_pairs(scored: list[dict[str, Any]], min_margin: float) -> dict[tuple[str, str], float]:
    """Brute force: every two scored candidates of one (source, instruction), winner by √(adh·aes)."""
    usable = [r for r in scored if r["scores"]["instruction"] is not None and r["scores"]["aesthetics"] is not None]
    out = {}
    for a, b in itertools.combinations(usable, 2):
        if (a["image"], a["instruction"]) != (b["image"], b["instruction"]):
            continue
        ga = math.sqrt(a["scores"]["instruction"] * a["scores"]["aesthetics"])
        gb = math.sqrt(b["scores"]["instruction"] * b["scores"]["aesthetics"])
        if abs(ga - gb) > min_margin:
            win, lose = (a, b) if ga > gb else (b, a)
            out[(win["id"], lose["id"])] = abs(ga - gb)
    return out


@pytest.fixture
def expected_pairs() -> Callable[[list[dict[str, Any]], float], dict[tuple[str, str], float]]:
    """The DPO oracle: (winner id, loser id) -> margin, computed independently of the exporter."""
    return _expected_pairs
