from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from PIL import Image

from hilite_cli.exports import write_dataset


def test_imagefolder_loads_with_train_instruct_pix2pix_default_columns(triplets: list[dict[str, Any]], tmp_path: Path) -> None:
    import datasets

    out = tmp_path / "ip2p"
    summary = write_dataset(triplets, out, "ip2p")
    assert summary.written == len(triplets) and not summary.errors

    ds = datasets.load_dataset("imagefolder", data_dir=str(out), split="train", cache_dir=str(tmp_path / "cache"))
    assert {"input_image", "edited_image", "edit_prompt"} <= set(ds.column_names)
    assert len(ds) == len(triplets)
    for row, trip in zip(ds, triplets, strict=True):
        assert row["edit_prompt"] == trip["instruction"]
        assert np.array_equal(np.asarray(row["input_image"].convert("RGB")), np.asarray(Image.open(trip["source"]).convert("RGB")))
        assert np.array_equal(np.asarray(row["edited_image"]), np.asarray(Image.open(trip["edited"])))
        assert row["score_geometric"] == trip["scores"]["geometric"]
        assert row["score_instruction"] == trip["scores"]["instruction"]
        assert row["score_aesthetics"] == trip["scores"]["aesthetics"]
        prov = orjson.loads(row["provenance"])
        assert prov["parents"] == trip["parents"] and prov["kind"] == "forward"


def test_images_are_copied_content_addressed_and_missing_files_become_errors(triplets: list[dict[str, Any]], tmp_path: Path) -> None:
    missing = {**triplets[0], "id": "gone", "edited": str(tmp_path / "nope.png")}
    out = tmp_path / "ip2p"
    summary = write_dataset([missing, *triplets], out, "ip2p")

    assert summary.written == len(triplets)
    assert [e["id"] for e in summary.errors] == ["gone"]
    assert summary.errors[0]["error"]["stage"] == "export" and summary.errors[0]["error"]["kind"] == "missing_image"
    images = list((out / "images").iterdir())
    assert images and not any(p.is_symlink() for p in images)
    # Both sources are shared across triplets: stored once each.
    assert len(images) == len({t["edited"] for t in triplets}) + 2
    assert not [p for p in out.rglob("*.tmp")]


def test_unknown_format_names_the_choices(triplets: list[dict[str, Any]], tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="ip2p, nhr, webdataset, diffusion-dpo, trl"):
        write_dataset(triplets, tmp_path / "x", "parquet")


def test_a_failed_export_leaves_no_partial_metadata(triplets: list[dict[str, Any]], tmp_path: Path) -> None:
    def records_then_crash() -> Any:
        yield triplets[0]
        raise RuntimeError("upstream reader died")

    out = tmp_path / "ip2p"
    with pytest.raises(RuntimeError):
        write_dataset(records_then_crash(), out, "ip2p")
    assert not (out / "metadata.jsonl").exists()
    assert not list(out.rglob("*.tmp"))
