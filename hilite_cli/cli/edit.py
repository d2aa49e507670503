"""`hilite edit`: run the routed (or chosen) editors, M seeds each, and keep candidates."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from hilite_cli.cli.aliases import renamed
from hilite_cli.cli.data_option import DataDir
from hilite_cli.cli.oneoff import is_image_path, single_line
from hilite_cli.cli.options import (
    BaseUrl, Concurrency, Device, Dtype, Errors, Executor, GpusPerWorker, InputOrImage, MaxRetries, MaxWorkers, Output,
    Overwrite, Progress, Resume, Timeout, Weights, Workers,
)
from hilite_cli.cli.params import check_model_options, parse_list, parse_native_params, parse_weights
from hilite_cli.cli.runner import exit_with, require_images, run_manifest, usage_error
from hilite_cli.storage import is_url

SHORT = "Run editors on each task (route records, or tasks with --models): M attempts per model, anonymised slots."
HELP = f"""{SHORT}

\b
  hilite edit photo.jpg "make it black and white" --out out/          # route, edit, contact sheet
  hilite edit photo.jpg "make it black and white" --out out/ --pick B --instruction-match 5 --original-match 4
  hilite route tasks.jsonl | hilite edit - --out edits/ --top-k 3 --attempts 4 > candidates.jsonl
  hilite edit tasks.jsonl --models instruct-pix2pix,classic --attempts 4 --weights instruct-pix2pix=/w/ip2p -o c.jsonl

--text-influence and --image-influence are levels 0-10 on one scale shared by every model
(configs/models.toml maps each level onto the model's own range; `hilite models --knobs` lists
them); --param MODEL.NAME=VALUE sets a native value instead. Without --models, only the models
that can run here are used (`hilite models --check`); the others are named once.

One candidate record per (model, seed), with its image under --out and a `slot` letter in a
shuffled order (as HILITE shows them, model names hidden); --sheet writes a contact sheet per task
labelled by slot only. The attempts (seeds 0..M-1) of one (image, instruction, model) run as one batched call.
The one-off form keeps its candidates in OUT/candidates.jsonl; run it again with --pick SLOT to keep
one and record HILITE-style feedback in OUT/feedback.jsonl.

