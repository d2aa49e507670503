"""The judge-training set: de-biased ratings joined to the rated items' images and instructions.

Layout of the folder it writes (each split a `datasets` imagefolder, as `export --format trl`):

    split.json                  seed, fraction, items per split, histograms, fitted rater biases
    train/metadata.jsonl        {messages, file_names, item, instruction, category, scores, prompt_version}
    validation/metadata.jsonl
    human/train.jsonl           `debias` item records: the targets, and the ground truth `compare` uses
    human/validation.jsonl
    images/                     the items' images, content-named (shared by both splits)

Each example is prompt A.2 with the original and edited images, answered in exactly the JSON A.2
asks for; every answer is read back through the strict A.2 parser before it is written.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from hilite_cli.config import load_config
from hilite_cli.records import Record, with_error
from hilite_cli.stages.debias import AXES, parse_ratings
from hilite_cli.stages.tune_judge.split import SPLITS, Split, subtable, debias_split

STAGE = "tune-judge"


class TrainingSetError(ValueError):
    """A set that must not be trained on (empty or one-class split, no low scores): exit 2, with the reason."""


@dataclass(frozen=True)
class RatedItem:
    """What the store holds for one rated item."""

    item: str
    source: str
    edited: str
    instruction: str
    category: str | None


@dataclass
class BuiltSet:
    split: Split
    counts: dict[str, int]
    histograms: dict[str, dict[str, list[int]]]
    errors: list[Record] = field(default_factory=list)


def settings() -> dict[str, Any]:
    return load_config("tuning")["dataset"]


def answer_json(instruction: float, aesthetics: float) -> str:
    """A.2's answer, `{"InstructionAdherence": x, "ImageAesthetic": y}`, checked by the strict parser."""
    from hilite_cli.providers.parsing import parse_json
    from hilite_cli.providers.schemas import EditScores

    text = json.dumps({"InstructionAdherence": instruction, "ImageAesthetic": aesthetics})
    parsed = parse_json(text, EditScores)
    if parsed.status != "ok":
        raise AssertionError(f"the A.2 answer {text} does not pass the strict parser: {parsed.reason}")
    return text


def target(value: float, scale: tuple[float, float], decimals: int) -> float:
    """A de-biased score as a training answer: on A.2's scale (bias removal can step past its ends)."""
    return round(min(max(value, scale[0]), scale[1]), decimals)


def histogram(values: Sequence[float], bins: Sequence[float]) -> list[int]:
    """Counts per [bins[k], bins[k+1]) with the last bin closed; values outside are clipped into the ends."""
    counts = [0] * (len(bins) - 1)
    for v in values:
        k = next((j for j in range(len(bins) - 1) if v < bins[j + 1]), len(bins) - 2)
        counts[k] += 1
    return counts


def _check(split: Split, human_success: float, low: float) -> None:
    """Refuse a set that cannot teach a judge to tell good from bad."""
    for name in SPLITS:
        scored = [h for h in split.humans[name] if all(h.get(a) is not None for a in AXES)]
        if not scored:
            raise TrainingSetError(f"the {name} split has no item with both scores: rate more items")
        success = [all(h[a] > human_success for a in AXES) for h in scored]
        if all(success) or not any(success):
            kind = "successes" if all(success) else "failures"
            raise TrainingSetError(
                f"the {name} split is one-class: all {len(scored)} items are {kind} (success = both scores > "
                f"{human_success:g}); a judge needs both"
            )
    train = [h for h in split.humans["train"] if all(h.get(a) is not None for a in AXES)]
    if not any(min(h[a] for a in AXES) < low for h in train):
        raise TrainingSetError(
            f"the training split has no low score (none below {low:g} on either axis): NHR trains on clear "
            "failures as well as successes (Fig. 7)"
        )


