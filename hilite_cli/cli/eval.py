"""`hilite eval`: judge an editor on GEdit-Bench or ImgEdit-Bench and print NHR Table 5/6 style scores."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from hilite_cli.cli.options import (
    BaseUrl, BatchApi, BatchWait, Concurrency, Device, Dtype, Errors, MaxRetries, NoCache, Output, Progress, Resume,
    Timeout, Weights,
)
from hilite_cli.cli.params import batch_options, batch_records_per_job, parse_weights, provider_error, provider_options
from hilite_cli.cli.runner import guard_outputs, locked, report_usage, usage_error

SHORT = "Evaluate an editor on GEdit-Bench (VIEScore SC/PQ/O) or ImgEdit-Bench (1-5 axes), per category."
HELP = f"""{SHORT}

\b
  hilite eval gedit --edited results/mymodel/fullset --judge openai:gpt-4.1 --json gedit.json
  hilite eval gedit --editor flux-kontext --out gedit-run/ --judge openai:Qwen/Qwen2.5-VL-72B-Instruct \\
      --base-url http://localhost:8000/v1 --prompts Step1X-Edit/GEdit-Bench/
  hilite eval imgedit --data ImgEdit/Basic/ --edited edited/ --judge gemini --prompts prompts.json \\
      --baseline before.json --max-drop 0.1
  hilite eval imgedit --data sysuyy/ImgEdit --metadata ImgEdit/Benchmark/Basic/basic_edit.json \\
      --edited edited/ --judge gemini --prompts ImgEdit/Benchmark/Basic/prompts.json

