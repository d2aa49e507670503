from __future__ import annotations

import pytest

from hilite_cli.metrics.geometric import geometric_mean


def test_geometric_mean() -> None:
    assert geometric_mean(4.0, 9.0) == 6.0
    assert geometric_mean(4.7, 4.7) == pytest.approx(4.7)
    assert geometric_mean(5, 1) == pytest.approx(5**0.5)


@pytest.mark.parametrize(("instr", "aes"), [(None, 4.0), (4.0, None), (None, None)])
def test_missing_score_gives_none(instr, aes) -> None:
    assert geometric_mean(instr, aes) is None


def test_negative_scores_are_refused() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        geometric_mean(-1.0, 4.0)
