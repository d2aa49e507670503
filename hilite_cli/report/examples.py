"""Which edits a report shows as pictures, and their small WebP thumbnails.

A person judges an edit dataset by looking at it: per dataset the highest- and lowest-ranked edits
and a seeded random sample, then a seeded sample per category and per kind. Groups come in priority
order so that a page over its size cap drops the least important pictures first.
"""

from __future__ import annotations

import base64
import io
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hilite_cli.metrics.bootstrap import derived_seed
from hilite_cli.records import Record
from hilite_cli.report.results import LABELS, table_keys
from hilite_cli.stages.score_summary import record_values

# Metrics an edit can be ranked by, best first; SSIM and low-level pass measure preservation, not quality.
RANK_KEYS = ("geometric", "clip_dir", "clip_i")


@dataclass(frozen=True)
class Example:
    record_id: str
    dataset: str
    instruction: str
    source: str  # absolute path of the full-size image
    edited: str
    category: str | None
    kind: str | None
    values: dict[str, float | None]
    missing: str | None = None  # why a judge that was asked gave no scores (refused, blocked, …)


@dataclass
class ExampleGroup:
    dataset: str
    title: str
    priority: int  # 0 is kept longest when the page is over its size cap
    examples: list[Example] = field(default_factory=list)


def rank_key(results: dict[str, Any]) -> str | None:
    """The metric best/worst are ranked by, or None when no quality metric has a value."""
    present = table_keys(results)
    return next((k for k in RANK_KEYS if k in present), None)


def unranked_note(results: dict[str, Any]) -> str | None:
    """Why there are no best/worst groups, when there are none: said on the page, never just absent."""
    if rank_key(results) is not None:
        return None
    names = ", ".join(LABELS[k] for k in RANK_KEYS)
    return (f"No highest/lowest examples: no metric that ranks edit quality ({names}) has a value here "
            "(no judge was asked for, or it gave no scores), so only seeded random samples are shown.")


def _example(record: Record) -> Example:
    ev = record["eval"]
    return Example(
        record_id=str(record.get("id", "")),
        dataset=ev["dataset"],
        instruction=record["instruction"],
        source=record["source"],
        edited=record["edited"],
        category=ev.get("category"),
        kind=ev.get("kind"),
        values=record_values(ev),
        missing=_judge_gap(ev.get("judge")),
    )


def _judge_gap(judge: dict[str, Any] | None) -> str | None:
    if not judge or judge.get("status") == "ok":
        return None
    return f"judge {judge.get('status')}" + (f": {judge['reason']}" if judge.get("reason") else "")


def _sample(examples: list[Example], k: int, seed: int, *labels: str) -> list[Example]:
    if len(examples) <= k:
        return list(examples)
    rng = np.random.default_rng(derived_seed(seed, "report", *labels))
    return [examples[i] for i in sorted(rng.choice(len(examples), size=k, replace=False))]


def select_examples(records: Sequence[Record], results: dict[str, Any], cfg: dict[str, Any]) -> list[ExampleGroup]:
    """Example groups per dataset, most important first (best, worst, random, then per category/kind)."""
    seed = int(results["settings"]["seed"])
    key = rank_key(results)
    by_dataset: dict[str, list[Example]] = defaultdict(list)
    for record in records:
        by_dataset[record["eval"]["dataset"]].append(_example(record))
    groups: list[ExampleGroup] = []
    for name in results["datasets"]:
        examples = by_dataset.get(name, [])
        if not examples:
            continue
        if key is not None:
            ranked = sorted((e for e in examples if e.values[key] is not None), key=lambda e: (-e.values[key], e.record_id))
            label = LABELS[key]
            groups.append(ExampleGroup(name, f"highest {label}", 0, ranked[: int(cfg["best"])]))
            worst = [e for e in reversed(ranked) if e not in groups[-1].examples][: int(cfg["worst"])]
            groups.append(ExampleGroup(name, f"lowest {label}", 1, worst))
        groups.append(ExampleGroup(name, "seeded random sample", 2, _sample(examples, int(cfg["random"]), seed, name)))
        for attr, what in (("category", "category"), ("kind", "kind")):
            labels = sorted({getattr(e, attr) for e in examples if getattr(e, attr)})
            for label in labels:
                members = [e for e in examples if getattr(e, attr) == label]
                picked = _sample(members, int(cfg["per_group"]), seed, name, attr, label)
                groups.append(ExampleGroup(name, f"{what}: {label}", 3, picked))
    return [g for g in groups if g.examples]


def thumbnail_webp(path: str, px: int, quality: int) -> bytes | None:
    """The image shrunk to fit `px`² as WebP bytes, or None when it cannot be read."""
    from hilite_cli.images import ImageError, load_image

    try:
        img = load_image(path)
    except ImageError:
        return None
    img.thumbnail((px, px))
    buf = io.BytesIO()
    img.save(buf, format="WEBP", quality=quality, method=4)
    return buf.getvalue()


def thumbnail(path: str, px: int, quality: int) -> str | None:
    """`data:image/webp;base64,…` of `thumbnail_webp`, or None when the image cannot be read."""
    data = thumbnail_webp(path, px, quality)
    return None if data is None else "data:image/webp;base64," + base64.b64encode(data).decode()


def value_text(key: str, value: float | None) -> str:
    """`Geo 4.24`, `Low-level ✓`: one record's value with its column's short name."""
    label = "Low-level" if key == "lowlevel_pass" else LABELS[key]
    return f"{label} {format_value(key, value)}"


def format_value(key: str, value: float | None) -> str:
    """One record's value for a card: scores to two places, the low-level check as ✓ (pass) or ✗."""
    if value is None:
        return "—"
    if key == "lowlevel_pass":
        return "✓" if value else "✗"
    if key == "changed_fraction":
        return f"{100 * value:.1f}%"
    return f"{value:.2f}" if key in ("instruction", "aesthetics", "geometric") else f"{value:.3f}"
