"""The report's tables as plain strings, so the HTML page and the Markdown file show the same cells."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hilite_cli.report.results import DEFINITIONS, LABELS, format_cell, scored_cell, sort_caption, sorted_datasets, table_keys


@dataclass(frozen=True)
class TableData:
    title: str
    header: list[str]
    rows: list[list[str]]
    note: str = ""
    # indexes of rows to highlight (a regression)
    flagged: frozenset[int] = field(default_factory=frozenset)


def settings_line(results: dict[str, Any]) -> str:
    s = results["settings"]
    return (
        f"metrics: {', '.join(s['metrics'])}; sample: {s['sample'] or 'all records'}; seed: {s['seed']}; "
        f"judge: {s.get('judge') or 'none asked for'}; "
        f"{round(100 * s['bootstrap']['confidence'])}% bootstrap CI over {s['bootstrap']['resamples']} resamples"
    )


def datasets_table(results: dict[str, Any]) -> TableData:
    keys = table_keys(results)
    header = ["Dataset", "n", "with scores", "failed", *(LABELS[k] for k in keys)]
    rows = []
    for name in sorted_datasets(results):
        e = results["datasets"][name]
        rows.append([name, str(e["n"]), scored_cell(results, e), str(e["n_failed"]), *(format_cell(e["metrics"].get(k), k) for k in keys)])
    conf = round(100 * results["settings"]["bootstrap"]["confidence"])
    return TableData("Datasets", header, rows, f"mean [{conf}% bootstrap CI]; {sort_caption(results)}")


def breakdown_table(results: dict[str, Any], plural: str) -> TableData | None:
    """Per kind or per category rows, or None when no record carries one."""
    keys = table_keys(results)
    column = "Category" if plural == "categories" else "Kind"
    rows = [
        [name, label, str(block["n"]), *(format_cell(block["metrics"].get(k), k) for k in keys)]
        for name, entry in results["datasets"].items()
        for label, block in entry.get(plural, {}).items()
    ]
    if not rows:
        return None
    return TableData(f"Per {column.lower()}", ["Dataset", column, "n", *(LABELS[k] for k in keys)], rows)


def side_by_side(results: dict[str, Any]) -> TableData | None:
    """With two or more datasets: one row per metric, a column per dataset, and each one's delta to the first."""
    names = list(results["datasets"])
    if len(names) < 2:
        return None
    first = names[0]
    header = ["Metric", *names, *(f"Δ {n} − {first}" for n in names[1:])]
    rows = []
    for key in table_keys(results):
        blocks = [results["datasets"][n]["metrics"].get(key) for n in names]
        means = [b.get("mean") if b else None for b in blocks]
        deltas = [_delta(means[0], m, key) for m in means[1:]]
        rows.append([LABELS[key], *(format_cell(b, key) for b in blocks), *deltas])
    return TableData("Datasets side by side", header, rows, f"Δ: the dataset's mean minus {first}'s")


def baseline_table(results: dict[str, Any], baseline: dict[str, Any], reasons: list[str]) -> TableData:
    """The CI view: each dataset's metric now and in the baseline, the change, and the gate's verdict."""
    rows, flagged = [], set()
    for name, entry in results["datasets"].items():
        base_entry = baseline["datasets"].get(name)
        for key in table_keys(results):
            now = entry["metrics"].get(key)
            before = base_entry["metrics"].get(key) if base_entry else None
            failing = [r for r in reasons if r.startswith(f"{name}: {key} ")]
            if failing:
                flagged.add(len(rows))
            verdict = "regressed" if failing else ("new" if before is None or before.get("mean") is None else "ok")
            rows.append([name, LABELS[key], format_cell(before, key), format_cell(now, key),
                         _delta(before.get("mean") if before else None, now.get("mean") if now else None, key), verdict])
    missing = [r for r in reasons if not any(r.startswith(f"{n}: {k} ") for n in results["datasets"] for k in table_keys(results))]
    note = "; ".join(missing) if missing else ("gate passed" if not reasons else f"{len(reasons)} regression(s)")
    return TableData("Compared with the baseline", ["Dataset", "Metric", "baseline", "now", "Δ", "verdict"], rows, note, frozenset(flagged))


def _delta(before: float | None, now: float | None, key: str) -> str:
    if before is None or now is None:
        return "—"
    d = now - before
    return f"{100 * d:+.1f} pts" if key in ("lowlevel_pass", "changed_fraction") else f"{d:+.3f}"


# Columns of the comparison tables, which exist only in the report.
COMPARISON_COLUMNS = {
    "Metric": "The metric compared (defined above).",
    "baseline": "The dataset's mean in the --baseline results file.",
    "now": "The dataset's mean in this run.",
    "Δ": "Change of the mean: this run minus the reference (percentage points for rates).",
    "verdict": "regressed: fell by more than --max-drop or under a --fail-under floor; ok: within bounds; "
    "new: no baseline value to compare with.",
}


def definitions(tables: list[TableData]) -> list[tuple[str, str]]:
    """(column, meaning) for every column the given tables show, in first-seen order."""
    by_label = {LABELS[k]: DEFINITIONS[k] for k in LABELS} | COMPARISON_COLUMNS
    seen: dict[str, str] = {}
    for table in tables:
        for column in table.header:
            name = "Δ" if column.startswith("Δ") else column
            meaning = DEFINITIONS.get(name) or by_label.get(name)
            column = name
            if meaning and column not in seen:
                seen[column] = meaning
    return list(seen.items())
