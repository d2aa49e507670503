"""`hilite models`: what the registry holds, and which entries are stand-ins."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

SHORT = "List the registered image models: kind, hub id, implemented or substitute."
HELP = f"""{SHORT}

Entries marked `substitute` run the closest diffusers-native pipeline for a model that has none
(InfEdit, DEADiff, AnyDoor); the table says what each stands in for.
"""


def command(
    json_lines: Annotated[bool, typer.Option("--jsonl", help="One JSON object per model on stdout (JSON lines).")] = False,
    old_json: Annotated[bool, typer.Option("--json", hidden=True)] = False,
) -> None:
    from hilite_cli.cli.aliases import renamed

    json_lines = renamed(json_lines, old_json or None, "--jsonl", "--json", False)
    import orjson

    from hilite_cli.models.registry import load_registry

    specs = load_registry().values()
    if json_lines:
        for spec in specs:
            sys.stdout.buffer.write(orjson.dumps(spec.model_dump()) + b"\n")
        return
    from rich import box
    from rich.console import Console
    from rich.table import Table

    # Fits a 100-column terminal: inputs and prompt style join the description, and long hub ids and
    # notes fold inside their cells instead of widening the table.
    table = Table(title="hilite image models", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for col in ("name", "kind", "status"):
        table.add_column(col, no_wrap=True)
    table.add_column("hub id", overflow="fold", max_width=22)
    table.add_column("what it is (needs; prompt style)", overflow="fold", ratio=1)
    for spec in specs:
        about = spec.note if spec.status == "implemented" else f"stands in for {spec.substitute_for}"
        needs = ", ".join(spec.needs) or "only the image"
        table.add_row(spec.name, spec.kind, spec.status, spec.hub_id or "—", f"{about} (needs: {needs}; prompt: {spec.prompt_style})")
    console = Console()
    Console(width=console.width if console.is_terminal else 100).print(table)
