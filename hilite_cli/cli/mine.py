"""`hilite mine`: NHR's autonomous triplet mining, resumable and budget-aware."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from hilite_cli.cli.aliases import renamed
from hilite_cli.cli.options import (
    BatchApi, BatchWait, Concurrency, Device, Dtype, Errors, Executor, GpusPerWorker, MaxRetries, MaxWorkers, NoCache,
    Overwrite, Progress, Resume, Timeout, Weights, Workers,
)
from hilite_cli.cli.params import (
    batch_options, check_model_options, parse_native_params, parse_weights, provider_error, provider_options,
    records_per_job,
)
from hilite_cli.cli.runner import guard_outputs, locked, refuse_rerun, report_usage, require_manifests, usage_error
from hilite_cli.cli.terminal import interrupted
from hilite_cli.storage import is_url, out_location

if TYPE_CHECKING:
    from hilite_cli.providers import Provider
    from hilite_cli.records import Record

SHORT = "Mine edit triplets with no human in the loop (NHR): design, generate, gate, edit on a GPU budget, pre-filter."
HELP = f"""{SHORT}

Inputs (one of):

\b
  hilite mine specs.jsonl -o pool.jsonl        prompt specs {{t2i_prompt, edits}}, photo specs
                                               {{image, edits}} or task records {{image, instruction}}
  hilite mine --design 200 --designer openai:o3 -o pool.jsonl   Algorithm 1 (prompt A.1)
  hilite mine --images photos/ --edits edits.txt -o pool.jsonl  real photos instead of T2I

Each prompt gets N T2I seeds (--n-sources) at random resolutions, gated with A.5 (--gate); every
(source, instruction) gets M edit attempts (--attempts). The N x k x M jobs are drawn uniformly
without replacement (--schedule-seed) until --budget-gpu-hours of model time is spent or the queue is empty;
drawn jobs of one (source, instruction) run as one batched edit call. Each edit is pre-filtered
(A.2 >= --t-aes/--t-adh, then A.3, A.4, then the low-level check) while the next edit runs.

--schedule adaptive spends the same budget but draws more attempts in instruction categories whose
pass rate is low but not zero (a spec's `category`; --category-weights: a `hilite eval --json`
summary). Every candidate gets its pair's `difficulty` (attempts to the first pass) at the end.

The pool (-o) gets every passing candidate as it finishes (--keep-rejected: rejected ones too);
the state (<pool>.state.jsonl) records every source and job outcome, so --resume continues a
killed run without redoing or duplicating anything (--retry-failed also reruns what failed). Stats (Table 3 style) print at the end and go
to --stats FILE as JSON. With an offline gate or pre-filter the semantic checks are recorded as
not run and the stats say so; settings come from --preset (configs/mining.toml).

