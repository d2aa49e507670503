"""Run `hilite` in this process (models and imports stay warm), with the same result shape as `support.cli`."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


def hilite_here(*args: str, cwd: Path, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """The command as `hilite ARGS` would run it from `cwd` (pair options joined as `main()` does)."""
    from typer.testing import CliRunner

    from hilite_cli.cli.app import app, join_pair_options

    before = os.getcwd()
    os.chdir(cwd)
    try:
        result = CliRunner().invoke(app, join_pair_options(list(args)), input=stdin, catch_exceptions=False)
    finally:
        os.chdir(before)
    return subprocess.CompletedProcess(list(args), result.exit_code, result.stdout_bytes, result.stderr_bytes)
