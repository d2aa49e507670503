"""`hilite debias`: de-bias human ratings (NHR eqs. 1–2) and calibrate a validator against them."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from hilite_cli.cli.options import Errors, Output, Progress
from hilite_cli.cli.runner import guard_outputs, prepare_output_file, require_manifests, usage_error

SHORT = "De-bias human ratings (NHR eqs. 1–2), measure rater agreement, calibrate a validator."
HELP = f"""{SHORT}

Input: rating records {{item, rater, instruction, aesthetics}}. Output (stdout or -o): one record per
item with de-biased Instruction and Aesthetics scores; rater biases and agreement (mean pairwise
Spearman, Krippendorff's alpha) go to stderr, and to --json / --report.

\b
  hilite debias ratings.jsonl -o items.jsonl --report debias.md
  hilite debias ratings.jsonl --predictions validator.jsonl --threshold 4.7 --plot sweep.png

--predictions takes {{item, instruction, aesthetics}} records, or scored records whose `scores`
hold them (matched on --item-field). It reports MAE and Spearman per axis, per-category Spearman,
precision/recall/F1/accuracy at the threshold (success = both human scores > 4.0), MAE by score
bucket, and a precision/recall sweep with a suggested operating threshold.
"""


def _prediction_rows(path: str, item_field: str) -> tuple[list[Any], list[int], list[dict[str, Any]]]:
    """Flat {item, instruction, aesthetics} rows from a predictions manifest; bad lines as errors."""
    from hilite_cli.manifest import read_manifest

    rows, numbers, errors = [], [], []
    for line in read_manifest(path, assign_ids=False):
        if line.record is None:
            errors.append(line.error_record("debias"))
            continue
        rec = dict(line.record)
        scores = rec.get("scores")
        if isinstance(scores, dict):
            rec.setdefault("instruction", scores.get("instruction"))
            rec.setdefault("aesthetics", scores.get("aesthetics"))
        if "item" not in rec or item_field != "item":
            rec["item"] = rec.get(item_field)
        rows.append(rec)
        numbers.append(line.number)
    return rows, numbers, errors


def _html_report(result: Any, report_obj: Any, plot: Path | None) -> str:
    """The HTML page, with the sweep from --plot, or drawn for the page when only --report was asked."""
    import tempfile

    from hilite_cli.report.debias_page import render_debias_html
    from hilite_cli.report.calibration_plot import plot_sweep
    from hilite_cli.report.debias_sections import sections

    sweep = None
    if report_obj is not None and plot is not None:
        sweep = plot.read_bytes()
    elif report_obj is not None:
        with tempfile.TemporaryDirectory() as tmp:
            sweep = plot_sweep(report_obj, Path(tmp) / "sweep.png").read_bytes()
    return render_debias_html(sections(result, report_obj), sweep)


def command(
    ratings: Annotated[str, typer.Argument(help="Ratings JSONL {item, rater, instruction, aesthetics}, or - for stdin.")],
    predictions: Annotated[
        str | None, typer.Option(help="Validator scores to calibrate against the de-biased human scores.")
    ] = None,
    item_field: Annotated[str, typer.Option(help="Field of a prediction record that names the rated item.")] = "item",
    threshold: Annotated[
        float | None, typer.Option(help="Prediction threshold on both axes [default: configs/thresholds.toml].")
    ] = None,
    rule: Annotated[str, typer.Option(help="How to suggest a threshold: fbeta (F0.5) or precision.")] = "fbeta",
    target_precision: Annotated[float, typer.Option(help="Precision the `precision` rule must reach.")] = 0.8,
    category_field: Annotated[str, typer.Option(help="Field holding the edit category, for per-category tables.")] = "category",
    json_path: Annotated[Path | None, typer.Option("--json", help="Write raters, agreement and calibration as JSON.")] = None,
    report: Annotated[Path | None, typer.Option(help="Write a report: .html (self-contained, with the sweep plot) or .md.")] = None,
    plot: Annotated[Path | None, typer.Option(help="Write the precision/recall sweep plot (PNG); needs --predictions.")] = None,
    output: Output = "-",
    errors: Errors = None,
    progress: Progress = True,
) -> None:
    import orjson
    from hilite_cli.cli.terminal import stderr_console

    from hilite_cli.manifest import ErrorManifest, ManifestError, ManifestWriter, default_errors_path, read_manifest
    from hilite_cli.stages.debias import debias_ratings
    from hilite_cli.report.debias_sections import markdown, rich_tables

    if rule not in ("fbeta", "precision"):
        raise usage_error(f"--rule must be fbeta or precision, got {rule!r}")
    if plot and not predictions:
        raise usage_error("--plot needs --predictions")
    require_manifests([ratings, *([predictions] if predictions else [])])
    guard_outputs([("the ratings manifest", ratings), ("--predictions", predictions)],
                  [("-o", output), ("--errors" if errors else "the errors manifest", errors or default_errors_path(output, "debias")),
                   ("--json", json_path), ("--report", report), ("--plot", plot)])
    prepare_output_file(json_path, "--json")
    prepare_output_file(report, "--report", (".html", ".htm", ".md", ".markdown"))
    prepare_output_file(plot, "--plot")
    try:
        from tqdm import tqdm

        from hilite_cli.cli.terminal import count_lines

        lines = list(tqdm(read_manifest(ratings, assign_ids=False), desc="debias: ratings", unit="line", total=count_lines(ratings),
                          file=sys.stderr, disable=None if progress else True, leave=False))
        bad = [ln for ln in lines if ln.record is None]
        good = [ln for ln in lines if ln.record is not None]
        result = debias_ratings([ln.record for ln in good], category_field=category_field,
                                line_numbers=[ln.number for ln in good])
        report_obj = None
        pred_errors: list[dict[str, Any]] = []
        if predictions:
            from hilite_cli.stages.calibration import calibrate

            rows, numbers, pred_errors = _prediction_rows(predictions, item_field)
            report_obj = calibrate(result.items, rows, threshold=threshold, rule=rule,
                                   target_precision=target_precision, category_field=category_field,
                                   line_numbers=numbers)
            pred_errors += report_obj.errors
    except ManifestError as exc:
        raise usage_error(str(exc)) from None

    failed = [ln.error_record("debias") for ln in bad]
    failed += result.errors + pred_errors
    with ManifestWriter(output) as out:
        for item in result.items:
            out.write({"id": item["item"], **item})
    if failed:
        with ErrorManifest(errors or default_errors_path(output, "debias")) as err:
            for rec in failed:
                err.write(rec)
                print(f"hilite debias: {rec['error']['message']}", file=sys.stderr)

    console = stderr_console()
    for table in rich_tables(result, report_obj):
        console.print(table)
    if json_path:
        summary = {"raters": [r.model_dump() for r in result.raters],
                   "agreement": {k: v.model_dump() for k, v in result.agreement.items()},
                   "n_ratings": result.n_ratings,
                   "calibration": report_obj.model_dump() if report_obj else None}
        json_path.write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY))
    plot_name = None
    if plot and report_obj is not None:  # --plot without --predictions was refused up front
        from hilite_cli.report.calibration_plot import plot_sweep

        plot_name = str(plot_sweep(report_obj, plot))
    if report and report.suffix.lower() in (".html", ".htm"):
        report.write_text(_html_report(result, report_obj, plot), encoding="utf-8")
    elif report:
        report.write_text(markdown(result, report_obj, plot=plot_name))
    print(f"debias: {len(result.items)} items from {result.n_ratings} ratings, {len(failed)} failed", file=sys.stderr)
    if failed:
        raise typer.Exit(1)
