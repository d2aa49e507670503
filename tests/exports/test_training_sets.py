"""Training-set exports (ip2p, nhr, webdataset) take only records that passed validation, unless
--include-rejected, and then every row says `passed` and the thresholds; the summary line says how
many were left out and why. WebDataset shards are enough for a DataLoader with workers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from hilite_cli.exports import write_dataset

THRESHOLDS = {"aesthetics": 4.5, "instruction": 4.5}


def _validated(scored: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What `validate --keep all` writes: every scored candidate with its verdict and thresholds."""
    out = []
    for rec in scored:
        s = rec["scores"]
        ok = s["instruction"] is not None and s["aesthetics"] is not None and min(s["instruction"], s["aesthetics"]) >= 4.5
        out.append({**rec, "passed": ok, "thresholds": THRESHOLDS})
    return out


@pytest.mark.parametrize("fmt", ["ip2p", "nhr", "webdataset"])
def test_rejected_records_stay_out_by_default(scored: list[dict[str, Any]], tmp_path: Path, fmt: str) -> None:
    records = _validated(scored)
    passed = [r for r in records if r["passed"]]
    summary = write_dataset(records, tmp_path / fmt, fmt)
    assert summary.written == len(passed) and summary.skipped["rejected"] == len(records) - len(passed)
    assert "left out: rejected (passed false; --include-rejected keeps them)" in summary.left_out()
    card = (tmp_path / fmt / "README.md").read_text()
    assert "only records that passed validation" in card and "aesthetics >= 4.5, instruction >= 4.5" in card


def _ip2p_rows(out: Path) -> list[dict[str, Any]]:
    return [orjson.loads(x) for x in (out / "metadata.jsonl").read_bytes().splitlines()]


def test_include_rejected_rows_carry_passed_and_the_thresholds(scored: list[dict[str, Any]], tmp_path: Path) -> None:
    records = _validated(scored)
    summary = write_dataset(records, tmp_path / "ip2p", "ip2p", include_rejected=True)
    assert summary.written == len(records) and not summary.skipped
    rows = _ip2p_rows(tmp_path / "ip2p")
    assert [r["passed"] for r in rows] == [r["passed"] for r in records]
    assert {(r["threshold_instruction"], r["threshold_aesthetics"]) for r in rows} == {(4.5, 4.5)}
    assert "rejected records were included" in (tmp_path / "ip2p" / "README.md").read_text()


def test_cli_summary_line_counts_what_was_left_out(scored: list[dict[str, Any]], tmp_path: Path) -> None:
    records = _validated(scored)
    manifest = tmp_path / "scored.jsonl"
    manifest.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    run = subprocess.run([sys.executable, "-m", "hilite_cli", "export", str(manifest), "--format", "ip2p",
                          "--to", str(tmp_path / "out")], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    rejected = sum(not r["passed"] for r in records)
    assert f"{rejected} left out: rejected (passed false; --include-rejected keeps them)" in run.stderr


def test_a_small_webdataset_export_feeds_a_two_worker_dataloader(triplets: list[dict[str, Any]], tmp_path: Path) -> None:
    """The consumer: `webdataset.WebDataset` in a torch DataLoader with num_workers=2 (each worker needs a shard)."""
    import torch
    import webdataset as wds

    out = tmp_path / "wds"
    summary = write_dataset(triplets, out, "webdataset")  # 9 samples, default --max-per-shard 1000
    shards = sorted(str(p) for p in out.glob("shard-*.tar"))
    assert summary.counts["shards"] == len(shards) >= 2
    ds = wds.WebDataset(shards, shardshuffle=False).decode("pil").to_tuple("json", "src.png", "edited.png")
    loader = torch.utils.data.DataLoader(ds, batch_size=None, num_workers=2)
    got = {meta["id"]: (meta, src.size, edited.size) for meta, src, edited in loader}
    assert set(got) == {t["id"] for t in triplets}
    for trip in triplets:
        meta = got[trip["id"]][0]
        assert meta["instruction"] == trip["instruction"] and meta["scores"] == trip["scores"]
        assert "passed" in meta and "thresholds" in meta
    assert json.loads(json.dumps(summary.to_dict()))["written"] == len(triplets)


def test_fewer_samples_than_min_shards_make_one_shard_each_and_warn(triplets: list[dict[str, Any]], tmp_path: Path) -> None:
    summary = write_dataset(triplets[:3], tmp_path / "wds", "webdataset")
    assert summary.counts["shards"] == 3 and len(list((tmp_path / "wds").glob("shard-*.tar"))) == 3
    assert summary.warnings and "num_workers <= shards" in summary.warnings[0]
