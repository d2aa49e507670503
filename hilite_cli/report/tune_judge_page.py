"""`tune-judge compare --report x.html`: base and tuned judge side by side, one self-contained page.

Tables come from `judges_side_by_side` (below); the figures are NHR Fig. 9 (MAE by human score
bucket, both judges per axis) and Fig. 11 (each judge's precision/recall sweep, debias's plot).
"""

from __future__ import annotations

import base64
import html
import io
import tempfile
from collections.abc import Sequence
from pathlib import Path

from hilite_cli.report.debias_page import DEFINITIONS
from hilite_cli.report.debias_sections import Section, calibration_sections
from hilite_cli.report.html_page import CSS, table_html
from hilite_cli.report.tables import TableData
from hilite_cli.stages.calibration import CalibrationReport

EXTRA_CSS = ".figs{display:flex;flex-wrap:wrap;gap:1em}.figs figure{margin:0}.figs img{max-width:560px}"


def _png(data: bytes, alt: str) -> str:
    return f"<img alt='{html.escape(alt)}' src='data:image/png;base64,{base64.b64encode(data).decode()}'>"


def bucket_plot(reports: dict[str, CalibrationReport]) -> bytes:
    """NHR Fig. 9: MAE per human score bucket, one bar per judge, one panel per axis; empty buckets left blank."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 3.6), dpi=110)
    FigureCanvasAgg(fig)
    labels = list(reports)
    width = 0.8 / max(len(labels), 1)
    for k, axis in enumerate(("instruction", "aesthetics")):
        ax = fig.add_subplot(1, 2, k + 1)
        for j, label in enumerate(labels):
            buckets = reports[label].buckets[axis]
            xs = [i + j * width for i in range(len(buckets))]
            ax.bar(xs, [b.mae if b.mae is not None else 0.0 for b in buckets], width=width, label=label)
        names = [f"[{b.low:g}, {b.high:g}]" for b in reports[labels[0]].buckets[axis]]
        ax.set_xticks([i + width * (len(labels) - 1) / 2 for i in range(len(names))], names)
        ax.set_title(f"{axis}: MAE by human score bucket (Fig. 9)")
        ax.set_ylabel("MAE")
        ax.legend()
        ax.grid(alpha=0.3, axis="y")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return buf.getvalue()


def render_compare_html(sections: Sequence[Section], reports: dict[str, CalibrationReport],
                        title: str = "hilite tune-judge: base vs tuned judge on held-out items") -> str:
    from hilite_cli.report.calibration_plot import plot_sweep

    tables = [TableData(s.title, s.columns, s.rows, s.note) for s in sections]
    columns = dict.fromkeys(c for t in tables for c in t.header)
    defs = "".join(f"<dt>{html.escape(c)}</dt><dd>{html.escape(DEFINITIONS[c])}</dd>" for c in columns if c in DEFINITIONS)
    sweeps = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, report in reports.items():
            png = plot_sweep(report, Path(tmp) / f"{len(sweeps)}.png").read_bytes()
            sweeps.append(f"<figure><figcaption>{html.escape(label)}</figcaption>{_png(png, f'{label} sweep')}</figure>")
    return "".join([
        f"<!doctype html><html lang=en><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
        f"<style>{CSS}{EXTRA_CSS}</style></head><body><h1>{html.escape(title)}</h1>",
        *(table_html(t) for t in tables),
        "<h3>MAE by human score bucket (Figure 9)</h3><div class=figs><figure>",
        _png(bucket_plot(reports), "MAE by bucket"), "</figure></div>",
        "<h3>Precision and recall vs threshold (Figure 11)</h3><div class=figs>", *sweeps, "</div>",
        f"<h2>What the columns mean</h2><dl class=defs><dt>judge</dt><dd>Which validator scored the held-out items."
        f"</dd>{defs}</dl></body></html>",
    ])


def judges_side_by_side(reports: dict[str, CalibrationReport]) -> list[Section]:
    """Each calibration section once, its rows from every judge, a `judge` column first."""
    per_judge = {label: calibration_sections(r) for label, r in reports.items()}
    first = next(iter(per_judge.values()))
    merged = []
    for k, section in enumerate(first):
        rows = [[label, *row] for label, sections in per_judge.items() for row in sections[k].rows]
        notes = "; ".join(f"{label}: {sections[k].note}" for label, sections in per_judge.items() if sections[k].note)
        merged.append(Section(section.title, ["judge", *section.columns], rows, notes))
    merged.append(Section(
        "Suggested operating threshold (debias's rule)",
        ["judge", "rule", "threshold", "precision", "recall"],
        [[label, r.suggestion.rule, "n/a" if r.suggestion.threshold is None else f"{r.suggestion.threshold:g}",
          *_at(r, r.suggestion.threshold)] for label, r in reports.items()],
    ))
    return merged


def _at(report: CalibrationReport, threshold: float | None) -> list[str]:
    point = next((c for c in report.sweep if threshold is not None and abs(c.threshold_instruction - threshold) < 1e-9), None)
    if point is None:
        return ["n/a", "n/a"]
    return [f"{v:.3f}" if v is not None else "n/a" for v in (point.precision, point.recall)]
