"""The report's figures (matplotlib, Agg): one figure per question, every dataset in the same figure.

- scatter of Instruction against Aesthetics per edit, with the validation thresholds;
- grouped bars of every metric's mean across datasets (one chart, not one per dataset);
- grouped bars of the ranking metric per category, datasets side by side;
- the distributions of each metric, datasets overlaid.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hilite_cli.config import load_config
from hilite_cli.metrics.bootstrap import derived_seed
from hilite_cli.records import Record
from hilite_cli.report.results import LABELS, table_keys
from hilite_cli.stages.score_summary import SCORE_KEYS, record_values


@dataclass(frozen=True)
class Plot:
    stem: str  # file name for the Markdown report's PNG
    title: str
    caption: str
    png: bytes


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig: Any, dpi: int) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    _pyplot().close(fig)
    return buf.getvalue()


def _err(blocks: Sequence[dict[str, Any] | None]) -> np.ndarray:
    low, high = [], []
    for b in blocks:
        ci = b.get("ci") if b else None
        mean = b["mean"] if b and b.get("mean") is not None else 0.0
        low.append(mean - ci[0] if ci else 0.0)
        high.append(ci[1] - mean if ci else 0.0)
    return np.array([low, high])


def _grouped(ax: Any, groups: list[str], series: dict[str, list[dict[str, Any] | None]]) -> None:
    """Bars for each group (x) with one bar per series (dataset), with CI whiskers."""
    width = 0.8 / max(1, len(series))
    x = np.arange(len(groups))
    for i, (name, blocks) in enumerate(series.items()):
        means = [b["mean"] if b and b.get("mean") is not None else np.nan for b in blocks]
        ax.bar(x + (i - (len(series) - 1) / 2) * width, means, width, yerr=_err(blocks), capsize=2, label=name)
    ax.set_xticks(x, groups, rotation=20 if len(groups) > 4 else 0, ha="right" if len(groups) > 4 else "center")
    ax.grid(axis="y", alpha=0.3)


def scatter(records: Sequence[Record], results: dict[str, Any], cfg: dict[str, Any]) -> Plot | None:
    """Instruction vs Aesthetics per edit, one colour per dataset, with the `validate` thresholds."""
    points: dict[str, list[tuple[float, float]]] = {name: [] for name in results["datasets"]}
    for record in records:
        v = record_values(record["eval"])
        if v["instruction"] is not None and v["aesthetics"] is not None:
            points.setdefault(record["eval"]["dataset"], []).append((v["instruction"], v["aesthetics"]))
    if not any(points.values()):
        return None
    plt = _pyplot()
    thresholds = load_config("thresholds")["validate"]
    jitter = float(cfg["scatter_jitter"])
    fig, ax = plt.subplots(figsize=(6.4, 5))
    for name, pts in points.items():
        if not pts:
            continue
        rng = np.random.default_rng(derived_seed(int(results["settings"]["seed"]), "scatter", name))
        xy = np.asarray(pts) + rng.uniform(-jitter, jitter, size=(len(pts), 2))
        ax.scatter(xy[:, 0], xy[:, 1], s=14, alpha=0.55, label=f"{name} (n={len(pts)})")
    ax.axvline(thresholds["t_adh"], color="grey", ls="--", lw=1)
    ax.axhline(thresholds["t_aes"], color="grey", ls="--", lw=1)
    ax.text(thresholds["t_adh"], 1.02, f" t_adh={thresholds['t_adh']:g}", color="grey", fontsize=8, va="bottom")
    ax.text(1.02, thresholds["t_aes"], f"t_aes={thresholds['t_aes']:g}", color="grey", fontsize=8, va="bottom")
    ax.set(xlim=(0.9, 5.1), ylim=(0.9, 5.1), xlabel="Instruction (1–5)", ylabel="Aesthetics (1–5)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small", loc="lower left")
    caption = (f"One dot per edit with both scores; dashed lines are the validate thresholds (configs/thresholds.toml). "
               f"Dots are jittered by up to ±{jitter:g} so equal scores stay visible.")
    return Plot("scatter_instruction_aesthetics", "Instruction vs Aesthetics", caption, _png(fig, int(cfg["dpi"])))


def metric_bars(results: dict[str, Any], cfg: dict[str, Any]) -> Plot | None:
    """Every metric's mean per dataset: 1–5 scores and 0–1 metrics in two panels of one chart."""
    keys = table_keys(results)
    if not keys:
        return None
    panels = [ks for ks in ([k for k in keys if k in SCORE_KEYS], [k for k in keys if k not in SCORE_KEYS]) if ks]
    plt = _pyplot()
    widths = [max(2.0, 1.2 * len(p)) for p in panels]
    fig, axes = plt.subplots(1, len(panels), figsize=(min(12, 2 + sum(widths)), 3.6), width_ratios=widths, squeeze=False)
    datasets = results["datasets"]
    for ax, panel in zip(axes[0], panels, strict=True):
        series = {name: [e["metrics"].get(k) for k in panel] for name, e in datasets.items()}
        _grouped(ax, [LABELS[k] for k in panel], series)
        ax.set_ylim(*((1, 5) if panel[0] in SCORE_KEYS else (0, 1.05)))
        ax.set_ylabel("mean (1–5)" if panel[0] in SCORE_KEYS else "mean (0–1)")
    axes[0][-1].legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1))
    conf = round(100 * results["settings"]["bootstrap"]["confidence"])
    caption = f"Mean per dataset; whiskers are the {conf}% bootstrap intervals. Percentages are shown as fractions."
    return Plot("metrics_by_dataset", "Metrics across datasets", caption, _png(fig, int(cfg["dpi"])))


