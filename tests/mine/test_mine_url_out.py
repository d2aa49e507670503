"""`mine --out URL`: images go to fsspec storage (memory://, file://), the pool keeps the URLs, and
`validate` and `export` read them back from there."""

from __future__ import annotations

from pathlib import Path

import fsspec
import orjson
import pytest
from mine.helpers import Mined, read_jsonl
from typer.testing import CliRunner

from hilite_cli.cli.app import app
from hilite_cli.images import content_hash, image_file_bytes


@pytest.fixture
def bucket(memory_root: str) -> str:
    return f"{memory_root}/mined"


def _mine_classic(mine, tmp_path: Path, photos: Path, out: str) -> Mined:
    edits = tmp_path / "edits.txt"
    edits.write_text("make it grayscale\nmake it sepia\n")
    return mine("--images", str(photos), "--edits", str(edits), "--editor", "classic", "--attempts", "1",
                "--no-overlap", "--out", out)


def test_mine_to_a_memory_url_then_validate_and_export_read_it(mine, tmp_path: Path, photos: Path, bucket: str) -> None:
    m = _mine_classic(mine, tmp_path, photos, bucket)
    assert m.code == 0, m.output
    assert m.stats["jobs"]["passed"] == 4 and len(m.pool) == 4
    assert all(r["output"].startswith(f"{bucket}/edits/") for r in m.pool)
    assert not (tmp_path / "mined").exists() and not any(tmp_path.glob("memory*"))  # nothing local under a mangled name
    fs = fsspec.filesystem("memory")
    for r in m.pool:  # content-addressed: the name is the hash of the stored bytes
        assert r["output"].rsplit("/", 1)[1] == content_hash(fs.cat_file(r["output"]))[:16] + ".png"

    runner = CliRunner()
    triplets = tmp_path / "triplets.jsonl"
    done = runner.invoke(app, ["validate", str(tmp_path / "pool.jsonl"), "--judge", "offline", "--select", "best",
                               "-o", str(triplets), "--no-progress"], catch_exceptions=False)
    assert done.exit_code == 0, done.output
    chosen = read_jsonl(triplets)
    assert len(chosen) == 4 and {t["edited"] for t in chosen} == {r["output"] for r in m.pool}

    scores = tmp_path / "scores.json"
    done = runner.invoke(app, ["score-dataset", str(triplets), "--metrics", "ssim,lowlevel", "--json", str(scores)],
                         catch_exceptions=False)
    assert done.exit_code == 0, done.output
    (row,) = orjson.loads(scores.read_bytes())["datasets"].values()
    assert row["n"] == 4 and row["n_failed"] == 0  # every image read back from the URLs
    assert row["metrics"]["ssim"]["n"] == 4 and row["metrics"]["lowlevel_pass"]["n"] == 4

    dataset = tmp_path / "dataset"
    done = runner.invoke(app, ["export", str(triplets), "--format", "ip2p", "--to", str(dataset)], catch_exceptions=False)
    assert done.exit_code == 0, done.output
    rows = read_jsonl(dataset / "metadata.jsonl")
    exported = sorted((dataset / row["edited_image_file_name"]).read_bytes() for row in rows)
    assert len(rows) == 4 and exported == sorted(image_file_bytes(t["edited"])[0] for t in chosen)


def test_mine_to_a_file_url_writes_the_folder_and_keeps_the_urls(mine, tmp_path: Path, photos: Path) -> None:
    m = _mine_classic(mine, tmp_path, photos, f"file://{tmp_path}/shared/mined")
    assert m.code == 0, m.output
    assert len(m.pool) == 4
    for r in m.pool:
        assert r["output"].startswith(f"file://{tmp_path}/shared/mined/edits/")
        assert Path(r["output"].removeprefix("file://")).is_file()
    assert not list((tmp_path / "shared").rglob("*.tmp"))


def test_an_unknown_url_scheme_is_a_usage_error(mine, tmp_path: Path, photos: Path) -> None:
    m = _mine_classic(mine, tmp_path, photos, "nosuchproto://bucket/mined")
    assert m.code == 2 and "no fsspec filesystem for nosuchproto://" in m.output
    assert not (tmp_path / "pool.jsonl.state.jsonl").exists()
    assert orjson.dumps(m.pool) == b"[]"
