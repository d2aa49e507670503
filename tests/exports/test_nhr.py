from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson
from PIL import Image

from hilite_cli.exports import write_dataset

NAME = re.compile(r"images/(\d{2})/([0-9a-f]{16})_(original|edited_(\d+))\.jpg")


def test_layout_matches_the_released_nhr_edit_tree(triplets: list[dict[str, Any]], tmp_path: Path) -> None:
    out = tmp_path / "nhr"
    summary = write_dataset(triplets, out, "nhr")
    rows = [orjson.loads(line) for line in (out / "metadata.jsonl").read_bytes().splitlines()]
    assert summary.written == len(rows) == len(triplets)
    assert summary.counts["sources"] == 2

    edits_of: dict[str, list[int]] = defaultdict(list)
    for row, trip in zip(rows, triplets, strict=True):
        orig, edited = NAME.fullmatch(row["original_image"]), NAME.fullmatch(row["edited_image"])
        assert orig and edited and orig.group(3) == "original"
        assert orig.group(1) == edited.group(1) and orig.group(2) == edited.group(2) == row["source_id"]
        assert int(edited.group(4)) == row["edit_index"]
        edits_of[row["source_id"]].append(row["edit_index"])
        assert row["instruction"] == trip["instruction"] and row["sample_id"] == trip["id"]
        assert row["scores"] == trip["scores"]
        assert row["provenance"]["parents"] == trip["parents"] and row["provenance"]["judge"] == trip["judge"]
        for rel in (row["original_image"], row["edited_image"]):
            with Image.open(out / rel) as img:
                assert img.format == "JPEG"
    assert all(indices == list(range(len(indices))) for indices in edits_of.values())
    # The JPEG source is copied byte for byte; PNGs are re-encoded.
    jpeg_trip = next(i for i, t in enumerate(triplets) if t["source"].endswith(".jpg"))
    assert (out / rows[jpeg_trip]["original_image"]).read_bytes() == Path(triplets[jpeg_trip]["source"]).read_bytes()
    written = {p.relative_to(out).as_posix() for p in out.rglob("*.jpg")}
    assert written == {r["original_image"] for r in rows} | {r["edited_image"] for r in rows}


def test_corrupt_image_is_an_error_and_the_rest_export(triplets: list[dict[str, Any]], tmp_path: Path) -> None:
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    summary = write_dataset([{**triplets[0], "id": "bad", "edited": str(bad)}, *triplets], tmp_path / "nhr", "nhr")
    assert summary.written == len(triplets)
    assert [(e["id"], e["error"]["kind"]) for e in summary.errors] == [("bad", "bad_image")]
