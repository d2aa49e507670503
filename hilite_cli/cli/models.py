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
    json_lines: Annotated[bool, typer.Option("--json", help="One JSON object per model on stdout.")] = False,
) -> None:
    import orjson

    from hilite_cli.models.registry import load_registry

    specs = load_registry().values()
    if json_lines:
        for spec in specs:
            sys.stdout.buffer.write(orjson.dumps(spec.model_dump()) + b"\n")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="hilite image models", show_lines=False)
    for col in ("name", "kind", "hub id", "status", "needs", "prompt"):
        table.add_column(col, no_wrap=True, min_width=len(col))
    table.add_column("what it is", overflow="fold", ratio=1)
    for spec in specs:
        about = spec.note if spec.status == "implemented" else f"stands in for {spec.substitute_for}"
        table.add_row(spec.name, spec.kind, spec.hub_id or "—", spec.status, ", ".join(spec.needs) or "—",
                      spec.prompt_style, about)
    Console(width=max(Console().width, 220)).print(table)
