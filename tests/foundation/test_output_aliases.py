"""Issue 29's output-safety cases: every file a run writes (derived files included), stdin, devices,
symlinks, hard links and shared --errors files go through one guard, and nothing a user had is lost."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson
import pytest
from support.cli import hilite
from support.inproc import hilite_here
from support.photos import save_photo

VALIDATE = ("validate", "--judge", "offline", "--no-progress")


def _candidates(folder: Path, n: int = 30, name: str = "c.jsonl", missing_every: int = 0) -> Path:
    src = save_photo(folder, "coffee", 16)
    edited = save_photo(folder, "astronaut", 16)
    # judged candidates (scores a kto/dpo export can use), as validate --keep all writes them
    rows = [{"id": f"c{i:03d}", "parent": f"t{i % 3}", "image": src.name, "instruction": f"edit {i % 3}", "model": "m",
             "seed": i, "output": "gone.png" if missing_every and i % missing_every == 0 else edited.name,
             "scores": {"instruction": 4.0 + (i % 5) / 5, "aesthetics": 4.8}}
            for i in range(n)]
    path = folder / name
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return path


def _ids(path: Path) -> list[str]:
    return [orjson.loads(x)["id"] for x in path.read_bytes().splitlines()]


def _one_line(res: subprocess.CompletedProcess[bytes]) -> str:
    lines = res.stderr.decode().strip().splitlines()
    assert len(lines) == 1, res.stderr
    return lines[0]


# 1. derived paths are outputs too
@pytest.mark.parametrize("suffix", [".lock", ".done", ".errors.jsonl", ".batches.jsonl"])
def test_an_input_that_is_a_file_the_run_derives_from_its_output_is_refused(tmp_path: Path, suffix: str) -> None:
    tasks = _candidates(tmp_path)
    derived = tmp_path / f"out.jsonl{suffix}"
    derived.write_bytes(tasks.read_bytes())
    res = hilite_here(*VALIDATE[:1], derived.name, *VALIDATE[1:], "-o", "out.jsonl", cwd=tmp_path)
    assert res.returncode == 2
    line = _one_line(res)
    assert "same file" in line and derived.name in line and "the input manifest" in line
    assert derived.read_bytes() == tasks.read_bytes() and not (tmp_path / "out.jsonl").exists()


def test_mine_refuses_specs_that_are_its_state_file(tmp_path: Path) -> None:
    (tmp_path / "pool.jsonl.state.jsonl").write_text('{"id": "s1", "t2i_prompt": "a cat", "edits": ["x"]}\n')
    before = (tmp_path / "pool.jsonl.state.jsonl").read_bytes()
    res = hilite_here("mine", "pool.jsonl.state.jsonl", "-o", "pool.jsonl", "--no-progress", cwd=tmp_path)
    assert res.returncode == 2 and b"same file" in res.stderr and b"state file" in res.stderr
    assert (tmp_path / "pool.jsonl.state.jsonl").read_bytes() == before


# 2. stdin that is the output file
def test_stdin_redirected_from_the_output_file_is_refused(tmp_path: Path) -> None:
    tasks = _candidates(tmp_path, 300)
    before = tasks.read_bytes()
    with tasks.open("rb") as fh:
        res = subprocess.run([sys.executable, "-m", "hilite_cli", *VALIDATE[:1], "-", *VALIDATE[1:], "-o", tasks.name],
                             stdin=fh, capture_output=True, cwd=tmp_path, env=os.environ.copy(), timeout=300)
    assert res.returncode == 2
    assert "-o c.jsonl and the input manifest stdin are the same file" in _one_line(res)
    assert tasks.read_bytes() == before


# 3. devices, FIFOs and links into /dev or /proc are written in place, never replaced
def test_errors_through_a_link_to_proc_stdout_streams_and_keeps_the_link(tmp_path: Path) -> None:
    _candidates(tmp_path, 9, missing_every=3)
    link = tmp_path / "stdout-link"
    link.symlink_to("/proc/self/fd/1")
    res = hilite(*VALIDATE[:1], "c.jsonl", *VALIDATE[1:], "-o", "out.jsonl", "--errors", link.name, cwd=tmp_path)
    assert res.returncode == 1, res.stderr
    assert link.is_symlink() and os.readlink(link) == "/proc/self/fd/1"
    streamed = [orjson.loads(x) for x in res.stdout.splitlines()]
    assert sorted(r["id"] for r in streamed) == ["c000", "c003", "c006"]
    assert len(_ids(tmp_path / "out.jsonl")) == 6


def test_an_output_that_is_a_fifo_is_streamed_with_no_ledger(tmp_path: Path) -> None:
    _candidates(tmp_path, 6)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    proc = subprocess.Popen([sys.executable, "-m", "hilite_cli", *VALIDATE[:1], "c.jsonl", *VALIDATE[1:], "-o", "pipe"],
                            cwd=tmp_path, env=os.environ.copy(), stderr=subprocess.PIPE)
    with fifo.open("rb") as reader:
        data = reader.read()
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert len(data.splitlines()) == 6 and stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert not (tmp_path / "pipe.done").exists() and not (tmp_path / "pipe.lock").exists()
    again = hilite_here(*VALIDATE[:1], "c.jsonl", *VALIDATE[1:], "-o", "pipe", "--resume", cwd=tmp_path)
    assert again.returncode == 2 and b"not a regular file" in again.stderr


def test_an_export_to_a_link_into_dev_writes_through_it(tmp_path: Path) -> None:
    _candidates(tmp_path, 4)
    link = tmp_path / "null-link"
    link.symlink_to(os.devnull)
    res = hilite_here("export", "c.jsonl", "--format", "kto", "--to", link.name, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert link.is_symlink() and stat.S_ISCHR(os.stat(os.devnull).st_mode)


# 4. --resume checks the ledger against the output
@pytest.mark.parametrize("damage", ["deleted", "shorter", "other-records"])
def test_resume_refuses_an_output_that_no_longer_matches_its_ledger(tmp_path: Path, damage: str) -> None:
    _candidates(tmp_path, 30)
    args = (*VALIDATE[:1], "c.jsonl", *VALIDATE[1:], "--batch-size", "4", "-o", "out.jsonl")
    assert hilite_here(*args, cwd=tmp_path).returncode == 0
    out = tmp_path / "out.jsonl"
    lines = out.read_bytes().splitlines(keepends=True)
    if damage == "deleted":
        out.unlink()
    elif damage == "shorter":
        out.write_bytes(b"".join(lines[:20]))
    else:
        out.write_bytes(b"".join(lines[:29]) + b'{"id": "someone-else"}\n')
    before = out.read_bytes() if out.exists() else None
    res = hilite_here(*args, "--resume", cwd=tmp_path)
    assert res.returncode == 2
    line = _one_line(res)
    assert "cannot resume" in line and "out.jsonl.done" in line and "--overwrite" in line
    assert (out.read_bytes() if out.exists() else None) == before
    fresh = hilite_here(*args, "--overwrite", cwd=tmp_path)
    assert fresh.returncode == 0 and len(_ids(out)) == 30


def test_resume_after_a_clean_run_still_skips_everything(tmp_path: Path) -> None:
    _candidates(tmp_path, 12)
    args = (*VALIDATE[:1], "c.jsonl", *VALIDATE[1:], "--batch-size", "5", "-o", "out.jsonl")
    assert hilite_here(*args, cwd=tmp_path).returncode == 0
    res = hilite_here(*args, "--resume", cwd=tmp_path)
    assert res.returncode == 0 and b"12 skipped" in res.stderr
    assert len(_ids(tmp_path / "out.jsonl")) == 12


# 5-7. exports replace only what an export wrote, and only with --overwrite
def _triplets(folder: Path, images: Path, n: int = 3) -> Path:
    images.mkdir(parents=True, exist_ok=True)
    src = save_photo(images, "coffee", 16)
    edited = save_photo(images, "astronaut", 16)
    rows = [{"id": f"x{i}", "source": str(src), "edited": str(edited), "instruction": f"edit {i}", "kind": "forward",
             "scores": {"instruction": 4.9, "aesthetics": 4.8, "geometric": 4.85}} for i in range(n)]
    path = folder / "t.jsonl"
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return path


def test_export_overwrite_never_deletes_the_images_it_exports(tmp_path: Path) -> None:
    _triplets(tmp_path, tmp_path / "proj" / "images")
    before = {p.name: p.read_bytes() for p in (tmp_path / "proj" / "images").iterdir()}
    res = hilite_here("export", "t.jsonl", "--format", "ip2p", "--to", "proj", "--overwrite", cwd=tmp_path)
    assert res.returncode == 2 and b"no record of an export" in res.stderr
    assert {p.name: p.read_bytes() for p in (tmp_path / "proj" / "images").iterdir()} == before


def test_export_overwrite_keeps_an_earlier_exports_images_the_input_points_at(tmp_path: Path) -> None:
    _triplets(tmp_path, tmp_path / "photos")
    assert hilite_here("export", "t.jsonl", "--format", "ip2p", "--to", "proj", cwd=tmp_path).returncode == 0
    exported = sorted((tmp_path / "proj" / "images").iterdir())
    rows = [{"id": f"y{i}", "source": str(exported[0]), "edited": str(exported[-1]), "instruction": "again",
             "kind": "forward"} for i in range(2)]
    (tmp_path / "again.jsonl").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    res = hilite_here("export", "again.jsonl", "--format", "ip2p", "--to", "proj", "--overwrite", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert all(p.is_file() for p in exported)
    listed = orjson.loads((tmp_path / "proj" / ".hilite-export.json").read_bytes())["files"]
    assert "metadata.jsonl" in listed and all(f"images/{p.name}" in listed for p in exported)


def test_validate_dataset_into_an_earlier_export_needs_overwrite(tmp_path: Path) -> None:
    _candidates(tmp_path, 6)
    first = hilite_here(*VALIDATE[:1], "c.jsonl", *VALIDATE[1:], "--dataset", "ds", "-o", "a.jsonl", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    (tmp_path / "ds" / "metadata.jsonl").write_text('{"file_name": "precious"}\n')
    (tmp_path / "ds" / ".hilite-export.json").write_text('{"files": ["metadata.jsonl"]}')
    before = (tmp_path / "ds" / "metadata.jsonl").read_bytes()
    res = hilite_here(*VALIDATE[:1], "c.jsonl", *VALIDATE[1:], "--dataset", "ds", "-o", "b.jsonl", cwd=tmp_path)
    assert res.returncode == 2 and b"--dataset ds is not empty" in res.stderr and b"--overwrite" in res.stderr
    assert (tmp_path / "ds" / "metadata.jsonl").read_bytes() == before and not (tmp_path / "b.jsonl").exists()


@pytest.mark.parametrize("fmt", ["kto", "dpo"])
def test_a_single_file_export_refuses_an_existing_file_without_overwrite(tmp_path: Path, fmt: str) -> None:
    _candidates(tmp_path, 4)
    (tmp_path / "prefs.jsonl").write_text('{"kept": true}\n')
    res = hilite_here("export", "c.jsonl", "--format", fmt, "--to", "prefs.jsonl", cwd=tmp_path)
    assert res.returncode == 2 and b"already exists" in res.stderr and b"--overwrite" in res.stderr
    assert (tmp_path / "prefs.jsonl").read_text() == '{"kept": true}\n'
    res = hilite_here(*VALIDATE[:1], "c.jsonl", *VALIDATE[1:], "--export", f"{fmt}=prefs.jsonl", "-o", "o.jsonl",
                      cwd=tmp_path)
    assert res.returncode == 2 and (tmp_path / "prefs.jsonl").read_text() == '{"kept": true}\n'
    assert hilite_here("export", "c.jsonl", "--format", fmt, "--to", "prefs.jsonl", "--overwrite",
                       cwd=tmp_path).returncode == 0


# 8. a symlinked output is written through to its target
@pytest.mark.parametrize("option", ["-o", "--errors"])
def test_a_symlinked_output_writes_its_target_and_keeps_the_link(tmp_path: Path, option: str) -> None:
    _candidates(tmp_path, 9, missing_every=3)
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "file.jsonl"
    target.write_text("")
    (tmp_path / "link.jsonl").symlink_to(target)
    args = ("-o", "link.jsonl") if option == "-o" else ("-o", "out.jsonl", "--errors", "link.jsonl")
    res = hilite_here(*VALIDATE[:1], "c.jsonl", *VALIDATE[1:], *args, cwd=tmp_path)
    assert res.returncode == 1, res.stderr
    assert (tmp_path / "link.jsonl").is_symlink()
    assert len(_ids(target)) == (6 if option == "-o" else 3)
    if option == "-o":  # its ledger and lock live beside the target, where every link to it finds them
        assert (tmp_path / "real" / "file.jsonl.done").is_file()
        again = hilite_here(*VALIDATE[:1], "c.jsonl", *VALIDATE[1:], "-o", "link.jsonl", "--resume", cwd=tmp_path)
        assert again.returncode == 1 and b"6 skipped" in again.stderr


# 9-10. one run per file, whatever its name; --errors is locked like -o
@contextmanager
def _holding(tmp_path: Path, *args: str) -> Iterator[subprocess.Popen[bytes]]:
    """A mask run that reads a slow stdin, so it holds its outputs' locks until the block ends."""
    save_photo(tmp_path, "coffee", 16)
    records = [orjson.dumps({"id": f"t{i}", "image": "coffee.png", "instruction": "x"}) for i in range(4)]
    proc = subprocess.Popen([sys.executable, "-m", "hilite_cli", "mask", "-", "--box", "0,0,1,1", "--out", "m",
                             "--no-progress", *args], stdin=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path,
                            env=os.environ.copy())
    try:
        assert proc.stdin is not None
        proc.stdin.write(records[0] + b"\n")
        proc.stdin.flush()
        out = tmp_path / args[args.index("-o") + 1]
        deadline = time.time() + 60
        lock = Path(f"{os.path.realpath(out)}.lock")  # taken when the run starts, before any line is written
        while time.time() < deadline and not lock.exists() and not (out.is_file() and out.stat().st_size):
            time.sleep(0.05)
        time.sleep(0.5)  # from the lock file's creation to its flock
        yield proc
        for rec in records[1:]:
            proc.stdin.write(rec + b"\n")
        proc.stdin.close()
        assert proc.wait(timeout=120) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def _mask(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    (tmp_path / "t.jsonl").write_bytes(b'{"id": "z", "image": "coffee.png", "instruction": "x"}\n')
    return hilite("mask", "t.jsonl", "--box", "0,0,1,1", "--out", "m", "--no-progress", *args, cwd=tmp_path)


@pytest.mark.parametrize("link", ["hard", "symbolic"])
def test_two_runs_into_one_file_under_two_names_cannot_both_write(tmp_path: Path, link: str) -> None:
    (tmp_path / "out.jsonl").write_text("")
    if link == "hard":
        os.link(tmp_path / "out.jsonl", tmp_path / "other.jsonl")
    else:
        (tmp_path / "other.jsonl").symlink_to("out.jsonl")
    with _holding(tmp_path, "-o", "out.jsonl"):
        second = _mask(tmp_path, "-o", "other.jsonl", "--resume")
        assert second.returncode == 2 and b"in use by another run" in second.stderr, second.stderr
    assert _ids(tmp_path / "out.jsonl") == ["t0", "t1", "t2", "t3"]


@pytest.mark.parametrize("clash", ["same-errors", "errors-is-output"])
def test_a_run_cannot_write_another_runs_errors_manifest(tmp_path: Path, clash: str) -> None:
    with _holding(tmp_path, "-o", "a.jsonl", "--errors", "s.jsonl"):
        args = ("-o", "b.jsonl", "--errors", "s.jsonl") if clash == "same-errors" else ("-o", "s.jsonl")
        second = _mask(tmp_path, *args)
        assert second.returncode == 2 and b"s.jsonl is in use by another run" in second.stderr, second.stderr
    assert _ids(tmp_path / "a.jsonl") == ["t0", "t1", "t2", "t3"]
    assert not (tmp_path / "b.jsonl").exists()


# 12. a full disk under --errors
def test_a_full_disk_under_errors_falls_back_to_stderr_naming_the_file(tmp_path: Path) -> None:
    _candidates(tmp_path, 200, missing_every=2)
    (tmp_path / "full.jsonl").symlink_to("/dev/full")  # every write there fails with ENOSPC
    res = hilite(*VALIDATE[:1], "c.jsonl", *VALIDATE[1:], "-o", "out.jsonl", "--errors", "full.jsonl", cwd=tmp_path)
    assert res.returncode == 1, res.stderr
    err = res.stderr.decode()
    assert "cannot write the errors manifest full.jsonl (No space left on device)" in err
    assert sorted(orjson.loads(x)["id"] for x in err.splitlines() if x.startswith("{")) == [f"c{i:03d}" for i in range(0, 200, 2)]
    assert len(_ids(tmp_path / "out.jsonl")) == 100 and "errors in stderr" in err
    assert (tmp_path / "full.jsonl").is_symlink()


# Also: duplicate keys, temp files of a killed run
def test_a_key_given_twice_in_a_manifest_line_is_that_lines_error(tmp_path: Path) -> None:
    save_photo(tmp_path, "coffee", 16)
    (tmp_path / "t.jsonl").write_text(
        '{"id": "a", "image": "coffee.png", "instruction": "x", "instruction": "y"}\n'
        '{"id": "b", "image": "coffee.png", "instruction": "x", "meta": {"url": "http://h:1/", "k": 1, "k": 2}}\n'
        '{"id": "c", "image": "coffee.png", "instruction": "time: 12:00"}\n')
    res = hilite_here("route", "t.jsonl", "-o", "r.jsonl", "--no-progress", cwd=tmp_path)
    assert res.returncode == 1
    errors = [orjson.loads(x)["error"]["message"] for x in (tmp_path / "r.jsonl.errors.jsonl").read_bytes().splitlines()]
    assert errors == ["line 1: the key `instruction` is given more than once, so which value is meant is unknown",
                      "line 2: the key `k` is given more than once, so which value is meant is unknown"]
    assert _ids(tmp_path / "r.jsonl") == ["c"]


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_mine_removes_the_temp_files_a_killed_run_left(tmp_path: Path) -> None:
    (tmp_path / "photos").mkdir()
    save_photo(tmp_path / "photos", "coffee", 32)
    (tmp_path / "edits.txt").write_text("make it black and white\n")
    args = ("mine", "--images", "photos", "--edits", "edits.txt", "--editor", "classic", "--no-gate", "--prefilter",
            "offline", "--attempts", "1", "-o", "pool.jsonl", "--out", "mined", "--no-progress")
    assert hilite_here(*args, cwd=tmp_path).returncode in (0, 1)
    dead = _dead_pid()
    (tmp_path / "mined" / "edits").mkdir(parents=True, exist_ok=True)
    leftovers = [tmp_path / "mined" / "edits" / f".abc.png.{dead}-x1.tmp", tmp_path / f".pool.jsonl.{dead}-x2.tmp"]
    live = tmp_path / "mined" / f".def.png.{os.getpid()}-x3.tmp"  # a writer still running: not ours to remove
    for path in [*leftovers, live]:
        path.write_bytes(b"half")
    assert hilite_here(*args, "--resume", cwd=tmp_path).returncode in (0, 1)
    assert not any(p.exists() for p in leftovers) and live.exists()


@pytest.mark.parametrize("damage", ["deleted", "shorter"])
def test_mine_resume_refuses_a_pool_that_lost_what_its_state_file_records(tmp_path: Path, damage: str) -> None:
    (tmp_path / "photos").mkdir()
    save_photo(tmp_path / "photos", "coffee", 32)
    save_photo(tmp_path / "photos", "astronaut", 32)
    (tmp_path / "edits.txt").write_text("make it black and white\n")
    args = ("mine", "--images", "photos", "--edits", "edits.txt", "--editor", "classic", "--no-gate", "--prefilter",
            "offline", "--no-lowlevel", "--keep-rejected", "--attempts", "1", "-o", "pool.jsonl", "--out", "mined",
            "--no-progress")
    assert hilite_here(*args, cwd=tmp_path).returncode in (0, 1)
    pool = tmp_path / "pool.jsonl"
    assert len(_ids(pool)) == 2
    if damage == "deleted":
        pool.unlink()
    else:
        pool.write_bytes(pool.read_bytes().splitlines(keepends=True)[0])
    res = hilite_here(*args, "--resume", cwd=tmp_path)
    assert res.returncode == 2
    line = _one_line(res)
    assert "cannot resume" in line and "pool.jsonl.state.jsonl" in line and "--overwrite" in line
    assert hilite_here(*args, "--overwrite", cwd=tmp_path).returncode in (0, 1) and len(_ids(pool)) == 2


def test_a_killed_exports_staging_folder_is_removed_by_the_next_export(tmp_path: Path) -> None:
    _triplets(tmp_path, tmp_path / "photos")
    dead = _dead_pid()
    staging = tmp_path / "ds" / f".ds.{dead}-abc.tmp"
    (staging / "images").mkdir(parents=True)
    (staging / "metadata.jsonl").write_text("half\n")
    mine = tmp_path / "ds" / f".notes.{dead}.tmp"  # not a temp name hilite makes: kept
    mine.write_text("keep")
    res = hilite_here("export", "t.jsonl", "--format", "ip2p", "--to", "ds", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert not staging.exists() and mine.read_text() == "keep"
    listed = orjson.loads((tmp_path / "ds" / ".hilite-export.json").read_bytes())["files"]
    assert {f"images/{p.name}" for p in (tmp_path / "ds" / "images").iterdir()} <= set(listed)
    assert {"metadata.jsonl", "README.md"} <= set(listed)  # the dataset card is the export's own file too


def test_stdout_appended_to_the_input_file_is_refused(tmp_path: Path) -> None:
    tasks = _candidates(tmp_path, 20)
    before = tasks.read_bytes()
    with tasks.open("ab") as out:
        res = subprocess.run([sys.executable, "-m", "hilite_cli", *VALIDATE[:1], tasks.name, *VALIDATE[1:]],
                             stdout=out, stderr=subprocess.PIPE, cwd=tmp_path, env=os.environ.copy(), timeout=300)
    assert res.returncode == 2 and b"-o stdout and the input manifest c.jsonl are the same file" in res.stderr, res.stderr
    assert tasks.read_bytes() == before
