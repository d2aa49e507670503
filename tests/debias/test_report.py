"""Renderers and the Figure 11 plot: the numbers shown are the report's numbers."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from hilite_cli.stages.calibration import calibrate
from hilite_cli.report.calibration_plot import plot_sweep
from hilite_cli.stages.debias import debias_ratings
from hilite_cli.report.debias_sections import markdown, rich_tables


def _result_and_report():
    ratings = [
        {"item": f"t{i}", "rater": r, "instruction": 1 + (i * 7 + k) % 5, "aesthetics": 1 + (i * 3 + k) % 5}
        for i in range(12)
        for k, r in enumerate("abc")
    ]
    result = debias_ratings(ratings)
    predictions = [{"item": f"t{i}", "instruction": 1 + (i * 7) % 5, "aesthetics": 4.8} for i in range(10)]
    return result, calibrate(result.items, predictions)


def test_markdown_and_rich_tables_carry_the_numbers(tmp_path: Path) -> None:
    result, report = _result_and_report()
    text = markdown(result, report, plot="sweep.png")
    assert "## Rater biases (eq. 1)" in text and "![precision/recall sweep](sweep.png)" in text
    assert f"{report.axes['instruction'].mae:.3f}" in text
    assert f"| human_without_prediction | {report.counts['human_without_prediction']} |" in text
    tables = rich_tables(result, report)
    assert len(tables) == 7
    console = Console(file=(tmp_path / "out.txt").open("w"), width=200)
    console.print(*tables)
    console.file.close()
    assert "Krippendorff" in (tmp_path / "out.txt").read_text()
    assert len(rich_tables(result)) == 2


def test_plot_sweep_writes_a_png(tmp_path: Path) -> None:
    _, report = _result_and_report()
    path = plot_sweep(report, tmp_path / "plots" / "sweep.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
