"""A run killed half-way and re-run with --resume ends with each record exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson

from support.cli import hilite
from support.photos import save_photo


def test_kill_then_resume_writes_each_record_once(tmp_path: Path) -> None:
    img = save_photo(tmp_path, "astronaut", 32)
    records = [orjson.dumps({"id": f"t{i:02d}", "image": img.name, "instruction": "x"}) for i in range(30)]
    manifest = tmp_path / "tasks.jsonl"
    manifest.write_bytes(b"\n".join(records) + b"\n")
    out = tmp_path / "out.jsonl"

    # Feed stdin slowly and SIGKILL the stage once some records are out.
    proc = subprocess.Popen(
        [sys.executable, "-m", "hilite_cli", "mask", "-", "--box", "0,0,0.5,0.5", "--out", "m", "-o", str(out)],
        stdin=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=tmp_path, env=os.environ.copy(),
    )
    for rec in records[:12]:
        proc.stdin.write(rec + b"\n")
        proc.stdin.flush()
    deadline = time.time() + 60
    while time.time() < deadline and (not out.exists() or out.read_bytes().count(b"\n") < 8):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    first = out.read_bytes()
    assert 8 <= first.count(b"\n") <= 12
    with out.open("ab") as fh:  # what a kill in the middle of a write would leave behind
        fh.write(b'{"id": "t99", "ima')

    res = hilite("mask", str(manifest), "--box", "0,0,0.5,0.5", "--out", "m", "-o", str(out), "--resume", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    ids = [orjson.loads(x)["id"] for x in out.read_bytes().splitlines()]
    assert sorted(ids) == [f"t{i:02d}" for i in range(30)]
    assert len(ids) == len(set(ids))
    assert out.read_bytes().startswith(first)
    assert b"skipped" in res.stderr


def test_resume_retries_failed_records_but_not_done_ones(tmp_path: Path) -> None:
    img = save_photo(tmp_path, "astronaut", 32)
    rows = [{"id": "ok", "image": img.name}, {"id": "later", "image": "later.png"}]
    (tmp_path / "t.jsonl").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    args = ("mask", "t.jsonl", "--box", "0,0,0.5,0.5", "--out", "m", "-o", "o.jsonl")
    first = hilite(*args, cwd=tmp_path)
    assert first.returncode == 1 and b"later.png" in first.stderr
    save_photo(tmp_path, "astronaut", 32).rename(tmp_path / "later.png")  # the missing file appears
    again = hilite(*args, "--resume", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert b"1 done, 0 failed, 1 skipped" in again.stderr
    assert [orjson.loads(x)["id"] for x in (tmp_path / "o.jsonl").read_bytes().splitlines()] == ["ok", "later"]
