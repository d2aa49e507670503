"""Aggregation: means, bootstrap intervals, categories, tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from hilite_cli.metrics.bootstrap import bootstrap_mean
from hilite_cli.report.results import missing_notes, print_results
from hilite_cli.stages.score_summary import SCHEMA
from hilite_cli.stages.score_dataset import DatasetInput, score_datasets


@pytest.fixture
def run(dataset_a: Path, dataset_b: Path):
    return score_datasets(
        [DatasetInput("a", str(dataset_a)), DatasetInput("b", str(dataset_b))], metrics=["ssim", "lowlevel"], seed=1
    )


def test_means_match_the_records(run) -> None:
    assert run.results["schema"] == SCHEMA
    for name in ("a", "b"):
        evals = [r["eval"] for r in run.scored if r["dataset"] == name]
        metrics = run.results["datasets"][name]["metrics"]
        assert metrics["ssim"]["mean"] == pytest.approx(np.mean([e["ssim"] for e in evals]), abs=1e-12)
        assert metrics["lowlevel_pass"]["mean"] == pytest.approx(np.mean([e["lowlevel"]["passed"] for e in evals]))
        assert metrics["instruction"]["mean"] == pytest.approx(np.mean([e["scores"]["instruction"] for e in evals]))
        assert metrics["geometric"]["mean"] == pytest.approx(np.mean([e["scores"]["geometric"] for e in evals]))
        for block in metrics.values():
            if block["ci"] is not None:
                assert block["ci"][0] <= block["mean"] <= block["ci"][1]
    assert run.results["datasets"]["b"]["metrics"]["lowlevel_pass"]["mean"] == pytest.approx(6 / 8)


def test_categories_break_down_the_dataset(run) -> None:
    cats = run.results["datasets"]["a"]["categories"]
    assert set(cats) == {"add", "remove", "style"}
    assert sum(c["n"] for c in cats.values()) == 12
    add = [r["eval"]["ssim"] for r in run.scored if r["dataset"] == "a" and r["edit_type"] == "add"]
    assert cats["add"]["metrics"]["ssim"]["mean"] == pytest.approx(np.mean(add), abs=1e-12)


def test_histograms_count_every_value(run) -> None:
    hist = run.results["datasets"]["a"]["histograms"]
    assert sum(hist["aesthetics"]["counts"]) == 12
    assert hist["aesthetics"]["edges"][0] == 1.0 and hist["aesthetics"]["edges"][-1] == 5.0
    assert "lowlevel_pass" not in hist


def test_bootstrap_is_seeded_and_close_to_scipy() -> None:
    from scipy.stats import bootstrap

    x = np.random.default_rng(0).normal(3.0, 1.0, 200)
    ours = bootstrap_mean(x, resamples=4000, confidence=0.95, seed=5)
    assert ours == bootstrap_mean(x, resamples=4000, confidence=0.95, seed=5)
    ref = bootstrap((x,), np.mean, n_resamples=4000, confidence_level=0.95, method="percentile", random_state=1)
    assert ours.low == pytest.approx(ref.confidence_interval.low, abs=0.03)
    assert ours.high == pytest.approx(ref.confidence_interval.high, abs=0.03)


def test_bootstrap_edge_cases() -> None:
    assert bootstrap_mean([], resamples=10, confidence=0.95, seed=0).mean is None
    one = bootstrap_mean([4.2], resamples=10, confidence=0.95, seed=0)
    assert (one.mean, one.low, one.high, one.n) == (4.2, None, None, 1)
    flat = bootstrap_mean([2.0] * 5, resamples=50, confidence=0.95, seed=0)
    assert (flat.low, flat.high) == (2.0, 2.0)


def test_rich_table_and_notes(run, dataset_a: Path) -> None:
    console = Console(record=True, width=200)
    print_results(run.results, console)
    text = console.export_text()
    assert "Dataset" in text and "SSIM" in text and "Low-level pass" in text
    assert "a" in text and "b" in text and "per category" in text
    assert missing_notes(run.results) == []
