"""Seeded percentile-bootstrap confidence intervals for a mean (NHR Table 4 style comparisons)."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

_CHUNK = 256  # resamples per chunk: bounds memory at 5 000 values x 256 resamples


@dataclass(frozen=True)
class MeanCI:
    mean: float | None
    low: float | None  # None when fewer than two values: one value has no spread to resample
    high: float | None
    n: int


def derived_seed(seed: int, *labels: str) -> list[int]:
    """A seed per (run seed, labels): a metric's interval does not depend on which other metrics ran."""
    return [seed, *(zlib.crc32(label.encode()) for label in labels)]


def bootstrap_mean(
    values: Sequence[float], *, resamples: int, confidence: float, seed: int | list[int]
) -> MeanCI:
    """Mean of `values` with a percentile-bootstrap interval at `confidence` (e.g. 0.95)."""
    x = np.asarray(values, dtype=np.float64)
    n = x.size
    if n == 0:
        return MeanCI(None, None, None, 0)
    mean = float(x.mean())
    if n < 2:
        return MeanCI(mean, None, None, n)
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    for start in range(0, resamples, _CHUNK):
        stop = min(start + _CHUNK, resamples)
        idx = rng.integers(0, n, size=(stop - start, n))
        means[start:stop] = x[idx].mean(axis=1)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [alpha, 1.0 - alpha])
    return MeanCI(mean, float(low), float(high), n)
