"""`edit --out URL`: candidates land in fsspec storage under content-addressed names, a task's image may
itself be a URL, and `validate` reads the candidates from there."""

from __future__ import annotations

from pathlib import Path

import fsspec
import orjson
import pytest
from typer.testing import CliRunner

from hilite_cli.cli.app import app
from hilite_cli.images import content_hash, file_sha256


@pytest.fixture
def bucket(memory_root: str) -> str:
    return memory_root


def _jsonl(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def test_edit_writes_to_a_memory_url_and_validate_reads_it(tmp_path: Path, photos: dict[str, str], bucket: str) -> None:
    fs = fsspec.filesystem("memory")
    remote_source = f"{bucket}/inputs/chelsea.png"
    fs.pipe_file(remote_source, Path(photos["chelsea"]).read_bytes())
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_bytes(orjson.dumps({"id": "t1", "image": photos["astronaut"], "instruction": "make it sepia"}) + b"\n"
                      + orjson.dumps({"id": "t2", "image": remote_source, "instruction": "make it grayscale"}) + b"\n")
    out = f"{bucket}/edits"
    cands = tmp_path / "candidates.jsonl"
    runner = CliRunner()
    args = ["edit", str(tasks), "--models", "classic", "--out", out, "-o", str(cands), "--no-progress"]
    done = runner.invoke(app, args, catch_exceptions=False)
    assert done.exit_code == 0, done.output
    made = _jsonl(cands)
    assert [c["parent"] for c in made] == ["t1", "t2"] and made[1]["image"] == remote_source
    for c in made:
        assert c["output"].startswith(f"{out}/")
        assert c["output"].rsplit("/", 1)[1] == content_hash(fs.cat_file(c["output"]))[:16] + ".png"
    assert not (tmp_path / "memory:").exists()
    before = sorted(fs.find(f"/{tmp_path.name}/edits"))
    assert len(before) == 2  # no temp objects left behind

    again = runner.invoke(app, [*args, "--resume"], catch_exceptions=False)
    assert again.exit_code == 0, again.output
    assert sorted(fs.find(f"/{tmp_path.name}/edits")) == before and len(_jsonl(cands)) == 2

    scored = tmp_path / "scored.jsonl"
    done = runner.invoke(app, ["validate", str(cands), "--judge", "offline", "-o", str(scored), "--no-progress"],
                         catch_exceptions=False)
    assert done.exit_code == 0, done.output
    rows = _jsonl(scored)
    assert [r["output"] for r in rows] == [c["output"] for c in made]
    # the pixel check compared each source (one local, one a URL) with its edit read from the URL
    assert all(r["checks"]["lowlevel"]["passed"] and r["checks"]["lowlevel"]["changed_pixels"] > 0 for r in rows)
    assert file_sha256(made[1]["output"]) == content_hash(fs.cat_file(made[1]["output"]))


def test_a_url_out_refuses_what_needs_a_local_folder(tmp_path: Path, photos: dict[str, str], bucket: str) -> None:
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_bytes(orjson.dumps({"id": "t1", "image": photos["astronaut"], "instruction": "make it sepia"}) + b"\n")
    runner = CliRunner()
    sheet = runner.invoke(app, ["edit", str(tasks), "--models", "classic", "--out", bucket, "--sheet"])
    assert sheet.exit_code == 2 and "a URL is for the manifest form" in sheet.output
    unknown = runner.invoke(app, ["edit", str(tasks), "--models", "classic", "--out", "nosuchproto://x/edits"])
    assert unknown.exit_code == 2 and "no fsspec filesystem for nosuchproto://" in unknown.output
