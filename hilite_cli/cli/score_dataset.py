"""`hilite score-dataset`: NHR Table-4 style quality tables, HILITE metrics, and a CI regression gate."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Annotated

import typer

from hilite_cli.cli.aliases import renamed
from hilite_cli.cli.options import (
    BaseUrl, BatchApi, BatchWait, Concurrency, Device, Errors, Executor, GpusPerWorker, MaxRetries, MaxWorkers, NoCache,
    Output, Progress, Timeout, Workers,
)
from hilite_cli.cli.params import batch_options, check_model_options, provider_error, use_batch_api
from hilite_cli.cli.runner import (
    batch_mapper, guard_outputs, prepare_output_file, report_usage, require_manifests, usage_error,
)

SHORT = "Score edit datasets (judge, SSIM, CLIP, low-level check): tables, JSON, HTML report, regression gate."
HELP = f"""{SHORT}

\b
  hilite score-dataset nhr.jsonl magicbrush.jsonl --name nhr --name magicbrush --sample 5000 \\
      --metrics judge,ssim --judge gemini:gemini-2.5-flash --json scores.json --report report.html
  hilite score-dataset triplets.jsonl --metrics ssim,lowlevel --baseline last.json --max-drop 0.05 \\
      --fail-under ssim=0.5        # exit code 3 on regression, one line per failing metric

