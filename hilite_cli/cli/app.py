"""The `hilite` command: wires the subcommands together, nothing else.

Each subcommand module imports only light modules at start-up; torch, diffusers, transformers,
cv2 and the provider SDKs load inside the code that needs them, so `--help` stays fast.
"""

from __future__ import annotations

import os
import sys

import typer

from hilite_cli import __version__
from hilite_cli.cli import debias, edit, export, mask, models, route, score_dataset

app = typer.Typer(
    name="hilite",
    help="Instruction-guided image editing and edit-dataset mining (HILITE + NoHumansRequired), as chainable JSONL stages.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        print(f"hilite {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    """Instruction-guided image editing and edit-dataset mining, as chainable JSONL stages."""


app.command("route", help=route.HELP, short_help=route.SHORT)(route.command)
app.command("edit", help=edit.HELP, short_help=edit.SHORT)(edit.command)
app.command("mask", help=mask.HELP, short_help=mask.SHORT)(mask.command)
app.command("models", help=models.HELP, short_help=models.SHORT)(models.command)
app.command("score-dataset", help=score_dataset.HELP, short_help=score_dataset.SHORT)(score_dataset.command)
app.command("debias", help=debias.HELP, short_help=debias.SHORT)(debias.command)
app.command("export", help=export.HELP, short_help=export.SHORT)(export.command)


def main() -> None:
    """Entry point: known errors become one actionable line; tracebacks only with HILITE_DEBUG=1."""
    try:
        app()
    except KeyboardInterrupt:
        print("hilite: interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001
        if os.environ.get("HILITE_DEBUG") == "1":
            raise
        print(f"hilite: error: {exc} (set HILITE_DEBUG=1 for the traceback)", file=sys.stderr)
        sys.exit(2)
