"""`hilite tune-judge`: turn a rating round into a tuned A.2 validator (NHR 3.3), and compare it with the base."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from hilite_cli.cli.data_option import DataDir

if TYPE_CHECKING:
    from hilite_cli.stages.tune_judge.dataset import BuiltSet

SHORT = "Tune the A.2 validator on human ratings: build the set, LoRA (local) or Vertex tuning, before/after report."
HELP = f"""{SHORT}

\b
  hilite rate-export --data studio/ -o ratings.jsonl
  hilite tune-judge dataset ratings.jsonl --data studio/ --out tuning/
  hilite tune-judge train tuning/ --backend local --base Qwen/Qwen2.5-VL-7B-Instruct
  hilite tune-judge compare tuning/ --base-judge local:Qwen/Qwen2.5-VL-7B-Instruct \\
      --tuned-judge local:Qwen/Qwen2.5-VL-7B-Instruct@tuning/adapter --report before-after.html
  hilite validate candidates.jsonl --judge local:Qwen/Qwen2.5-VL-7B-Instruct@tuning/adapter

A tuned open judge is named `local:BASE@ADAPTER_DIR`: the base model, then the adapter folder
`train --backend local` wrote. An adapter trained on another base is refused.
"""

app = typer.Typer(help=HELP, short_help=SHORT, no_args_is_help=True, add_completion=False, rich_markup_mode=None)

DATASET_HELP = """Build the training set: ratings joined to the store's items, split by item, de-biased on train.

\b
  hilite tune-judge dataset ratings.jsonl --data studio/ --out tuning/ --seed 0

Items are split train/validation with --seed, stratified by category and by raw success/failure; rater biases (NHR eq. 1) are
fitted on the training split only and applied to both. Each example is prompt A.2 with the two
images, answered in A.2's JSON. A split that is empty or one-class, or a training split without low
scores, is refused (exit 2). Ratings of items the store does not hold are errors naming the item.
"""


def _print_histograms(built: BuiltSet) -> None:
    from hilite_cli.stages.tune_judge.dataset import settings

    bins = settings()["histogram_bins"]
    labels = [f"{lo:g}-{hi:g}" for lo, hi in zip(bins, bins[1:], strict=False)]
    print("score histogram (NHR Fig. 7)   " + " ".join(f"{b:>7}" for b in labels), file=sys.stderr)
    for name, axes in built.histograms.items():
        for axis, counts in axes.items():
            print(f"  {name:<10} {axis:<12}     " + " ".join(f"{c:>7}" for c in counts), file=sys.stderr)


@app.command("dataset", help=DATASET_HELP)
def dataset_command(
    ratings: Annotated[str, typer.Argument(help="Ratings JSONL (`hilite rate-export`), or - for stdin.")],
    out: Annotated[Path, typer.Option(help="Folder for the training set.")],
    data: DataDir = None,
    seed: Annotated[int | None, typer.Option(help="Split seed [default: configs/tuning.toml].")] = None,
    validation_fraction: Annotated[float | None, typer.Option(help="Share of items held out [default: configs/tuning.toml].")] = None,
) -> None:
    from hilite_cli.cli.data_option import open_store
    from hilite_cli.cli.runner import require_manifests, usage_error
    from hilite_cli.manifest import ManifestError, read_manifest
    from hilite_cli.stages.debias import parse_id
    from hilite_cli.stages.tune_judge.dataset import TrainingSetError, build_split, write_training_set
    from hilite_cli.stages.tune_judge.items import store_items

    require_manifests([ratings])
    store = open_store(data)
    try:
        lines = list(read_manifest(ratings, assign_ids=False))
    except ManifestError as exc:
        raise usage_error(str(exc)) from None
    bad = [ln for ln in lines if ln.record is None]
    records = [ln.record for ln in lines if ln.record is not None]
    wanted = [i for r in records if isinstance(r, dict) and (i := parse_id(r.get("item"))) is not None]
    items = store_items(store, wanted)
    try:
        built = build_split(records, items, seed=seed, validation_fraction=validation_fraction)
    except TrainingSetError as exc:
        raise usage_error(str(exc)) from None
    written = write_training_set(built, items, out)
    for ln in bad:
        print(f"hilite tune-judge: line {ln.number}: {ln.problem}", file=sys.stderr)
    for err in built.errors:
        print(f"hilite tune-judge: {err['error']['message']}", file=sys.stderr)
    _print_histograms(built)
    print(f"tune-judge dataset: {written['train']} training and {written['validation']} validation examples "
          f"(seed {built.split.seed}) in {out}; {len(bad) + len(built.errors)} bad ratings", file=sys.stderr)
    if bad or built.errors:
        raise typer.Exit(1)


TRAIN_HELP = """Tune a judge on a `tune-judge dataset` folder: LoRA on an open VLM (local) or Gemini on Vertex AI.

