"""NHR Figure 11: precision and recall against the prediction threshold, saved as a PNG."""

from __future__ import annotations

from pathlib import Path

from hilite_cli.stages.calibration import CalibrationReport


def plot_sweep(report: CalibrationReport, path: str | Path) -> Path:
    """Draw the sweep with the operating and suggested thresholds marked; returns the PNG path.

    Undefined points (no predicted positives, so no precision) are left as gaps, not zeros.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    thresholds = [c.threshold_instruction for c in report.sweep]
    nan = float("nan")
    fig = Figure(figsize=(6, 4), dpi=120)
    FigureCanvasAgg(fig)  # the Agg canvas, chosen here rather than through pyplot's global backend
    ax = fig.add_subplot()
    for name in ("precision", "recall"):
        values = [getattr(c, name) for c in report.sweep]
        ax.plot(thresholds, [nan if v is None else v for v in values], marker=".", label=name.capitalize())
    operating = report.classification.threshold_instruction
    ax.axvline(operating, color="grey", linestyle="--", label=f"operating {operating:g}")
    if report.suggestion.threshold is not None:
        suggested = report.suggestion.threshold
        ax.axvline(suggested, color="green", linestyle=":", label=f"suggested {suggested:g}")
    ax.set_xlabel("threshold on both predicted scores")
    ax.set_ylabel("score")
    ax.set_ylim(0, 1.02)
    ax.set_title(f"Precision / recall vs threshold (success: both human > {report.human_success:g})")
    ax.legend(loc="best")
    ax.grid(alpha=0.3)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png", bbox_inches="tight")
    return out