def build_split(
    ratings: Iterable[Any],
    items: dict[str, RatedItem],
    *,
    seed: int | None = None,
    validation_fraction: float | None = None,
    human_success: float | None = None,
) -> BuiltSet:
    """Parse ratings, drop (as errors naming the item) those for items the store lacks, split, de-bias."""
    cfg = settings()
    seed = int(cfg["seed"] if seed is None else seed)
    fraction = float(cfg["validation_fraction"] if validation_fraction is None else validation_fraction)
    if not 0.0 < fraction < 1.0:
        raise TrainingSetError(f"`--validation-fraction` must be between 0 and 1, got {fraction:g}")
    if human_success is None:
        human_success = float(load_config("thresholds")["calibration"]["human_success"])
    records = list(ratings)
    table, errors = parse_ratings(records)
    unknown = [i for i in table.items if i not in items]
    for item in unknown:
        errors.append(with_error({"item": item}, STAGE, "unknown_item",
                                 f"item {item!r} is rated but the store holds no such rating item"))
    table = subtable(table, [i for i in table.items if i in items])
    categories = {i: items[i].category for i in table.items}
    split = debias_split(table, categories, seed, fraction, human_success)
    _check(split, human_success, float(cfg["low_score"]))
    bins = [float(b) for b in cfg["histogram_bins"]]
    histograms = {
        name: {axis: histogram([h[axis] for h in split.humans[name] if h.get(axis) is not None], bins) for axis in AXES}
        for name in SPLITS
    }
    counts = {"ratings": len(records), "invalid_ratings": len(errors) - len(unknown), "unknown_items": len(unknown),
              **{name: len(split.items[name]) for name in SPLITS}}
    return BuiltSet(split=split, counts=counts, histograms=histograms, errors=errors)


def _row(item: RatedItem, human: Record, root: Path, scale: tuple[float, float], decimals: int, version: str) -> Record:
    from hilite_cli.exports.common import store_image
    from hilite_cli.exports.trl import judge_messages

    adherence = target(human["instruction"], scale, decimals)
    aesthetics = target(human["aesthetics"], scale, decimals)
    messages = judge_messages(item.instruction, adherence, aesthetics)
    messages[1]["content"][0]["text"] = answer_json(adherence, aesthetics)
    return {
        "messages": messages,
        "file_names": [f"../{store_image(path, root)}" for path in (item.source, item.edited)],
        "item": item.item,
        "instruction": item.instruction,
        "category": item.category,
        "scores": {"instruction": adherence, "aesthetics": aesthetics},
        "prompt_version": version,
    }


def write_training_set(built: BuiltSet, items: dict[str, RatedItem], out: Path) -> dict[str, int]:
    """Write both splits (see the module docstring); returns examples written per split. Items with a
    missing axis are kept in `human/` (the report counts them) but are no training example."""
    from hilite_cli.prompts import prompt_version
    from hilite_cli.stages.debias import rating_scale
    from hilite_cli.images import write_bytes_atomic

    decimals = int(settings()["decimals"])
    scale = rating_scale()
    version = prompt_version("a2_evaluation")
    written = {}
    for name in SPLITS:
        humans = built.split.humans[name]
        rows = [_row(items[h["item"]], h, out, scale, decimals, version) for h in humans
                if all(h.get(a) is not None for a in AXES)]
        write_bytes_atomic(out / name / "metadata.jsonl", b"".join(orjson.dumps(r) + b"\n" for r in rows))
        write_bytes_atomic(out / "human" / f"{name}.jsonl",
                           b"".join(orjson.dumps({"id": h["item"], **h}) + b"\n" for h in humans))
        written[name] = len(rows)
    meta = {
        "seed": built.split.seed,
        "validation_fraction": built.split.validation_fraction,
        "items": built.split.items,
        "counts": {**built.counts, **{f"{k}_examples": v for k, v in written.items()}},
        "histograms": built.histograms,
        "histogram_bins": settings()["histogram_bins"],
        "rater_biases_fitted_on": "train",
        "rater_biases": built.split.biases,
        "raters_only_in_validation": built.split.unseen_raters,
        "prompt": "a2_evaluation",
        "prompt_version": version,
    }
    write_bytes_atomic(out / "split.json", orjson.dumps(meta, option=orjson.OPT_INDENT_2))
    return written