\b
  hilite tune-judge train tuning/ --backend local --base Qwen/Qwen2.5-VL-7B-Instruct
  accelerate launch -m hilite_cli tune-judge train tuning/ --backend local --base Qwen/Qwen2.5-VL-7B-Instruct
  hilite tune-judge train tuning/ --backend local --base Qwen/Qwen2.5-VL-7B-Instruct --resume   # after a kill

local: TRL's SFTTrainer with a PEFT LoRA (rank/alpha/dropout from configs/tuning.toml [local], NHR's
16/16/0.05) on the language model's projections; several GPUs through `accelerate launch`.
Checkpoints go to OUT/checkpoints, the adapter to OUT/adapter; stdout gets one JSON line whose
`judge` is the spec to pass to `validate --judge`.
"""


@app.command("train", help=TRAIN_HELP)
def train_command(
    dataset: Annotated[Path, typer.Argument(help="The folder `tune-judge dataset` wrote.")],
    base: Annotated[str | None, typer.Option(help="Base model: a Qwen2/2.5-VL hub id or folder (local), a Gemini model (vertex) [default: configs/tuning.toml for vertex].")] = None,
    backend: Annotated[str, typer.Option(help="local (LoRA with TRL + PEFT) or vertex (Gemini supervised tuning).")] = "local",
    staging: Annotated[str | None, typer.Option(help="vertex: the gs:// prefix the images and JSONL are staged to.")] = None,
    poll_seconds: Annotated[float | None, typer.Option(help="vertex: seconds between job polls [default: configs/tuning.toml].")] = None,
    max_wait: Annotated[float | None, typer.Option(help="vertex: stop waiting after this many seconds (the job goes on; --resume).")] = None,
    out: Annotated[Path | None, typer.Option(help="Where checkpoints and the adapter go [default: the dataset folder].")] = None,
    resume: Annotated[bool, typer.Option(help="Continue from the last checkpoint.")] = False,
    max_steps: Annotated[int | None, typer.Option(help="Stop after this many optimizer steps (overrides epochs).")] = None,
    rank: Annotated[int | None, typer.Option(help="LoRA rank [default: configs/tuning.toml].")] = None,
    learning_rate: Annotated[float | None, typer.Option(help="Learning rate [default: configs/tuning.toml].")] = None,
    gradient_accumulation_steps: Annotated[int | None, typer.Option(help="Steps per optimizer update [default: configs/tuning.toml].")] = None,
    save_steps: Annotated[int | None, typer.Option(help="Checkpoint every N steps [default: configs/tuning.toml].")] = None,
    seed: Annotated[int, typer.Option(help="Training seed (LoRA init, data order).")] = 0,
) -> None:
    import orjson

    from hilite_cli.cli.runner import usage_error

    if backend not in ("local", "vertex"):
        raise usage_error(f"--backend must be local or vertex, got {backend!r}")
    if not (dataset / "split.json").is_file() or not (dataset / "train" / "metadata.jsonl").is_file():
        raise usage_error(f"{dataset} is not a `hilite tune-judge dataset` folder (no split.json / train/metadata.jsonl)")
    out = out or dataset
    if backend == "vertex":
        _train_vertex(dataset, out, base, staging, resume, poll_seconds, max_wait)
        return
    if base is None:
        raise usage_error("--backend local needs --base (a Qwen2/2.5-VL hub id or folder)")
    if (out / "adapter").exists() and not resume:
        raise usage_error(f"{out / 'adapter'} exists: pass --resume to continue that run, or another --out")
    from hilite_cli.providers.errors import ProviderConfigError
    from hilite_cli.providers.local import require_weights
    from hilite_cli.stages.tune_judge.local_lora import TUNING_FILE, LoraSettings, train_local

    try:
        require_weights(base)
    except ProviderConfigError as exc:
        raise usage_error(str(exc)) from None
    settings = LoraSettings.from_config(rank=rank, learning_rate=learning_rate,
                                        gradient_accumulation_steps=gradient_accumulation_steps, save_steps=save_steps)
    import contextlib

    with contextlib.redirect_stdout(sys.stderr):  # the trainer prints its logs; stdout carries JSONL only
        adapter = train_local(dataset, base, out, resume=resume, max_steps=max_steps, settings=settings, seed=seed)
    provenance = orjson.loads((adapter / TUNING_FILE).read_bytes())
    judge = f"local:{base}@{adapter}"
    sys.stdout.buffer.write(orjson.dumps({"judge": judge, "adapter": str(adapter), **provenance}) + b"\n")
    print(f"tune-judge train: adapter in {adapter}; judge with --judge {judge}", file=sys.stderr)


def _train_vertex(dataset: Path, out: Path, base: str | None, staging: str | None, resume: bool,
                  poll_seconds: float | None, max_wait: float | None) -> None:
    """The vertex back-end: one tuning job per folder, its name fsynced to OUT/vertex_tuning.jsonl."""
    import orjson

    from hilite_cli.cli.runner import usage_error
    from hilite_cli.providers.errors import ProviderConfigError
    from hilite_cli.providers.vertex import vertex_settings
    from hilite_cli.stages.tune_judge.vertex import LEDGER, Ledger, StillRunning, TuningJobFailed, tune_vertex

    if not staging or not staging.startswith("gs://") or len(staging) <= len("gs://"):
        raise usage_error(f"--backend vertex needs --staging gs://BUCKET/PREFIX, got {staging!r}")
    if Ledger(out / LEDGER).last("creating") is not None and not resume:
        raise usage_error(f"{out / LEDGER} records a tuning job for this folder: pass --resume to wait for it")
    try:
        settings = vertex_settings()
    except ProviderConfigError as exc:
        raise usage_error(str(exc)) from None
    from google import genai

    client = genai.Client(**settings.client_args())
    try:
        tuned = tune_vertex(client, dataset, out, staging=staging, base_model=base, resume=resume,
                            poll_seconds=poll_seconds, max_wait=max_wait, log=lambda m: print(m, file=sys.stderr))
    except TuningJobFailed as exc:
        print(f"hilite tune-judge: {exc}", file=sys.stderr)
        raise typer.Exit(1) from None
    except StillRunning as exc:
        print(f"hilite tune-judge: {exc}", file=sys.stderr)
        raise typer.Exit(1) from None
    sys.stdout.buffer.write(orjson.dumps({"judge": tuned.judge, "backend": "vertex", "job": tuned.job,
                                          "model": tuned.model, "endpoint": tuned.endpoint}) + b"\n")
    print(f"tune-judge train: tuned model {tuned.model}, endpoint {tuned.endpoint}; "
          f"with GOOGLE_GENAI_USE_VERTEXAI=true judge with --judge {tuned.judge}", file=sys.stderr)


COMPARE_HELP = """Score the held-out validation split with the base and the tuned judge; report them side by side.

