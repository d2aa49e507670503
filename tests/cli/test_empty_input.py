"""An input with no records is said out loud and leaves nothing behind (it used to exit 0 with "0 inputs",
and `edit` left an empty edits/ folder)."""

from __future__ import annotations

from pathlib import Path

from support.cli import hilite


def test_an_empty_manifest_warns_and_edit_leaves_no_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "empty.jsonl").write_bytes(b"")
    res = hilite("edit", "empty.jsonl", "--models", "classic", "--out", "edits/", "--sheet", "-o", "c.jsonl", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert b"warning: the input held no records" in res.stderr
    assert not (tmp_path / "edits").exists()
    res = hilite("validate", "-", "--judge", "offline", stdin=b"", cwd=tmp_path)
    assert res.returncode == 0 and b"warning: the input held no records" in res.stderr