--batch-api sends the gate and pre-filter calls that go to gemini or openai as provider batch jobs
(about half the price): the run's generated sources are gated together, and edits are written to
<out>/staging first and pre-filtered in windows of [batch] records_per_job (configs/providers.toml),
a couple judged at once while the GPU goes on. Job ids go to <pool>.batches.jsonl, so a killed run,
or one whose jobs outlive --batch-wait, continues with --resume and never pays twice. --schedule
adaptive and --until-first-pass need verdicts to draw, so with --batch-api each scheduler window
(--window) is one batch job, judged before the next window is drawn. --budget-usd counts the spend
of earlier runs of the pool too.
"""


def _preset(name: str) -> dict[str, Any]:
    from hilite_cli.config import load_config

    presets = load_config("mining").get("presets", {})
    if name not in presets:
        raise usage_error(f"unknown --preset {name!r}; configs/mining.toml has: {', '.join(presets)}")
    return dict(presets[name])


# Each provider flag of `mine` has its own base-URL flag.
BASE_URL_OPTIONS = {"--designer": "--designer-base-url", "--gate": "--gate-base-url", "--prefilter": "--base-url"}
# An offline designer designs nothing: the way round it is specs written by hand.
FALLBACKS = {"--designer": "write the specs yourself and pass them instead of --design (hilite mine specs.jsonl)",
             "--gate": "pass --no-gate"}


def _provider(spec: str, option: str, base_url: str | None, options: dict[str, Any]) -> Provider:
    """`options` are the shared provider flags (concurrency, timeout, retries, cache); each provider has its own URL."""
    from hilite_cli.providers import ProviderConfigError, get_provider

    try:
        return get_provider(spec, **{**options, "base_url": base_url})
    except ProviderConfigError as exc:
        raise provider_error(option, spec, exc, BASE_URL_OPTIONS[option], FALLBACKS.get(option)) from None
    except ImportError as exc:
        raise usage_error(f"{option} {spec}: this backend is not available here ({exc})") from None


def _inputs(
    specs: str | None, design: int | None, images: Path | None, edits: Path | None, output: str, resume: bool,
    preset: dict[str, Any], designer: str | None, designer_base_url: str | None, theme: str | None,
    design_batch: int | None, options: dict[str, Any],
) -> tuple[list[Record], list[Record]]:
    """The specs to mine and the error records of inputs that could not be used."""
    from hilite_cli.stages.mine.inputs import photo_folder_specs, read_edits_file, read_specs

    modes = [m for m, given in (("SPECS", specs), ("--design", design), ("--images", images)) if given is not None]
    if len(modes) != 1:
        raise usage_error(f"give exactly one input: a specs manifest, --design N or --images DIR (got {', '.join(modes) or 'none'})")
    if specs is not None:
        require_manifests([specs])
        return read_specs(specs)
    if images is not None:
        if edits is None:
            raise usage_error("--images needs --edits FILE (one instruction per line, or a JSON array)")
        try:
            return photo_folder_specs(images, read_edits_file(edits)), []
        except (OSError, ValueError) as exc:
            raise usage_error(str(exc)) from None
    assert design is not None
    return _design(design, output, resume, preset, designer, designer_base_url, theme, design_batch, options)


def _design(
    count: int, output: str, resume: bool, preset: dict[str, Any], designer: str | None, base_url: str | None,
    theme: str | None, batch: int | None, options: dict[str, Any],
) -> tuple[list[Record], list[Record]]:
    """Algorithm 1; the designed specs are kept in <pool>.specs.jsonl, which --resume reuses."""
    from hilite_cli.manifest import ManifestWriter
    from hilite_cli.stages.mine.design import design_specs
    from hilite_cli.stages.mine.inputs import read_specs

    if count < 1:
        raise usage_error(f"--design must be >= 1, got {count}")
    path = Path(f"{output}.specs.jsonl")
    if resume and path.is_file():
        return read_specs(str(path))
    provider = _provider(designer or preset["designer"], "--designer", base_url, options)
    try:
        specs, errors = design_specs(
            provider, count=count, batch=batch or int(preset["design_batch"]), theme=theme or preset["theme"],
            max_output_tokens=int(preset["design_max_tokens"]),
        )
    finally:
        provider.close()
    with ManifestWriter(str(path)) as writer:
        for spec in specs:
            writer.write(spec)
    print(f"mine: {len(specs)} prompt specs designed ({len(errors)} rejected) -> {path}", file=sys.stderr)
    return read_specs(str(path))[0], errors


class _Progress:
    """A one-line live counter on stderr (rich), updated from worker threads: outcomes, GPU budget, jobs left."""

    USABLE = ("gated", "gate_not_run", "gate_skipped", "photo")

    def __init__(self, enabled: bool) -> None:
        import threading
        from collections import Counter

        self.counts: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.live = None
        self.status: Callable[[], dict[str, Any]] | None = None  # the run's budget and queue, once it exists
        if enabled:
            from rich.live import Live

            from hilite_cli.cli.terminal import stderr_console

            self.live = Live("", console=stderr_console(), refresh_per_second=4, transient=True)
            self.live.start()

    def __call__(self, kind: str, outcome: str) -> None:
        with self.lock:
            self.counts[kind] += 1
            self.counts[f"{kind}:{outcome.split(':')[0]}"] += 1
            line = self.summary()
        if self.live is not None:
            self.live.update(line)

    def summary(self) -> str:
        c = self.counts
        usable = sum(c[f"source:{o}"] for o in self.USABLE)
        line = (
            f"mine: {c['source']} sources ({usable} usable), {c['job']} jobs: "
            f"{c['job:passed']} passed, {c['job:rejected']} rejected, {c['job:failed']} failed"
        )
        if self.status is None:
            return line
        s = self.status()
        line += f"; GPU {s['gpu_hours']:.2f} h spent"
        if s["budget_gpu_hours"] is not None:
            line += f" of {s['budget_gpu_hours']:g} h ({max(0.0, s['budget_gpu_hours'] - s['gpu_hours']):.2f} h left)"
        if s["jobs_left"] is not None:
            line += f"; {s['jobs_left']} jobs left"
        return line

    def stop(self) -> None:
        if self.live is not None:
            self.live.stop()


def _say_merged_photos(specs: list[Record], plans: list[Any]) -> None:
    """Byte-identical photos are one source (one id per content): say so rather than mine fewer silently."""
    images = {spec["id"]: spec["image"] for spec in specs if "image" in spec}
    merged = [plan for plan in plans if plan.kind == "photo" and len(plan.specs) > 1]
    for plan in merged:
        names = ", ".join(sorted({Path(images[i]).name for i in plan.specs if i in images}))
        print(f"mine: {names}: byte-identical photos, mined as one source", file=sys.stderr)
    if merged:
        sources = sum(1 for plan in plans if plan.kind == "photo")
        print(f"mine: {len(images)} photos -> {sources} sources", file=sys.stderr)


def _guarded(run: Callable[..., None]) -> Callable[..., None]:
    """Check the run's outputs, refuse to wipe an earlier run, lock the pool, and take back what an early
    stop created (an empty pool, state file or image folder); the command's own signature is kept."""

    @functools.wraps(run)
    def command(**kw: Any) -> None:
        from hilite_cli.manifest import default_errors_path, is_stream
        from hilite_cli.outputs import new_paths, remove_empty, remove_temp_files

        output = kw["output"]
        if is_stream(output):  # refused by the command itself, before anything is written
            return run(**kw)
        _category_weights(kw["schedule"], kw["category_weights"])  # a bad option is named before the pool's state
        if kw["resume"] and kw["overwrite"]:
            raise usage_error("--resume continues the pool, --overwrite starts it over: give one")
        errors = Path(kw["errors"] or default_errors_path(output, "mine"))
        local_out = None if is_url(kw["out"]) else kw["out"]  # a URL is neither a local clash nor ours to clean up
        state = Path(f"{output}.state.jsonl")
        specs = Path(f"{output}.specs.jsonl") if kw["design"] is not None else None
        guard_outputs(
            [("the specs manifest", kw["specs"]), ("--edits", kw["edits"]), ("--images", kw["images"])],
            [("-o", output), ("--errors" if kw["errors"] else "the errors manifest", errors), ("the state file", state),
             ("the designed specs", specs), ("--stats", kw["stats"]), ("--out", local_out)],
        )
        if not kw["resume"] and not kw["overwrite"]:
            refuse_rerun(state, f"-o {output}", "its state file")
        created = new_paths([output, errors, state, specs, kw["stats"], local_out])
        with locked([output, kw["stats"]], errors):
            remove_temp_files([output, errors, state, specs, kw["stats"]], [local_out])  # a killed run's leftovers
            if kw["resume"]:
                _pool_matches_state(Path(output), state)
            try:
                run(**kw)
            except BaseException as exc:
                if not (isinstance(exc, typer.Exit) and exc.exit_code in (0, 1)):
                    remove_empty(created)
                raise
        return None

    return command


