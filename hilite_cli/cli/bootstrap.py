"""`hilite bootstrap`: NHR compositional triplets between edits of the same source."""

from __future__ import annotations

import itertools
from typing import Annotated

import typer

from hilite_cli.cli.options import (
    BaseUrl, Concurrency, Errors, Executor, MaxRetries, MaxWorkers, NoCache, Output, Overwrite, Progress, Timeout, Workers,
)
from hilite_cli.cli.params import check_provider, provider_options
from hilite_cli.cli.runner import exit_with, require_manifests, run_manifest, usage_error

SHORT = "Compose new triplets ⟨I_e1, inverse(e1) + e2, I_e2⟩ from edits of the same source (NHR Figure 2)."
HELP = f"""{SHORT}

\b
  hilite bootstrap triplets.jsonl inverse.jsonl > composed.jsonl
  hilite invert triplets.jsonl --llm gemini | hilite bootstrap - --llm gemini:gemini-2.5-flash --max-per-source 10

Needs forward triplets and their inverses (from `hilite invert`). Every ordered pair of distinct
edits of one source becomes a triplet whose instruction joins the inverse of the first edit with
the second ("… and …", configs/augment.toml), or an LLM's one-instruction rewrite with --llm.
Images of different sources are never paired. Inputs pass through unless --only-composed.
"""


def command(
    inputs: Annotated[list[str], typer.Argument(help="Triplet manifests (forward and inverse), or - for stdin.")],
    llm: Annotated[str | None, typer.Option(help="PROVIDER[:MODEL] to rewrite each composition into one instruction.")] = None,
    max_per_source: Annotated[int | None, typer.Option(min=1, help="Keep at most N compositions per source.")] = None,
    keep_inputs: Annotated[bool, typer.Option("--keep-inputs/--only-composed", help="Pass the input triplets through.")] = True,
    base_url: BaseUrl = None,
    concurrency: Concurrency = None,
    timeout: Timeout = None,
    max_retries: MaxRetries = None,
    no_cache: NoCache = False,
    output: Output = "-",
    errors: Errors = None,
    overwrite: Overwrite = False,
    progress: Progress = True,
    executor: Executor = "local",
    workers: Workers = 1,
    max_workers: MaxWorkers = None,
) -> None:
    from hilite_cli.manifest import read_manifest
    from hilite_cli.stages.bootstrap import BootstrapStage

    require_manifests(inputs)
    if llm:
        check_provider("--llm", llm, base_url,
                       fallback="leave --llm out to word each composition with configs/augment.toml's template")
    try:
        stage = BootstrapStage(llm, max_per_source=max_per_source, keep_inputs=keep_inputs,
                               provider_options=provider_options(base_url, concurrency, timeout, max_retries, no_cache))
    except ValueError as exc:
        raise usage_error(str(exc)) from None
    lines = itertools.chain.from_iterable(read_manifest(p) for p in inputs)
    # No --resume here, so no resume ledger: a re-run composes the whole stream again.
    exit_with(run_manifest(stage, lines, output, errors, progress=progress, ledger=False, overwrite=overwrite,
                           reads=[("the input manifest", p) for p in inputs], executor=executor, workers=workers,
                           max_workers=max_workers))
