"""What reaches a person at the terminal: one-line errors, quiet libraries, tables that fit or print in full."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import orjson
import pytest

from support.cli import hilite
from support.photos import save_photo

from hilite_cli.cli.app import split_verbose
from hilite_cli.cli.terminal import count_lines, quiet_libraries, resume_command


def test_usage_errors_are_one_line_without_the_debug_hint() -> None:
    res = hilite("edit", "--sed", "3")
    assert res.returncode == 2
    [line] = res.stderr.decode().splitlines()
    assert line.startswith("hilite edit: error: No such option: --sed") and "hilite edit --help" in line
    assert "--seeds" not in line and "HILITE_DEBUG" not in line  # hidden old names are not suggested
    res = hilite("route", "missing.jsonl")
    [line] = res.stderr.decode().splitlines()
    assert res.returncode == 2 and "missing.jsonl" in line and "HILITE_DEBUG" not in line


def test_verbose_goes_anywhere_and_models_fit_100_columns() -> None:
    assert split_verbose(["edit", "x.png", "-v", "--", "-v"]) == (True, ["edit", "x.png", "--", "-v"])
    res = hilite("models", "-v")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.decode().splitlines()
    assert lines and max(len(line) for line in lines) <= 100
    text = res.stdout.decode()
    assert "flux-kontext" in text and "substitute" in text and "…" not in text


def test_quiet_libraries_hides_future_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("TRANSFORMERS_VERBOSITY", "DIFFUSERS_VERBOSITY", "HF_HUB_VERBOSITY", "PYTHONWARNINGS"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("DIFFUSERS_VERBOSITY", "info")  # what the user set wins
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        quiet_libraries()
        warnings.warn("`resume_download` is deprecated", FutureWarning, stacklevel=1)
        warnings.warn("a real problem", RuntimeWarning, stacklevel=1)
    assert [str(w.message) for w in seen] == ["a real problem"]
    assert os.environ["TRANSFORMERS_VERBOSITY"] == "error" and os.environ["DIFFUSERS_VERBOSITY"] == "info"


def test_count_lines_and_resume_command(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    path.write_bytes(b'{"a":1}\n\n{"a":2}\n{"a":3}')
    assert count_lines(str(path)) == 3 and count_lines("-") is None
    assert resume_command(["route", "my tasks.jsonl", "-o", "r.jsonl"]) == "hilite route 'my tasks.jsonl' -o r.jsonl --resume"
    assert resume_command(["route", "t.jsonl", "--resume"]) == "hilite route t.jsonl --resume"


def test_tables_print_in_full_in_a_log(tmp_path: Path) -> None:
    img = save_photo(tmp_path, "coffee", 48)
    rows = [{"id": f"r{i}", "source": img.name, "edited": img.name, "instruction": "x", "kind": "forward"} for i in range(3)]
    (tmp_path / "d.jsonl").write_bytes(b"\n".join(orjson.dumps(r) for r in rows) + b"\n")
    res = hilite("score-dataset", "d.jsonl", "--metrics", "ssim,lowlevel", "--no-progress", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    text = res.stderr.decode()
    assert "Low-level pass" in text and "Changed frac." in text and "…" not in text
    assert "per kind" in text and "excluded" not in text and "no judge was asked for" in text


def test_one_off_edit_refuses_a_named_model_that_cannot_run_here(tmp_path: Path) -> None:
    """Issue 27: a model named with --models that cannot load here is a usage error before any record
    (it used to run the others, fail this one, take a slot letter and exit 1)."""
    img = save_photo(tmp_path, "chelsea", 32)
    res = hilite("edit", str(img), "make it black and white", "--models", "classic,instruct-pix2pix", "--out", "out",
                 "--no-progress", cwd=tmp_path, env={"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")})
    assert res.returncode == 2, res.stderr
    assert b"--models: cannot run here: instruct-pix2pix" in res.stderr and not (tmp_path / "out").exists()


def test_mine_says_when_identical_photos_merge(tmp_path: Path) -> None:
    import shutil

    photos = tmp_path / "photos"
    photos.mkdir()
    first = save_photo(photos, "coffee", 32)
    save_photo(photos, "rocket", 32)
    shutil.copy(first, photos / "coffee-copy.png")
    (tmp_path / "edits.txt").write_text("make it grayscale\n")
    res = hilite("mine", "--images", "photos", "--edits", "edits.txt", "--editor", "classic", "--attempts", "1",
                 "--preset", "small", "-o", "pool.jsonl", "--out", "mined", "--no-progress", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    text = res.stderr.decode()
    assert "coffee-copy.png, coffee.png: byte-identical photos, mined as one source" in text
    assert "3 photos -> 2 sources" in text


def test_mine_progress_line_shows_budget_and_jobs_left() -> None:
    from hilite_cli.cli.mine import _Progress

    ticker = _Progress(False)
    ticker.status = lambda: {"gpu_hours": 0.5, "budget_gpu_hours": 2.0, "jobs_left": 7}
    ticker("job", "passed")
    assert ticker.summary() == ("mine: 0 sources (0 usable), 1 jobs: 1 passed, 0 rejected, 0 failed; "
                                "GPU 0.50 h spent of 2 h (1.50 h left); 7 jobs left")


def test_progress_bar_has_a_total_for_a_file(tmp_path: Path) -> None:
    import fcntl
    import pty
    import struct
    import subprocess
    import sys
    import termios

    img = save_photo(tmp_path, "coffee", 32)
    tasks = b"".join(orjson.dumps({"id": f"t{i}", "image": img.name, "instruction": "make it warmer"}) + b"\n" for i in range(40))
    (tmp_path / "tasks.jsonl").write_bytes(tasks)
    controller, terminal = pty.openpty()  # stderr is a terminal, as for a person running it
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # 100 columns (tqdm needs a width)
    proc = subprocess.run([sys.executable, "-m", "hilite_cli", "route", "tasks.jsonl", "-o", "r.jsonl"], cwd=tmp_path,
                          check=False, stderr=terminal, stdout=subprocess.DEVNULL, timeout=120)
    os.close(terminal)
    chunks = []
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(controller)
    assert proc.returncode == 0
    assert b"/40 [" in b"".join(chunks)  # tqdm's `n/total [elapsed<eta` form