def _pool_matches_state(pool: Path, state: Path) -> None:
    """Exit 2 when the pool lacks candidates its state file records as written (the pool deleted, cut
    short or edited): --resume would skip their jobs and never write them again. Streams both files,
    keeping only the ids the state names."""
    import orjson

    from hilite_cli.manifest import repair_torn_tail

    if not state.is_file():
        return
    repair_torn_tail(state)
    wanted: set[str] = set()
    with state.open("rb") as fh:
        for raw in fh:
            try:
                entry = orjson.loads(raw)
            except orjson.JSONDecodeError:
                continue  # the state file's own reader names a damaged line
            if isinstance(entry, dict) and entry.get("type") == "job" and isinstance(entry.get("candidate"), str):
                wanted.add(entry["candidate"])
    if wanted and pool.is_file():
        repair_torn_tail(pool)
        with pool.open("rb") as fh:
            for raw in fh:
                try:
                    record = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    continue
                if isinstance(record, dict):
                    wanted.discard(str(record.get("id")))
    if wanted:
        where = "is missing" if not pool.is_file() else f"lacks {len(wanted)} candidates"
        raise usage_error(f"cannot resume: {pool} {where} that its state file {state} records as written (e.g. "
                          f"{min(wanted)}); start over with --overwrite (or put the pool back)")


