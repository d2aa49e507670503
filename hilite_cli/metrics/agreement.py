"""Inter-rater reliability: mean pairwise Spearman (NHR 3.3) and Krippendorff's alpha.

The paper reports the mean pairwise Spearman correlation with its spread (rho = 0.64 +/- 0.05 for
Instruction); Krippendorff's alpha is added because it uses every rating at once, copes with the
incomplete design (2-4 raters per item) and is comparable across studies.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from itertools import combinations

import numpy as np
from pydantic import BaseModel

Scores = Mapping[tuple[str, str], float]  # (item, rater) -> score


class PairwiseSpearman(BaseModel):
    """Mean and sample standard deviation (ddof=1) of Spearman's rho over the usable rater pairs.

    A pair is skipped, and counted under `skipped`, when the raters share fewer than
    `min_common` items (`too_few_common`) or one of them gave a constant score on the shared
    items (`constant`), where rho is undefined.
    """

    mean: float | None
    std: float | None
    n_pairs: int
    skipped: dict[str, int]
    reason: str | None = None


class KrippendorffAlpha(BaseModel):
    alpha: float | None
    level: str
    n_items: int
    n_raters: int
    reason: str | None = None


class Agreement(BaseModel):
    spearman: PairwiseSpearman
    krippendorff: KrippendorffAlpha


def _by_rater(scores: Scores) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for (item, rater), score in scores.items():
        out.setdefault(rater, {})[item] = score
    return out


def pairwise_spearman(scores: Scores, min_common: int = 3) -> PairwiseSpearman:
    """Spearman's rho for every rater pair, on the items both rated."""
    from scipy.stats import spearmanr

    by_rater = _by_rater(scores)
    rhos: list[float] = []
    skipped = {"too_few_common": 0, "constant": 0}
    for a, b in combinations(sorted(by_rater), 2):
        common = sorted(by_rater[a].keys() & by_rater[b].keys())
        if len(common) < min_common:
            skipped["too_few_common"] += 1
            continue
        x = np.array([by_rater[a][i] for i in common])
        y = np.array([by_rater[b][i] for i in common])
        if np.ptp(x) == 0 or np.ptp(y) == 0:
            skipped["constant"] += 1
            continue
        rhos.append(float(spearmanr(x, y).statistic))
    if not rhos:
        return PairwiseSpearman(mean=None, std=None, n_pairs=0, skipped=skipped, reason="no_usable_pairs")
    std = float(np.std(rhos, ddof=1)) if len(rhos) > 1 else None
    return PairwiseSpearman(mean=float(np.mean(rhos)), std=std, n_pairs=len(rhos), skipped=skipped)


def reliability_matrix(scores: Scores) -> tuple[np.ndarray, list[str], list[str]]:
    """Raters x items, nan where a rater did not rate an item (the `krippendorff` package's layout)."""
    raters = sorted({r for _, r in scores})
    items = sorted({i for i, _ in scores})
    row = {r: k for k, r in enumerate(raters)}
    col = {i: k for k, i in enumerate(items)}
    matrix = np.full((len(raters), len(items)), np.nan)
    for (item, rater), score in scores.items():
        matrix[row[rater], col[item]] = score
    return matrix, raters, items


def krippendorff_alpha(scores: Scores, level: str = "interval") -> KrippendorffAlpha:
    """Krippendorff's alpha; None with a reason when it is undefined (no item with two ratings,
    or no variation at all)."""
    import krippendorff

    matrix, raters, items = reliability_matrix(scores)
    size = {"n_items": len(items), "n_raters": len(raters), "level": level}
    pairable = np.sum(~np.isnan(matrix), axis=0) >= 2
    if not pairable.any():
        return KrippendorffAlpha(alpha=None, reason="no_item_with_two_ratings", **size)
    if np.ptp(matrix[:, pairable][~np.isnan(matrix[:, pairable])]) == 0:
        return KrippendorffAlpha(alpha=None, reason="no_variation", **size)
    alpha = float(krippendorff.alpha(reliability_data=matrix, level_of_measurement=level))
    if not math.isfinite(alpha):
        return KrippendorffAlpha(alpha=None, reason="undefined", **size)
    return KrippendorffAlpha(alpha=alpha, **size)


def agreement(scores: Scores, min_common: int = 3) -> Agreement:
    """Both reliability measures for one score axis."""
    return Agreement(spearman=pairwise_spearman(scores, min_common), krippendorff=krippendorff_alpha(scores))