def breakdown_bars(results: dict[str, Any], plural: str, key: str, cfg: dict[str, Any]) -> Plot | None:
    """`key`'s mean per category (or kind), datasets side by side."""
    datasets = results["datasets"]
    labels = sorted({label for e in datasets.values() for label in e.get(plural, {})})
    if not labels:
        return None
    series = {name: [e.get(plural, {}).get(lb, {}).get("metrics", {}).get(key) for lb in labels] for name, e in datasets.items()}
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(min(12, max(5, 0.9 * len(labels) * max(1, len(series)) ** 0.5 + 2)), 3.6))
    _grouped(ax, labels, series)
    ax.set_ylabel(f"mean {LABELS[key]}")
    if key in SCORE_KEYS:
        ax.set_ylim(1, 5)
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1))
    what = "category" if plural == "categories" else "kind"
    caption = f"Mean {LABELS[key]} per {what}; a missing bar means that dataset has no such {what} with a value."
    return Plot(f"{key}_by_{what}", f"{LABELS[key]} per {what}", caption, _png(fig, int(cfg["dpi"])))


def distributions(results: dict[str, Any], cfg: dict[str, Any]) -> Plot | None:
    """Histograms of every metric with values, one panel per metric, datasets overlaid."""
    keys = [k for k in table_keys(results) if any(k in e.get("histograms", {}) for e in results["datasets"].values())]
    if not keys:
        return None
    plt = _pyplot()
    cols = min(3, len(keys))
    rows = -(-len(keys) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 2.9 * rows), squeeze=False)
    for ax, key in zip(axes.flat, keys, strict=False):
        for name, entry in results["datasets"].items():
            hist = entry.get("histograms", {}).get(key)
            if hist:
                total = sum(hist["counts"]) or 1
                ax.stairs([c / total for c in hist["counts"]], hist["edges"], label=name, lw=1.6)
        ax.set_title(LABELS[key], fontsize="medium")
        ax.set_ylabel("fraction of edits", fontsize="small")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(keys):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize="small")
    fig.tight_layout()
    return Plot("distributions", "Distributions", "Share of each dataset's edits per bin; datasets overlaid.", _png(fig, int(cfg["dpi"])))


def make_plots(results: dict[str, Any], records: Sequence[Record] | None, key: str | None) -> list[Plot]:
    """Every figure the results (and, for the scatter, the scored records) support."""
    cfg = load_config("report")["plots"]
    plots = [
        scatter(records, results, cfg) if records else None,
        metric_bars(results, cfg),
        breakdown_bars(results, "categories", key, cfg) if key else None,
        breakdown_bars(results, "kinds", key, cfg) if key else None,
        distributions(results, cfg),
    ]
    return [p for p in plots if p is not None]
