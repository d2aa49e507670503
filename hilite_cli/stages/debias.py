"""Rater de-biasing, NHR 3.3 equations 1-2, applied to each score axis on its own.

Raters differ in how generous they are; subtracting each rater's mean deviation from the
per-item consensus (eq. 1) before averaging (eq. 2) keeps a lenient rater from lifting the
items they happened to rate. An axis missing from a rating only removes that rating from
that axis, so an item can have, say, three instruction raters and two aesthetics raters.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel

from hilite_cli.config import load_config
from hilite_cli.metrics.agreement import Agreement, agreement
from hilite_cli.metrics.geometric import geometric_mean
from hilite_cli.records import Record, with_error

Axis = Literal["instruction", "aesthetics"]
AXES: tuple[Axis, Axis] = ("instruction", "aesthetics")
STAGE = "debias"


@dataclass
class RatingTable:
    """Valid ratings, per axis, as `{item: {rater: score}}`; items and raters in first-seen order."""

    scores: dict[Axis, dict[str, dict[str, float]]] = field(default_factory=lambda: {a: {} for a in AXES})
    items: dict[str, None] = field(default_factory=dict)
    raters: dict[str, None] = field(default_factory=dict)
    categories: dict[str, set[str]] = field(default_factory=dict)

    def pairs(self, axis: Axis) -> dict[tuple[str, str], float]:
        """`{(item, rater): score}` for one axis: the shape the agreement metrics take."""
        return {(i, r): s for i, by_rater in self.scores[axis].items() for r, s in by_rater.items()}


class RaterBias(BaseModel):
    """Eq. 1 per axis. `n_shared` counts the rater's items that someone else also rated: with
    none, the bias is 0 by construction and says nothing about the rater."""

    rater: str
    n_items: dict[str, int]
    n_shared: dict[str, int]
    raw_mean: dict[str, float | None]
    bias: dict[str, float | None]


class DebiasResult(BaseModel):
    items: list[dict[str, Any]]
    raters: list[RaterBias]
    agreement: dict[str, Agreement]
    errors: list[dict[str, Any]]
    n_ratings: int


def parse_id(value: Any) -> str | None:
    """Item and rater ids are strings; JSON integers are accepted and read as their decimal form."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value
    return None


