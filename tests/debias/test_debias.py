"""Equations 1-2 (NHR 3.3): planted rater offsets, a hand-worked incomplete design, bad input."""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from hilite_cli.manifest import read_manifest
from hilite_cli.stages.debias import debias, debias_ratings, parse_ratings


def _planted(n_items: int = 12, offsets: tuple[float, ...] = (0.7, -0.4, 0.1, -1.3)) -> tuple[list[dict], np.ndarray]:
    rng = np.random.default_rng(7)
    truth = rng.uniform(3.0, 3.4, size=(n_items, 2))  # every planted rating stays on the 1-5 scale
    ratings = [
        {"item": f"t{i}", "rater": f"r{j}", "instruction": truth[i, 0] + off, "aesthetics": truth[i, 1] + 1.5 * off}
        for i in range(n_items)
        for j, off in enumerate(offsets)
    ]
    return ratings, truth


def test_planted_offsets_are_recovered_exactly() -> None:
    offsets = np.array([0.7, -0.4, 0.1, -1.3])
    ratings, truth = _planted(offsets=tuple(offsets))
    result = debias_ratings(ratings)
    assert result.errors == []
    for axis, scale in (("instruction", 1.0), ("aesthetics", 1.5)):
        # With every rater rating every item only b_j = offset_j - mean(offsets) is identifiable.
        expected = scale * (offsets - offsets.mean())
        got = np.array([r.bias[axis] for r in result.raters])
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
        # S_i = truth_i + mean(offsets): the shared shift stays, the per-rater spread is gone.
        col = 0 if axis == "instruction" else 1
        scores = np.array([item[axis] for item in result.items])
        np.testing.assert_allclose(scores, truth[:, col] + scale * offsets.mean(), rtol=0, atol=1e-12)
    assert not any(item["single_rater"] for item in result.items)
    assert {item["n_raters"] for item in result.items} == {4}


def test_hand_computed_incomplete_design() -> None:
    ratings = [
        {"item": "A", "rater": "x", "instruction": 5, "aesthetics": 4},
        {"item": "A", "rater": "y", "instruction": 3, "aesthetics": None},
        {"item": "B", "rater": "x", "instruction": 4, "aesthetics": 2},
        {"item": "B", "rater": "y", "instruction": 2, "aesthetics": 4},
        {"item": "B", "rater": "z", "instruction": 3, "aesthetics": None},
        {"item": "C", "rater": "z", "instruction": 1, "aesthetics": 5},
    ]
    # Instruction. Item means: A = (5+3)/2 = 4, B = (4+2+3)/3 = 3, C = 1.
    #   b_x = mean(5, 4) - mean(4, 3) = 4.5 - 3.5 = 1.0
    #   b_y = mean(3, 2) - mean(4, 3) = 2.5 - 3.5 = -1.0
    #   b_z = mean(3, 1) - mean(3, 1) = 0.0
    #   S_A = ((5-1) + (3+1)) / 2 = 4;  S_B = ((4-1) + (2+1) + (3-0)) / 3 = 3;  S_C = 1 - 0 = 1
    # Aesthetics (y skipped A, z gave B no score). Item means: A = 4, B = (2+4)/2 = 3, C = 5.
    #   b_x = mean(4, 2) - mean(4, 3) = 3 - 3.5 = -0.5
    #   b_y = 4 - 3 = 1.0
    #   b_z = 5 - 5 = 0.0 (z shares no aesthetics item: 0 by construction, n_shared = 0)
    #   S_A = 4 + 0.5 = 4.5;  S_B = ((2+0.5) + (4-1)) / 2 = 2.75;  S_C = 5
    # Geometric: A = sqrt(4 * 4.5) = sqrt(18); B = sqrt(3 * 2.75) = sqrt(8.25); C = sqrt(5).
    result = debias_ratings(ratings)
    items = {item["item"]: item for item in result.items}
    raters = {r.rater: r for r in result.raters}
    assert {k: raters[k].bias["instruction"] for k in "xyz"} == pytest.approx({"x": 1.0, "y": -1.0, "z": 0.0})
    assert {k: raters[k].bias["aesthetics"] for k in "xyz"} == pytest.approx({"x": -0.5, "y": 1.0, "z": 0.0})
    assert raters["z"].n_shared == {"instruction": 1, "aesthetics": 0}
    assert [items[k]["instruction"] for k in "ABC"] == pytest.approx([4.0, 3.0, 1.0])
    assert [items[k]["aesthetics"] for k in "ABC"] == pytest.approx([4.5, 2.75, 5.0])
    assert [items[k]["geometric"] for k in "ABC"] == pytest.approx([18**0.5, 8.25**0.5, 5**0.5])
    assert items["A"]["raw"] == {"instruction": 4.0, "aesthetics": 4.0}
    assert items["B"]["n_ratings"] == {"instruction": 3, "aesthetics": 2}
    assert [items[k]["single_rater"] for k in "ABC"] == [False, False, True]