GEdit-Bench loads by hub id through `datasets` (--data, default stepfun-ai/GEdit-Bench) or from a
folder of its parquet files; edited images are EDITED/<task_type>/<language>/<key>.png. ImgEdit-Bench
loads by hub id (default sysuyy/ImgEdit: its Benchmark.tar is fetched through the HF cache and unpacked
once under HILITE_CACHE_DIR) or from a folder with basic_edit.json and its images; --metadata gives
basic_edit.json (from ImgEdit's GitHub repo) when the data has none. Edited images are EDITED/<key>.png. With
--editor, hilite edits each item (one seed) into --out/edited in that layout first; existing files are kept.

Judge prompts are the benchmarks' own. GEdit-Bench: VIEScore's (MIT, TIGER-AI-Lab/VIEScore, commit
2cbea4e) ship with hilite and are used by default; --prompts DIR reads them from your VIEScore or
Step1X-Edit checkout instead. ImgEdit-Bench publishes no licence, so its prompts are not bundled:
--prompts FILE is your copy of ImgEdit's prompts.json (required). Records and the summary name the
prompts used (bundled or path) and a hash of their text. A judge answer that fails or
cannot be read leaves the item's scores null with its status (errors manifest, exit 1): hilite never
guesses a score (VIEScore's own parser draws a random one). Per-item records go to -o, the summary
(per category, overall, and `category_weights` for `mine --schedule adaptive`) to --json.
Exit 3 when a mean fell more than --max-drop below --baseline.

--protocol careful (default) asks at temperature 0 with lossless PNG images and parses strictly.
--protocol reference reproduces the published harnesses so a published table can be matched:
GEdit-Bench's requests (edited image resized to the source's size, as both modes do; JPEG; the
API's default temperature; 1400 max tokens; the text before the images) and calculate_statistics.py's
np.mean arithmetic; ImgEdit's (the files' own bytes; the text first; integer `Name: N` lines; item
and type means rounded to 2 decimals, as step1/step2 do). Where it still differs from the harness
(never a random score for an unreadable reply, ...), the output says so. The summary records the protocol.
ImgEdit scores go to the axis each label names (the prompts order them differently per edit type).
"""


def _edit_fn(name: str, weights: dict[str, Path], device: str | None, dtype: str | None, seed: int) -> Any:
    """The registry model `name` as an (item, image) -> edited image function."""
    from hilite_cli.models.loader import load_model
    from hilite_cli.models.registry import effective_params, get_spec
    from hilite_cli.records import RecordError

    try:
        spec = get_spec(name)
    except (RecordError, ValueError) as exc:
        raise usage_error(f"--editor {name}: {getattr(exc, 'message', exc)}") from None
    if spec.kind == "t2i" or spec.prompt_style != "instruction":
        raise usage_error(f"--editor {name}: not an instruction-following editor (kind {spec.kind!r})")
    model = load_model(name, weights=weights, device=device, dtype=dtype)
    params = effective_params(spec, {})

    def edit(item: Any, image: Any) -> Any:
        return model.edit(image, prompt=item.instruction, seeds=[seed], params=params)[0]

    return edit


def _judge_prompts(benchmark: str, prompts: Path | None) -> Any:
    """GEdit: the bundled VIEScore texts unless --prompts names a checkout; ImgEdit: the user's file."""
    from hilite_cli.stages.eval.judge_prompts import bundled_viescore_prompts, imgedit_prompts, viescore_prompts

    if benchmark == "imgedit":
        if prompts is None:
            raise usage_error("imgedit needs --prompts FILE, your copy of ImgEdit's prompts.json (ImgEdit publishes "
                              "no licence, so hilite does not bundle it)")
        return imgedit_prompts(prompts)
    return bundled_viescore_prompts() if prompts is None else viescore_prompts(prompts)


def command(
    benchmark: Annotated[str, typer.Argument(help="Benchmark to run: gedit (GEdit-Bench) or imgedit (ImgEdit-Bench); its items come from --data, the edited images from --edited or --editor.", show_default=False)],
    judge: Annotated[str, typer.Option(help="Judge provider PROVIDER[:MODEL] (gemini, openai, openai with --base-url).")],
    prompts: Annotated[Path | None, typer.Option(help="gedit: a VIEScore/Step1X-Edit checkout overriding the bundled prompts; imgedit: your prompts JSON (required).")] = None,
    data: Annotated[str | None, typer.Option(help="Hub id or local folder of the benchmark [configs/eval.toml].")] = None,
    metadata: Annotated[Path | None, typer.Option(help="imgedit: your basic_edit.json, when --data has none (e.g. the hub archive).")] = None,
    edited: Annotated[Path | None, typer.Option(help="Folder of already edited images, in the benchmark's layout.")] = None,
    editor: Annotated[str | None, typer.Option(help="Registry model to run over the benchmark (writes --out/edited).")] = None,
    out: Annotated[Path, typer.Option("--out", help="Folder for source copies and edited images.")] = Path("eval-run"),
    output: Output = "-",
    errors: Errors = None,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write the summary JSON here.")] = None,
    language: Annotated[str | None, typer.Option(help="gedit: en, cn or all [configs/eval.toml: en].")] = None,
    subset: Annotated[str, typer.Option(help="gedit: fullset or intersection (GEdit's two reported subsets).")] = "fullset",
    protocol: Annotated[str, typer.Option(help="careful (hilite's: temperature 0, lossless images, strict parsing) or "
                                               "reference (the published harness's requests and arithmetic).")] = "careful",
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N items (a smoke run).")] = None,
    baseline: Annotated[Path | None, typer.Option(help="An earlier --json summary to gate against.")] = None,
    max_drop: Annotated[float | None, typer.Option(min=0.0, help="Largest allowed fall of any mean vs --baseline [configs].")] = None,
    resume: Resume = False,
    progress: Progress = True,
    weights: Weights = None,
    device: Device = None,
    dtype: Dtype = None,
    base_url: BaseUrl = None,
    concurrency: Concurrency = None,
    timeout: Timeout = None,
    max_retries: MaxRetries = None,
    no_cache: NoCache = False,
    batch_api: BatchApi = False,
    batch_wait: BatchWait = None,
) -> None:
    from hilite_cli.config import load_config
    from hilite_cli.manifest import default_errors_path
    from hilite_cli.providers import ProviderConfigError, get_provider
    from hilite_cli.stages.eval.benchmarks import BENCHMARKS, BenchmarkError, load_items
    from hilite_cli.stages.eval.gate import EXIT_REGRESSION, check_eval_regression, read_summary
    from hilite_cli.stages.eval.judge_prompts import PromptsError
    from hilite_cli.stages.eval.run import EvalRun, EvalSettings

    config = load_config("eval")
    if benchmark not in BENCHMARKS:
        raise usage_error(f"unknown benchmark {benchmark!r}; choose one of {', '.join(BENCHMARKS)}")
    if (edited is None) == (editor is None):
        raise usage_error("give exactly one of --edited DIR (already edited images) or --editor MODEL")
    if resume and output == "-":
        raise usage_error("--resume needs a per-item output file (-o FILE)")
    if metadata is not None and benchmark != "imgedit":
        raise usage_error("--metadata is for imgedit (its basic_edit.json); GEdit-Bench's table carries its own")
    lang = language or config["gedit"]["language"]
    if lang not in ("en", "cn", "all"):
        raise usage_error(f"--language must be en, cn or all, got {lang!r}")
    if subset not in ("fullset", "intersection"):
        raise usage_error(f"--subset must be fullset or intersection, got {subset!r}")
    if protocol not in ("careful", "reference"):
        raise usage_error(f"--protocol must be careful or reference, got {protocol!r}")
    errors_path = errors or default_errors_path(output, "eval")
    batch = batch_options(batch_api, batch_wait, output, "eval")
    per_job = batch_records_per_job("--judge", judge) if batch else None
    where = data or config[benchmark]["hub_id"]
    guard_outputs([("--prompts", prompts), ("--baseline", baseline), ("--metadata", metadata)],
                  [("-o", output), ("--errors" if errors else "the errors manifest", errors_path), ("--json", json_path),
                   ("the batch job ledger", batch.get("batch_state"))])
    try:
        base = read_summary(baseline) if baseline is not None else None
    except ValueError as exc:  # unreadable or not an eval summary: one line, before any judging
        raise usage_error(str(exc)) from None
    try:
        judge_prompts = _judge_prompts(benchmark, prompts)
        items = load_items(benchmark, where, out / "sources", lang, subset, metadata)
    except (PromptsError, BenchmarkError) as exc:
        raise usage_error(str(exc)) from None
    if not items:
        raise usage_error(f"{benchmark}: no items to evaluate (language {lang!r})")
    items = items[:limit] if limit else items
    if judge.split(":", 1)[0].strip().lower() == "offline":
        raise usage_error("--judge offline cannot score a benchmark: choose gemini, openai or an OpenAI-compatible server")
    try:
        provider = get_provider(judge, **provider_options(base_url, concurrency, timeout, max_retries, no_cache), **batch)
    except ProviderConfigError as exc:
        raise provider_error("--judge", judge, exc, fallback="") from None
    edit = _edit_fn(editor, parse_weights(weights), device, dtype, int(config["run"]["edit_seed"])) if editor else None
    settings = EvalSettings(benchmark=benchmark, edited=edited or out / "edited", output=output,
                            errors=errors_path, resume=resume, editor_name=editor,
                            judge_name=judge, recorded={"data": where,
                                                        **({"language": lang, "subset": subset} if benchmark == "gedit" else {})},
                            judge_batch=per_job, protocol=protocol)
    from tqdm import tqdm

    bar = tqdm(desc="eval", unit="item", file=sys.stderr, disable=None if progress else True, leave=False)

    def set_total(total: int) -> None:
        bar.total = total
        bar.refresh()

    try:
        with locked([output]):
            summary = EvalRun(settings, items, judge=provider, prompts=judge_prompts, edit=edit, on_total=set_total,
                              on_batch=bar.update).run()
    finally:
        bar.close()
        provider.close()
    report_usage("eval", [provider.usage])
    _report(summary, json_path, settings.errors, base)
    if base is not None:
        try:
            reasons = check_eval_regression(summary, base, max_drop if max_drop is not None else float(config["regression"]["max_drop"]))
        except ValueError as exc:
            raise usage_error(str(exc)) from None
        for reason in reasons:
            print(f"REGRESSION: {reason}", file=sys.stderr)
        if reasons:
            raise typer.Exit(EXIT_REGRESSION)
    if summary["items"] != summary["judged"]:
        raise typer.Exit(1)


def _report(summary: dict[str, Any], json_path: Path | None, errors: str, baseline: dict[str, Any] | None) -> None:
    import orjson
    from rich.console import Console

    from hilite_cli.stages.eval.aggregate import render

    Console(stderr=True, width=160).print(render(summary, baseline))
    for deviation in summary["settings"].get("deviations", []):
        print(f"eval: --protocol reference differs from the published harness: {deviation}", file=sys.stderr)
    failed = summary["items"] - summary["judged"]
    if failed:
        detail = ", ".join(f"{n} {s}" for s, n in summary["failures"].items())
        print(f"eval: {failed} of {summary['items']} items have no scores ({detail}); see {errors}", file=sys.stderr)
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2))
