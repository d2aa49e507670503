"""`hilite validate`: NHR's hard filter, best-of selection, and training exports."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from hilite_cli.cli.options import (
    BaseUrl, BatchApi, BatchWait, Concurrency, Errors, Executor, InputManifest, MaxRetries, MaxWorkers, NoCache, Output,
    Overwrite, Progress, Resume, Timeout, Workers,
)
from hilite_cli.cli.export import DATASET_FORMATS
from hilite_cli.cli.params import batch_options, check_provider, provider_options, use_batch_api
from hilite_cli.cli.runner import exit_with, guard_outputs, locked, run_manifest, usage_error

SHORT = "Score candidates with a judge (prompt A.2), threshold, keep the best per (source, instruction), export."
HELP = f"""{SHORT}

\b
  hilite validate candidates.jsonl --judge gemini:gemini-2.5-flash --threshold 4.7 --select best > triplets.jsonl
  hilite validate pool.jsonl --judge openai:gpt-4.1 --checks lowlevel,unwanted,aesthetic --keep all \\
      --export kto kto.jsonl --export dpo dpo.jsonl --min-margin 0.3 -o scored.jsonl
  hilite validate candidates.jsonl --judge offline --select best --dataset ds/ --format ip2p

Modes: --select best emits one forward triplet per (source, instruction): the passing candidate with
the highest geometric mean √(aes·adh), and nothing where none passes. --keep passed emits a triplet
per passing candidate; --keep all (default) emits every scored candidate with `passed`. Judge
answers that are refused, blocked, truncated or unparseable never pass and go to the errors
manifest. --judge offline runs only the pixel-level check and leaves semantic scores null.
Mined candidates get difficulty.attempts_to_validated_pass (attempts to the first seed that passed
here; null when an earlier seed has no verdict): from each group with --select best, else by a
final rewrite of -o FILE after the run (not on stdout).
"""


def command(
    input: InputManifest,
    judge: Annotated[str, typer.Option(help="Judge PROVIDER[:MODEL]; offline runs only the pixel-level check.")] = "gemini",
    threshold: Annotated[float | None, typer.Option(help="Both thresholds at once [configs/thresholds.toml: 4.7].")] = None,
    t_aes: Annotated[float | None, typer.Option("--t-aes", help="T_aes: minimum A.2 aesthetics score [4.7].")] = None,
    t_adh: Annotated[float | None, typer.Option("--t-adh", help="T_adh: minimum A.2 instruction-adherence score [4.7].")] = None,
    checks: Annotated[str | None, typer.Option(help="Comma list of lowlevel, unwanted (A.3), aesthetic (A.4).")] = None,
    select: Annotated[str, typer.Option(help="none, or best: argmax passing candidate per (source, instruction).")] = "none",
    keep: Annotated[str, typer.Option(help="all: every scored candidate; passed: a triplet per pass.")] = "all",
    batch_size: Annotated[int, typer.Option(min=1, help="Candidates judged together (calls overlap).")] = 16,
    export: Annotated[
        list[str] | None,
        typer.Option(help="kto FILE or dpo FILE (or kto=FILE): preference data from every scored candidate (repeatable)."),
    ] = None,
    min_margin: Annotated[float, typer.Option(help="dpo: smallest geometric-mean gap that makes a pair.")] = 0.0,
    dataset: Annotated[Path | None, typer.Option(help="Also write the passing triplets as a dataset folder.")] = None,
    format: Annotated[str, typer.Option("--format", help=f"Dataset format: {', '.join(DATASET_FORMATS)}.")] = "ip2p",
    base_url: BaseUrl = None,
    concurrency: Concurrency = None,
    timeout: Timeout = None,
    max_retries: MaxRetries = None,
    no_cache: NoCache = False,
    batch_api: BatchApi = False,
    batch_wait: BatchWait = None,
    output: Output = "-",
    errors: Errors = None,
    resume: Resume = False,
    overwrite: Overwrite = False,
    progress: Progress = True,
    executor: Executor = "local",
    workers: Workers = 1,
    max_workers: MaxWorkers = None,
) -> None:
    from hilite_cli.cli.export import check_export_target, dataset_writes, export_records, report_export
    from hilite_cli.stages.validate import ValidateStage

    exports: list[tuple[str, Path]] = []
    for value in export or []:
        kind, sep, path = value.partition("=")
        if kind not in ("kto", "dpo") or not sep or not path:
            raise usage_error(f"--export takes kto FILE or dpo FILE, got {value!r}")
        exports.append((kind, Path(path)))
    if dataset and format not in DATASET_FORMATS:
        raise usage_error(f"--format must be one of {', '.join(DATASET_FORMATS)}, got {format!r}")
    if resume and (exports or dataset):
        raise usage_error("--export and --dataset are written from this run's records: re-run without --resume "
                          "(judge answers are cached, so it costs no new calls)")
    if resume and select == "best":
        raise usage_error("--select best needs every candidate of a group in one run: re-run without --resume "
                          "(judge answers are cached, so it costs no new calls)")
    if executor != "local" and exports:
        raise usage_error("--export collects every scored candidate in this process: use the local executor")
    check_provider("--judge", judge, base_url)
    scored: list[dict[str, Any]] = []
    try:
        stage = ValidateStage(judge, threshold=threshold, t_aes=t_aes, t_adh=t_adh, checks=checks, select=select,
                              keep=keep, batch_size=batch_size,
                              provider_options=provider_options(base_url, concurrency, timeout, max_retries, no_cache),
                              on_scored=scored.append if exports else None)
    except ValueError as exc:
        raise usage_error(str(exc)) from None
    batch = batch_options(batch_api, batch_wait, output, "validate")
    use_batch_api(stage, batch, "--judge", judge)
    kept: list[dict[str, Any]] = []
    errors_base = errors or (f"{output}" if output != "-" else "hilite-validate")
    writes: list[tuple[str, Any]] = []
    for kind, path in exports:
        writes += [(f"--export {kind}", path), (f"the --export {kind} errors", f"{errors_base}.{kind}.errors.jsonl")]
    if dataset:
        writes += dataset_writes("--dataset", dataset, format) + [("the --dataset errors", f"{errors_base}.dataset.errors.jsonl")]
    if batch:
        writes.append(("the batch-job ledger", batch["batch_state"]))
    guard_outputs([("the input manifest", input)], writes)  # a clash is named before a non-empty folder
    for kind, path in exports:  # an earlier export is replaced only with --overwrite, as `hilite export` does
        check_export_target(f"--export {kind}", path, kind, overwrite=overwrite)
    if dataset:
        check_export_target("--dataset", dataset, format, overwrite=overwrite)
    # --select best and the exports need the whole stream in one run: they cannot resume, so no ledger.
    summary = run_manifest(stage, input, output, errors, resume=resume, overwrite=overwrite, progress=progress,
                           tee=kept if dataset else None, writes=writes, executor=executor, workers=workers,
                           max_workers=max_workers, ledger=select != "best" and not exports and not dataset)
    _fill_difficulty(stage, output, errors, select)
    failed = 0
    for kind, path in exports:
        result = export_records(scored, kind, path, min_margin=min_margin, t_aes=stage.thresholds.aesthetics,
                                t_adh=stage.thresholds.instruction)
        failed += report_export(result, f"{errors_base}.{kind}.errors.jsonl")
    if dataset:
        triplets = [r for r in kept if r.get("kind") or r.get("passed")]
        failed += report_export(export_records(triplets, format, dataset), f"{errors_base}.dataset.errors.jsonl")
    if failed:
        raise typer.Exit(1)
    exit_with(summary)


def _fill_difficulty(stage: Any, output: str, errors: str | None, select: str) -> None:
    """`difficulty.attempts_to_validated_pass` over the whole output file, after every run (so after a
    --resume too); --select best filled it from each group already, stdout cannot be rewritten."""
    import sys

    from hilite_cli.manifest import default_errors_path, ledger_path
    from hilite_cli.stages.mine.difficulty import fill_validated_difficulty

    if select == "best":
        return
    if output == "-":
        if stage.saw_difficulty:
            print("validate: difficulty.attempts_to_validated_pass is left null on stdout: it needs the whole "
                  "output, so write it with -o FILE", file=sys.stderr)
        return
    with locked([output]):  # no other run may append while the file is rewritten
        changed = fill_validated_difficulty(Path(output), Path(errors or default_errors_path(output, stage.name)),
                                            ledger_path(output))
    if changed:
        print(f"validate: difficulty.attempts_to_validated_pass filled in on {changed} records of {output}", file=sys.stderr)
