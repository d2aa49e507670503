"""Ctrl-C says what was done, what is left and the exact command that resumes the run (exit 130)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson

from support.photos import save_photo


def test_ctrl_c_reports_progress_and_the_resume_command(tmp_path: Path) -> None:
    img = save_photo(tmp_path, "coffee", 32)
    tasks = b"".join(orjson.dumps({"id": f"t{i}", "image": img.name, "instruction": "make it warmer"}) + b"\n" for i in range(64))
    proc = subprocess.Popen([sys.executable, "-m", "hilite_cli", "route", "-", "-o", "routes.jsonl", "--no-progress"],
                            stdin=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
    proc.stdin.write(tasks)  # the pipe stays open: the run waits for more, as a long run would
    proc.stdin.flush()
    out = tmp_path / "routes.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (out.is_file() and out.read_bytes().count(b"\n") >= 32):
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    text = err.decode()
    done = out.read_bytes().count(b"\n")
    assert f"So far: route: {done} done, 0 failed" in text
    assert "left: the rest of the input stream" in text
    assert "resume with: hilite route - -o routes.jsonl --no-progress --resume" in text
