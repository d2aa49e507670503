"""`hilite invert`: NHR semantic inversion (prompt A.6) and the backward consistency filter."""

from __future__ import annotations

from typing import Annotated

import typer

from hilite_cli.cli.options import (
    BaseUrl, BatchApi, BatchWait, Concurrency, Errors, InputManifest, MaxRetries, NoCache, Output, Overwrite, Progress, Resume,
    Timeout,
)
from hilite_cli.cli.params import batch_options, check_provider, provider_options, use_batch_api
from hilite_cli.cli.runner import exit_with, run_manifest, usage_error

SHORT = "Write each triplet's inverse (prompt A.6: source and edited swapped); optionally the backward check."
HELP = f"""{SHORT}

\b
  hilite invert triplets.jsonl --llm gemini:gemini-2.5-flash > with-inverses.jsonl
  hilite invert triplets.jsonl --llm gemini:gemini-2.5-flash --backward-check --judge gemini:tuned-validator
  hilite validate c.jsonl --judge offline --select best | hilite invert - --llm offline | hilite bootstrap -

The original T2I prompt (`t2i_prompt`) is the scene description A.6 sees. Inversions that use
"revert", "undo", "restore" or "back" are refused and asked once more. --backward-check re-scores
every inverse with the judge and drops both it and its forward twin below --t-inv-aes/--t-inv-adh.
--llm offline asks no model: explicit rules invert global tone edits only, and refuse the rest.
"""


def command(
    input: InputManifest,
    llm: Annotated[str, typer.Option(help="PROVIDER[:MODEL] that writes the inverse (A.6); offline = tone rules.")] = "gemini",
    forward: Annotated[bool, typer.Option("--forward/--no-forward", help="Pass the forward triplets through too.")] = True,
    backward_check: Annotated[bool, typer.Option("--backward-check", help="Re-score inverses; drop failing pairs.")] = False,
    judge: Annotated[str, typer.Option(help="Judge for --backward-check.")] = "gemini",
    t_inv_aes: Annotated[float | None, typer.Option("--t-inv-aes", help="Backward-check aesthetics threshold.")] = None,
    t_inv_adh: Annotated[float | None, typer.Option("--t-inv-adh", help="Backward-check adherence threshold.")] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Triplets inverted together (calls overlap).")] = 16,
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
) -> None:
    from hilite_cli.stages.invert import InvertStage

    check_provider("--llm", llm, base_url)
    if backward_check:
        check_provider("--judge", judge, base_url)
    try:
        stage = InvertStage(llm, forward=forward, backward_check=backward_check, judge=judge, t_inv_aes=t_inv_aes,
                            t_inv_adh=t_inv_adh, batch_size=batch_size,
                            provider_options=provider_options(base_url, concurrency, timeout, max_retries, no_cache))
    except ValueError as exc:
        raise usage_error(str(exc)) from None
    batch = batch_options(batch_api, batch_wait, output, "invert")
    if backward_check:
        use_batch_api(stage, batch, "--judge", judge)
    use_batch_api(stage, batch, "--llm", llm)
    exit_with(run_manifest(stage, input, output, errors, resume=resume, overwrite=overwrite, progress=progress))
