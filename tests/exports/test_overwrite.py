"""`hilite export` into a folder that already holds files: refused, or `--overwrite` replaces only an export's own files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from hilite_cli.cli.app import app


def _manifest(path: Path, records: list[dict[str, Any]]) -> str:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    return str(path)


def _export(manifest: str, to: Path, *extra: str, fmt: str = "ip2p"):
    return CliRunner().invoke(app, ["export", manifest, "--format", fmt, "--to", str(to), *extra])


@pytest.mark.parametrize("fmt", ["ip2p", "webdataset"])
def test_a_second_export_into_the_same_folder_is_refused_until_overwrite(fmt: str, triplets: list[dict[str, Any]],
                                                                         tmp_path: Path) -> None:
    to = tmp_path / "ds"
    assert _export(_manifest(tmp_path / "all.jsonl", triplets), to, fmt=fmt).exit_code == 0
    before = {p: p.read_bytes() for p in to.rglob("*") if p.is_file()}
    few = _manifest(tmp_path / "few.jsonl", triplets[:2])
    refused = _export(few, to, fmt=fmt)
    assert refused.exit_code == 2
    assert f"--to {to} is not empty" in refused.output and "--overwrite" in refused.output
    assert {p: p.read_bytes() for p in to.rglob("*") if p.is_file()} == before  # nothing touched
    replaced = _export(few, to, "--overwrite", fmt=fmt)
    assert replaced.exit_code == 0, replaced.output
    if fmt == "ip2p":
        rows = [orjson.loads(line) for line in (to / "metadata.jsonl").read_bytes().splitlines()]
        named = {r[k] for r in rows for k in ("input_image_file_name", "edited_image_file_name")}
        on_disk = {str(p.relative_to(to)) for p in (to / "images").iterdir()}
        assert len(rows) == 2 and on_disk == named  # no stale image beside the new metadata
    else:
        # two samples make two shards (one per DataLoader worker), beside the dataset card and the export's own file list
        assert sorted(p.name for p in to.iterdir()) == [".hilite-export.json", "README.md", "shard-000000.tar", "shard-000001.tar"]


def test_overwrite_never_deletes_files_an_export_did_not_write(triplets: list[dict[str, Any]], tmp_path: Path) -> None:
    to = tmp_path / "ds"
    manifest = _manifest(tmp_path / "t.jsonl", triplets)
    assert _export(manifest, to).exit_code == 0
    (to / "my-notes.txt").write_text("keep me")
    result = _export(manifest, to, "--overwrite")
    assert result.exit_code == 2 and "my-notes.txt" in result.output and "no export wrote" in result.output
    assert (to / "my-notes.txt").read_text() == "keep me" and (to / "metadata.jsonl").is_file()


def test_an_empty_existing_folder_is_fine(triplets: list[dict[str, Any]], tmp_path: Path) -> None:
    to = tmp_path / "ds"
    to.mkdir()
    assert _export(_manifest(tmp_path / "t.jsonl", triplets), to).exit_code == 0
