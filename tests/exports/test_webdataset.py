from __future__ import annotations

import tarfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from hilite_cli.exports import write_dataset


def test_shards_read_back_sample_by_sample_with_webdataset(triplets: list[dict[str, Any]], tmp_path: Path) -> None:
    import webdataset as wds

    out = tmp_path / "wds"
    summary = write_dataset(triplets, out, "webdataset", max_per_shard=2)
    shards = sorted(p.name for p in out.glob("*.tar"))
    assert shards == [f"shard-{i:06d}.tar" for i in range(-(-len(triplets) // 2))]
    assert summary.counts["shards"] == len(shards) and summary.written == len(triplets)

    urls = [str(out / name) for name in shards]
    samples = list(wds.WebDataset(urls, shardshuffle=False, empty_check=False).decode("pil"))
    assert len(samples) == len(triplets)
    for sample, trip in zip(samples, triplets, strict=True):
        assert set(sample) >= {"__key__", "src.png", "edited.png", "json"}
        meta = sample["json"]
        assert meta["id"] == trip["id"] and meta["instruction"] == trip["instruction"]
        assert meta["scores"] == trip["scores"] and meta["provenance"]["parents"] == trip["parents"]
        assert np.array_equal(np.asarray(sample["edited.png"]), np.asarray(Image.open(trip["edited"])))
        assert np.array_equal(np.asarray(sample["src.png"]), np.asarray(Image.open(trip["source"]).convert("RGB")))


def test_unsafe_ids_become_safe_keys_and_stale_shards_are_removed(triplets: list[dict[str, Any]], tmp_path: Path) -> None:
    out = tmp_path / "wds"
    write_dataset(triplets, out, "webdataset", max_per_shard=1)
    renamed = [{**t, "id": f"../../evil.{i}"} for i, t in enumerate(triplets[:2])]
    write_dataset(renamed, out, "webdataset", max_per_shard=1)

    assert sorted(p.name for p in out.glob("*.tar")) == ["shard-000000.tar", "shard-000001.tar"]
    assert not list(tmp_path.glob("*.png"))
    for shard in out.glob("*.tar"):
        with tarfile.open(shard) as tar:
            names = tar.getnames()
        assert len(names) == 3 and all("/" not in n and n.count(".") <= 2 for n in names)


def test_rejects_empty_shards(triplets: list[dict[str, Any]], tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="max_per_shard"):
        write_dataset(triplets, tmp_path / "wds", "webdataset", max_per_shard=0)
