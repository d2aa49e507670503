"""score-dataset reports for people: a self-contained HTML page or a Markdown file with plots.

Rendered from the results dict alone (histogram counts live in it), so a report can be rebuilt
from a saved `--json` file. HTML embeds its plots as base64 PNGs; Markdown links PNGs written to
`<stem>_files/` beside it, which is what CI job summaries and repository viewers display.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

from hilite_cli.score_results import LABELS, format_cell, sorted_datasets, table_keys

Plot = tuple[str, str, bytes]  # (file stem, title, PNG bytes)


def _png(fig: Any) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def make_plots(results: dict[str, Any]) -> list[Plot]:
    """Histograms per metric (one line per dataset) and per-category bars per dataset."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plots: list[Plot] = []
    datasets = results["datasets"]
    for key in table_keys(results):
        series = [(name, e["histograms"][key]) for name, e in datasets.items() if key in e.get("histograms", {})]
        if not series:
            continue
        fig, ax = plt.subplots(figsize=(6, 3.2))
        for name, hist in series:
            total = sum(hist["counts"]) or 1
            ax.stairs([c / total for c in hist["counts"]], hist["edges"], label=name)
        ax.set_xlabel(LABELS[key])
        ax.set_ylabel("fraction of edits")
        ax.legend(fontsize="small")
        plots.append((f"hist_{key}", f"{LABELS[key]} distribution", _png(fig)))
    bar_key = next((k for k in ("geometric", "clip_i", "ssim", "lowlevel_pass") if k in table_keys(results)), None)
    for index, (name, entry) in enumerate(datasets.items()):
        cats = entry.get("categories")
        if not cats or bar_key is None:
            continue
        labels = [c for c, b in cats.items() if b["metrics"][bar_key]["mean"] is not None]
        if not labels:
            continue
        means = [cats[c]["metrics"][bar_key]["mean"] for c in labels]
        cis = [cats[c]["metrics"][bar_key]["ci"] for c in labels]
        err = [[m - ci[0] if ci else 0.0 for m, ci in zip(means, cis)], [ci[1] - m if ci else 0.0 for m, ci in zip(means, cis)]]
        fig, ax = plt.subplots(figsize=(max(4, 0.7 * len(labels) + 2), 3.2))
        ax.bar(range(len(labels)), means, yerr=err, capsize=3)
        ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
        ax.set_ylabel(f"mean {LABELS[bar_key]}")
        ax.set_title(name)
        plots.append((f"categories_{index}", f"{name}: {LABELS[bar_key]} per category", _png(fig)))
    return plots


def _rows(results: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    keys = table_keys(results)
    header = ["Dataset", "n", "scored", "failed", *(LABELS[k] for k in keys)]
    rows = []
    for name in sorted_datasets(results):
        e = results["datasets"][name]
        rows.append([name, str(e["n"]), str(e["n_scored"]), str(e["n_failed"]), *(format_cell(e["metrics"].get(k), k) for k in keys)])
    return header, rows


def _category_rows(results: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    keys = table_keys(results)
    header = ["Dataset", "Category", "n", *(LABELS[k] for k in keys)]
    rows = [
        [name, cat, str(b["n"]), *(format_cell(b["metrics"].get(k), k) for k in keys)]
        for name, e in results["datasets"].items()
        for cat, b in e.get("categories", {}).items()
    ]
    return header, rows


def _settings_line(results: dict[str, Any]) -> str:
    s = results["settings"]
    return (
        f"metrics: {', '.join(s['metrics'])}; sample: {s['sample'] or 'all records'}; seed: {s['seed']}; judge: {s.get('judge') or 'none'}; "
        f"{int(round(100 * s['bootstrap']['confidence']))}% bootstrap CI over {s['bootstrap']['resamples']} resamples"
    )


def render_html(results: dict[str, Any], title: str = "hilite score-dataset report") -> str:
    """A self-contained HTML page: tables, notes on missing values, embedded plots."""
    from hilite_cli.score_results import missing_notes

    def table(header: list[str], rows: list[list[str]]) -> str:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child,th:first-child{text-align:left}"
        "img{max-width:100%;margin:0.5em 0}</style></head><body>",
        f"<h1>{html.escape(title)}</h1><p>{html.escape(_settings_line(results))}</p>",
        "<h2>Datasets</h2>",
        table(*_rows(results)),
    ]
    cat_header, cat_rows = _category_rows(results)
    if cat_rows:
        parts += ["<h2>Per category</h2>", table(cat_header, cat_rows)]
    notes = missing_notes(results)
    if notes:
        parts.append("<h2>Missing values</h2><ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ul>")
    plots = make_plots(results)
    if plots:
        parts.append("<h2>Plots</h2>")
        for _, caption, png in plots:
            data = base64.b64encode(png).decode()
            parts.append(f"<figure><img alt='{html.escape(caption)}' src='data:image/png;base64,{data}'><figcaption>{html.escape(caption)}</figcaption></figure>")
    parts.append("</body></html>")
    return "".join(parts)


def render_markdown(results: dict[str, Any], plot_dir: str | None, title: str = "hilite score-dataset report") -> tuple[str, list[Plot]]:
    """Markdown text plus the plots it links (under `plot_dir`, relative to the .md file); no plots if None."""
    from hilite_cli.score_results import missing_notes

    def table(header: list[str], rows: list[list[str]]) -> list[str]:
        esc = [[c.replace("|", "\\|") for c in row] for row in rows]
        return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header), *("| " + " | ".join(r) + " |" for r in esc)]

    lines = [f"# {title}", "", _settings_line(results), "", "## Datasets", "", *table(*_rows(results)), ""]
    cat_header, cat_rows = _category_rows(results)
    if cat_rows:
        lines += ["## Per category", "", *table(cat_header, cat_rows), ""]
    notes = missing_notes(results)
    if notes:
        lines += ["## Missing values", "", *(f"- {n}" for n in notes), ""]
    plots = make_plots(results) if plot_dir is not None else []
    if plots:
        lines += ["## Plots", ""]
        lines += [f"![{caption}]({plot_dir}/{stem}.png)" for stem, caption, _ in plots]
        lines.append("")
    return "\n".join(lines), plots


def write_report(results: dict[str, Any], path: str | Path) -> list[Path]:
    """Write an `.html` (self-contained) or `.md` (+ `<stem>_files/*.png`) report; returns the files written."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".html", ".htm"):
        path.write_text(render_html(results), encoding="utf-8")
        return [path]
    if suffix in (".md", ".markdown"):
        plot_dir = f"{path.stem}_files"
        text, plots = render_markdown(results, plot_dir)
        written = [path]
        if plots:
            (path.parent / plot_dir).mkdir(parents=True, exist_ok=True)
            for stem, _, png in plots:
                target = path.parent / plot_dir / f"{stem}.png"
                target.write_bytes(png)
                written.append(target)
        path.write_text(text, encoding="utf-8")
        return written
    raise ValueError(f"`--report` must end in .html or .md, got {path.name!r}")