\b
  hilite tune-judge compare tuning/ --base-judge local:Qwen/Qwen2.5-VL-7B-Instruct \\
      --tuned-judge local:Qwen/Qwen2.5-VL-7B-Instruct@tuning/adapter --report before-after.html
  hilite tune-judge compare tuning/ --base-predictions base.jsonl --tuned-predictions tuned.jsonl --report page.html

Tables 1 (MAE, Spearman per axis), 2 (Spearman per category), 7 (precision/recall/F1/accuracy at
the threshold), Figure 9 (MAE by human score bucket) and Figure 11 (precision/recall sweep), with
the operating threshold `debias` would suggest for each judge. Predictions ({item, instruction,
aesthetics}) are written to DATASET/compare/ when the judges are asked here.
"""


@app.command("compare", help=COMPARE_HELP)
def compare_command(
    dataset: Annotated[Path, typer.Argument(help="The folder `tune-judge dataset` wrote.")],
    report: Annotated[Path, typer.Option(help="The side-by-side page (.html).")],
    base_judge: Annotated[str | None, typer.Option(help="The judge before tuning, PROVIDER[:MODEL].")] = None,
    tuned_judge: Annotated[str | None, typer.Option(help="The tuned judge, e.g. local:BASE@ADAPTER or gemini:ENDPOINT.")] = None,
    base_predictions: Annotated[Path | None, typer.Option(help="The base judge's predictions instead of asking it.")] = None,
    tuned_predictions: Annotated[Path | None, typer.Option(help="The tuned judge's predictions instead of asking it.")] = None,
    threshold: Annotated[float | None, typer.Option(help="Operating threshold on both axes [default: configs/thresholds.toml].")] = None,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write both calibration reports as JSON.")] = None,
) -> None:
    import orjson

    from hilite_cli.cli.runner import prepare_output_file, usage_error
    from hilite_cli.providers.errors import ProviderConfigError
    from hilite_cli.report.tune_judge_page import judges_side_by_side, render_compare_html
    from hilite_cli.stages.tune_judge.compare import compare, read_jsonl, score_split

    humans_path = dataset / "human" / "validation.jsonl"
    if not humans_path.is_file():
        raise usage_error(f"{dataset} is not a `hilite tune-judge dataset` folder (no human/validation.jsonl)")
    prepare_output_file(report, "--report", (".html", ".htm"))
    prepare_output_file(json_path, "--json")
    predictions = {}
    for label, judge, given in (("base", base_judge, base_predictions), ("tuned", tuned_judge, tuned_predictions)):
        if (judge is None) == (given is None):
            raise usage_error(f"give exactly one of --{label}-judge and --{label}-predictions")
        if given is not None:
            predictions[f"{label}: {given.name}"] = read_jsonl(given)
            continue
        try:
            rows = score_split(dataset, judge)
        except ProviderConfigError as exc:
            raise usage_error(str(exc)) from None
        (dataset / "compare").mkdir(exist_ok=True)
        (dataset / "compare" / f"{label}.jsonl").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
        predictions[f"{label}: {judge}"] = rows
    reports = compare(read_jsonl(humans_path), predictions, threshold=threshold)
    report.write_text(render_compare_html(judges_side_by_side(reports), reports), encoding="utf-8")
    if json_path:
        json_path.write_bytes(orjson.dumps({k: v.model_dump() for k, v in reports.items()}, option=orjson.OPT_INDENT_2))
    for label, r in reports.items():
        axes = ", ".join(f"{a} MAE {f.mae:.3f} ρ {f.spearman if f.spearman is None else round(f.spearman, 3)}"
                         if f.mae is not None else f"{a} n/a ({f.reason})" for a, f in r.axes.items())
        print(f"{label}: {axes}; suggested threshold {r.suggestion.threshold}", file=sys.stderr)
    print(f"tune-judge compare: {report}", file=sys.stderr)
