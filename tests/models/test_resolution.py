"""NHR 3.5 random source resolutions and the editors' working size."""

from __future__ import annotations

import random

import numpy as np
import pytest

from hilite_cli.models.diffusers_editors import working_size
from hilite_cli.models.registry import get_spec
from hilite_cli.models.t2i import random_resolution, spec_resolution


@pytest.mark.parametrize("multiple", [8, 16, 64])
def test_random_resolution_respects_nhr_bounds(multiple: int) -> None:
    rng = random.Random(0)
    sizes = [random_resolution(rng, multiple) for _ in range(3000)]
    longs = np.array([max(s) for s in sizes])
    aspects = np.array([max(s) / min(s) for s in sizes])
    assert all(w % multiple == 0 and h % multiple == 0 for w, h in sizes)
    assert longs.min() >= 860 and longs.max() <= 2200
    assert aspects.max() <= 6.0
    assert any(w > h for w, h in sizes) and any(h > w for w, h in sizes)
    # uniform long side: both ends of the range are reached, the middle is the median
    assert longs.min() < 900 and longs.max() > 2150
    assert abs(np.median(longs) - 1530) < 60


def test_random_resolution_is_reproducible_and_accepts_numpy_rngs() -> None:
    a = [random_resolution(np.random.default_rng(7), 16) for _ in range(3)]
    assert a[0] == a[1] == a[2]
    assert random_resolution(random.Random(1), 16) == random_resolution(random.Random(1), 16)


def test_spec_resolution_reads_bounds_from_the_registry() -> None:
    spec = get_spec("flux-schnell")
    w, h = spec_resolution(spec, random.Random(3))
    assert w % spec.multiple == 0 and h % spec.multiple == 0
    assert spec.options["long_side_min"] <= max(w, h) <= spec.options["long_side_max"]


def test_working_size_rounds_and_caps() -> None:
    assert working_size((1000, 500), 8, 512) == (512, 256)
    assert working_size((4000, 3000), 16, 1024) == (1024, 768)
    assert working_size((5, 5), 8, 0) == (8, 8)
    w, h = working_size((44, 36), 8, 0)
    assert w % 8 == 0 and h % 8 == 0 and abs(w - 44) <= 4 and abs(h - 36) <= 4
