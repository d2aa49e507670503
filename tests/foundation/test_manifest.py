from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest

from hilite_cli.manifest import DoneLedger, ManifestWriter, read_manifest, repair_torn_tail


def write_lines(path: Path, lines: list[bytes]) -> None:
    path.write_bytes(b"\n".join(lines) + b"\n")


def test_reader_resolves_paths_against_manifest_dir_and_keeps_unknown_fields(tmp_path: Path) -> None:
    sub = tmp_path / "data"
    sub.mkdir()
    manifest = sub / "tasks.jsonl"
    write_lines(manifest, [orjson.dumps({"id": "a", "image": "img/x.png", "instruction": "i", "mine": {"k": [1, 2]}})])
    [line] = list(read_manifest(str(manifest)))
    assert line.record["image"] == str(sub / "img" / "x.png")
    assert line.record["mine"] == {"k": [1, 2]}


def test_reader_reports_bad_lines_with_numbers_and_keeps_going(tmp_path: Path) -> None:
    manifest = tmp_path / "m.jsonl"
    write_lines(manifest, [b'{"id": "a", "image": "x.png"}', b"{not json", b"[1, 2]", b"", b'{"image": "y.png"}'])
    lines = list(read_manifest(str(manifest)))
    assert [ln.number for ln in lines] == [1, 2, 3, 5]
    assert lines[1].record is None and "malformed JSON" in lines[1].problem
    assert lines[2].record is None and "JSON object" in lines[2].problem
    assert lines[3].record["id"]  # an id is assigned, stable across reads
    assert lines[3].record["id"] == list(read_manifest(str(manifest)))[3].record["id"]



def test_reader_accepts_a_utf8_bom_and_crlf(tmp_path: Path) -> None:
    """Manifests saved by Windows editors start with a byte-order mark and end lines with CRLF."""
    manifest = tmp_path / "m.jsonl"
    manifest.write_bytes(b'\xef\xbb\xbf{"id": "a", "image": "x.png"}\r\n{"id": "b", "image": "y.png"}\r\n')
    assert [ln.record["id"] for ln in read_manifest(str(manifest))] == ["a", "b"]

def test_writer_relativizes_paths_and_dedupes_ids(tmp_path: Path) -> None:
    out = tmp_path / "out" / "o.jsonl"
    with ManifestWriter(str(out)) as w:
        assert w.write({"id": "a", "image": str(tmp_path / "imgs" / "a.png")})
        assert not w.write({"id": "a", "image": "whatever"})
    [rec] = [orjson.loads(x) for x in out.read_bytes().splitlines()]
    assert rec["image"] == os.path.join("..", "imgs", "a.png")


def test_resume_repairs_torn_tail_and_remembers_ids(tmp_path: Path) -> None:
    out = tmp_path / "o.jsonl"
    out.write_bytes(b'{"id": "a"}\n{"id": "b", "ima')
    assert repair_torn_tail(out)
    assert out.read_bytes() == b'{"id": "a"}\n'
    out.write_bytes(b'{"id": "a"}\n{"id": "b", "ima')
    with ManifestWriter(str(out), resume=True) as w:
        assert not w.write({"id": "a"})
        assert w.write({"id": "b"})
    assert [orjson.loads(x)["id"] for x in out.read_bytes().splitlines()] == ["a", "b"]


def test_done_ledger_survives_restart(tmp_path: Path) -> None:
    out = str(tmp_path / "o.jsonl")
    ledger = DoneLedger(out, resume=False)
    ledger.mark(["x", "y"])
    ledger.close()
    again = DoneLedger(out, resume=True)
    assert "x" in again and "y" in again and "z" not in again
    again.close()
    fresh = DoneLedger(out, resume=False)
    assert "x" not in fresh
    fresh.close()


def test_paths_resolve_as_pathlib_does_through_links_and_dotdot(tmp_path: Path) -> None:
    """The cached resolver gives `(base / path).resolve()` exactly: links to folders and files, `..`
    after a link (the target's parent, not the link's), missing files."""
    import os

    from hilite_cli.manifest import resolve_paths

    (tmp_path / "deep" / "real").mkdir(parents=True)
    (tmp_path / "deep" / "real" / "a.png").write_bytes(b"x")
    os.symlink(tmp_path / "deep" / "real", tmp_path / "link")
    os.symlink(tmp_path / "deep" / "real" / "a.png", tmp_path / "deep" / "real" / "b.png")
    for path in ["link/a.png", "link/b.png", "link/../x.png", "./link//a.png", "missing/x.png", "link", ".."]:
        assert resolve_paths({"image": path}, tmp_path)["image"] == str((tmp_path / path).resolve()), path
    with pytest.raises(ValueError, match="null byte"):  # read_manifest makes it the line's error
        resolve_paths({"image": "a\x00.png"}, tmp_path)
