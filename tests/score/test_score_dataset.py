"""score-dataset stage: sampling, per-record metrics equal the library, honest missing values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pytest

from hilite_cli.images import load_image
from hilite_cli.metrics.geometric import geometric_mean
from hilite_cli.metrics.lowlevel import changed_mask, lowlevel_check
from hilite_cli.metrics.ssim import ssim, ssim_unchanged
from hilite_cli.stages.score_dataset import (
    DatasetInput,
    ScoreDatasetStage,
    parse_metrics,
    sample_dataset,
    score_datasets,
)
from hilite_cli.stages.score_judge import JudgeItem, JudgeOutcome


def arrays(record: dict) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(load_image(record["source"])), np.asarray(load_image(record["edited"]))


def test_sampling_is_seeded_and_keeps_manifest_order(dataset_a: Path) -> None:
    ds = DatasetInput("a", str(dataset_a))
    first = [r["id"] for r in sample_dataset(ds, 5, seed=7).records]
    assert first == [r["id"] for r in sample_dataset(ds, 5, seed=7).records]
    assert first != [r["id"] for r in sample_dataset(ds, 5, seed=8).records]
    assert first == sorted(first, key=lambda i: int(i.split("-")[1]))
    everything = sample_dataset(ds, 100, seed=7)
    assert (everything.n_total, len(everything.records)) == (12, 12)
    assert all(r["dataset"] == "a" for r in everything.records)


def test_pixel_metrics_equal_the_library(dataset_a: Path) -> None:
    records = sample_dataset(DatasetInput("a", str(dataset_a)), None, 0).records
    out = ScoreDatasetStage(["ssim", "lowlevel"])(records)
    assert [r["id"] for r in out] == [r["id"] for r in records]
    for record in out:
        source, edited = arrays(record)
        ev = record["eval"]
        assert ev["ssim"] == pytest.approx(ssim(source, edited), abs=1e-12)
        assert ev["ssim_unchanged"] == pytest.approx(ssim_unchanged(source, edited, changed_mask(source, edited)), abs=1e-12)
        assert ev["lowlevel"] == lowlevel_check(source, edited).to_dict()
        assert ev["resized"] is False
        assert record["instruction"] == f"invert block {record['id'].split('-')[1]}"  # fields pass through


def test_record_scores_are_used_without_a_judge(dataset_a: Path) -> None:
    records = sample_dataset(DatasetInput("a", str(dataset_a)), None, 0).records
    out = ScoreDatasetStage(["lowlevel"])(records)
    for record in out:
        s = record["eval"]["scores"]
        assert s["source"] == "record"
        assert s["geometric"] == geometric_mean(record["scores"]["instruction"], record["scores"]["aesthetics"])
    assert out[0]["eval"]["category"] == "add"


def test_no_change_edit_fails_lowlevel(dataset_b: Path) -> None:
    out = ScoreDatasetStage(["lowlevel"])(sample_dataset(DatasetInput("b", str(dataset_b)), None, 0).records)
    noop = [r for r in out if r["id"] in ("b-0", "b-4")]
    assert all(r["eval"]["lowlevel"]["reason"] == "no_change" for r in noop)


def test_unreadable_image_becomes_an_error_record(dataset_a: Path) -> None:
    records = sample_dataset(DatasetInput("a", str(dataset_a)), None, 0).records[:3]
    Path(records[1]["edited"]).unlink()
    records[2] = {k: v for k, v in records[2].items() if k != "instruction"}
    out = ScoreDatasetStage(["ssim"])(records)
    assert "eval" in out[0]
    assert out[1]["error"]["kind"] == "bad_image" and "not found" in out[1]["error"]["message"]
    assert out[2]["error"]["kind"] == "invalid_record" and "`instruction`" in out[2]["error"]["message"]


def test_different_sizes_are_resized_and_flagged(tmp_path: Path) -> None:
    from PIL import Image
    from skimage import data

    src = Image.fromarray(data.chelsea()).resize((64, 48))
    src.save(tmp_path / "s.png")
    src.resize((128, 96)).save(tmp_path / "e.png")
    record = {"id": "x", "source": str(tmp_path / "s.png"), "edited": str(tmp_path / "e.png"), "instruction": "noop"}
    ev = ScoreDatasetStage(["ssim", "lowlevel"])([record])[0]["eval"]
    assert ev["resized"] is True
    assert ev["ssim"] > 0.8


def fixed_judge(items: list[JudgeItem]) -> list[JudgeOutcome]:
    """A stand-in judge: every third answer refused, others scored from the instruction number."""
    out = []
    for item in items:
        k = int(item.instruction.rsplit(" ", 1)[1])
        if k % 3 == 2:
            out.append(JudgeOutcome(status="refused", provider="test", raw="I can't", reason="refusal"))
        else:
            out.append(JudgeOutcome(status="ok", instruction=4.0 + (k % 2) * 0.5, aesthetics=3.5, provider="test"))
    return out


def test_judge_failures_stay_null_and_are_counted(dataset_a: Path) -> None:
    run = score_datasets([DatasetInput("a", str(dataset_a))], metrics=["judge"], judge=fixed_judge, judge_spec="test")
    by_id = {r["id"]: r["eval"] for r in run.scored}
    refused = by_id["a-2"]
    assert refused["scores"] == {"instruction": None, "aesthetics": None, "geometric": None, "source": "judge"}
    assert refused["judge"]["status"] == "refused" and refused["judge"]["raw"] == "I can't"
    assert "refused" in refused["missing"]["scores"]
    entry = run.results["datasets"]["a"]
    assert entry["n"] == 12 and entry["n_scored"] == 8
    assert entry["judge_status"] == {"ok": 8, "refused": 4}
    geo = entry["metrics"]["geometric"]
    ok_values = [geometric_mean(4.0 + (k % 2) * 0.5, 3.5) for k in range(12) if k % 3 != 2]
    assert geo["mean"] == pytest.approx(np.mean(ok_values), abs=1e-12)
    assert (geo["n"], geo["missing"]) == (8, 4)


def test_judge_metric_needs_a_judge() -> None:
    with pytest.raises(ValueError, match="needs a judge"):
        ScoreDatasetStage(["judge"])
    with pytest.raises(ValueError, match="unknown metric"):
        parse_metrics("ssim,psnr")


def test_results_are_reproducible_and_json_able(dataset_a: Path, dataset_b: Path) -> None:
    inputs = [DatasetInput("a", str(dataset_a)), DatasetInput("b", str(dataset_b))]
    one = score_datasets(inputs, metrics=["ssim", "lowlevel"], sample=6, seed=3).results
    two = score_datasets(inputs, metrics=["ssim", "lowlevel"], sample=6, seed=3).results
    assert orjson.dumps(one) == orjson.dumps(two)
    assert orjson.loads(orjson.dumps(one)) == one
    assert set(one["datasets"]) == {"a", "b"}
    assert one["datasets"]["b"]["n"] == 6 and one["datasets"]["b"]["n_total"] == 8


def test_clip_metrics_in_the_stage(tmp_path: Path, make_dataset) -> None:
    from support.tiny_clip import build_tiny_clip

    from hilite_cli.metrics.clip import ClipScorer

    clip_dir = build_tiny_clip(tmp_path / "clip")
    manifest = make_dataset("c", 3)
    lines = [orjson.loads(line) for line in manifest.read_bytes().splitlines()]
    lines[0]["source_caption"], lines[0]["target_caption"] = "a cat", "a cat in a hat"
    manifest.write_bytes(b"\n".join(orjson.dumps(r) for r in lines) + b"\n")
    records = sample_dataset(DatasetInput("c", str(manifest)), None, 0).records
    stage = ScoreDatasetStage(["clip"], clip_model=clip_dir, clip_device="cpu")
    stage.setup()
    out = stage(records)
    stage.teardown()
    scorer = ClipScorer(clip_dir, device="cpu")
    for record in out:
        source, edited = arrays(record)
        assert record["eval"]["clip_i"] == pytest.approx(scorer.image_similarity([source], [edited])[0], abs=1e-6)
    want_dir = scorer.direction_similarity(*[[a] for a in arrays(out[0])], ["a cat"], ["a cat in a hat"])[0]
    assert out[0]["eval"]["clip_dir"] == pytest.approx(want_dir, abs=1e-6)
    assert out[1]["eval"]["clip_dir"] is None
    assert "captions" in out[1]["eval"]["missing"]["clip_dir"]


def test_a_sampled_file_is_drawn_in_two_passes_with_the_in_memory_draw(tmp_path: Path) -> None:
    """Only the sample is held; the draw is the one `rng.choice` makes over all good records."""
    import zlib

    from hilite_cli.stages.score_dataset import DatasetInput, sample_dataset

    lines = [orjson.dumps({"id": f"r{i}", "source": "a.png", "edited": "b.png", "instruction": "x"})
             for i in range(50)]
    lines[7] = b"{not json"
    lines[9] = orjson.dumps({"id": "failed", "error": {"stage": "edit", "kind": "k", "message": "m"}})
    manifest = tmp_path / "ds.jsonl"
    manifest.write_bytes(b"\n".join(lines) + b"\n")
    drawn = sample_dataset(DatasetInput("ds", str(manifest)), 10, 3)
    good = [orjson.loads(x)["id"] for i, x in enumerate(lines) if i not in (7, 9)]
    keep = np.sort(np.random.default_rng([3, zlib.crc32(b"ds")]).choice(len(good), size=10, replace=False))
    assert [r["id"] for r in drawn.records] == [good[i] for i in keep]
    assert (drawn.n_total, drawn.n_invalid, len(drawn.bad_lines)) == (48, 2, 1)
    assert all(r["dataset"] == "ds" for r in drawn.records)
