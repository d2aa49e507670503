"""Render score-dataset results (schema in `hilite_cli.stages.score_summary`): rich tables and notes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hilite_cli.stages.score_summary import METRIC_KEYS

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

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
    "with scores": "Records with both an Instruction and an Aesthetics score (from the judge or the record), hence a "
    "geometric mean; — when no judge was asked for and no record carries scores.",
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


def scored_cell(results: dict[str, Any], entry: dict[str, Any]) -> str:
    """The "with scores" cell: `—` rather than a bare 0 when no judge was asked and no record has scores,
    so an unjudged dataset does not read as one where scoring failed."""
    judged = "judge" in results["settings"].get("metrics", ())
    return "—" if not judged and entry["n_scored"] == 0 else str(entry["n_scored"])


def sort_caption(results: dict[str, Any]) -> str:
    """How `sorted_datasets` ordered the rows, said only as far as it is true."""
    has_geo = any(e["metrics"].get("geometric", {}).get("mean") is not None for e in results["datasets"].values())
    return "sorted by Geo, ascending, as in NHR Table 4" if has_geo else "in input order (no dataset has a Geo score to sort by)"


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
    for column in ("Dataset", "n", "with scores", "failed"):
        table.add_column(column, justify="left" if column == "Dataset" else "right")
    for key in keys:
        table.add_column(LABELS[key], justify="right")
    for name in sorted_datasets(results):
        entry = results["datasets"][name]
        table.add_row(
            name,
            str(entry["n"]),
            scored_cell(results, entry),
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
