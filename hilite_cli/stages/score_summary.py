"""Aggregate score-dataset records into the per-dataset summary (NHR Table 4 + HILITE metrics).

Results schema (`SCHEMA`), JSON-able, also the baseline format of the regression gate:

    {
      "schema": "hilite.score-dataset/1",
      "settings": {metrics, sample, seed, judge, clip_model, bootstrap: {resamples, confidence}},
      "datasets": {
        NAME: {
          "n_total": int,      # good records in the manifest
          "n_invalid": int,    # manifest lines that were not records (or already carried `error`)
          "n": int,            # sampled records
          "n_failed": int,     # sampled records that could not be scored at all (unreadable image, missing field)
          "n_scored": int,     # records with a geometric mean (both judge scores present)
          "judge_status": {status: count},          # only when a judge ran
          "metrics": {METRIC: {"mean": float|null, "ci": [low, high]|null, "n": int, "missing": int}},
          "histograms": {METRIC: {"edges": [...], "counts": [...]}},
          "categories": {CATEGORY: {"n": int, "metrics": {METRIC: {...as above}}}},  # the user's category
          "kinds": {KIND: {"n": int, "metrics": {...}}}   # forward / inverse / bootstrap, from `kind`
        }
      }
    }

METRIC is one of `METRIC_KEYS`; a metric appears when it was requested (scores always are).
`missing` counts scored-at-all records whose value is null (e.g. judge refused): they are left out
of the mean, never filled in. `lowlevel_pass` is a rate (mean of 0/1). `geometric` is the mean of
per-edit geometric means, as in NHR Table 4. Intervals: seeded percentile bootstrap of the mean.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from hilite_cli.config import load_config
from hilite_cli.metrics.bootstrap import bootstrap_mean, derived_seed
from hilite_cli.records import Record


class Sample(Protocol):
    """What `summarize` needs of one sampled dataset (stages/score_dataset.py's SampledDataset)."""

    name: str
    n_total: int
    n_invalid: int
    records: list[Record]


SCHEMA = "hilite.score-dataset/1"
SCORE_KEYS = ("instruction", "aesthetics", "geometric")
METRIC_KEYS: tuple[str, ...] = (
    *SCORE_KEYS,
    "ssim",
    "ssim_unchanged",
    "clip_i",
    "clip_dir",
    "lowlevel_pass",
    "changed_fraction",
)
KEYS_BY_METRIC = {
    "ssim": ("ssim", "ssim_unchanged"),
    "clip": ("clip_i", "clip_dir"),
    "lowlevel": ("lowlevel_pass", "changed_fraction"),
}
def record_values(ev: dict[str, Any]) -> dict[str, float | None]:
    """The numbers one record's `eval` contributes to each metric (None = missing)."""
    scores = ev.get("scores") or {}
    lowlevel = ev.get("lowlevel")
    return {
        **{k: scores.get(k) for k in SCORE_KEYS},
        "ssim": ev.get("ssim"),
        "ssim_unchanged": ev.get("ssim_unchanged"),
        "clip_i": ev.get("clip_i"),
        "clip_dir": ev.get("clip_dir"),
        "lowlevel_pass": float(lowlevel["passed"]) if lowlevel else None,
        "changed_fraction": lowlevel["changed_fraction"] if lowlevel else None,
    }


def requested_keys(metrics: Sequence[str]) -> list[str]:
    keys = list(SCORE_KEYS)
    for metric in metrics:
        keys.extend(KEYS_BY_METRIC.get(metric, ()))
    return [k for k in METRIC_KEYS if k in keys]


def _blocks(
    rows: list[dict[str, float | None]], keys: Sequence[str], boot: dict[str, Any], *labels: str
) -> dict[str, dict[str, Any]]:
    out = {}
    for key in keys:
        values = [r[key] for r in rows if r[key] is not None]
        ci = bootstrap_mean(
            values,
            resamples=boot["resamples"],
            confidence=boot["confidence"],
            seed=derived_seed(boot["seed"], *labels, key),
        )
        out[key] = {
            "mean": ci.mean,
            "ci": None if ci.low is None else [ci.low, ci.high],
            "n": ci.n,
            "missing": len(rows) - ci.n,
        }
    return out


def _histogram(values: list[float], key: str, bins: int) -> dict[str, list[float]]:
    if key in SCORE_KEYS:
        lo, hi = 1.0, 5.0
    else:
        lo, hi = min(0.0, min(values)), max(1.0, max(values))
    counts, edges = np.histogram(values, bins=bins, range=(lo, hi))
    return {"edges": [float(e) for e in edges], "counts": [int(c) for c in counts]}


def _breakdown(records: Sequence[Record], rows: list[dict[str, float | None]], field: str) -> dict[str, list[dict[str, float | None]]]:
    """Rows grouped by `eval[field]`; `(none)` holds the rest. Empty when no record has the field."""
    groups: dict[str, list[dict[str, float | None]]] = defaultdict(list)
    for record, row in zip(records, rows, strict=True):
        groups[record["eval"].get(field) or "(none)"].append(row)
    return {} if set(groups) <= {"(none)"} else groups


def summarize(
    datasets: Sequence[Sample],
    scored: Sequence[Record],
    failed: Sequence[Record],
    *,
    settings: dict[str, Any],
) -> dict[str, Any]:
    """Build the results dict (schema above) from the stage's scored and failed records."""
    cfg = load_config("metrics")["score"]
    boot = {"resamples": int(cfg["bootstrap_resamples"]), "confidence": float(cfg["confidence"]), "seed": settings["seed"]}
    keys = requested_keys(settings["metrics"])
    by_dataset: dict[str, list[Record]] = defaultdict(list)
    for record in scored:
        by_dataset[record["eval"]["dataset"]].append(record)
    failed_counts = Counter(r.get("dataset") for r in failed)

    out: dict[str, Any] = {}
    for ds in datasets:
        records = by_dataset.get(ds.name, [])
        rows = [record_values(r["eval"]) for r in records]
        entry: dict[str, Any] = {
            "n_total": ds.n_total,
            "n_invalid": ds.n_invalid,
            "n": len(ds.records),
            "n_failed": failed_counts.get(ds.name, 0),
            "n_scored": sum(1 for r in rows if r["geometric"] is not None),
        }
        statuses = Counter(r["eval"]["judge"]["status"] for r in records if r["eval"].get("judge"))
        if statuses:
            entry["judge_status"] = dict(sorted(statuses.items()))
        entry["metrics"] = _blocks(rows, keys, boot, ds.name)
        entry["histograms"] = {
            key: _histogram(values, key, int(cfg["histogram_bins"]))
            for key in keys
            if key != "lowlevel_pass" and (values := [r[key] for r in rows if r[key] is not None])
        }
        for field, plural in (("category", "categories"), ("kind", "kinds")):
            groups = _breakdown(records, rows, field)
            seed_labels = (ds.name,) if field == "category" else (ds.name, field)  # category seeds as before
            if groups:
                entry[plural] = {
                    label: {"n": len(group), "metrics": _blocks(group, keys, boot, *seed_labels, label)}
                    for label, group in sorted(groups.items())
                }
        out[ds.name] = entry
    return {
        "schema": SCHEMA,
        "settings": {**settings, "bootstrap": {"resamples": boot["resamples"], "confidence": boot["confidence"]}},
        "datasets": out,
    }


