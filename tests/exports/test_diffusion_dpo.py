from __future__ import annotations

import io
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from PIL import Image

from hilite_cli.exports import write_dataset

PairOracle = Callable[[list[dict[str, Any]], float], dict[tuple[str, str], float]]


def _is_jpeg_of(blob: bytes, path: str) -> bool:
    """JPEG bytes, byte for byte for a JPEG file, and otherwise the same picture within JPEG's loss."""
    import numpy as np

    if not blob.startswith(b"\xff\xd8\xff"):
        return False
    if Path(path).read_bytes().startswith(b"\xff\xd8\xff"):
        return blob == Path(path).read_bytes()
    reference = io.BytesIO()
    Image.open(path).convert("RGB").save(reference, "JPEG", quality=95)  # the picture, through Pillow's own JPEG
    return np.array_equal(np.asarray(Image.open(io.BytesIO(blob))), np.asarray(Image.open(reference)))


def test_card_says_plainly_it_trains_text_to_image(scored: list[dict[str, Any]], tmp_path: Path) -> None:
    write_dataset(scored, tmp_path / "ddpo", "diffusion-dpo")
    card = (tmp_path / "ddpo" / "README.md").read_text()
    assert "This trains text-to-image preferences, not editing" in card and "`source`" in card


def test_pick_a_pic_columns_label_the_winner(scored: list[dict[str, Any]], tmp_path: Path, expected_pairs: PairOracle) -> None:
    import datasets

    out = tmp_path / "ddpo"
    summary = write_dataset(scored, out, "diffusion-dpo")
    want = expected_pairs(scored, 0.0)
    assert summary.written == len(want) and summary.skipped["missing_scores"] == 1

    ds = datasets.load_dataset(str(out / "parquet"), split="train", cache_dir=str(tmp_path / "cache"))
    assert {"jpg_0", "jpg_1", "label_0", "label_1", "caption", "source"} <= set(ds.column_names)
    by_id = {r["id"]: r for r in scored}
    labels = set()
    for row in ds:
        first, second = by_id[row["id_0"]], by_id[row["id_1"]]
        winner, loser = (first, second) if row["label_0"] == 1 else (second, first)
        assert (winner["id"], loser["id"]) in want and row["label_1"] == 1 - row["label_0"]
        assert row["caption"] == first["instruction"] == second["instruction"]
        for column, path in (("jpg_0", first["output"]), ("jpg_1", second["output"]), ("source", first["image"])):
            assert _is_jpeg_of(row[column], path)
        assert row["margin"] == want[(winner["id"], loser["id"])]
        assert row["score_geometric_0"] == math.sqrt(first["scores"]["instruction"] * first["scores"]["aesthetics"])
        assert row["model_0"] == "classic" and row["id_1"] == second["id"]
        assert orjson.loads(row["provenance"])["1"]["seed"] == second["seed"]
        Image.open(io.BytesIO(row["jpg_0"])).convert("RGB")  # what Diffusion-DPO's train.py does
        labels.add(row["label_0"])
    assert len(ds) == len(want) and labels == {0, 1}


def test_file_view_loads_as_imagefolder(scored: list[dict[str, Any]], tmp_path: Path, expected_pairs: PairOracle) -> None:
    import datasets

    out = tmp_path / "ddpo"
    write_dataset(scored, out, "diffusion-dpo", min_margin=1.0)
    ds = datasets.load_dataset("imagefolder", data_dir=str(out), split="train", cache_dir=str(tmp_path / "cache"))
    assert len(ds) == len(expected_pairs(scored, 1.0))
    assert {"jpg_0", "jpg_1", "source", "label_0", "caption"} <= set(ds.column_names)
    assert isinstance(ds[0]["jpg_0"], Image.Image)


def test_missing_candidate_image_is_reported_and_its_pairs_dropped(scored: list[dict[str, Any]], tmp_path: Path, expected_pairs: PairOracle) -> None:
    broken = [{**r, "output": str(tmp_path / "missing.png")} if r["id"] == scored[0]["id"] else r for r in scored]
    summary = write_dataset(broken, tmp_path / "ddpo", "diffusion-dpo")
    assert [e["id"] for e in summary.errors] == [scored[0]["id"]]
    assert summary.written == len(expected_pairs(scored[1:], 0.0))