def test_bad_records_become_errors_naming_the_line() -> None:
    ratings = [
        {"item": "A", "rater": "x", "instruction": 4, "aesthetics": 4},
        {"rater": "x", "instruction": 4, "aesthetics": None},
        {"item": "A", "instruction": 4, "aesthetics": None},
        {"item": "A", "rater": "y", "instruction": "four", "aesthetics": None},
        {"item": "A", "rater": "y", "instruction": None, "aesthetics": True},
        {"item": "A", "rater": "y", "instruction": None, "aesthetics": float("nan")},
        {"item": "A", "rater": "x", "instruction": 3, "aesthetics": None},
        "not an object",
        {"item": "A", "rater": "y", "instruction": 2, "aesthetics": 3},
    ]
    result = debias_ratings(ratings)
    assert [e["line"] for e in result.errors] == [2, 3, 4, 5, 6, 7, 8]
    assert all(e["error"]["stage"] == "debias" and e["error"]["kind"] == "invalid_rating" for e in result.errors)
    messages = [e["error"]["message"] for e in result.errors]
    assert messages[0].startswith("line 2: `item`")
    assert messages[1].startswith("line 3: `rater`")
    assert "instruction" in messages[2] and "'four'" in messages[2]
    assert "already rated" in messages[5]
    assert result.n_ratings == 2
    (item,) = result.items
    assert item["instruction"] == pytest.approx(3.0) and item["n_raters"] == 2


def test_missing_axis_and_negative_geometric_are_reported() -> None:
    ratings = [{"item": "A", "rater": "x", "instruction": 5, "aesthetics": None}]
    ratings += [
        {"item": b, "rater": r, "instruction": v, "aesthetics": v}
        for b in ("B1", "B2")
        for r, v in (("x", 1), ("y", 5))
    ]
    ratings.append({"item": "C", "rater": "y", "instruction": 1, "aesthetics": 1})
    # Both axes alike. Item means: B1 = B2 = 3, C = 1.
    #   b_y = mean(5, 5, 1) - mean(3, 3, 1) = 11/3 - 7/3 = 4/3  ->  S_C = 1 - 4/3 = -1/3
    # A negative score has no geometric mean: null, with the reason.
    # B1: instruction b_x = mean(5, 1, 1) - mean(5, 3, 3) = -4/3 -> S = ((1 + 4/3) + (5 - 4/3)) / 2 = 3;
    #     aesthetics (x skipped A) b_x = 1 - 3 = -2 -> S = ((1 + 2) + (5 - 4/3)) / 2 = 10/3; sqrt(3 * 10/3).
    items = {item["item"]: item for item in debias_ratings(ratings).items}
    assert items["A"]["aesthetics"] is None and items["A"]["missing"] == {"aesthetics": "no_ratings"}
    assert items["A"]["geometric"] is None
    assert items["C"]["instruction"] == pytest.approx(-1 / 3) and items["C"]["aesthetics"] == pytest.approx(-1 / 3)
    assert items["C"]["geometric"] is None and items["C"]["missing"] == {"geometric": "negative_score"}
    assert items["B1"]["geometric"] == pytest.approx(10**0.5)


def test_categories_pass_through_and_conflicts_are_flagged() -> None:
    table, errors = parse_ratings(
        [
            {"item": "A", "rater": "x", "instruction": 4, "aesthetics": None, "category": "remove"},
            {"item": "A", "rater": "y", "instruction": 3, "aesthetics": None, "category": "remove"},
            {"item": "B", "rater": "x", "instruction": 4, "aesthetics": None, "category": "add"},
            {"item": "B", "rater": "y", "instruction": 3, "aesthetics": None, "category": "style"},
            {"item": 7, "rater": 1, "instruction": 2, "aesthetics": None},
        ]
    )
    assert errors == []
    items = {item["item"]: item for item in debias(table)[0]}
    assert items["A"]["category"] == "remove"
    assert "category" not in items["B"] and items["B"]["category_conflict"] == ["add", "style"]
    assert "7" in items and table.raters.keys() == {"x", "y", "1"}


def test_error_lines_are_manifest_lines(tmp_path) -> None:
    """Blank lines are skipped by the manifest reader; the error still names the file's line."""
    path = tmp_path / "ratings.jsonl"
    good = orjson.dumps({"item": "A", "rater": "x", "instruction": 4, "aesthetics": None}).decode()
    path.write_text(f"{good}\n\n\n" + '{"item": "A", "rater": "y", "instruction": "bad", "aesthetics": 3}\n')
    lines = [line for line in read_manifest(str(path)) if line.record is not None]
    result = debias_ratings([ln.record for ln in lines], line_numbers=[ln.number for ln in lines])
    assert [e["line"] for e in result.errors] == [4]
    assert result.errors[0]["error"]["message"].startswith("line 4:")


def test_ratings_off_the_scale_are_errors() -> None:
    """One impossible rating would shift every rater's bias; it is refused, naming line and axis."""
    ratings, _ = _planted()
    ratings.append({"item": "t0", "rater": "w", "instruction": 99, "aesthetics": -3})
    result = debias_ratings(ratings)
    [error] = result.errors
    assert error["error"]["message"] == f"line {len(ratings)}: `instruction` 99 is outside the rating scale [1, 5]"
    assert "w" not in {r.rater for r in result.raters}


def test_a_misspelt_or_absent_axis_is_an_invalid_rating_with_a_suggestion() -> None:
    """`instrucion` used to pass as a rating with a silent null Instruction score."""
    table, errors = parse_ratings([
        {"item": "a", "rater": "ann", "instrucion": 4, "aesthetics": 3},
        {"item": "a", "rater": "bob", "aesthetics": 3},
        {"item": "a", "rater": "cy", "instruction": None, "aesthetics": 3},
    ])
    first, second = (e["error"]["message"] for e in errors)
    assert "`instrucion`" in first and "did you mean `instruction`" in first
    assert second.startswith("line 2: `instruction` missing")
    assert set(table.scores["aesthetics"]["a"]) == {"cy"}  # an explicit null is an axis left unrated