@_guarded
def command(
    specs: Annotated[
        str | None, typer.Argument(help="Prompt/photo specs or task records (JSONL), or - for stdin.", show_default=False)
    ] = None,
    design: Annotated[int | None, typer.Option(help="Design this many prompt specs with A.1 (Algorithm 1).")] = None,
    designer: Annotated[str | None, typer.Option(help="Provider for --design [preset: openai:o3].")] = None,
    theme: Annotated[str | None, typer.Option(help="A.1 theme [preset: realistic, every-day life].")] = None,
    design_batch: Annotated[int | None, typer.Option(min=1, help="Specs per A.1 request [preset: 50].")] = None,
    images: Annotated[Path | None, typer.Option(help="Folder of real photos used as sources (no T2I).")] = None,
    edits: Annotated[Path | None, typer.Option(help="Instructions for --images: one per line, or a JSON array.")] = None,
    output: Annotated[str, typer.Option("--output", "-o", help="Pool manifest (JSONL); the state file lives beside it.")] = "pool.jsonl",
    out: Annotated[str, typer.Option("--out", help="Folder for source and edited images, or an fsspec URL (s3://…, gs://…).")] = "mined",
    errors: Errors = None,
    stats: Annotated[Path | None, typer.Option(help="Write the survival stats as JSON here.")] = None,
    preset: Annotated[str, typer.Option(help="Settings preset from configs/mining.toml (default, paper, small).")] = "default",
    n_sources: Annotated[int | None, typer.Option(min=1, help="N: T2I seeds per prompt [preset: 10].")] = None,
    attempts: Annotated[int | None, typer.Option(min=1, help="M: edit attempts per (source, instruction) [preset: 5].")] = None,
    t2i: Annotated[str | None, typer.Option(help="Text-to-image model [preset: flux-schnell]; hosted: gemini-image:MODEL, openai-image:MODEL.")] = None,
    editor: Annotated[str | None, typer.Option(help="Instruction editor [preset]; hosted (no GPU, an API key): gemini-image:MODEL, openai-image:MODEL.")] = None,
    weights: Weights = None,
    device: Device = None,
    dtype: Dtype = None,
    t2i_steps: Annotated[int | None, typer.Option(min=1, help="T2I steps [model default: 4 for schnell].")] = None,
    steps: Annotated[int | None, typer.Option(min=1, help="Denoising steps [default: per model].")] = None,
    text_influence: Annotated[int | None, typer.Option(min=0, max=10, help="How strictly to follow the text: level 0-10, the same scale for every model [default: per model].")] = None,
    image_influence: Annotated[int | None, typer.Option(min=0, max=10, help="How much of the source to keep: level 0-10 [default: per model].")] = None,
    param: Annotated[list[str] | None, typer.Option("--param", help="EDITOR.NAME=VALUE: a native editor value, e.g. instruct-pix2pix.image_guidance_scale=1.8.")] = None,
    gate: Annotated[str | None, typer.Option(help="A.5 plausibility gate provider [preset]; offline = recorded as not run.")] = None,
    no_gate: Annotated[bool, typer.Option("--no-gate", help="Skip the plausibility gate (recorded as skipped).")] = False,
    prefilter: Annotated[str | None, typer.Option(help="A.2-A.4 pre-filter provider [preset]; offline = only the low-level check decides.")] = None,
    base_url: Annotated[str | None, typer.Option(help="Base URL of the pre-filter provider (a local vLLM/SGLang server).")] = None,
    gate_base_url: Annotated[str | None, typer.Option(help="Base URL of the gate provider.")] = None,
    designer_base_url: Annotated[str | None, typer.Option(help="Base URL of the designer provider.")] = None,
    concurrency: Concurrency = None,
    timeout: Timeout = None,
    max_retries: MaxRetries = None,
    no_cache: NoCache = False,
    batch_api: BatchApi = False,
    batch_wait: BatchWait = None,
    t_aes: Annotated[float | None, typer.Option(help="T_aes: minimum A.2 aesthetics score [4.7].")] = None,
    t_adh: Annotated[float | None, typer.Option(help="T_adh: minimum A.2 instruction-adherence score [4.7].")] = None,
    lowlevel: Annotated[bool, typer.Option("--lowlevel/--no-lowlevel", help="NHR's low-level connected-component check.")] = True,
    keep_rejected: Annotated[bool, typer.Option("--keep-rejected", help="Write rejected candidates too (passed: false, rejected_at).")] = False,
    budget_gpu_hours: Annotated[float | None, typer.Option(min=0.0, help="Stop drawing jobs after this much model time x --gpus.")] = None,
    budget_usd: Annotated[
        float | None,
        typer.Option("--budget-usd", min=0.0, help="Stop drawing jobs once the gate and pre-filter calls (and a hosted "
                     "editor's or source's requests) cost this much, earlier runs of this pool included (the state file records each run's spend; estimated "
                     "from configs/providers.toml [prices]; cached answers cost nothing)."),
    ] = None,
    gpus: Annotated[int | None, typer.Option(min=1, help="GPUs this run occupies, for budget accounting [preset: 1].")] = None,
    until_first_pass: Annotated[bool, typer.Option("--until-first-pass", help="Stop retrying an instruction once one attempt passes.")] = False,
    schedule_seed: Annotated[int, typer.Option(help="Seed of the scheduler's uniform draw of jobs (not an image seed).")] = 0,
    schedule: Annotated[
        str, typer.Option(help="uniform (the paper's draw) or adaptive (more attempts where a category's pass rate is low).")
    ] = "uniform",
    category_weights: Annotated[
        Path | None, typer.Option(help="adaptive: JSON {category: weight}, or a `hilite eval --json` summary (its weaknesses).")
    ] = None,
    window: Annotated[int | None, typer.Option(min=1, help="Jobs drawn per scheduler window [preset].")] = None,
    post_workers: Annotated[
        int | None, typer.Option(min=1, help="Threads running the gate/pre-filter beside the GPU loop [preset].")
    ] = None,
    overlap: Annotated[bool, typer.Option("--overlap/--no-overlap", help="Pre-filter while the next edit runs.")] = True,
    resume: Resume = False,
    overwrite: Overwrite = False,
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="With --resume: run failed sources and jobs again (e.g. after a provider outage).")
    ] = False,
    progress: Progress = True,
    seed: Annotated[int | None, typer.Option("--seed", hidden=True)] = None,
    executor: Executor = "local",
    workers: Workers = 1,
    max_workers: MaxWorkers = None,
    gpus_per_worker: GpusPerWorker = 0.0,
) -> None:
    from hilite_cli.config import load_config
    from hilite_cli.manifest import ManifestError, default_errors_path, is_stream
    from hilite_cli.models.base import ModelLoadError
    from hilite_cli.records import RecordError
    from hilite_cli.stages.mine.pipeline import MineSettings
    from hilite_cli.stages.judging import Thresholds
    from hilite_cli.stages.mine.prefilter import Prefilter

    seed = renamed(schedule_seed, seed, "--schedule-seed", "--seed", 0)
    if is_stream(output):
        raise usage_error("mine needs a pool file (-o FILE), not stdout, a device or a FIFO: its state file lives "
                          "beside it")
    check_model_options(device, dtype)
    try:
        out_dir = out_location(out)
    except ValueError as exc:
        raise usage_error(str(exc)) from None
    local_weights = parse_weights(weights)
    if retry_failed and not resume:
        raise usage_error("--retry-failed only makes sense with --resume")
    if no_gate and gate:
        raise usage_error("--gate and --no-gate contradict each other")
    prior = _category_weights(schedule, category_weights)
    p = _preset(preset)
    from hilite_cli.models import hosted

    t2i = hosted.as_t2i(t2i) if t2i else None
    _check_hosted([editor or p["editor"], t2i or p["t2i"]], batch_api, executor, budget_usd)
    hosted.configure(concurrency=concurrency, timeout=timeout, max_retries=max_retries)
    options = {**provider_options(None, concurrency, timeout, max_retries, no_cache), "reask_failed": retry_failed}
    spec_list, input_errors = _inputs(specs, design, images, edits, output, resume, p, designer, designer_base_url,
                                      theme, design_batch, options)
    gate_spec, prefilter_spec = None if no_gate else (gate or p["gate"]), prefilter or p["prefilter"]
    batched = _batched(batch_api, executor, gate_spec, prefilter_spec)
    batch = batch_options(batch_api, batch_wait, output, "mine")
    defaults = load_config("thresholds")["prefilter"]
    settings = MineSettings(
        out_dir=out_dir,
        pool=Path(output),
        errors=Path(errors or default_errors_path(output, "mine")),
        n_sources=n_sources or int(p["n_sources"]),
        attempts=attempts or int(p["attempts"]),
        t2i=t2i or p["t2i"],
        editor=editor or p["editor"],
        seed=seed,
        window=window or int(p["window"]),
        postprocess_workers=post_workers or int(p["postprocess_workers"]),
        max_pending=int(p["max_pending"]),
        t2i_params={"steps": t2i_steps or p.get("t2i_steps")},
        edit_params=_edit_params(steps or p.get("edit_steps"), text_influence, image_influence, param, editor or p["editor"]),
        bounds={k: p.get(k) for k in ("long_side_min", "long_side_max", "max_aspect")},
        weights=local_weights,
        device=device,
        dtype=dtype,
        keep_rejected=keep_rejected,
        budget_gpu_hours=budget_gpu_hours,
        budget_usd=budget_usd,
        gpus=gpus or int(p["gpus"]),
        until_first_pass=until_first_pass,
        overlap=overlap,
        resume=resume,
        retry_failed=retry_failed,
        schedule=schedule,
        category_weights=prior,
        batch_window=records_per_job() if batched else None,
        windows_in_flight=int(p.get("batch_windows", 2)),
    )
    gate_provider = None if gate_spec is None else _provider(
        gate_spec, "--gate", gate_base_url, {**options, **(batch if "--gate" in batched else {})})
    prefilter_provider = _provider(prefilter_spec, "--prefilter", base_url,
                                   {**options, **(batch if "--prefilter" in batched else {})})
    providers = [x for x in (gate_provider, prefilter_provider) if x is not None]
    spend = _spend(providers, budget_usd, hosted.spent_usd)
    thresholds = Thresholds(  # T_aes, T_adh
        aesthetics=t_aes if t_aes is not None else float(p.get("t_aes", defaults["t_aes"])),
        instruction=t_adh if t_adh is not None else float(p.get("t_adh", defaults["t_adh"])),
    )
    ticker = _Progress(progress)
    try:
        try:
            run = _mining_run(
                executor, settings, spec_list, gate=gate_provider, prefilter=Prefilter(prefilter_provider, thresholds, lowlevel=lowlevel),
                input_errors=input_errors, progress=ticker, spend=spend, ray={"workers": workers, "max_workers": max_workers,
                "gpus_per_worker": gpus_per_worker, "recipes": (None if no_gate else (gate or p["gate"], gate_base_url),
                                                               (prefilter or p["prefilter"], base_url), options)},
            )
        except (ValueError, RecordError) as exc:  # an editor that cannot mine, an unknown model
            raise usage_error(str(getattr(exc, "message", exc))) from None
        ticker.status = run.status
        _say_merged_photos(spec_list, run.plans)
        try:
            result = run.run()
        except ModelLoadError as exc:  # weights missing: say how to get them
            raise usage_error(exc.message) from None
        except ManifestError as exc:  # a state file that cannot be read
            raise usage_error(str(exc)) from None
        except KeyboardInterrupt:
            ticker.stop()
            left = run.status()["jobs_left"]
            raise interrupted(ticker.summary(), "unknown (sources were still being made)" if left is None else f"{left} jobs",
                              output) from None
    finally:
        ticker.stop()
        for provider in (gate_provider, prefilter_provider):
            if provider is not None:
                provider.close()
    result["provider_usage"] = report_usage("mine", [x.usage for x in providers] + hosted.meters())
    _report(result, stats)
    if result["error_records"]:
        print(f"mine: {result['error_records']} error records in {settings.errors}", file=sys.stderr)
        raise typer.Exit(1)


