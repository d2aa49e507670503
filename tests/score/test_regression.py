"""The CI regression gate: unchanged passes, a drop past max-drop fails with a one-line reason."""

from __future__ import annotations

import copy
from pathlib import Path

import orjson
import pytest

from hilite_cli.report.regression import check_regression, parse_thresholds
from hilite_cli.stages.score_dataset import DatasetInput, score_datasets


@pytest.fixture
def baseline(dataset_a: Path) -> dict:
    run = score_datasets([DatasetInput("a", str(dataset_a))], metrics=["ssim", "lowlevel"])
    return orjson.loads(orjson.dumps(run.results))


def with_mean(results: dict, metric: str, value: float | None) -> dict:
    out = copy.deepcopy(results)
    out["datasets"]["a"]["metrics"][metric]["mean"] = value
    return out


def test_unchanged_dataset_passes(baseline: dict, dataset_a: Path) -> None:
    again = score_datasets([DatasetInput("a", str(dataset_a))], metrics=["ssim", "lowlevel"]).results
    assert check_regression(again, baseline, max_drop=0.05) == []


def test_drop_past_max_drop_names_everything(baseline: dict) -> None:
    base = baseline["datasets"]["a"]["metrics"]["ssim"]["mean"]
    current = with_mean(baseline, "ssim", base - 0.08)
    (reason,) = check_regression(current, baseline, max_drop=0.05)
    assert reason == f"a: ssim dropped from {base:.4f} to {base - 0.08:.4f} (drop 0.0800 > max-drop 0.0500)"


def test_drop_of_exactly_max_drop_is_allowed(baseline: dict) -> None:
    base = baseline["datasets"]["a"]["metrics"]["geometric"]["mean"]
    assert check_regression(with_mean(baseline, "geometric", base - 0.05), baseline, max_drop=0.05) == []


def test_per_metric_max_drop_and_improvements(baseline: dict) -> None:
    base = baseline["datasets"]["a"]["metrics"]["ssim"]["mean"]
    current = with_mean(baseline, "ssim", base - 0.08)
    assert check_regression(current, baseline, max_drop={"ssim": 0.1}) == []
    assert check_regression(with_mean(baseline, "ssim", base + 0.3), baseline, max_drop=0.0) == []


def test_missing_values_and_datasets_are_regressions(baseline: dict) -> None:
    (reason,) = check_regression(with_mean(baseline, "geometric", None), baseline, max_drop=0.05)
    assert reason.startswith("a: geometric has no value now")
    renamed = copy.deepcopy(baseline)
    renamed["datasets"]["z"] = renamed["datasets"].pop("a")
    assert check_regression(renamed, baseline, max_drop=0.05) == ["a: in the baseline but not in the current results"]


def test_fail_under(baseline: dict) -> None:
    geo = baseline["datasets"]["a"]["metrics"]["geometric"]["mean"]
    assert check_regression(baseline, fail_under={"geometric": geo - 0.01}) == []
    (reason,) = check_regression(baseline, fail_under={"geometric": 4.9})
    assert reason == f"a: geometric {geo:.4f} is under fail-under 4.9000"


def test_parse_thresholds() -> None:
    assert parse_thresholds(["geometric=4.2", "ssim=0.5"]) == {"geometric": 4.2, "ssim": 0.5}
    with pytest.raises(ValueError, match="METRIC=VALUE"):
        parse_thresholds(["psnr=30"])
    with pytest.raises(ValueError, match="must be a number"):
        parse_thresholds(["ssim=high"])


def test_not_a_results_file(baseline: dict) -> None:
    with pytest.raises(ValueError, match="not a score-dataset results file"):
        check_regression(baseline, {"datasets": {}}, max_drop=0.05)


def test_read_results_round_trip(baseline: dict, tmp_path: Path) -> None:
    from hilite_cli.report.regression import default_max_drop, read_results

    path = tmp_path / "baseline.json"
    path.write_bytes(orjson.dumps(baseline))
    assert read_results(path) == baseline
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        read_results(tmp_path / "bad.json")
    with pytest.raises(ValueError, match="not found"):
        read_results(tmp_path / "missing.json")
    assert default_max_drop() == 0.05
