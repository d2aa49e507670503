"""`hilite mine` guards its pool like every stage guards its output: no aliasing, no second run at once,
no silent restart over a state file, nothing left behind by a run that stops before it starts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from mine.helpers import write_specs
from support.inproc import hilite_here
from support.photos import save_photo


HOLD_LOCK = "import sys, time\nfrom hilite_cli.outputs import RunLock\nRunLock(sys.argv[1]).acquire()\nprint('held', flush=True)\ntime.sleep(120)"


def _photo_args(folder: Path) -> tuple[str, ...]:
    photos = folder / "photos"
    photos.mkdir(exist_ok=True)
    save_photo(photos, "coffee", size=40)
    (folder / "edits.txt").write_text("make it grayscale\nmake it sepia\n")
    return ("mine", "--images", "photos", "--edits", "edits.txt", "--editor", "classic", "--attempts", "1",
            "--preset", "small", "--prefilter", "offline", "--no-gate", "--no-progress", "-o", "pool.jsonl", "--out", "mined")


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_run_that_stops_before_it_starts_leaves_nothing_behind(tmp_path: Path) -> None:
    write_specs(tmp_path / "specs.jsonl", [{"t2i_prompt": "a cat", "edits": ["make it winter"]}])
    res = hilite_here("mine", "specs.jsonl", "-o", "pool.jsonl", "--out", "mined", "--editor", "flux-kontext",
                      "--preset", "small", "--no-progress", cwd=tmp_path)
    assert res.returncode == 2 and b"flux-kontext" in res.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["specs.jsonl"]  # no pool, state, errors, lock or mined/

    (tmp_path / "mined").mkdir()
    (tmp_path / "mined" / "earlier.png").write_bytes(b"earlier work")
    again = hilite_here("mine", "specs.jsonl", "-o", "pool.jsonl", "--out", "mined", "--editor", "flux-kontext",
                        "--preset", "small", "--no-progress", cwd=tmp_path)
    assert again.returncode == 2 and (tmp_path / "mined" / "earlier.png").read_bytes() == b"earlier work"


def test_a_re_run_without_resume_keeps_the_pool_and_state(tmp_path: Path) -> None:
    args = _photo_args(tmp_path)
    first = hilite_here(*args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    before = _files(tmp_path)
    again = hilite_here(*args, cwd=tmp_path)
    assert again.returncode == 2
    assert b"pool.jsonl.state.jsonl" in again.stderr and b"--resume" in again.stderr and b"--overwrite" in again.stderr
    assert _files(tmp_path) == before
    fresh = hilite_here(*args, "--overwrite", cwd=tmp_path)
    assert fresh.returncode == 0, fresh.stderr
    state = [orjson.loads(x) for x in (tmp_path / "pool.jsonl.state.jsonl").read_bytes().splitlines()]
    assert len([e for e in state if e["type"] == "job"]) == 2  # started over: one line per job, not two


def test_a_corrupt_state_line_is_named_with_its_file_and_line(tmp_path: Path) -> None:
    args = _photo_args(tmp_path)
    assert hilite_here(*args, cwd=tmp_path).returncode == 0
    state = tmp_path / "pool.jsonl.state.jsonl"
    lines = state.read_bytes().splitlines(keepends=True)
    state.write_bytes(lines[0] + b"garbage, not JSON\n" + b"".join(lines[1:]))
    pool = (tmp_path / "pool.jsonl").read_bytes()
    res = hilite_here(*args, "--resume", cwd=tmp_path)
    assert res.returncode == 2
    message = res.stderr.decode().strip()
    assert "\n" not in message and f"state file {state.name}" in message and "line 2" in message
    assert (tmp_path / "pool.jsonl").read_bytes() == pool


@pytest.mark.parametrize("args", [("--stats", "edits.txt"), ("--errors", "pool.jsonl"), ("--stats", "./pool.jsonl.state.jsonl")])
def test_mine_outputs_cannot_alias(tmp_path: Path, args: tuple[str, ...]) -> None:
    base = _photo_args(tmp_path)
    before = _files(tmp_path)
    res = hilite_here(*base, *args, cwd=tmp_path)
    assert res.returncode == 2 and b"same file" in res.stderr
    assert _files(tmp_path) == before


def test_a_second_mine_on_a_locked_pool_exits_2_naming_the_holder(tmp_path: Path) -> None:
    args = _photo_args(tmp_path)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, "pool.jsonl"],
        stdout=subprocess.PIPE, cwd=tmp_path, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"held\n"
        res = hilite_here(*args, cwd=tmp_path)
        assert res.returncode == 2
        assert f"pid {holder.pid}".encode() in res.stderr and b"in use by another run" in res.stderr
        assert not (tmp_path / "pool.jsonl").exists() and not (tmp_path / "mined").exists()
    finally:
        holder.kill()
        holder.wait()
    assert hilite_here(*args, cwd=tmp_path).returncode == 0  # the lock dies with its holder