Each manifest is one dataset of triplets (`source`, `edited`, `instruction`). Per dataset: n, mean
Instruction, Aesthetics and geometric mean (judge, prompt A.2; or the scores already on the records),
SSIM, CLIP image-image cosine and text-image direction, low-level pass rate — each with a bootstrap
95% interval, and per-category breakdowns when records carry a category. Scores that could not be
obtained are null and counted, never defaulted. Judge answers are cached, so re-scoring an
unchanged dataset makes no new calls.
"""


def command(
    manifests: Annotated[list[str], typer.Argument(help="Triplet manifests, one per dataset (- for stdin).")],
    name: Annotated[list[str] | None, typer.Option("--name", help="Dataset name, once per manifest [default: file stem].")] = None,
    sample: Annotated[int | None, typer.Option(min=1, help="Score a seeded random sample of N per dataset (NHR: 5000).")] = None,
    sample_seed: Annotated[int | None, typer.Option(help="Seed of the --sample draw and the bootstrap intervals [default: configs/metrics.toml].")] = None,
    metrics: Annotated[str | None, typer.Option(help="Comma-separated: judge, ssim, clip, lowlevel [default: configs].")] = None,
    judge: Annotated[str | None, typer.Option(help="Judge provider for `judge`, e.g. gemini:gemini-2.5-flash.")] = None,
    clip_model: Annotated[str | None, typer.Option(help="CLIP hub id or local folder [default: configs/metrics.toml].")] = None,
    device: Device = None,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write the results (the --baseline format).")] = None,
    report: Annotated[Path | None, typer.Option(help="Write a report: .html (self-contained) or .md.")] = None,
    baseline: Annotated[Path | None, typer.Option(help="Results JSON of an earlier run to compare against.")] = None,
    max_drop: Annotated[float | None, typer.Option(help="Largest allowed fall of any mean vs --baseline [default: configs].")] = None,
    fail_under: Annotated[list[str] | None, typer.Option(help="METRIC=VALUE floor for every dataset's mean (repeatable).")] = None,
    by: Annotated[str | None, typer.Option(help="Break down by this record field instead of configs' category fields "
                                                "(dotted for nested: difficulty.band, difficulty.category).")] = None,
    base_url: BaseUrl = None,
    concurrency: Concurrency = None,
    timeout: Timeout = None,
    no_cache: NoCache = False,
    batch_api: BatchApi = False,
    batch_wait: BatchWait = None,
    output: Output = "-",
    errors: Errors = None,
    progress: Progress = True,
    max_retries: MaxRetries = None,
    seed: Annotated[int | None, typer.Option("--seed", hidden=True)] = None,
    executor: Executor = "local",
    workers: Workers = 1,
    max_workers: MaxWorkers = None,
    gpus_per_worker: GpusPerWorker = 0.0,
) -> None:
    import orjson
    from hilite_cli.cli.terminal import stderr_console

    from hilite_cli.manifest import ErrorManifest, ManifestWriter, default_errors_path
    from hilite_cli.report.regression import (
        EXIT_REGRESSION, check_regression, default_max_drop, match_baseline, parse_thresholds, read_results,
    )
    from hilite_cli.report.results import print_results
    from hilite_cli.stages.score_dataset import (
        DatasetInput,
        ScoreDatasetStage,
        parse_metrics,
        score_datasets,
        score_settings,
    )

    seed = renamed(sample_seed, seed, "--sample-seed", "--seed", None)
    names = list(name or [])
    if names and len(names) != len(manifests):
        raise usage_error(f"give one --name per manifest ({len(manifests)} manifests, {len(names)} names)")
    names = names or [Path(m).stem if m != "-" else "stdin" for m in manifests]
    require_manifests(manifests)
    guard_outputs([*(("the input manifest", m) for m in manifests), ("--baseline", baseline)],
                  [("-o", output), ("--errors" if errors else "the errors manifest",
                                    errors or default_errors_path(output, "score-dataset")),
                   ("--json", json_path), ("--report", report)])
    check_model_options(device)
    prepare_output_file(json_path, "--json")
    prepare_output_file(report, "--report", (".html", ".htm", ".md", ".markdown"))
    try:
        chosen = parse_metrics(metrics if metrics is not None else score_settings()["metrics"])
        floors = parse_thresholds(fail_under or [])
        base = read_results(baseline) if baseline else None
        if base is not None:
            print(match_baseline(base, names), file=sys.stderr)
        judge_fn = judge_provider = judge_batch = None
        batching = SimpleNamespace(batch_size=0, provider_options={})  # filled by --batch-api
        if executor != "local" and "judge" in chosen:
            raise ValueError("the `judge` metric runs on the local executor (its provider client, cache and usage "
                             "stay in this process): use --executor ray for ssim, clip and lowlevel")
        if "judge" in chosen:
            if not judge:
                raise ValueError("the `judge` metric needs --judge PROVIDER[:MODEL]")
            from hilite_cli.providers import ProviderConfigError, get_provider
            from hilite_cli.stages.score_judge import provider_judge

            use_batch_api(batching, batch_options(batch_api, batch_wait, output, "score-dataset"), "--judge", judge)
            try:
                judge_provider = get_provider(judge, base_url=base_url, concurrency=concurrency, timeout=timeout,
                                              max_retries=max_retries, use_cache=not no_cache, **batching.provider_options)
                judge_fn = provider_judge(judge_provider)
                # every call allowed in flight has a record: --concurrency means what it says
                judge_batch = max(ScoreDatasetStage.batch_size, judge_provider.settings.concurrency)
            except ProviderConfigError as exc:
                raise provider_error("--judge", judge, exc,
                                     fallback="drop `judge` from --metrics to score without a judge") from None
    except ValueError as exc:
        raise usage_error(str(exc)) from None

    from tqdm import tqdm

    bar = tqdm(desc="score-dataset", unit="rec", file=sys.stderr, disable=None if progress else True, leave=False)

    counts = {"total": 0, "done": 0}  # kept here too: a disabled bar (not a terminal) counts nothing

    def set_total(total: int) -> None:
        counts["total"] = bar.total = total
        bar.refresh()

    def step(n: int) -> None:
        counts["done"] += n
        bar.update(n)

    mapper = None if executor == "local" else batch_mapper(executor, workers, gpus_per_worker, max_workers)
    try:
        run = score_datasets([DatasetInput(n, m) for n, m in zip(names, manifests, strict=True)], metrics=chosen,
                             sample=sample, seed=seed, judge=judge_fn, judge_spec=judge, clip_model=clip_model,
                             clip_device=device, on_batch=step, on_total=set_total, category_fields=[by] if by else None,
                             batch_size=batching.batch_size or judge_batch, mapper=mapper)
    except ValueError as exc:
        raise usage_error(str(exc)) from None
    except KeyboardInterrupt:
        bar.close()
        left = f"{counts['total'] - counts['done']} of {counts['total']} records" if counts["total"] else "every record"
        print(f"\nhilite: interrupted after {counts['done']} scored records; left: {left}. score-dataset writes its "
              "output, tables and report at the end, so nothing was written: run the same command again "
              "(judge answers already received are cached and cost nothing).", file=sys.stderr)
        raise typer.Exit(130) from None
    finally:
        bar.close()
    if judge_provider is not None:
        report_usage("score-dataset", [judge_provider.usage])

    # Datasets scored together may share ids (two exports of the same tasks): every scored record is
    # written, each under its `dataset`, so the manifest holds what the tables count.
    with ManifestWriter(output, dedupe=False) as out:
        for rec in run.scored:
            out.write(rec)
    if run.failed:
        with ErrorManifest(errors or default_errors_path(output, "score-dataset")) as err:
            for rec in run.failed:
                err.write(rec)
                which = f"record {rec['id']}: " if rec.get("id") else ""
                print(f"hilite score-dataset: {rec.get('dataset')}: {which}{rec['error']['message']}", file=sys.stderr)
    print_results(run.results, stderr_console())
    if json_path:
        json_path.write_bytes(orjson.dumps(run.results, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY))
    reasons = check_regression(run.results, base, max_drop=max_drop if max_drop is not None else default_max_drop(),
                               fail_under=floors) if (base or floors) else []
    if report:
        from hilite_cli.report import write_report

        try:
            written = write_report(run.results, report, records=run.scored, baseline=base, reasons=reasons)
        except ValueError as exc:
            raise usage_error(str(exc)) from None
        print(f"report: {', '.join(str(p) for p in written)}", file=sys.stderr)
    for reason in reasons:
        print(f"regression: {reason}", file=sys.stderr)
    if reasons:
        raise typer.Exit(EXIT_REGRESSION)
    if run.failed:
        raise typer.Exit(1)
