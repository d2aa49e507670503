"""`hilite route`: HILITE's intent detection and per-model prompt rewriting."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hilite_cli.cli.oneoff import is_image_path, single_line
from hilite_cli.cli.options import (
    BaseUrl, BatchApi, BatchWait, Concurrency, Errors, Executor, GpusPerWorker, InputOrImage, MaxRetries, MaxWorkers, NoCache,
    Output, Overwrite, Progress, Resume, Timeout, Workers,
)
from hilite_cli.cli.params import batch_options, check_provider, use_batch_api
from hilite_cli.cli.runner import exit_with, require_images, run_manifest, usage_error

SHORT = "Detect each task's intent, rank the editors for it and rewrite the prompt per editor."
HELP = f"""{SHORT}

\b
  hilite route photo.jpg "make the sky stormy"                   # one task, offline rules
  hilite route tasks.jsonl --provider gemini:gemini-2.5-flash -o routes.jsonl
  hilite route tasks.jsonl --provider openai:Qwen/Qwen2.5-VL-7B-Instruct --base-url http://localhost:8000/v1

The default provider, offline, detects intent with keyword rules and normalises the prompt (the
record's router says so). Mask- and reference-guided editors are ranked only when the task carries
the mask or reference image they need. Rankings live in configs/routing.toml.
"""


def command(
    input: InputOrImage,
    instruction: Annotated[str | None, typer.Argument(help="The instruction, when INPUT is one image.")] = None,
    provider: Annotated[str, typer.Option(help="offline | gemini[:MODEL] | openai[:MODEL] | local:HUB_ID.")] = "offline",
    top_k: Annotated[int | None, typer.Option(min=1, help="Keep the best K models [default: configs/routing.toml].")] = None,
    reference: Annotated[Path | None, typer.Option(help="One-off: reference image (object to insert, style).")] = None,
    mask: Annotated[Path | None, typer.Option(help="One-off: mask of the region to edit.")] = None,
    base_url: BaseUrl = None,
    concurrency: Concurrency = None,
    timeout: Timeout = None,
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
    gpus_per_worker: GpusPerWorker = 0.0,
    max_retries: MaxRetries = None,
    max_workers: MaxWorkers = None,
) -> None:
    from hilite_cli.stages.route import RouteStage

    source: str | list = input
    images = [("the image", input), ("--reference", reference), ("--mask", mask)]
    if is_image_path(input):
        if not instruction:
            raise usage_error("one-off form: hilite route IMAGE \"INSTRUCTION\"")
        require_images(images)
        task = {"image": str(Path(input).resolve()), "instruction": instruction}
        if reference:
            task["reference_image"] = str(reference.resolve())
        if mask:
            task["mask"] = str(mask.resolve())
        source = single_line(task)
    elif instruction:
        raise usage_error(f"an instruction goes with an image, but {input!r} is a manifest")
    check_provider("--provider", provider, base_url)
    try:
        stage = RouteStage(provider, top_k=top_k, base_url=base_url, concurrency=concurrency, timeout=timeout,
                           max_retries=max_retries, use_cache=not no_cache)
    except ValueError as exc:
        raise usage_error(str(exc)) from None
    use_batch_api(stage, batch_options(batch_api, batch_wait, output, "route"), "--provider", provider)
    summary = run_manifest(stage, source, output, errors, resume=resume, overwrite=overwrite, progress=progress,
                           executor=executor, workers=workers, gpus_per_worker=gpus_per_worker, max_workers=max_workers,
                           reads=images if isinstance(source, list) else ())
    exit_with(summary)