def _batched(batch_api: bool, executor: str, gate: str | None, prefilter: str) -> list[str]:
    """The provider flags whose calls go through batch jobs under --batch-api: those on gemini or openai."""
    if not batch_api:
        return []
    from hilite_cli.providers import BATCH_BACKENDS, parse_spec

    if executor != "local":
        raise usage_error("--batch-api runs with --executor local: Ray's CPU actors judge one edit at a time, so "
                          "there is no window to pack into a batch job")
    batched = [flag for flag, spec in (("--gate", gate), ("--prefilter", prefilter))
               if spec is not None and parse_spec(spec)[0] in BATCH_BACKENDS]
    if not batched:
        raise usage_error(f"--batch-api needs a gemini or openai gate or pre-filter, got --gate {gate or '(none)'} and "
                          f"--prefilter {prefilter}")
    return batched


def _category_weights(schedule: str, path: Path | None) -> dict[str, float]:
    from hilite_cli.stages.mine.adaptive import SCHEDULES
    from hilite_cli.stages.mine.categories import read_category_weights

    if schedule not in SCHEDULES:
        raise usage_error(f"--schedule must be one of {', '.join(SCHEDULES)}, got {schedule!r}")
    if path is None:
        return {}
    if schedule != "adaptive":
        raise usage_error("--category-weights only applies to --schedule adaptive")
    try:
        return read_category_weights(str(path))
    except ValueError as exc:
        raise usage_error(str(exc)) from None


