"""Per-category tables (NHR Tables 5 and 6) and the weaknesses they imply.

Per category: items, items judged, and the mean of each metric over the judged items (status ok),
so every metric of a row covers the same items. An item the judge failed on is counted as failed,
never scored with a replacement; what could be read of it stays in the errors manifest. Overall,
two rows, both named: the mean over all judged items, and the mean of the category means (each
category weighs the same; NHR Table 5's "Overall ... averaging all scores across tasks").

With `protocol: reference` in the settings, the means are the published scripts' own arithmetic, so a
published table can be matched to the digit: GEdit-Bench's calculate_statistics.py (`np.mean` of SC,
PQ and O = sqrt(SC x PQ) per task type, then `np.mean` of the task types' means, task types in
GEdit's order, which is the sorted order) and ImgEdit's step2_typescore.py (per edit type,
`round(sum / len, 2)` of the item scores step1 already rounded to 2 decimals). A per-axis mean that
the scripts do not compute stays hilite's plain mean. An item without a score for a metric (an
ImgEdit reply whose labels name no axis) is left out of that metric's mean only.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import numpy as np

from hilite_cli.config import load_config
from hilite_cli.records import Record

SCHEMA = "hilite-eval/1"
METRICS: dict[str, tuple[str, ...]] = {"gedit": ("SC", "PQ", "O"), "imgedit": ("adherence", "quality", "preservation", "overall")}
PRIMARY = {"gedit": "O", "imgedit": "overall"}
SCALE = {"gedit": "0-10", "imgedit": "1-5"}


def _mean(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else None


def _np_mean(values: list[float | None]) -> float | None:
    """calculate_statistics.py's np.mean (pairwise summation: its last bits differ from a plain sum's)."""
    known = [v for v in values if v is not None]
    return float(np.mean(known)) if known else None


def _round2_mean(values: list[float | None]) -> float | None:
    """step2_typescore.py's round(sum(scores) / len(scores), 2)."""
    known = [v for v in values if v is not None]
    return round(sum(known) / len(known), 2) if known else None


def _averager(benchmark: str, protocol: str, metric: str) -> Any:
    if protocol != "reference":
        return _mean
    if benchmark == "gedit":
        return _np_mean
    return _round2_mean if metric == PRIMARY["imgedit"] else _mean


def _means(records: list[Record], metrics: tuple[str, ...], benchmark: str = "", protocol: str = "careful") -> dict[str, float | None]:
    judged = [r for r in records if r["status"] == "ok"]
    return {m: _averager(benchmark, protocol, m)([r["scores"][m] for r in judged]) for m in metrics}


def category_weights(per_category: dict[str, Any], primary: str) -> dict[str, float]:
    """Weaker categories weigh more: macro mean / category mean, clipped (configs/eval.toml [weights])."""
    c = load_config("eval")["weights"]
    means = {k: v["means"][primary] for k, v in per_category.items()}
    known = [m for m in means.values() if m is not None]
    macro = _mean(known)
    out = {}
    for name, mean in means.items():
        if mean is None or macro is None:
            out[name] = 1.0
        elif mean <= 0:
            out[name] = float(c["cap"])
        else:
            out[name] = min(float(c["cap"]), max(float(c["floor"]), macro / mean))
    return out


def summarize(benchmark: str, records: Iterable[Record], settings: dict[str, Any]) -> dict[str, Any]:
    """The `--json` summary: per category, overall (items and categories), weights, failures."""
    metrics = METRICS[benchmark]
    protocol = str(settings.get("protocol", "careful"))
    rows = list(records)
    grouped: dict[str, list[Record]] = defaultdict(list)
    for r in rows:
        grouped[r["category"]].append(r)
    per_category = {
        name: {
            "items": len(group),
            "judged": sum(r["status"] == "ok" for r in group),
            "failed": sum(r["status"] != "ok" for r in group),
            "means": _means(group, metrics, benchmark, protocol),
        }
        for name, group in sorted(grouped.items())
    }
    macro = {m: _averager(benchmark, protocol, m)([c["means"][m] for c in per_category.values()]) for m in metrics}
    failures: dict[str, int] = defaultdict(int)
    for r in rows:
        if r["status"] != "ok":
            failures[r["status"]] += 1
    return {
        "schema": SCHEMA,
        "benchmark": benchmark,
        "metrics": list(metrics),
        "scale": SCALE[benchmark],
        "items": len(rows),
        "judged": sum(r["status"] == "ok" for r in rows),
        "failures": dict(sorted(failures.items())),
        "categories": per_category,
        "overall": {"items": _means(rows, metrics, benchmark, protocol), "categories": macro},
        "category_weights": category_weights(per_category, PRIMARY[benchmark]),
        "settings": settings,
    }


def render(summary: dict[str, Any], baseline: dict[str, Any] | None = None) -> Any:
    """A rich table like NHR Tables 5/6: one row per category, then both overall rows; with a
    baseline (the model before fine-tuning), each cell reads `before -> now (change)`."""
    from rich.table import Table

    metrics = summary["metrics"]
    table = Table(title=f"{summary['benchmark']} ({summary['scale']}): {summary['settings'].get('editor')} judged by "
                        f"{summary['settings'].get('judge')}" + (" vs --baseline" if baseline else ""))
    table.add_column("category")
    for col in ("items", "judged", *metrics):
        table.add_column(col, justify="right")

    def cell(now: float | None, before: float | None, with_base: bool) -> str:
        text = "-" if now is None else f"{now:.3f}"
        if not with_base:
            return text
        change = "" if now is None or before is None else f" ({now - before:+.3f})"
        return f"{'-' if before is None else f'{before:.3f}'} -> {text}{change}"

    def cells(means: dict[str, float | None], before: dict[str, float | None] | None) -> list[str]:
        return [cell(means[m], (before or {}).get(m), baseline is not None) for m in metrics]

    base_categories = (baseline or {}).get("categories", {})
    for name, row in summary["categories"].items():
        table.add_row(name, str(row["items"]), str(row["judged"]), *cells(row["means"], base_categories.get(name, {}).get("means")))
    base_overall = (baseline or {}).get("overall", {})
    table.add_row("all items", str(summary["items"]), str(summary["judged"]),
                  *cells(summary["overall"]["items"], base_overall.get("items")), style="bold")
    table.add_row("mean of categories", "", "", *cells(summary["overall"]["categories"], base_overall.get("categories")),
                  style="bold")
    return table
