"""`hilite models`: what the registry holds, which entries are stand-ins, and what can run here."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Annotated

import typer

from hilite_cli.cli.options import Device, Dtype, Weights

SHORT = "List the registered image models: kind, hub id, implemented or substitute; --check: can each run here."
HELP = f"""{SHORT}

Hosted editors (gemini-image:MODEL, openai-image:MODEL; -t2i for mining sources) need an API key,
not a GPU: any MODEL under those prefixes is accepted, the listed ones are known and priced. The
licence column says what each model's licence allows (the same field goes into every record it makes).
Entries marked `substitute` run the closest diffusers-native pipeline for a model that has none
(InfEdit, DEADiff, AnyDoor); the table says what each stands in for, and how its seeds run.
--knobs lists where each text/image influence level (0-10) lands on every model's own argument.
--check says per model whether it can run here: the Python packages it needs, whether its weights
are in the HF cache (or given with --weights), the device and dtype, and the memory its weights
take. Qwen-Image-Edit needs torchvision: pip install 'hilite_cli[qwen]'.
"""


def _seeds(spec: object) -> str:
    if getattr(spec, "seeds_note"):
        return getattr(spec, "seeds_note")
    if getattr(spec, "deterministic"):
        return "one candidate: deterministic, every seed gives the same image"
    if getattr(spec, "batching") == "per_seed":
        return f"one call per seed: {getattr(spec, 'batching_note')}"
    return "batched"


def command(
    json_lines: Annotated[bool, typer.Option("--jsonl", help="One JSON object per model on stdout (JSON lines).")] = False,
    old_json: Annotated[bool, typer.Option("--json", hidden=True)] = False,
    check: Annotated[bool, typer.Option("--check", help="Say per model whether it can run here, and why not.")] = False,
    knobs: Annotated[bool, typer.Option("--knobs", help="Where each influence level lands on each model's native argument.")] = False,
    weights: Weights = None,
    device: Device = None,
    dtype: Dtype = None,
) -> None:
    from hilite_cli.cli.aliases import renamed
    from hilite_cli.cli.params import check_model_options, parse_weights
    from hilite_cli.models.registry import load_registry

    json_lines = renamed(json_lines, old_json or None, "--jsonl", "--json", False)
    specs = list(load_registry().values())
    if check:
        check_model_options(device, dtype)
        _check(specs, parse_weights(weights), device, dtype, json_lines)
        return
    if knobs:
        _knobs(specs, json_lines)
        return
    if json_lines:
        _write_jsonl(spec.model_dump() for spec in specs)
        return
    from rich.table import Table

    table = Table(title="hilite image models", show_lines=True)
    table.add_column("name", no_wrap=True)
    table.add_column("kind / status / needs", overflow="fold")
    table.add_column("what it is", ratio=3, overflow="fold")
    table.add_column("seeds", ratio=1, overflow="fold")
    table.add_column("licence", ratio=1, overflow="fold")
    for spec in specs:
        about = spec.note if spec.status == "implemented" else f"stands in for {spec.substitute_for}"
        if spec.needs_note:
            about += f". Left out without {', '.join(spec.needs)}: {spec.needs_note}"
        table.add_row(spec.name, f"{spec.kind}\n{spec.status}\n{', '.join(spec.needs) or '—'}",
                      f"{about} [{spec.hub_id or 'no weights'}]", _seeds(spec), _licence(spec))
    _console().print(table)


def _licence(spec: object) -> str:
    """The licence and whether it allows commercial use, as the registry records them."""
    use = {True: "commercial use: yes", False: "commercial use: NO", None: "commercial use: not stated"}
    return f"{getattr(spec, 'licence') or 'not recorded'}\n{use[getattr(spec, 'commercial_use')]}"


def _write_jsonl(rows: Iterable[dict]) -> None:
    """--jsonl: each listing (models, --knobs, --check) prints one object per line the same way."""
    import orjson

    for row in rows:
        sys.stdout.buffer.write(orjson.dumps(row) + b"\n")


def _console() -> object:
    """Every listing's console. Cells are registry text, never markup: rich would read `[klein]` in
    "FLUX.2 [klein]" or `[qwen]` in `pip install 'hilite_cli[qwen]'` as a style tag and drop it."""
    from rich.console import Console

    return Console(width=None if sys.stdout.isatty() else 100, markup=False)


def _knobs(specs: list, json_lines: bool) -> None:
    from hilite_cli.models.registry import level_to_native, native_to_level, scale_levels

    levels = scale_levels()
    rows = []
    for spec in specs:
        for knob in ("text_influence", "image_influence"):
            rng = getattr(spec.scale, knob)
            if rng is None:
                continue
            default = getattr(spec.defaults, knob)
            rows.append({"model": spec.name, "knob": knob, "native": getattr(spec.knobs, knob),
                         "level_0": rng.level_0, "level_5": round(level_to_native(rng, levels / 2, levels), 4),
                         f"level_{levels}": rng.level_10, "default": default,
                         "default_level": native_to_level(rng, default, levels) if default is not None else None,
                         "source": rng.source})
        if spec.scale.steps is not None:
            rows.append({"model": spec.name, "knob": "steps", "native": spec.knobs.steps, "min": spec.scale.steps.min,
                         "max": spec.scale.steps.max, "default": spec.defaults.steps, "source": spec.scale.steps.source})
    if json_lines:
        _write_jsonl(rows)
        return
    from rich.table import Table

    table = Table(title=f"influence levels 0-{levels} on each model's own argument", show_lines=True)
    table.add_column("model / knob", no_wrap=True)
    table.add_column(f"native at level 0 / {levels // 2} / {levels}; default (its level)", overflow="fold")
    table.add_column("source", ratio=1, overflow="fold")
    for row in rows:
        if row["knob"] == "steps":
            span = f"{row['native']} {row['min']}..{row['max']} (enforced); default {row['default']}"
        else:
            default = f"{row['default']:g} ({row['default_level']:g})" if row["default"] is not None else "—"
            span = f"{row['native']} {row['level_0']:g} / {row['level_5']:g} / {row[f'level_{levels}']:g}; default {default}"
        table.add_row(f"{row['model']}\n{row['knob']}", span, row["source"])
    _console().print(table)


def _check(specs: list, weights: dict, device: str | None, dtype: str | None, json_lines: bool) -> None:
    from hilite_cli.models.availability import check_registry
    from hilite_cli.models.loader import resolve_device

    results = check_registry(specs, weights=weights, device=resolve_device(device), dtype=dtype)
    if json_lines:
        _write_jsonl(result.as_dict() for result in results)
        return
    from rich.table import Table

    table = Table(title="can each model run here?", show_lines=True)
    table.add_column("name", no_wrap=True)
    for col in ("runs", "weights", "device", "weights mem"):
        table.add_column(col, overflow="fold")
    table.add_column("why not", ratio=1, overflow="fold")
    for r in results:
        memory = "—" if r.weights_gib is None else f"{r.weights_gib:g} GiB {r.dtype}"
        table.add_row(r.name, "yes" if r.runnable else "no", r.weights, r.device, memory, "; ".join(r.reasons) or "—")
    _console().print(table)
    runnable = sum(r.runnable for r in results)
    print(f"{runnable} of {len(results)} models can run here", file=sys.stderr)
