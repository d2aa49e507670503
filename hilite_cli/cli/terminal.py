"""What the terminal shows: progress totals and rich consoles that fit (or, in a log, print in full)."""

from __future__ import annotations

import logging
import os
import shlex
import sys
import warnings
from pathlib import Path
from typing import Any

import typer

from hilite_cli.manifest import STDIO

# A CI log has no width: tables there are printed at this width so no cell is cut ("Low-lev…").
LOG_WIDTH = 400


def count_lines(path: str) -> int | None:
    """Non-empty lines of a manifest file (a progress bar's total), or None for stdin or an unreadable file."""
    if path == STDIO:
        return None
    try:
        with Path(path).open("rb") as fh:
            return sum(1 for line in fh if line.strip())
    except OSError:
        return None


def stderr_console(**options: Any) -> Any:
    """A rich Console on stderr: the terminal's width on a terminal, `LOG_WIDTH` when stderr is a file or pipe."""
    from rich.console import Console

    if not sys.stderr.isatty():
        options.setdefault("width", LOG_WIDTH)
    return Console(stderr=True, **options)


def resume_command(argv: list[str] | None = None) -> str:
    """The command line that resumes this run: the same words plus `--resume`."""
    words = list(sys.argv[1:] if argv is None else argv)
    if "--resume" not in words:
        words.append("--resume")
    return shlex.join(["hilite", *words])


def interrupted(done: str, left: str, output: str) -> typer.Exit:
    """Report a Ctrl-C: what was done, what is left, how to go on; returns the exit (130) to raise."""
    print(f"\nhilite: interrupted. So far: {done}", file=sys.stderr)
    print(f"left: {left}", file=sys.stderr)
    if output == STDIO:
        print("the output went to stdout, which cannot be resumed: run again with -o FILE, then --resume", file=sys.stderr)
    else:
        print(f"what was written is kept; resume with: {resume_command()}", file=sys.stderr)
    return typer.Exit(130)


# Libraries whose warnings and info logs are noise at a terminal (shown again with -v).
NOISY = ("transformers", "diffusers", "huggingface_hub", "accelerate", "torch", "urllib3", "httpx", "httpcore", "PIL", "matplotlib",
         "ray")


def quiet_libraries() -> None:
    """Hide library FutureWarnings, deprecation notes and hub chatter; errors still show.

    Set before the libraries load (they read their verbosity variables on import), and passed on to
    worker processes through the environment; a variable the user set wins.
    """
    for variable in ("TRANSFORMERS_VERBOSITY", "DIFFUSERS_VERBOSITY", "HF_HUB_VERBOSITY"):
        os.environ.setdefault(variable, "error")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    os.environ.setdefault("PYTHONWARNINGS", "ignore::FutureWarning,ignore::DeprecationWarning")
    for category in (FutureWarning, DeprecationWarning, PendingDeprecationWarning):
        warnings.filterwarnings("ignore", category=category)
    warnings.filterwarnings("ignore", category=UserWarning, module=r"(transformers|diffusers|huggingface_hub|accelerate|torch)(\.|$)")
    for name in NOISY:
        logging.getLogger(name).setLevel(logging.ERROR)
