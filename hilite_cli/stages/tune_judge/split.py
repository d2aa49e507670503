"""Train/validation split by item, and de-biasing fitted on the training split only.

A rater's bias (NHR eq. 1) estimated on every item would let the validation ratings shape the
training targets; so eq. 1 is fitted on the training split's ratings alone, and the same biases
are applied to both splits (eq. 2). A rater seen only in validation gets bias 0, and is counted.
"""

from __future__ import annotations

import random
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field

from hilite_cli.records import Record
from hilite_cli.stages.debias import AXES, Axis, RatingTable, _item_record, debiased_scores, rater_biases

SPLITS: tuple[str, str] = ("train", "validation")


@dataclass
class Split:
    """Item ids per split and the per-item de-biased records (the `debias` item format)."""

    seed: int
    validation_fraction: float
    items: dict[str, list[str]]
    humans: dict[str, list[Record]] = field(default_factory=dict)
    biases: dict[str, dict[str, float]] = field(default_factory=dict)
    unseen_raters: list[str] = field(default_factory=list)


def split_items(items: Iterable[str], strata: dict[str, Hashable], seed: int, fraction: float) -> dict[str, list[str]]:
    """Seeded split, stratified: each stratum sends round(n * fraction) of its items to validation, at
    least one when it has two or more, so both splits see it."""
    rng = random.Random(seed)
    groups: dict[Hashable, list[str]] = {}
    for item in sorted(items):
        groups.setdefault(strata.get(item), []).append(item)
    out: dict[str, list[str]] = {name: [] for name in SPLITS}
    for name in sorted(groups, key=repr):
        members = groups[name]
        rng.shuffle(members)
        n_val = round(len(members) * fraction)
        if len(members) >= 2:
            n_val = min(max(n_val, 1), len(members) - 1)
        out["validation"] += sorted(members[:n_val])
        out["train"] += sorted(members[n_val:])
    return out


def subtable(table: RatingTable, items: list[str]) -> RatingTable:
    """The ratings of `items` only (raters and categories with them)."""
    keep = set(items)
    sub = RatingTable()
    for item in table.items:
        if item in keep:
            sub.items.setdefault(item)
    for axis in AXES:
        sub.scores[axis] = {i: dict(s) for i, s in table.scores[axis].items() if i in keep}
    for by_rater in (s for axis in AXES for s in sub.scores[axis].values()):
        for rater in by_rater:
            sub.raters.setdefault(rater)
    sub.categories = {i: c for i, c in table.categories.items() if i in keep}
    return sub


def raw_success(table: RatingTable, item: str, human_success: float) -> bool | None:
    """Whether the raw mean ratings call the item a success (both axes > human_success); None without both."""
    means = [table.scores[a].get(item) for a in AXES]
    if not all(means):
        return None
    return all(sum(m.values()) / len(m) > human_success for m in means if m)


def debias_split(table: RatingTable, categories: dict[str, str | None], seed: int, fraction: float,
                 human_success: float) -> Split:
    """Split the rated items by (category, raw success or failure), fit eq. 1 on the training split,
    apply eq. 2 to both. Stratifying on the class too keeps a small round from a one-class split."""
    strata = {i: (categories.get(i), raw_success(table, i, human_success)) for i in table.items}
    items = split_items(table.items, strata, seed, fraction)
    split = Split(seed=seed, validation_fraction=fraction, items=items)
    train = subtable(table, items["train"])
    biases: dict[Axis, dict[str, float]] = {axis: rater_biases(train.scores[axis]) for axis in AXES}
    split.biases = {axis: dict(b) for axis, b in biases.items()}
    unseen: set[str] = set()
    for name in SPLITS:
        sub = train if name == "train" else subtable(table, items[name])
        debiased = {}
        for axis in AXES:
            known = {r: biases[axis].get(r, 0.0) for s in sub.scores[axis].values() for r in s}
            unseen |= {r for r in known if r not in biases[axis]}
            debiased[axis] = debiased_scores(sub.scores[axis], known)
        records = [_item_record(item, sub, debiased) for item in sub.items]
        for record in records:
            if categories.get(record["item"]) is not None:
                record["category"] = categories[record["item"]]
        split.humans[name] = records
    split.unseen_raters = sorted(unseen)
    return split
