"""Inter-rater reliability against scipy and the krippendorff package computed directly."""

from __future__ import annotations

from itertools import combinations

import krippendorff
import numpy as np
import pytest
from scipy.stats import spearmanr

from hilite_cli.metrics.agreement import agreement, krippendorff_alpha, pairwise_spearman, reliability_matrix


def _incomplete(seed: int = 3) -> dict[tuple[str, str], float]:
    """5 raters, 20 items, each item rated by 2-4 raters, integer 1-5 scores."""
    rng = np.random.default_rng(seed)
    truth = rng.uniform(1, 5, 20)
    scores = {}
    for i in range(20):
        for r in rng.choice(5, size=rng.integers(2, 5), replace=False):
            scores[(f"i{i:02d}", f"r{r}")] = float(np.clip(np.round(truth[i] + rng.normal(0, 0.8)), 1, 5))
    return scores


def test_pairwise_spearman_matches_scipy_per_pair() -> None:
    scores = _incomplete()
    by_rater: dict[str, dict[str, float]] = {}
    for (item, rater), s in scores.items():
        by_rater.setdefault(rater, {})[item] = s
    expected = []
    for a, b in combinations(sorted(by_rater), 2):
        common = sorted(by_rater[a].keys() & by_rater[b].keys())
        if len(common) >= 3:
            expected.append(spearmanr([by_rater[a][i] for i in common], [by_rater[b][i] for i in common]).statistic)
    result = pairwise_spearman(scores)
    assert result.n_pairs == len(expected) > 3
    assert result.mean == pytest.approx(np.mean(expected), abs=1e-12)
    assert result.std == pytest.approx(np.std(expected, ddof=1), abs=1e-12)


def test_pairs_with_few_common_items_or_constant_scores_are_skipped_and_counted() -> None:
    scores = {
        **{(f"i{k}", "a"): float(k) for k in range(5)},
        **{(f"i{k}", "b"): float(k % 3) for k in range(5)},
        **{(f"i{k}", "c"): 3.0 for k in range(5)},  # constant: rho undefined with anyone
        **{(f"j{k}", "d"): float(k) for k in range(2)},
        ("i0", "d"): 1.0,
        ("i1", "d"): 2.0,  # d shares only 2 items with a, b, c
    }
    result = pairwise_spearman(scores)
    assert result.skipped == {"too_few_common": 3, "constant": 2}
    assert result.n_pairs == 1 and result.std is None
    assert result.mean == pytest.approx(spearmanr(range(5), [k % 3 for k in range(5)]).statistic)
    empty = pairwise_spearman({("i0", "a"): 1.0, ("i0", "b"): 2.0})
    assert empty.mean is None and empty.reason == "no_usable_pairs"


def test_krippendorff_matches_the_package_on_a_raters_by_items_matrix() -> None:
    scores = _incomplete(5)
    matrix, raters, items = reliability_matrix(scores)
    assert matrix.shape == (len(raters), len(items))
    assert np.isnan(matrix).sum() == matrix.size - len(scores)
    expected = krippendorff.alpha(reliability_data=matrix, level_of_measurement="interval")
    result = krippendorff_alpha(scores)
    assert result.alpha == pytest.approx(expected, abs=1e-12)
    assert (result.n_items, result.n_raters, result.level) == (20, len(raters), "interval")
    both = agreement(scores)
    assert both.krippendorff.alpha == result.alpha and both.spearman.n_pairs > 0


def test_krippendorff_undefined_cases_say_why() -> None:
    assert krippendorff_alpha({("i0", "a"): 1.0, ("i1", "b"): 2.0}).reason == "no_item_with_two_ratings"
    flat = krippendorff_alpha({("i0", "a"): 3.0, ("i0", "b"): 3.0, ("i1", "a"): 3.0, ("i1", "b"): 3.0})
    assert flat.alpha is None and flat.reason == "no_variation"
