"""Tables for `hilite debias`: the same sections rendered as rich tables or Markdown.

Sections are built once as plain strings so the terminal view and the Markdown file can never
disagree; an undefined number shows as `n/a` with its reason, never as 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hilite_cli.stages.calibration import CalibrationReport, CategoryFit
from hilite_cli.stages.debias import AXES, DebiasResult


@dataclass(frozen=True)
class Section:
    title: str
    columns: list[str]
    rows: list[list[str]]
    note: str = ""


def _num(value: float | None, reason: str | None = None, digits: int = 3) -> str:
    if value is None:
        return f"n/a ({reason})" if reason else "n/a"
    return f"{value:.{digits}f}"


def _pm(mean: float | None, std: float | None, reason: str | None) -> str:
    if mean is None:
        return _num(None, reason)
    return f"{mean:.3f} ± {std:.3f}" if std is not None else f"{mean:.3f}"


def debias_sections(result: DebiasResult) -> list[Section]:
    """Agreement per axis, then every rater's bias."""
    single = sum(item["single_rater"] for item in result.items)
    rows = []
    for axis in AXES:
        agree = result.agreement[axis]
        skipped = ", ".join(f"{k} {v}" for k, v in agree.spearman.skipped.items())
        rows.append(
            [
                axis,
                str(sum(item[axis] is not None for item in result.items)),
                _pm(agree.spearman.mean, agree.spearman.std, agree.spearman.reason),
                f"{agree.spearman.n_pairs} ({skipped})",
                _num(agree.krippendorff.alpha, agree.krippendorff.reason),
            ]
        )
    summary = Section(
        "Inter-rater reliability",
        ["axis", "items scored", "pairwise Spearman ρ", "pairs used (skipped)", "Krippendorff α (interval)"],
        rows,
        f"{len(result.items)} items from {result.n_ratings} ratings; {single} single-rater items; "
        f"{len(result.errors)} invalid records",
    )
    raters = Section(
        "Rater biases (eq. 1)",
        ["rater", "instr. items (shared)", "instr. bias", "aesth. items (shared)", "aesth. bias"],
        [
            [
                r.rater,
                f"{r.n_items['instruction']} ({r.n_shared['instruction']})",
                _num(r.bias["instruction"]),
                f"{r.n_items['aesthetics']} ({r.n_shared['aesthetics']})",
                _num(r.bias["aesthetics"]),
            ]
            for r in result.raters
        ],
    )
    return [summary, raters]


def _category_row(fit: CategoryFit) -> list[str]:
    return [fit.category, str(fit.n), _num(fit.spearman, fit.reason)]


def calibration_sections(report: CalibrationReport) -> list[Section]:
    """NHR Tables 1, 2 and 7 and Figure 9, plus the join counts and the suggested threshold."""
    c = report.classification
    suggestion = report.suggestion
    chosen = _num(suggestion.threshold, suggestion.reason, digits=2)
    bucket_rows = []
    for k, bucket in enumerate(report.buckets["instruction"]):
        other = report.buckets["aesthetics"][k]
        closing = "]" if k == len(report.buckets["instruction"]) - 1 else ")"
        bucket_rows.append(
            [
                f"[{bucket.low:g}, {bucket.high:g}{closing}",
                f"{_num(bucket.mae)} (n={bucket.n})",
                f"{_num(other.mae)} (n={other.n})",
            ]
        )
    outside = ", ".join(f"{axis} {n}" for axis, n in report.out_of_buckets.items())
    return [
        Section("Items joined and left out", ["count", "items"], [[k, str(v)] for k, v in report.counts.items()]),
        Section(
            "Assessor fit (Table 1)",
            ["axis", "n", "MAE", "Spearman ρ"],
            [[axis, str(f.n), _num(f.mae, f.reason), _num(f.spearman, f.reason)] for axis, f in report.axes.items()],
        ),
        Section(
            "Spearman ρ on the geometric mean, by category (Table 2)",
            ["category", "n", "Spearman ρ"],
            [_category_row(report.overall_geometric)] + [_category_row(f) for f in report.categories],
        ),
        Section(
            f"Classification at threshold (Table 7; success = both human > {report.human_success:g})",
            ["threshold (instr./aesth.)", "n", "precision", "recall", "F1", "accuracy", "tp/fp/fn/tn"],
            [
                [
                    f"{c.threshold_instruction:g}/{c.threshold_aesthetics:g}",
                    str(c.n),
                    _num(c.precision, "no predicted positives"),
                    _num(c.recall, "no human successes"),
                    _num(c.f1),
                    _num(c.accuracy),
                    f"{c.tp}/{c.fp}/{c.fn}/{c.tn}",
                ]
            ],
            f"suggested threshold ({suggestion.rule}, beta={report.beta:g}): {chosen}",
        ),
        Section(
            "MAE by human score bucket (Figure 9)",
            ["bucket", "instruction MAE", "aesthetics MAE"],
            bucket_rows,
            f"outside [1, 5]: {outside}",
        ),
    ]


def sections(result: DebiasResult | None, report: CalibrationReport | None) -> list[Section]:
    return (debias_sections(result) if result else []) + (calibration_sections(report) if report else [])


def rich_tables(result: DebiasResult | None, report: CalibrationReport | None = None) -> list[Any]:
    """rich `Table`s for the CLI to print on stderr (`Console(stderr=True).print(*tables)`)."""
    from rich.table import Table

    tables = []
    for section in sections(result, report):
        table = Table(title=section.title, caption=section.note or None)
        for column in section.columns:
            table.add_column(column)
        for row in section.rows:
            table.add_row(*row)
        tables.append(table)
    return tables


def markdown(result: DebiasResult | None, report: CalibrationReport | None = None, plot: str | None = None) -> str:
    """A Markdown report; `plot` is the sweep PNG's path relative to the Markdown file."""
    lines: list[str] = []
    for section in sections(result, report):
        lines += [f"## {section.title}", "", "| " + " | ".join(section.columns) + " |"]
        lines.append("|" + " --- |" * len(section.columns))
        lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in section.rows]
        lines += ["", section.note, ""] if section.note else [""]
    if plot:
        lines += ["## Precision and recall vs threshold (Figure 11)", "", f"![precision/recall sweep]({plot})", ""]
    return "\n".join(lines)
