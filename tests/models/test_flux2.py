"""FLUX.2 [klein] through the real loading path (a tiny random-weight pipeline, by --weights and by hub id)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from PIL import Image

from hilite_cli.models.base import Editor, TextToImage
from hilite_cli.models.loader import clear_cache, load_model
from hilite_cli.records import RecordError
from support.cli import hilite
from support.photos import photo as real_photo, save_photo

PARAMS = {"steps": 2}


@pytest.fixture(scope="module")
def picture() -> Image.Image:
    """FLUX.2's image processor needs both sides >= 64 px."""
    return real_photo("astronaut", None).resize((80, 64), Image.BILINEAR)


def _arr(img: Image.Image) -> np.ndarray:
    return np.asarray(img, dtype=np.float64)


def test_klein_batches_seeds_in_one_call_and_a_seed_gives_the_same_image_alone(
    tiny_dir: Callable[[str], Path], picture: Image.Image, recorder: Any
) -> None:
    editor = load_model("flux2-klein", weights={"flux2-klein": tiny_dir("flux2-klein")})
    assert isinstance(editor, Editor)
    editor.pipe = recorder(editor.pipe)
    batch = editor.edit(picture, prompt="make it winter", seeds=[0, 1, 2], params=PARAMS)
    alone = editor.edit(picture, prompt="make it winter", seeds=[2], params=PARAMS)
    call = editor.pipe.calls[0]
    assert len(editor.pipe.calls) == 2 and call["num_images_per_prompt"] == 3 and len(call["generator"]) == 3
    assert call["num_inference_steps"] == 2 and (call["width"], call["height"]) == (80, 64)
    assert call["guidance_scale"] == 1.0  # step-distilled: guidance off, no text-influence knob
    assert all(img.size == picture.size for img in batch)
    assert np.abs(_arr(batch[0]) - _arr(batch[1])).mean() > 1.0
    diff = np.abs(_arr(alone[0]) - _arr(batch[2]))
    assert diff.mean() <= 1.0 and diff.max() <= 4


def test_klein_takes_the_reference_as_a_second_image_and_refuses_tiny_inputs(
    tiny_dir: Callable[[str], Path], picture: Image.Image, recorder: Any
) -> None:
    editor = load_model("flux2-klein", weights={"flux2-klein": tiny_dir("flux2-klein")})
    editor.pipe = recorder(editor.pipe)
    reference = picture.transpose(Image.FLIP_LEFT_RIGHT)
    editor.edit(picture, prompt="put this in", seeds=[0], params=PARAMS, reference=reference)
    images = editor.pipe.calls[0]["image"]
    assert len(images) == 2 and images[1].size == reference.size
    with pytest.raises(RecordError, match="at least 64 px, got 48x32"):
        editor.edit(picture.resize((48, 40)), prompt="x", seeds=[0], params=PARAMS)
    with pytest.raises(RecordError, match="steps 9 outside its documented 1..8"):
        editor.edit(picture, prompt="x", seeds=[0], params={"steps": 9})


def test_klein_loads_by_hub_id_from_the_hf_cache(
    tiny_dir: Callable[[str], Path], picture: Image.Image, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hub-id path: the tiny folder laid out as an HF cache snapshot of black-forest-labs/FLUX.2-klein-4B."""
    cache = tmp_path / "hub"
    repo = cache / "models--black-forest-labs--FLUX.2-klein-4B"
    shutil.copytree(tiny_dir("flux2-klein"), repo / "snapshots" / ("0" * 40))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0" * 40)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(cache))
    clear_cache()
    editor = load_model("flux2-klein")
    [out] = editor.edit(picture, prompt="make it winter", seeds=[0], params=PARAMS)
    assert out.size == picture.size
    clear_cache()


def test_klein_t2i_generates_the_planned_size(tiny_dir: Callable[[str], Path]) -> None:
    gen = load_model("flux2-klein-t2i", weights={"flux2-klein-t2i": tiny_dir("flux2-klein")})
    assert isinstance(gen, TextToImage) and not isinstance(gen, Editor)
    images = gen.generate("a red bicycle", seeds=[0, 1], width=96, height=64, params={"steps": 2})
    assert [im.size for im in images] == [(96, 64)] * 2


def test_mine_with_flux2_klein_runs_end_to_end(tiny_dir: Callable[[str], Path], tmp_path: Path) -> None:
    (tmp_path / "photos").mkdir()
    save_photo(tmp_path / "photos", "astronaut", 64)
    (tmp_path / "e.txt").write_text("make it winter\n")
    res = hilite("mine", "--images", "photos", "--edits", "e.txt", "--editor", "flux2-klein", "--weights",
                 f"flux2-klein={tiny_dir('flux2-klein')}", "--preset", "small", "--attempts", "2", "--no-gate",
                 "--prefilter", "offline", "--no-lowlevel", "--keep-rejected", "--device", "cpu", "--no-progress",
                 "-o", "pool.jsonl", "--out", "mined", cwd=tmp_path)
    assert res.returncode == 0, res.stderr.decode()[-3000:]
    pool = [orjson.loads(x) for x in (tmp_path / "pool.jsonl").read_bytes().splitlines()]
    assert len(pool) == 2 and {r["seed"] for r in pool} == {0, 1}
    assert all(r["model"] == "flux2-klein" and r["licence"]["name"] == "Apache-2.0" for r in pool)