def parse_score(value: Any) -> float:
    """A finite JSON number; booleans and numeric-looking strings are not scores."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"not a finite number: {value!r}")
    return float(value)


def rating_scale() -> tuple[float, float]:
    """The [low, high] every rating must lie in (configs/thresholds.toml [ratings])."""
    low, high = load_config("thresholds")["ratings"]["scale"]
    return float(low), float(high)


_FIELDS: tuple[str, ...] = ("item", "rater", *AXES)


def _misspelt(record: dict[str, Any]) -> str | None:
    """`instrucion` for `instruction`: a key close to a rating field that is absent, named with the fix."""
    for key in record:
        if key in _FIELDS:
            continue
        close = difflib.get_close_matches(key, [f for f in _FIELDS if f not in record], n=1, cutoff=0.75)
        if close:
            return f"unknown field `{key}` (did you mean `{close[0]}`?)"
    return None


def _check(record: Any, table: RatingTable, scale: tuple[float, float]) -> tuple[str, str, dict[Axis, float]]:
    """Validate one rating record against the table so far; raises ValueError with the reason.

    Both axes must be present: a number, or an explicit null for an axis the rater left unrated.
    An absent axis is a broken record (a misspelt key, most often), never a silent null.
    """
    if not isinstance(record, dict):
        raise ValueError(f"a rating must be a JSON object, got {type(record).__name__}")
    if (misspelt := _misspelt(record)) is not None:
        raise ValueError(misspelt)
    item, rater = parse_id(record.get("item")), parse_id(record.get("rater"))
    if item is None:
        raise ValueError(f"`item` missing or not a string/integer id: {record.get('item')!r}")
    if rater is None:
        raise ValueError(f"`rater` missing or not a string/integer id: {record.get('rater')!r}")
    absent = [axis for axis in AXES if axis not in record]
    if absent:
        raise ValueError(" and ".join(f"`{a}`" for a in absent) + " missing: a rating gives both axes "
                         "(a number, or null for an axis left unrated)")
    scores: dict[Axis, float] = {}
    for axis in AXES:
        if record.get(axis) is None:
            continue
        try:
            scores[axis] = parse_score(record[axis])
        except ValueError as exc:
            raise ValueError(f"`{axis}` {exc}") from None
        if not scale[0] <= scores[axis] <= scale[1]:
            raise ValueError(f"`{axis}` {scores[axis]:g} is outside the rating scale [{scale[0]:g}, {scale[1]:g}]")
        if rater in table.scores[axis].get(item, {}):
            raise ValueError(f"rater {rater!r} already rated item {item!r} on `{axis}`")
    return item, rater, scores


def numbered(records: Iterable[Any], line_numbers: Iterable[int] | None = None) -> Iterator[tuple[int, Any]]:
    """Pair records with their manifest line numbers (`hilite_cli.manifest.Line.number`, which
    skips blank lines); without them, the 1-based position in the stream."""
    if line_numbers is None:
        return enumerate(records, start=1)
    return zip(line_numbers, records, strict=True)


def parse_ratings(
    records: Iterable[Any], category_field: str = "category", line_numbers: Iterable[int] | None = None
) -> tuple[RatingTable, list[Record]]:
    """Collect valid ratings; each bad record becomes an error record naming its line.

    A rating with both axes null is valid (the item is known, with nothing to score it by); an absent
    axis is not: it is most often a misspelt key (issue 27), so it is an invalid record naming the fix.
    """
    table = RatingTable()
    errors: list[Record] = []
    scale = rating_scale()
    for line, record in numbered(records, line_numbers):
        try:
            item, rater, scores = _check(record, table, scale)
        except ValueError as exc:
            base = record if isinstance(record, dict) else {"value": record}
            errors.append({**with_error(base, STAGE, "invalid_rating", f"line {line}: {exc}"), "line": line})
            continue
        table.items.setdefault(item)
        table.raters.setdefault(rater)
        for axis, score in scores.items():
            table.scores[axis].setdefault(item, {})[rater] = score
        category = record.get(category_field)
        if category is not None:
            table.categories.setdefault(item, set()).add(str(category))
    return table, errors


def _mean(values: Iterable[float]) -> float:
    values = list(values)
    return math.fsum(values) / len(values)


def rater_biases(by_item: dict[str, dict[str, float]]) -> dict[str, float]:
    """Eq. 1: b_j = mean_{i in N_j} s_ij - mean_{i in N_j} (mean_{k in R_i} s_ik)."""
    item_mean = {item: _mean(by_rater.values()) for item, by_rater in by_item.items()}
    own: dict[str, list[float]] = {}
    consensus: dict[str, list[float]] = {}
    for item, by_rater in by_item.items():
        for rater, score in by_rater.items():
            own.setdefault(rater, []).append(score)
            consensus.setdefault(rater, []).append(item_mean[item])
    return {rater: _mean(own[rater]) - _mean(consensus[rater]) for rater in own}


def debiased_scores(by_item: dict[str, dict[str, float]], biases: dict[str, float]) -> dict[str, float]:
    """Eq. 2: S_i = mean_{j in R_i} (s_ij - b_j)."""
    return {item: _mean(s - biases[r] for r, s in by_rater.items()) for item, by_rater in by_item.items()}


def debiased_geometric(instruction: float | None, aesthetics: float | None) -> float | None:
    """The Table 4 geometric mean; None when an axis is missing or negative (subtracting a
    rater's bias can take a score below zero, where the geometric mean is undefined)."""
    if instruction is None or aesthetics is None or instruction < 0 or aesthetics < 0:
        return None
    return geometric_mean(instruction, aesthetics)


def _item_record(item: str, table: RatingTable, debiased: dict[Axis, dict[str, float]]) -> Record:
    """One per-item output record: de-biased scores, raw means, rater counts and flags."""
    by_axis = {axis: table.scores[axis].get(item, {}) for axis in AXES}
    raters = set().union(*by_axis.values())
    scores = {axis: debiased[axis].get(item) for axis in AXES}
    record: Record = {
        "item": item,
        "n_raters": len(raters),
        "n_ratings": {axis: len(by_axis[axis]) for axis in AXES},
        **scores,
        "geometric": debiased_geometric(scores["instruction"], scores["aesthetics"]),
        "raw": {axis: _mean(by_axis[axis].values()) if by_axis[axis] else None for axis in AXES},
        "single_rater": len(raters) == 1,
    }
    missing = {axis: "no_ratings" for axis in AXES if scores[axis] is None}
    if record["geometric"] is None and not missing:
        missing["geometric"] = "negative_score"
    if missing:
        record["missing"] = missing
    categories = table.categories.get(item, set())
    if len(categories) == 1:
        record["category"] = next(iter(categories))
    elif categories:
        record["category_conflict"] = sorted(categories)
    return record


def debias(table: RatingTable) -> tuple[list[Record], list[RaterBias]]:
    """Apply eqs. 1-2 to both axes; items and raters come back in first-seen order."""
    biases: dict[Axis, dict[str, float]] = {}
    debiased: dict[Axis, dict[str, float]] = {}
    for axis in AXES:
        biases[axis] = rater_biases(table.scores[axis])
        debiased[axis] = debiased_scores(table.scores[axis], biases[axis])
    items = [_item_record(item, table, debiased) for item in table.items]
    raters = []
    for rater in table.raters:
        rated = {axis: [by_rater for by_rater in table.scores[axis].values() if rater in by_rater] for axis in AXES}
        raters.append(
            RaterBias(
                rater=rater,
                n_items={axis: len(rated[axis]) for axis in AXES},
                n_shared={axis: sum(len(b) > 1 for b in rated[axis]) for axis in AXES},
                raw_mean={axis: _mean(b[rater] for b in rated[axis]) if rated[axis] else None for axis in AXES},
                bias={axis: biases[axis].get(rater) for axis in AXES},
            )
        )
    return items, raters


def debias_ratings(
    records: Iterable[Any],
    category_field: str = "category",
    min_common: int = 3,
    line_numbers: Iterable[int] | None = None,
) -> DebiasResult:
    """Parse, de-bias and measure agreement on a rating stream: the one call the CLI needs.

    Agreement is measured on the raw scores: a rater's constant offset changes no rank.
    """
    records = list(records)
    table, errors = parse_ratings(records, category_field, line_numbers)
    items, raters = debias(table)
    reliability = {axis: agreement(table.pairs(axis), min_common) for axis in AXES}
    return DebiasResult(
        items=items, raters=raters, agreement=reliability, errors=errors, n_ratings=len(records) - len(errors)
    )
