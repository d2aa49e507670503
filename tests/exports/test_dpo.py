from __future__ import annotations

import itertools
import random
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from hilite_cli.exports import dpo_pairs, write_dpo

PairOracle = Callable[[list[dict[str, Any]], float], dict[tuple[str, str], float]]


@pytest.mark.parametrize("min_margin", [0.0, 0.5, 2.0])
def test_pairs_match_independent_winners(scored: list[dict[str, Any]], min_margin: float, expected_pairs: PairOracle) -> None:
    rows = list(dpo_pairs(scored, min_margin=min_margin))
    got = {(orjson.loads(r["provenance"])["chosen"]["id"], orjson.loads(r["provenance"])["rejected"]["id"]): r["margin"]
           for r in rows}
    want = expected_pairs(scored, min_margin)
    assert got.keys() == want.keys()
    assert all(got[k] == pytest.approx(want[k]) for k in want)
    assert len(rows) == len(got)


def test_ties_make_no_pair_and_sources_never_mix(scored: list[dict[str, Any]]) -> None:
    by_id = {r["id"]: r for r in scored}
    rows = list(dpo_pairs(scored))
    for row in rows:
        prov = orjson.loads(row["provenance"])
        chosen, rejected = by_id[prov["chosen"]["id"]], by_id[prov["rejected"]["id"]]
        assert chosen["image"] == rejected["image"] == row["source"]
        assert chosen["instruction"] == rejected["instruction"] == row["instruction"]
        assert row["chosen_edit"] == chosen["output"] and row["rejected_edit"] == rejected["output"]
        assert row["chosen_scores"]["geometric"] > row["rejected_scores"]["geometric"]
    # src1/"make it winter": (4.5, 5.0) and (5.0, 4.5) tie, so only their pairs with (1.0, 1.5) exist.
    src1 = [r for r in rows if r["source"].endswith("src1.jpg")]
    assert len(src1) == 2


def test_order_is_deterministic_best_first_within_groups(scored: list[dict[str, Any]]) -> None:
    rows = list(dpo_pairs(scored))
    assert [r["id"] for r in rows] == [r["id"] for r in dpo_pairs(scored)]
    shuffled = scored[:]
    random.Random(3).shuffle(shuffled)
    assert sorted(r["id"] for r in rows) == sorted(r["id"] for r in dpo_pairs(shuffled))
    for _, group in itertools.groupby(rows, key=lambda r: (r["source"], r["instruction"])):
        chosen = [r["chosen_scores"]["geometric"] for r in group]
        assert chosen == sorted(chosen, reverse=True)


def test_write_dpo_counts_and_rejects_negative_margin(scored: list[dict[str, Any]], tmp_path: Path, expected_pairs: PairOracle) -> None:
    path = tmp_path / "dpo.jsonl"
    summary = write_dpo(scored, path, min_margin=0.0)
    rows = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    assert summary.written == len(rows) == len(expected_pairs(scored, 0.0))
    assert summary.skipped == Counter({"missing_scores": 1})
    assert summary.counts["below_margin"] == 3  # the three ties in the fixture
    with pytest.raises(ValueError, match="min_margin"):
        list(dpo_pairs(scored, min_margin=-1.0))