def _mining_run(executor: str, *args: Any, ray: dict[str, Any], **kwargs: Any) -> Any:
    """The local run, or the same run on Ray Data (RAY_ADDRESS or a local instance) with workers' providers."""
    from hilite_cli.stages.mine.pipeline import MiningRun

    if executor == "local":
        return MiningRun(*args, **kwargs)
    if executor != "ray":
        raise usage_error(f"unknown executor {executor!r}: choose local or ray")
    from hilite_cli.engine.ray_mine import ProviderRecipe, RayMineSettings, RayMiningRun

    gate, prefilter, options = ray["recipes"]

    def recipe(spec_url: tuple[str, str | None] | None) -> ProviderRecipe | None:
        return None if spec_url is None else ProviderRecipe(spec_url[0], {**options, "base_url": spec_url[1]})

    return RayMiningRun(*args, **kwargs, gate_recipe=recipe(gate), prefilter_recipe=recipe(prefilter),
                        ray=RayMineSettings(workers=ray["workers"], max_workers=ray["max_workers"],
                                            gpus_per_worker=ray["gpus_per_worker"]))


def _check_hosted(names: list[str], batch_api: bool, executor: str, budget_usd: float | None) -> None:
    """A hosted editor or source (gemini-image:MODEL, …) runs interactively, in this process, with a price
    when a budget is set; each refusal is a usage error before any work."""
    from hilite_cli.models.hosted import is_hosted, price_missing

    for name in (n for n in names if is_hosted(n)):
        if batch_api:
            raise usage_error(f"--batch-api with {name}: image edits and generations through provider batch jobs are "
                              "not implemented (Gemini batch mode takes image models, OpenAI's Batch API is not "
                              "documented for the Images API); drop --batch-api, or batch the judges with a local editor")
        if executor != "local":
            raise usage_error(f"{name} runs with --executor local: its requests and spend are counted in this process")
        if budget_usd is not None and (why := price_missing(name)):
            raise usage_error(f"--budget-usd: {why}; add one (input_per_1m, output_per_1m) or drop --budget-usd")


