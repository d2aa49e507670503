"""What the terminal shows: progress totals and rich consoles that fit (or, in a log, print in full)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

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
