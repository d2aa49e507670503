"""The nhr export in the released NHR-Edit layout, read back by `datasets.load_dataset` (the consumer)."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from PIL import Image

from hilite_cli.exports import write_dataset

NAME = re.compile(r"images/(\d{2})/image_(\d+)_(original|edited_(\d+))\.jpg")


def test_layout_matches_the_released_nhr_edit_tree(triplets: list[dict[str, Any]], tmp_path: Path) -> None:
    out = tmp_path / "nhr"
    summary = write_dataset(triplets, out, "nhr")
    assert sorted(p.name for p in out.iterdir()) == [".hilite-export.json", "README.md", "train"]
    rows = [orjson.loads(line) for line in (out / "train" / "metadata.jsonl").read_bytes().splitlines()]
    assert summary.written == len(rows) == len(triplets)
    assert summary.counts["sources"] == 2

    edits_of: dict[int, list[int]] = defaultdict(list)
    for row, trip in zip(rows, triplets, strict=True):
        orig, edited = NAME.fullmatch(row["original_image_file_name"]), NAME.fullmatch(row["edited_image_file_name"])
        assert orig and edited and orig.group(3) == "original"
        assert orig.group(2) == edited.group(2) == str(row["source_index"])
        assert orig.group(1) == edited.group(1) == f"{row['source_index'] % 100:02d}"
        assert int(edited.group(4)) == row["edit_index"]
        edits_of[row["source_index"]].append(row["edit_index"])
        assert row["edit_instruction"] == trip["instruction"] and row["id"] == trip["id"]
        assert row["score_geometric"] == trip["scores"]["geometric"]
        assert orjson.loads(row["provenance"])["parents"] == trip["parents"]
        assert orjson.loads(row["judge"]) == trip["judge"]
        for rel in (row["original_image_file_name"], row["edited_image_file_name"]):
            with Image.open(out / "train" / rel) as img:
                assert img.format == "JPEG"
    assert all(indices == list(range(len(indices))) for indices in edits_of.values())
    # The JPEG source is copied byte for byte; PNGs are re-encoded.
    jpeg_trip = next(i for i, t in enumerate(triplets) if t["source"].endswith(".jpg"))
    assert (out / "train" / rows[jpeg_trip]["original_image_file_name"]).read_bytes() == Path(triplets[jpeg_trip]["source"]).read_bytes()


def test_load_dataset_reads_the_export_as_nhr_edit(triplets: list[dict[str, Any]], tmp_path: Path) -> None:
    """The consumer: `datasets.load_dataset(<export>)`, the call that reads NHR-Edit; the columns mean
    what they say (the original is the source, the edited image the edit, the text the instruction)."""
    import datasets

    out = tmp_path / "nhr"
    write_dataset(triplets, out, "nhr")
    ds = datasets.load_dataset(str(out), split="train", cache_dir=str(tmp_path / "cache"))
    assert len(ds) == len(triplets)
    assert {"original_image", "edited_image", "edit_instruction", "score_geometric", "category", "licence"} <= set(ds.column_names)
    for row, trip in zip(ds, triplets, strict=True):
        assert row["edit_instruction"] == trip["instruction"]
        assert row["original_image"].size == Image.open(trip["source"]).size
        edited = np.asarray(Image.open(trip["edited"]).convert("RGB"), dtype=float)
        source = np.asarray(Image.open(trip["source"]).convert("RGB"), dtype=float)
        got = np.asarray(row["edited_image"].convert("RGB"), dtype=float)
        assert np.abs(got - edited).mean() < np.abs(got - source).mean()  # the edited column holds the edit


def test_corrupt_image_is_an_error_and_the_rest_export(triplets: list[dict[str, Any]], tmp_path: Path) -> None:
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    summary = write_dataset([{**triplets[0], "id": "bad", "edited": str(bad)}, *triplets], tmp_path / "nhr", "nhr")
    assert summary.written == len(triplets)
    assert [(e["id"], e["error"]["kind"]) for e in summary.errors] == [("bad", "bad_image")]
