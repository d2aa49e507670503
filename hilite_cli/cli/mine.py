"""`hilite mine`: NHR's autonomous triplet mining, resumable and budget-aware."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from hilite_cli.cli.options import Concurrency, Errors, MaxRetries, NoCache, Progress, Resume, Timeout
from hilite_cli.cli.params import parse_weights, provider_error, provider_options
from hilite_cli.cli.runner import require_manifests, usage_error

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
without replacement (--seed) until --budget-gpu-hours of model time is spent or the queue is empty;
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
    """A one-line live counter on stderr (rich), updated from worker threads."""

    USABLE = ("gated", "gate_not_run", "gate_skipped", "photo")

    def __init__(self, enabled: bool) -> None:
        import threading
        from collections import Counter

        self.counts: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.live = None
        if enabled:
            from rich.console import Console
            from rich.live import Live

            self.live = Live("", console=Console(stderr=True), refresh_per_second=4, transient=True)
            self.live.start()

    def __call__(self, kind: str, outcome: str) -> None:
        with self.lock:
            self.counts[kind] += 1
            self.counts[f"{kind}:{outcome.split(':')[0]}"] += 1
            c = self.counts
            usable = sum(c[f"source:{o}"] for o in self.USABLE)
            line = (
                f"mine: {c['source']} sources ({usable} usable), {c['job']} jobs: "
                f"{c['job:passed']} passed, {c['job:rejected']} rejected, {c['job:failed']} failed"
            )
        if self.live is not None:
            self.live.update(line)

    def stop(self) -> None:
        if self.live is not None:
            self.live.stop()


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
    out: Annotated[Path, typer.Option("--out", help="Folder for source and edited images.")] = Path("mined"),
    errors: Errors = None,
    stats: Annotated[Path | None, typer.Option(help="Write the survival stats as JSON here.")] = None,
    preset: Annotated[str, typer.Option(help="Settings preset from configs/mining.toml (default, paper, small).")] = "default",
    n_sources: Annotated[int | None, typer.Option(min=1, help="N: T2I seeds per prompt [preset: 10].")] = None,
    attempts: Annotated[int | None, typer.Option(min=1, help="M: edit attempts per (source, instruction) [preset: 5].")] = None,
    t2i: Annotated[str | None, typer.Option(help="Text-to-image model [preset: flux-schnell].")] = None,
    editor: Annotated[str | None, typer.Option(help="Instruction editor [preset].")] = None,
    weights: Annotated[
        list[str], typer.Option(help="NAME=DIR: load model NAME from a local pipeline folder (save_pretrained layout; repeatable).")
    ] = [],  # noqa: B006 - typer needs a list default
    device: Annotated[str | None, typer.Option(help="cuda, cuda:1, cpu … [default: cuda when available].")] = None,
    dtype: Annotated[str | None, typer.Option(help="fp32, fp16 or bf16 [default: bf16/fp16 on CUDA, fp32 on CPU].")] = None,
    t2i_steps: Annotated[int | None, typer.Option(min=1, help="T2I steps [model default: 4 for schnell].")] = None,
    steps: Annotated[int | None, typer.Option(min=1, help="Edit steps [model default].")] = None,
    text_influence: Annotated[float | None, typer.Option(help="Editor text guidance [model default].")] = None,
    image_influence: Annotated[float | None, typer.Option(help="Editor image guidance [model default].")] = None,
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
    t_aes: Annotated[float | None, typer.Option(help="T_aes: minimum A.2 aesthetics score [4.7].")] = None,
    t_adh: Annotated[float | None, typer.Option(help="T_adh: minimum A.2 instruction-adherence score [4.7].")] = None,
    lowlevel: Annotated[bool, typer.Option("--lowlevel/--no-lowlevel", help="NHR's low-level connected-component check.")] = True,
    keep_rejected: Annotated[bool, typer.Option("--keep-rejected", help="Write rejected candidates too (passed: false, rejected_at).")] = False,
    budget_gpu_hours: Annotated[float | None, typer.Option(min=0.0, help="Stop drawing jobs after this much model time x --gpus.")] = None,
    gpus: Annotated[int | None, typer.Option(min=1, help="GPUs this run occupies, for budget accounting [preset: 1].")] = None,
    until_first_pass: Annotated[bool, typer.Option("--until-first-pass", help="Stop retrying an instruction once one attempt passes.")] = False,
    seed: Annotated[int, typer.Option(help="Seed of the scheduler's uniform draw.")] = 0,
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
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="With --resume: run failed sources and jobs again (e.g. after a provider outage).")
    ] = False,
    progress: Progress = True,
) -> None:
    from hilite_cli.config import load_config
    from hilite_cli.manifest import STDIO, default_errors_path
    from hilite_cli.models.base import ModelLoadError
    from hilite_cli.records import RecordError
    from hilite_cli.stages.mine.pipeline import MineSettings, MiningRun
    from hilite_cli.stages.judging import Thresholds
    from hilite_cli.stages.mine.prefilter import Prefilter

    if output == STDIO:
        raise usage_error("mine needs a pool file (-o FILE): its state file lives beside it")
    if retry_failed and not resume:
        raise usage_error("--retry-failed only makes sense with --resume")
    if no_gate and gate:
        raise usage_error("--gate and --no-gate contradict each other")
    prior = _category_weights(schedule, category_weights)
    p = _preset(preset)
    options = provider_options(None, concurrency, timeout, max_retries, no_cache)
    spec_list, input_errors = _inputs(specs, design, images, edits, output, resume, p, designer, designer_base_url,
                                      theme, design_batch, options)
    defaults = load_config("thresholds")["prefilter"]
    settings = MineSettings(
        out_dir=out,
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
        edit_params={"steps": steps or p.get("edit_steps"), "text_influence": text_influence, "image_influence": image_influence},
        bounds={k: p.get(k) for k in ("long_side_min", "long_side_max", "max_aspect")},
        weights=parse_weights(weights),
        device=device,
        dtype=dtype,
        keep_rejected=keep_rejected,
        budget_gpu_hours=budget_gpu_hours,
        gpus=gpus or int(p["gpus"]),
        until_first_pass=until_first_pass,
        overlap=overlap,
        resume=resume,
        retry_failed=retry_failed,
        schedule=schedule,
        category_weights=prior,
    )
    gate_provider = None if no_gate else _provider(gate or p["gate"], "--gate", gate_base_url, options)
    prefilter_provider = _provider(prefilter or p["prefilter"], "--prefilter", base_url, options)
    thresholds = Thresholds(  # T_aes, T_adh
        aesthetics=t_aes if t_aes is not None else float(p.get("t_aes", defaults["t_aes"])),
        instruction=t_adh if t_adh is not None else float(p.get("t_adh", defaults["t_adh"])),
    )
    ticker = _Progress(progress)
    try:
        try:
            run = MiningRun(
                settings, spec_list, gate=gate_provider, prefilter=Prefilter(prefilter_provider, thresholds, lowlevel=lowlevel),
                input_errors=input_errors, progress=ticker,
            )
        except (ValueError, RecordError) as exc:  # an editor that cannot mine, an unknown model
            raise usage_error(str(getattr(exc, "message", exc))) from None
        try:
            result = run.run()
        except ModelLoadError as exc:  # weights missing: say how to get them
            raise usage_error(exc.message) from None
    finally:
        ticker.stop()
        for provider in (gate_provider, prefilter_provider):
            if provider is not None:
                provider.close()
    _report(result, stats)
    if result["error_records"]:
        print(f"mine: {result['error_records']} error records in {settings.errors}", file=sys.stderr)
        raise typer.Exit(1)


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


def _report(result: dict[str, Any], stats: Path | None) -> None:
    import orjson
    from rich.console import Console

    from hilite_cli.stages.mine.stats import render

    console = Console(stderr=True)
    for renderable in render(result):
        console.print(renderable)
    if stats is not None:
        stats.parent.mkdir(parents=True, exist_ok=True)
        stats.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