def _spend(providers: list[Provider], budget_usd: float | None, editors: Any = None) -> Any:
    """What the providers (and `editors()`: hosted image models) have cost this run so far, in US dollars
    (priced tokens only), recorded in the state file so that --budget-usd counts earlier runs too.

    A budget needs a price for every paid provider: without one the spend could not be told, so
    the run stops before it starts rather than ignore the budget."""
    from hilite_cli.providers.pricing import known_usd, price_for

    paid = [x for x in providers if x.name in ("gemini", "openai")]
    for provider in paid:
        if budget_usd is not None and price_for(provider.name, provider.model) is None:
            raise usage_error(f"--budget-usd: no price for {provider.name}:{provider.model} in configs/providers.toml "
                              "[prices]; add one (input_per_1m, output_per_1m) or drop --budget-usd")
    return lambda: sum(known_usd(x.usage) for x in paid) + (editors() if editors is not None else 0.0)


def _edit_params(steps: int | None, text_influence: int | None, image_influence: int | None, param: list[str] | None,
                 editor: str) -> dict[str, Any]:
    """The editor's knobs: levels on the shared scale, plus --param native values for the editor only."""
    native = parse_native_params(param)
    stray = [m for m in native if m != editor]
    if stray:
        raise usage_error(f"--param {stray[0]}.…: mine runs one editor, {editor}")
    return {"steps": steps, "text_influence": text_influence, "image_influence": image_influence,
            "native": native.get(editor, {})}


def _report(result: dict[str, Any], stats: Path | None) -> None:
    import orjson

    from hilite_cli.cli.terminal import stderr_console
    from hilite_cli.stages.mine.stats import render

    console = stderr_console()
    for renderable in render(result):
        console.print(renderable)
    if stats is not None:
        stats.parent.mkdir(parents=True, exist_ok=True)
        stats.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
