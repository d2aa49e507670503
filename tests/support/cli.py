"""Run `hilite` as a user would: a real subprocess, real stdin/stdout."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def hilite(*args: str, stdin: bytes | None = None, cwd: Path | None = None, env: dict[str, str] | None = None,
           timeout: float = 300) -> subprocess.CompletedProcess[bytes]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "hilite_cli", *args],
        input=stdin,
        capture_output=True,
        cwd=cwd,
        env=full_env,
        timeout=timeout,
    )
