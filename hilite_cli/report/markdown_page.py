"""The Markdown report (CI job summaries, repository viewers): the HTML page's tables and plots,
with plots and example thumbnails as files under `<stem>_files/` beside it."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hilite_cli.config import load_config
from hilite_cli.records import Record
from hilite_cli.report.examples import rank_key, select_examples, thumbnail_webp, unranked_note, value_text
from hilite_cli.report.plots import make_plots
from hilite_cli.report.tables import (
    TableData,
    baseline_table,
    breakdown_table,
    datasets_table,
    definitions,
    settings_line,
    side_by_side,
)
from hilite_cli.report.results import missing_notes, table_keys

Files = dict[str, bytes]  # name under the files folder -> bytes


def _table(t: TableData) -> list[str]:
    esc = [[c.replace("|", "\\|") for c in row] for row in t.rows]
    lines = [f"### {t.title}", "", "| " + " | ".join(t.header) + " |", "|" + "---|" * len(t.header)]
    lines += ["| " + " | ".join(r) + " |" for r in esc]
    return [*lines, "", t.note, ""] if t.note else [*lines, ""]


def _link(path: str, base_dir: Path) -> str:
    return Path(os.path.relpath(path, base_dir)).as_posix().replace(" ", "%20")


def render_markdown(
    results: dict[str, Any],
    plot_dir: str | None,
    *,
    records: Sequence[Record] | None = None,
    baseline: dict[str, Any] | None = None,
    reasons: Sequence[str] = (),
    base_dir: Path | None = None,
    title: str = "hilite score-dataset report",
) -> tuple[str, Files]:
    """Markdown text plus the files it links under `plot_dir` (relative to the .md); none if `plot_dir` is None."""
    keys = table_keys(results)
    tables = [datasets_table(results)]
    comparison = [t for t in (side_by_side(results),) if t]
    if baseline is not None:
        comparison.insert(0, baseline_table(results, baseline, list(reasons)))
    breakdowns = [t for t in (breakdown_table(results, "kinds"), breakdown_table(results, "categories")) if t]
    lines = [f"# {title}", "", settings_line(results), "", "## Datasets", ""]
    for t in tables:
        lines += _table(t)
    notes = missing_notes(results)
    if notes:
        lines += ["## Missing values", "", *(f"- {n}" for n in notes), ""]
    if comparison:
        lines += ["## Comparison", ""]
        for t in comparison:
            lines += _table(t)
    if breakdowns:
        lines += ["## Per kind and per category", ""]
        for t in breakdowns:
            lines += _table(t)
    files: Files = {}
    if plot_dir is not None:
        plots = make_plots(results, records, rank_key(results) or (keys[0] if keys else None))
        if plots:
            lines += ["## Plots", ""]
            for p in plots:
                files[f"{p.stem}.png"] = p.png
                lines += [f"![{p.title}]({plot_dir}/{p.stem}.png)", "", p.caption, ""]
        if records and base_dir is not None:
            lines += _examples(records, results, keys, plot_dir, base_dir, files)
    lines += ["## What the columns mean", "", *(f"- **{c}**: {d}" for c, d in definitions(tables + comparison + breakdowns)), ""]
    return "\n".join(lines), files


def _examples(records: Sequence[Record], results: dict[str, Any], keys: list[str], plot_dir: str, base_dir: Path, files: Files) -> list[str]:
    cfg = load_config("report")["examples"]
    lines = ["## Examples", "", "Source → edited; click a thumbnail for the full-size file.", ""]
    if unranked := unranked_note(results):
        lines += [unranked, ""]
    for group in select_examples(records, results, cfg):
        lines += [f"### {group.dataset}: {group.title}", "", "| source → edited | instruction | scores |", "|---|---|---|"]
        for e in group.examples:
            cells = []
            for path, alt in ((e.source, "source"), (e.edited, "edited")):
                data = thumbnail_webp(path, int(cfg["thumbnail_px"]) // 2, int(cfg["webp_quality"]))
                if data is None:
                    cells.append(f"({alt} unreadable)")
                    continue
                name = f"thumb_{hashlib.sha256(data).hexdigest()[:16]}.webp"
                files[name] = data
                cells.append(f"[![{alt}]({plot_dir}/{name})]({_link(path, base_dir)})")
            scores = ", ".join(value_text(k, e.values[k]) for k in keys)
            instruction = e.instruction.replace("|", "\\|")
            lines.append(f"| {' → '.join(cells)} | {instruction} | {scores} |")
        lines.append("")
    return lines
