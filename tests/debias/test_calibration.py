"""Validator calibration (NHR Tables 1, 2, 7; Figures 9, 11) against scikit-learn and scipy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr
from sklearn.metrics import accuracy_score, fbeta_score, mean_absolute_error, precision_recall_fscore_support

from hilite_cli.stages.calibration import calibrate, parse_predictions, suggest_threshold, sweep_thresholds

CATEGORIES = ("remove", "add", "style")


def _dataset(n: int = 80, seed: int = 11) -> tuple[list[dict], list[dict]]:
    """De-biased human item records (as `debias` writes them) and noisy validator predictions;
    the two axes share a latent quality so that both-high successes are common."""
    rng = np.random.default_rng(seed)
    quality = rng.uniform(1.0, 5.0, size=(n, 1))
    human = np.clip(quality + rng.normal(0, 0.4, size=(n, 2)), 1.0, 5.0)
    pred = np.clip(human + rng.normal(0, 0.4, size=(n, 2)), 1, 5)
    items = [
        {
            "item": f"t{i}",
            "instruction": human[i, 0],
            "aesthetics": human[i, 1],
            "geometric": float(np.sqrt(human[i, 0] * human[i, 1])),
            "category": CATEGORIES[i % 3],
        }
        for i in range(n)
    ]
    predictions = [{"item": f"t{i}", "instruction": pred[i, 0], "aesthetics": pred[i, 1]} for i in range(n)]
    return items, predictions


def _arrays(items: list[dict], predictions: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    h = np.array([[it["instruction"], it["aesthetics"]] for it in items])
    p = np.array([[pr["instruction"], pr["aesthetics"]] for pr in predictions])
    return h, p


def test_table1_mae_and_spearman_match_sklearn_and_scipy() -> None:
    items, predictions = _dataset()
    h, p = _arrays(items, predictions)
    report = calibrate(items, predictions, threshold=4.0)
    for k, axis in enumerate(("instruction", "aesthetics")):
        fit = report.axes[axis]
        assert fit.n == len(items)
        assert fit.mae == pytest.approx(mean_absolute_error(h[:, k], p[:, k]), abs=1e-12)
        assert fit.spearman == pytest.approx(spearmanr(p[:, k], h[:, k]).statistic, abs=1e-12)


def test_table7_classification_matches_sklearn() -> None:
    items, predictions = _dataset()
    h, p = _arrays(items, predictions)
    truth = np.all(h > 4.0, axis=1)
    for t in (3.5, 4.0, 4.3):
        positive = np.all(p >= t, axis=1)
        precision, recall, f1, _ = precision_recall_fscore_support(truth, positive, average="binary")
        c = calibrate(items, predictions, threshold=t, human_success=4.0).classification
        assert c.tp + c.fp == positive.sum() > 0 and c.tp + c.fn == truth.sum() > 0
        assert (c.precision, c.recall, c.f1) == pytest.approx((precision, recall, f1), abs=1e-12)
        assert c.accuracy == pytest.approx(accuracy_score(truth, positive), abs=1e-12)
        assert c.fbeta == pytest.approx(fbeta_score(truth, positive, beta=0.5), abs=1e-12)


def test_defaults_come_from_configs_thresholds() -> None:
    items, predictions = _dataset()
    report = calibrate(items, predictions)
    assert (report.classification.threshold_instruction, report.classification.threshold_aesthetics) == (4.7, 4.7)
    assert report.human_success == 4.0


def test_undefined_ratios_are_none_not_zero() -> None:
    items, predictions = _dataset()
    c = calibrate(items, predictions, threshold=5.5).classification
    assert c.tp + c.fp == 0 and c.precision is None
    assert c.recall == 0.0


def test_table2_per_category_spearman_on_the_geometric_mean() -> None:
    items, predictions = _dataset()
    report = calibrate(items, predictions)
    pred_geo = {pr["item"]: np.sqrt(pr["instruction"] * pr["aesthetics"]) for pr in predictions}
    for fit in report.categories:
        sub = [it for it in items if it["category"] == fit.category]
        expected = spearmanr([pred_geo[it["item"]] for it in sub], [it["geometric"] for it in sub]).statistic
        assert fit.n == len(sub) and fit.spearman == pytest.approx(expected, abs=1e-12)
    assert [f.category for f in report.categories] == sorted(CATEGORIES)
    overall = spearmanr([pred_geo[it["item"]] for it in items], [it["geometric"] for it in items]).statistic
    assert report.overall_geometric.spearman == pytest.approx(overall, abs=1e-12)


def test_figure9_mae_by_ground_truth_bucket() -> None:
    items, predictions = _dataset()
    items[0]["instruction"], predictions[0]["instruction"] = 5.0, 4.0  # 5.0 falls in the closed last bucket
    items[1]["instruction"] = 5.3  # pushed past the scale by de-biasing: outside every bucket, counted
    h, p = _arrays(items, predictions)
    report = calibrate(items, predictions)
    edges = [(1.0, 2.0), (2.0, 3.0), (3.0, 4.0), (4.0, 4.5), (4.5, 5.0)]
    for k, axis in enumerate(("instruction", "aesthetics")):
        for bucket, (low, high) in zip(report.buckets[axis], edges, strict=True):
            inside = (h[:, k] >= low) & ((h[:, k] <= high) if high == 5.0 else (h[:, k] < high))
            assert (bucket.low, bucket.high, bucket.n) == (low, high, inside.sum())
            if inside.any():
                assert bucket.mae == pytest.approx(mean_absolute_error(h[inside, k], p[inside, k]), abs=1e-12)
            else:
                assert bucket.mae is None
    assert report.out_of_buckets == {"instruction": 1, "aesthetics": 0}


def test_sweep_and_suggested_threshold() -> None:
    items, predictions = _dataset()
    h, p = _arrays(items, predictions)
    truth = np.all(h > 4.0, axis=1)
    grid = sweep_thresholds(3.0, 5.0, 0.05)
    assert len(grid) == 41 and grid[0] == 3.0 and grid[-1] == 5.0 and 4.7 in grid
    report = calibrate(items, predictions)
    for point, t in zip(report.sweep, grid, strict=True):
        positive = np.all(p >= t, axis=1)
        if positive.any():
            expected = precision_recall_fscore_support(truth, positive, average="binary")[0]
            assert point.precision == pytest.approx(expected)
        else:
            assert point.precision is None
    best = max(point.fbeta for point in report.sweep if point.fbeta is not None)
    first_best = min(pt.threshold_instruction for pt in report.sweep if pt.fbeta == best)
    assert report.suggestion.rule == "fbeta" and report.suggestion.threshold == first_best

    by_precision = suggest_threshold(report.sweep, "precision", target_precision=0.75)
    reaching = [pt.threshold_instruction for pt in report.sweep if pt.precision is not None and pt.precision >= 0.75]
    assert by_precision.threshold == min(reaching)
    impossible = suggest_threshold(report.sweep, "precision", target_precision=1.01)
    assert impossible.threshold is None and impossible.reason == "target_precision_not_reached"


def test_unjoined_and_partial_items_are_counted_not_dropped() -> None:
    items, predictions = _dataset(n=10)
    predictions = predictions[:8] + [
        {"item": "stranger", "instruction": 4.0, "aesthetics": 4.0},
        {"item": "t0", "instruction": 3.0, "aesthetics": 3.0},
        {"instruction": 3.0},
        {"item": "t9", "instruction": "high"},
    ]
    predictions[2]["aesthetics"] = None
    items[3]["instruction"] = None
    report = calibrate(items, predictions)
    assert report.counts == {
        "human_items": 10,
        "predictions": 9,
        "invalid_predictions": 3,
        "joined": 8,
        "human_without_prediction": 2,
        "prediction_without_human": 1,
        "instruction_missing_prediction": 0,
        "instruction_missing_human": 1,
        "aesthetics_missing_prediction": 1,
        "aesthetics_missing_human": 0,
        "both_axes": 6,
        "geometric_undefined": 0,
    }
    assert [e["line"] for e in report.errors] == [10, 11, 12]
    assert all(e["error"]["kind"] == "invalid_prediction" for e in report.errors)
    assert report.axes["instruction"].n == 7 and report.axes["aesthetics"].n == 7
    assert report.classification.n == 6


def test_too_few_items_give_reasons() -> None:
    items, predictions = _dataset(n=2)
    report = calibrate(items, predictions)
    assert report.axes["instruction"].spearman is None
    assert report.axes["instruction"].reason == "fewer_than_3_items"
    empty = calibrate(items, [])
    assert empty.axes["aesthetics"].reason == "no_joined_items" and empty.classification.accuracy is None


def test_prediction_categories_and_duplicates() -> None:
    predictions, errors = parse_predictions(
        [{"item": "a", "instruction": 4, "edit_type": "add"}, {"item": "a", "instruction": 3}],
        category_field="edit_type",
    )
    assert predictions["a"]["category"] == "add"
    assert len(errors) == 1 and "second prediction" in errors[0]["error"]["message"]
