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
from typing import TYPE_CHECKING, Any

import numpy as np

from hilite_cli.config import load_config
from hilite_cli.metrics.bootstrap import bootstrap_mean, derived_seed
from hilite_cli.records import Record

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from hilite_cli.stages.score_dataset import SampledDataset

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
LABELS = {
    "instruction": "Instr",
    "aesthetics": "Aesth",
    "geometric": "Geo",
    "ssim": "SSIM",
    "ssim_unchanged": "SSIM unch.",
    "clip_i": "CLIP-I",
    "clip_dir": "CLIP-dir",
    "lowlevel_pass": "Low-level pass",
    "changed_fraction": "Changed frac.",
}
# What every column of the tables means, shown under them in the report.
DEFINITIONS = {
    "Dataset": "One input manifest (named by --name, else the file stem).",
    "n": "Records scored: the seeded --sample of the manifest, or all of it.",
    "scored": "Records with both an Instruction and an Aesthetics score, hence a geometric mean.",
    "failed": "Records that could not be scored at all (unreadable image, missing field); see the errors manifest.",
    "Kind": "The record's `kind`: forward (mined edit), inverse (its semantic inversion) or bootstrap (composed).",
    "Category": "The user's edit category, from the first of the record fields in configs/metrics.toml "
    "[score] category_fields; `(none)` when a record has none.",
    "instruction": "Instruction adherence, 1–5 (NHR prompt A.2), from the judge or from the record's own `scores`.",
    "aesthetics": "Aesthetic quality and artefact-freeness of the edit, 1–5 (NHR prompt A.2).",
    "geometric": "Mean over edits of sqrt(Instruction × Aesthetics), as in NHR Table 4.",
    "ssim": "Structural similarity of the edited image to the source, whole image (1 = identical).",
    "ssim_unchanged": "SSIM over the pixels the edit did not change (NHR low-level mask): how well the rest is kept.",
    "clip_i": "Cosine similarity of the CLIP image embeddings of source and edit.",
    "clip_dir": "CLIP directional similarity: image change vs caption change (needs source/target captions).",
    "lowlevel_pass": "Share of edits passing NHR's low-level check (a coherent changed region above the pixel threshold).",
    "changed_fraction": "Mean fraction of pixels the edit changed by more than the low-level threshold.",
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
    datasets: Sequence[SampledDataset],
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


def format_cell(block: dict[str, Any] | None, key: str) -> str:
    """`4.53 [4.49, 4.57]`, or `—` when there is no value; rates as percentages."""
    if not block or block.get("mean") is None:
        return "—"
    pct = key in ("lowlevel_pass", "changed_fraction")
    fmt = (lambda v: f"{100 * v:.1f}%") if pct else (lambda v: f"{v:.3f}")
    text = fmt(block["mean"])
    if block.get("ci"):
        text += f" [{fmt(block['ci'][0])}, {fmt(block['ci'][1])}]"
    return text


def table_keys(results: dict[str, Any]) -> list[str]:
    """Metric columns that have a value in at least one dataset."""
    present = {
        key
        for entry in results["datasets"].values()
        for key, block in entry["metrics"].items()
        if block["mean"] is not None
    }
    return [k for k in METRIC_KEYS if k in present]


def sorted_datasets(results: dict[str, Any]) -> list[str]:
    """Ascending by mean geometric score, as in NHR Table 4; datasets without one keep input order, last."""
    names = list(results["datasets"])

    def geo(name: str) -> float | None:
        return results["datasets"][name]["metrics"].get("geometric", {}).get("mean")

    with_geo = sorted((n for n in names if geo(n) is not None), key=lambda n: geo(n))
    return with_geo + [n for n in names if geo(n) is None]


def results_table(results: dict[str, Any]) -> Table:
    """The per-dataset rich table (NHR Table 4 columns plus the requested metrics)."""
    from rich.table import Table

    keys = table_keys(results)
    conf = int(round(100 * results["settings"]["bootstrap"]["confidence"]))
    table = Table(title=f"score-dataset (mean [{conf}% bootstrap CI])")
    for column in ("Dataset", "n", "scored", "failed"):
        table.add_column(column, justify="left" if column == "Dataset" else "right")
    for key in keys:
        table.add_column(LABELS[key], justify="right")
    for name in sorted_datasets(results):
        entry = results["datasets"][name]
        table.add_row(
            name,
            str(entry["n"]),
            str(entry["n_scored"]),
            str(entry["n_failed"]),
            *(format_cell(entry["metrics"].get(k), k) for k in keys),
        )
    return table


def breakdown_table(results: dict[str, Any], plural: str = "categories") -> Table | None:
    """Rows (dataset, category or kind), or None when no record carries one."""
    from rich.table import Table

    keys = table_keys(results)
    rows = [
        (name, label, block)
        for name, entry in results["datasets"].items()
        for label, block in entry.get(plural, {}).items()
    ]
    if not rows:
        return None
    column = "Category" if plural == "categories" else "Kind"
    table = Table(title=f"per {column.lower()}")
    for name in ("Dataset", column, "n"):
        table.add_column(name, justify="right" if name == "n" else "left")
    for key in keys:
        table.add_column(LABELS[key], justify="right")
    for name, label, block in rows:
        table.add_row(name, label, str(block["n"]), *(format_cell(block["metrics"].get(k), k) for k in keys))
    return table


def missing_notes(results: dict[str, Any]) -> list[str]:
    """One line per dataset that has unscored or failed records, so gaps are never silent.

    Wording follows what was asked: without a judge, records lacking scores of their own are not
    "excluded", there was simply nothing to average.
    """
    judged = "judge" in results["settings"].get("metrics", ())
    notes = []
    for name, entry in results["datasets"].items():
        parts = []
        unscored = entry["n"] - entry["n_failed"] - entry["n_scored"]
        if unscored and judged:
            statuses = ", ".join(f"{s} {c}" for s, c in entry.get("judge_status", {}).items() if s != "ok")
            parts.append(f"{unscored} without both judge scores" + (f" ({statuses})" if statuses else "") + ", left out of the score means")
        elif unscored and entry["n_scored"] == 0:
            parts.append("no judge was asked for (--metrics judge --judge PROVIDER) and the records carry no scores, "
                         "so Instruction, Aesthetics and Geo are not reported")
        elif unscored:
            parts.append(f"{unscored} records carry no scores of their own (no judge was asked for), left out of the score means")
        if entry["n_failed"]:
            parts.append(f"{entry['n_failed']} failed and were not scored (see the errors manifest)")
        if entry["n_invalid"]:
            parts.append(f"{entry['n_invalid']} manifest lines were not records and were not scored")
        if parts:
            notes.append(f"{name}: " + "; ".join(parts))
    return notes


def print_results(results: dict[str, Any], console: Console) -> None:
    """Render the tables and missing-value notes on `console` (the CLI passes a stderr console)."""
    console.print(results_table(results))
    for plural in ("kinds", "categories"):
        table = breakdown_table(results, plural)
        if table is not None:
            console.print(table)
    for note in missing_notes(results):
        console.print(note, style="yellow", markup=False, highlight=False)
