"""`hilite score-dataset` as a CI job uses it: exit 0 unchanged, exit 3 on a regression."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
from PIL import Image

from support.cli import hilite
from support.photos import photo


def _dataset(tmp_path: Path, name: str, noise: int) -> Path:
    rng = np.random.default_rng(0)
    rows = []
    for i, pic in enumerate(["astronaut", "chelsea", "coffee"]):
        src = np.asarray(photo(pic, 48))
        edited = np.clip(src.astype(int) + rng.integers(-noise, noise + 1, src.shape), 0, 255).astype(np.uint8)
        Image.fromarray(src).save(tmp_path / f"{name}-{i}-s.png")
        Image.fromarray(edited).save(tmp_path / f"{name}-{i}-e.png")
        rows.append({"source": f"{name}-{i}-s.png", "edited": f"{name}-{i}-e.png", "instruction": "x",
                     "scores": {"instruction": 4.5, "aesthetics": 4.0}})
    path = tmp_path / f"{name}.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(r) for r in rows) + b"\n")
    return path


def test_gate_passes_unchanged_and_fails_on_drop(tmp_path: Path) -> None:
    good = _dataset(tmp_path, "good", 5)
    res = hilite("score-dataset", str(good), "--name", "d", "--metrics", "ssim", "--json", str(tmp_path / "base.json"),
                 "--report", str(tmp_path / "r.html"))
    assert res.returncode == 0, res.stderr
    assert b"<img" in (tmp_path / "r.html").read_bytes()
    res = hilite("score-dataset", str(good), "--name", "d", "--metrics", "ssim", "--baseline", str(tmp_path / "base.json"))
    assert res.returncode == 0, res.stderr
    worse = _dataset(tmp_path, "worse", 60)
    res = hilite("score-dataset", str(worse), "--name", "d", "--metrics", "ssim", "--baseline", str(tmp_path / "base.json"),
                 "--max-drop", "0.05")
    assert res.returncode == 3
    assert b"regression: d: ssim" in res.stderr


def test_a_baseline_dataset_matched_by_name_not_file_name(tmp_path: Path) -> None:
    """A baseline made as `nhr` and a rerun on `triplets.jsonl`: a usage error that says to pass --name,
    before any scoring; with --name the two are compared, and the run says how they were matched."""
    first = _dataset(tmp_path, "nhr", 5)
    assert hilite("score-dataset", str(first), "--metrics", "ssim", "--json", str(tmp_path / "base.json")).returncode == 0
    again = _dataset(tmp_path, "triplets", 5)
    res = hilite("score-dataset", str(again), "--metrics", "ssim", "--baseline", str(tmp_path / "base.json"),
                 "-o", str(tmp_path / "s.jsonl"))
    assert res.returncode == 2, res.stderr
    assert b"--name nhr" in res.stderr and b"in the baseline but not" not in res.stderr
    assert not (tmp_path / "s.jsonl").exists()
    res = hilite("score-dataset", str(again), "--name", "nhr", "--metrics", "ssim", "--baseline", str(tmp_path / "base.json"))
    assert res.returncode == 0, res.stderr
    assert b"baseline: compared by name: nhr" in res.stderr


def test_datasets_sharing_ids_are_all_written(tmp_path: Path) -> None:
    """Two datasets built from the same tasks share ids; the output manifest keeps every scored row."""
    first, second = _dataset(tmp_path, "a", 5), _dataset(tmp_path, "b", 30)
    for path in (first, second):
        rows = [orjson.loads(x) for x in path.read_bytes().splitlines()]
        path.write_bytes(b"".join(orjson.dumps({**r, "id": f"task{i}"}) + b"\n" for i, r in enumerate(rows)))
    res = hilite("score-dataset", str(first), str(second), "--metrics", "ssim", "-o", str(tmp_path / "s.jsonl"))
    assert res.returncode == 0, res.stderr
    out = [orjson.loads(x) for x in (tmp_path / "s.jsonl").read_bytes().splitlines()]
    assert sorted((r["dataset"], r["id"]) for r in out) == [(d, f"task{i}") for d in ("a", "b") for i in range(3)]


def test_missing_clip_weights_say_how_to_get_them(tmp_path: Path) -> None:
    data = _dataset(tmp_path, "d", 5)
    res = hilite("score-dataset", str(data), "--metrics", "clip", "--clip-model", "nobody/no-such-clip")
    message = res.stderr.decode()
    assert res.returncode == 2, message
    assert "cannot load CLIP model 'nobody/no-such-clip'" in message
    assert "hf download nobody/no-such-clip" in message and "--clip-model DIR" in message


def test_unparseable_lines_are_reported_and_fail_the_run(tmp_path: Path) -> None:
    data = _dataset(tmp_path, "d", 5)
    with data.open("ab") as fh:
        fh.write(b'{not json\n[1, 2]\n{"id": "n", "source": "d-0-s.png", "edited": "d-0-e.png", "instruction": 7}\n')
    res = hilite("score-dataset", str(data), "--metrics", "ssim", "-o", str(tmp_path / "s.jsonl"))
    assert res.returncode == 1, res.stderr
    assert len((tmp_path / "s.jsonl").read_bytes().splitlines()) == 3  # the good rows are scored
    errors = [orjson.loads(x) for x in (tmp_path / "s.jsonl.errors.jsonl").read_bytes().splitlines()]
    assert [e["error"]["kind"] for e in errors] == ["malformed_line", "malformed_line", "invalid_record"]
    assert errors[0]["error"]["message"].startswith("line 4: malformed JSON")
    assert b"d: record n: `instruction` must be a non-empty string" in res.stderr


def test_report_targets_are_checked_before_scoring(tmp_path: Path) -> None:
    data = _dataset(tmp_path, "d", 5)
    res = hilite("score-dataset", str(data), "--metrics", "ssim", "--report", str(tmp_path / "r.pdf"))
    assert res.returncode == 2 and b"--report" in res.stderr and b".html" in res.stderr
    res = hilite("score-dataset", str(data), "--metrics", "ssim", "--json", str(tmp_path / "new" / "deep" / "s.json"),
                 "--report", str(tmp_path / "other" / "r.html"))
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "new" / "deep" / "s.json").is_file() and (tmp_path / "other" / "r.html").is_file()


def test_old_seed_spelling_still_works_with_a_note(tmp_path: Path) -> None:
    data = _dataset(tmp_path, "d", 5)
    res = hilite("score-dataset", str(data), "--metrics", "ssim", "--seed", "7", "--json", str(tmp_path / "s.json"))
    assert res.returncode == 0, res.stderr
    assert orjson.loads((tmp_path / "s.json").read_bytes())["settings"]["seed"] == 7
    assert b"--seed is now called --sample-seed" in res.stderr
    res = hilite("score-dataset", str(data), "--metrics", "ssim", "--seed", "7", "--sample-seed", "8")
    assert res.returncode == 2 and b"give only --sample-seed" in res.stderr