Hosted editors need no GPU, only an API key: --models gemini-image:gemini-2.5-flash-image,openai-image:gpt-image-1
(GEMINI_API_KEY / OPENAI_API_KEY). Each attempt is one request (--concurrency, --timeout, --max-retries);
a refused attempt is an error record with the provider's reason; each candidate records its cost,
provenance and licence, and the run ends with a cost line. They run only when named in --models.
Provider batch jobs are not implemented for image editing (`mine --batch-api` refuses hosted editors).
"""


def command(
    input: InputOrImage,
    instruction: Annotated[str | None, typer.Argument(help="The instruction, when INPUT is one image.")] = None,
    models: Annotated[str | None, typer.Option(help="Comma-separated models: the list for tasks, a filter on routed models.")] = None,
    top_k: Annotated[int | None, typer.Option(min=1, help="Run the best K routed models.")] = None,
    attempts: Annotated[int, typer.Option(min=1, help="M: attempts per model (seeds 0..M-1), in one batched call.")] = 1,
    steps: Annotated[int | None, typer.Option(min=1, help="Denoising steps [default: per model].")] = None,
    text_influence: Annotated[int | None, typer.Option(min=0, max=10, help="How strictly to follow the text: level 0-10, the same scale for every model [default: per model].")] = None,
    image_influence: Annotated[int | None, typer.Option(min=0, max=10, help="How much of the source to keep: level 0-10 [default: per model].")] = None,
    param: Annotated[list[str] | None, typer.Option("--param", help="MODEL.NAME=VALUE: a native pipeline value, e.g. instruct-pix2pix.image_guidance_scale=1.8 (repeatable).")] = None,
    shuffle: Annotated[bool, typer.Option("--shuffle/--no-shuffle", help="Shuffle slot letters per task.")] = True,
    sheet: Annotated[bool, typer.Option("--sheet/--no-sheet", help="Write a contact sheet per task under OUT/sheets/.")] = False,
    out: Annotated[str, typer.Option("--out", help="Folder for candidate images, or an fsspec URL (s3://…, gs://…; manifest form).")] = "edits",
    provider: Annotated[str, typer.Option(help="One-off form: router provider (offline rules by default).")] = "offline",
    base_url: BaseUrl = None,
    reference: Annotated[Path | None, typer.Option(help="One-off: reference image.")] = None,
    mask: Annotated[Path | None, typer.Option(help="One-off: mask of the region to edit.")] = None,
    pick: Annotated[str | None, typer.Option(help="One-off: keep the candidate in this slot and record feedback.")] = None,
    instruction_match: Annotated[int | None, typer.Option(min=1, max=5, help="--pick: how well it matches the instruction, 1–5.")] = None,
    original_match: Annotated[int | None, typer.Option(min=1, max=5, help="--pick: how well it keeps the original, 1–5.")] = None,
    offensive: Annotated[str | None, typer.Option(help="--pick: describe what is offensive (omit if nothing is).")] = None,
    comment: Annotated[str | None, typer.Option(help="--pick: free-text feedback.")] = None,
    reveal: Annotated[bool, typer.Option("--reveal", help="One-off: show model names in the table.")] = False,
    session: Annotated[str | None, typer.Option(help="One-off: record this edit as a step of session NAME (see `hilite session`).")] = None,
    data: DataDir = None,
    weights: Weights = None,
    device: Device = None,
    dtype: Dtype = None,
    output: Output = "-",
    errors: Errors = None,
    resume: Resume = False,
    overwrite: Overwrite = False,
    progress: Progress = True,
    executor: Executor = "local",
    workers: Workers = 1,
    gpus_per_worker: GpusPerWorker = 0.0,
    max_retries: MaxRetries = None,
    concurrency: Concurrency = None,
    timeout: Timeout = None,
    seeds: Annotated[int | None, typer.Option("--seeds", min=1, hidden=True)] = None,
    max_workers: MaxWorkers = None,
) -> None:
    from hilite_cli.stages.edit import EditStage

    seeds = renamed(attempts, seeds, "--attempts", "--seeds", 1)
    from hilite_cli.report.sheets_stage import WithContactSheets

    check_model_options(device, dtype)
    local = parse_weights(weights)
    chosen = parse_list(models)
    from hilite_cli.models import hosted

    hosted.configure(concurrency=concurrency, timeout=timeout, max_retries=max_retries)
    try:
        stage: Any = EditStage(
            out_dir=out, models=chosen, top_k=top_k, seeds=seeds, steps=steps,
            text_influence=text_influence, image_influence=image_influence, native=parse_native_params(param),
            weights=local, device=device, dtype=dtype, shuffle=shuffle,
            unavailable=None if chosen else _unavailable(local, device, dtype),
        )
    except ValueError as exc:
        raise usage_error(str(exc)) from None
    if chosen:
        _require_runnable(chosen, local, device, dtype)
    if is_url(out) and (sheet or is_image_path(input)):
        raise usage_error(f"--out {out}: a URL is for the manifest form without --sheet "
                          "(contact sheets and the one-off form write a local folder)")
    folder = Path(out)

    if input != "-" and Path(input).is_dir():
        raise usage_error(f"{input} is a folder: hilite edit takes one image (IMAGE \"INSTRUCTION\") or a JSONL "
                          "manifest of tasks; to edit a folder of photos, use hilite mine --images DIR --edits FILE")
    if not is_image_path(input):
        if instruction or pick or session:
            raise usage_error(f"an instruction, --pick and --session go with one image, but {input!r} is a manifest")
        if sheet:
            stage = WithContactSheets(stage, folder / "sheets")
        made = [p for p in (folder, folder / "sheets") if not is_url(out) and not p.exists()]
        summary = run_manifest(stage, input, output, errors, resume=resume, overwrite=overwrite, progress=progress,
                               executor=executor, workers=workers, gpus_per_worker=gpus_per_worker, max_workers=max_workers)
        for path in reversed(made):  # an input with no records leaves no empty folders behind
            if path.is_dir() and not any(path.iterdir()):
                path.rmdir()
        exit_with(summary)
        return

    if not instruction:
        raise usage_error('one-off form: hilite edit IMAGE "INSTRUCTION" --out DIR')
    from hilite_cli.records import check_instruction_length

    try:
        check_instruction_length(instruction)
    except ValueError as exc:
        raise usage_error(str(exc)) from None
    if output != "-" or executor != "local" or resume or overwrite:
        raise usage_error("the one-off form keeps its candidates in OUT/candidates.jsonl (always resumable, with a "
                          "contact sheet): -o, --resume, --overwrite and --executor are for manifests")
    from hilite_cli.cli.one_off_edit import (
        pick_candidate, pick_session_step, print_candidates, record_session_step, route_task, session_input,
    )
    from hilite_cli.records import stable_id

    if session:
        input = session_input(data, session, input)
    images = [("the image", input), ("--reference", reference), ("--mask", mask)]
    require_images(images)
    task = {"image": str(Path(input).resolve()), "instruction": instruction}
    if reference:
        task["reference_image"] = str(reference.resolve())
    if mask:
        task["mask"] = str(mask.resolve())
    [line] = single_line(task)
    # As for routed manifests: --models filters the routed ranking, then --top-k keeps the best K,
    # so the router sees the whole ranking when a filter follows.
    record = route_task(line.record, provider, None if models else top_k, base_url, max_retries)
    # The one-off keeps its candidates across runs (so --pick reuses them); a different model set or
    # different knobs make a different run.
    record["id"] = stable_id(record["id"], record["models"], seeds, steps, text_influence, image_influence, top_k,
                             *(sorted(param) if param else []))
    manifest = folder / "candidates.jsonl"
    stage.dense_slots = True
    summary = run_manifest(WithContactSheets(stage, folder / "sheets"), single_line(record), str(manifest),
                           errors, resume=True, progress=progress, reads=images)
    candidates = print_candidates(manifest, record["id"], reveal=reveal)
    knobs = {"steps": steps, "text_influence": text_influence, "image_influence": image_influence}
    step_id = record_session_step(data, session, record, candidates, knobs) if session else None
    if pick:
        feedback = pick_candidate(folder, record, candidates, pick, instruction_match=instruction_match,
                                  original_match=original_match, offensive=offensive, comment=comment, knobs=knobs)
        if step_id is not None:
            pick_session_step(data, step_id, feedback)
    if summary.failed and candidates:
        print("some models failed for this task (see the errors manifest); the others' candidates are above",
              file=sys.stderr)
    exit_with(summary)  # as for a manifest: 1 when any model failed


def _require_runnable(names: list[str], weights: dict[str, Path], device: str | None, dtype: str | None) -> None:
    """Models named with --models that cannot run here are a usage error before any record: one line,
    exit 2 (they used to fail once per record and attempt). Unknown names are EditStage's to refuse."""
    from hilite_cli.models.availability import unrunnable_editors

    bad = unrunnable_editors(names, weights=weights, device=device, dtype=dtype)
    if bad:
        raise usage_error("--models: cannot run here: " + "; ".join(f"{n}: {why}" for n, why in bad.items())
                          + " (hilite models --check says why; leave --models out to use the models that can)")


def _unavailable(weights: dict[str, Path], device: str | None, dtype: str | None) -> dict[str, str]:
    """Editors that cannot run here, named once on stderr; routed lists then skip them."""
    from hilite_cli.models.availability import unrunnable_editors

    skipped = unrunnable_editors(None, weights=weights, device=device, dtype=dtype)
    if skipped:
        print(f"edit: not running {len(skipped)} model(s) that cannot run here: {', '.join(skipped)} "
              "(why: hilite models --check)", file=sys.stderr)
    return skipped
