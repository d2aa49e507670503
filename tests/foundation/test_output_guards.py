"""Every file a command writes is checked before anything is opened: against what it reads (by inode),
against its other outputs, against an earlier run's work, and against a run already writing it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from support.cli import hilite
from support.inproc import hilite_here
from support.photos import save_photo


def _tasks(folder: Path, n: int = 3, name: str = "t.jsonl") -> Path:
    img = save_photo(folder, "coffee", 16)
    path = folder / name
    path.write_bytes(b"".join(orjson.dumps({"id": f"t{i}", "image": img.name, "instruction": "x"}) + b"\n"
                              for i in range(n)))
    return path


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


MASK = ("mask", "--box", "0,0,0.5,0.5", "--out", "m", "--no-progress")


@pytest.mark.parametrize("case", ["errors-is-input", "errors-is-output", "hard-link", "symlink", "dot-slash"])
def test_an_output_that_aliases_an_input_or_another_output_is_refused_untouched(tmp_path: Path, case: str) -> None:
    tasks = _tasks(tmp_path)
    if case == "hard-link":
        os.link(tasks, tmp_path / "link.jsonl")
        args = ("-o", "link.jsonl")
    elif case == "symlink":
        (tmp_path / "sym.jsonl").symlink_to(tasks)
        args = ("-o", "sym.jsonl")
    elif case == "dot-slash":
        args = ("-o", "./t.jsonl")
    elif case == "errors-is-input":
        args = ("-o", "out.jsonl", "--errors", "t.jsonl")
    else:
        args = ("-o", "out.jsonl", "--errors", "out.jsonl")
    before = _snapshot(tmp_path)
    res = hilite_here(*MASK[:1], "t.jsonl", *MASK[1:], *args, cwd=tmp_path)
    assert res.returncode == 2, res.stderr
    lines = res.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and "same file" in lines[0]
    named = "--errors" if case.startswith("errors") else "-o"
    other = "-o" if case == "errors-is-output" else "the input manifest"
    assert named in lines[0] and other in lines[0]
    assert _snapshot(tmp_path) == before  # nothing written, nothing truncated, no ledger, no lock file left


def test_validate_errors_onto_its_input_keeps_the_input(tmp_path: Path) -> None:
    tasks = _tasks(tmp_path)
    before = tasks.read_bytes()
    res = hilite_here("validate", "t.jsonl", "--judge", "offline", "-o", "out.jsonl", "--errors", "t.jsonl", cwd=tmp_path)
    assert res.returncode == 2 and tasks.read_bytes() == before
    assert not (tmp_path / "out.jsonl").exists()


@pytest.mark.parametrize("args", [
    ("--export", "kto", "t.jsonl"),
    ("--dataset", ".", "--format", "ip2p"),  # its metadata.jsonl would land on ./metadata.jsonl
])
def test_validate_exports_are_checked_before_the_run(tmp_path: Path, args: tuple[str, ...]) -> None:
    tasks = _tasks(tmp_path)
    name = "metadata.jsonl" if "--dataset" in args else "t.jsonl"
    if name != "t.jsonl":
        tasks.rename(tmp_path / name)
    before = _snapshot(tmp_path)
    res = hilite_here("validate", name, "--judge", "offline", "-o", "out.jsonl", *args, cwd=tmp_path)
    assert res.returncode == 2 and b"same file" in res.stderr, res.stderr
    assert _snapshot(tmp_path) == before


@pytest.mark.parametrize("args", [
    ("--format", "kto", "--to", "t.jsonl"),
    ("--format", "dpo", "--to", "out.jsonl", "--errors", "t.jsonl"),
    ("--format", "nhr", "--to", "."),
])
def test_export_onto_its_input_is_refused(tmp_path: Path, args: tuple[str, ...]) -> None:
    tasks = _tasks(tmp_path)
    if "nhr" in args:  # nhr writes NHR-Edit's train/metadata.jsonl
        (tmp_path / "train").mkdir()
        tasks = tasks.rename(tmp_path / "train" / "metadata.jsonl")
    before = _snapshot(tmp_path)
    res = hilite_here("export", str(tasks.relative_to(tmp_path)), *args, cwd=tmp_path)
    assert res.returncode == 2 and b"same file" in res.stderr, res.stderr
    assert _snapshot(tmp_path) == before


def test_score_dataset_and_debias_outputs_cannot_alias_their_inputs(tmp_path: Path) -> None:
    tasks = _tasks(tmp_path)
    before = _snapshot(tmp_path)
    res = hilite_here("score-dataset", "t.jsonl", "--metrics", "lowlevel", "--json", "t.jsonl", cwd=tmp_path)
    assert res.returncode == 2 and b"--json" in res.stderr and b"same file" in res.stderr
    res = hilite_here("debias", "t.jsonl", "--report", "./t.jsonl", cwd=tmp_path)
    assert res.returncode == 2 and b"--report" in res.stderr and b"same file" in res.stderr
    assert _snapshot(tmp_path) == before and tasks.is_file()


def test_one_off_mask_cannot_overwrite_its_image(tmp_path: Path) -> None:
    img = save_photo(tmp_path, "coffee", 16)
    before = img.read_bytes()
    res = hilite_here("mask", img.name, "--box", "0,0,0.5,0.5", "-o", img.name, cwd=tmp_path)
    assert res.returncode == 2 and b"same file" in res.stderr and img.read_bytes() == before


def test_a_re_run_without_resume_refuses_to_wipe_the_ledger(tmp_path: Path) -> None:
    _tasks(tmp_path)
    args = (*MASK[:1], "t.jsonl", *MASK[1:], "-o", "out.jsonl")
    assert hilite_here(*args, cwd=tmp_path).returncode == 0
    before = _snapshot(tmp_path)
    again = hilite_here(*args, cwd=tmp_path)
    assert again.returncode == 2
    assert b"--resume" in again.stderr and b"--overwrite" in again.stderr and b"out.jsonl.done" in again.stderr
    assert _snapshot(tmp_path) == before
    assert hilite_here(*args, "--resume", "--overwrite", cwd=tmp_path).returncode == 2  # one or the other
    fresh = hilite_here(*args, "--overwrite", cwd=tmp_path)
    assert fresh.returncode == 0 and b"3 done" in fresh.stderr
    assert len((tmp_path / "out.jsonl").read_bytes().splitlines()) == 3


def test_a_plain_manifest_without_a_ledger_is_overwritten_like_any_unix_filter(tmp_path: Path) -> None:
    _tasks(tmp_path)
    (tmp_path / "out.jsonl").write_text('{"id": "old"}\n')
    res = hilite_here(*MASK[:1], "t.jsonl", *MASK[1:], "-o", "out.jsonl", cwd=tmp_path)
    assert res.returncode == 0
    assert [orjson.loads(x)["id"] for x in (tmp_path / "out.jsonl").read_bytes().splitlines()] == ["t0", "t1", "t2"]


@pytest.mark.parametrize("stage", [("bootstrap",), ("validate", "--judge", "offline", "--select", "best")])
def test_runs_that_cannot_resume_keep_no_ledger_and_can_run_again(tmp_path: Path, stage: tuple[str, ...]) -> None:
    _tasks(tmp_path)
    args = (stage[0], "t.jsonl", *stage[1:], "-o", "b.jsonl", "--no-progress")
    res = hilite(*args, cwd=tmp_path)
    assert res.returncode in (0, 1)
    assert not (tmp_path / "b.jsonl.done").exists()
    assert hilite(*args, cwd=tmp_path).returncode == res.returncode


def test_a_second_run_into_a_locked_output_exits_2_naming_the_first(tmp_path: Path) -> None:
    """Two real processes: the first reads a slow stdin and holds the output; the second is refused."""
    img = save_photo(tmp_path, "coffee", 16)
    records = [orjson.dumps({"id": f"t{i}", "image": img.name, "instruction": "x"}) for i in range(6)]
    (tmp_path / "t.jsonl").write_bytes(b"\n".join(records) + b"\n")
    first = subprocess.Popen([sys.executable, "-m", "hilite_cli", *MASK[:1], "-", *MASK[1:], "-o", "out.jsonl"],
                             stdin=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path, env=os.environ.copy())
    try:
        assert first.stdin is not None
        first.stdin.write(records[0] + b"\n")
        first.stdin.flush()
        deadline = time.time() + 60
        while time.time() < deadline and not (tmp_path / "out.jsonl").is_file():
            time.sleep(0.05)
        second = hilite(*MASK[:1], "t.jsonl", *MASK[1:], "-o", "out.jsonl", "--resume", cwd=tmp_path)
        assert second.returncode == 2
        message = second.stderr.decode()
        assert f"pid {first.pid}" in message and "in use by another run" in message and "mask -" in message
        for rec in records[1:]:
            first.stdin.write(rec + b"\n")
        first.stdin.close()
        assert first.wait(timeout=120) == 0
    finally:
        if first.poll() is None:
            first.kill()
    ids = [orjson.loads(x)["id"] for x in (tmp_path / "out.jsonl").read_bytes().splitlines()]
    assert ids == [f"t{i}" for i in range(6)]
    assert not (tmp_path / "out.jsonl.lock").exists()  # released and removed
    after = hilite(*MASK[:1], "t.jsonl", *MASK[1:], "-o", "out.jsonl", "--resume", cwd=tmp_path)
    assert after.returncode == 0 and b"6 skipped" in after.stderr


def test_an_image_given_as_a_manifest_is_one_line_and_exit_2(tmp_path: Path) -> None:
    img = save_photo(tmp_path, "coffee", 64)
    res = hilite_here("validate", img.name, "--judge", "offline", "-o", "out.jsonl", cwd=tmp_path)
    assert res.returncode == 2
    assert res.stderr.decode().strip().count("\n") == 0 and b"PNG image, not JSONL" in res.stderr
    assert not (tmp_path / "out.jsonl").exists() and not (tmp_path / "out.jsonl.errors.jsonl").exists()
    piped = hilite("route", "-", stdin=img.read_bytes(), cwd=tmp_path)  # the same on stdin
    assert piped.returncode == 2 and b"stdin is a PNG image" in piped.stderr and piped.stdout == b""
    (tmp_path / "blob.jsonl").write_bytes(bytes(range(256)) * 8)
    res = hilite_here("score-dataset", "blob.jsonl", "--metrics", "lowlevel", cwd=tmp_path)
    assert res.returncode == 2 and b"not JSONL" in res.stderr


@pytest.mark.parametrize("args", [
    ("route", "missing.png", "make it winter"),
    ("route", "coffee.png", "make it winter", "--mask", "nomask.png"),
    ("edit", "coffee.png", "make it winter", "--reference", "noref.png", "--out", "o"),
    ("mask", "missing.png", "--box", "0,0,1,1"),
])
def test_one_off_forms_with_a_missing_image_exit_2(tmp_path: Path, args: tuple[str, ...]) -> None:
    save_photo(tmp_path, "coffee", 16)
    res = hilite_here(*args, cwd=tmp_path)
    assert res.returncode == 2, res.stderr
    assert res.stdout == b"" and b"not found" in res.stderr


def test_long_utf8_lines_are_not_mistaken_for_binary(tmp_path: Path) -> None:
    """The sniffed first KiBs may end inside a multi-byte character, or inside one long line."""
    img = save_photo(tmp_path, "coffee", 16)
    record = {"id": "long", "image": img.name, "instruction": "é" * 5000}
    (tmp_path / "t.jsonl").write_bytes(orjson.dumps(record) + b"\n")
    res = hilite_here("mask", "t.jsonl", "--box", "0,0,1,1", "--out", "m", "-o", "o.jsonl", "--no-progress", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
