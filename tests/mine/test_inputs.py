"""What `mine` accepts: prompt specs, photo specs, task records, a photo folder with an edits file."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.photos import save_photo

from hilite_cli.stages.mine.inputs import photo_folder_specs, read_edits_file, read_specs


def test_three_record_forms_and_bad_lines(tmp_path: Path) -> None:
    photo = save_photo(tmp_path, "coffee", size=16)
    manifest = tmp_path / "specs.jsonl"
    manifest.write_text(
        '{"id": "p1", "t2i_prompt": "a kitchen", "edits": ["remove the kettle", "remove the kettle"], "topic": "home"}\n'
        f'{{"image": "{photo.name}", "edits": ["make it warm"]}}\n'
        f'{{"image": "{photo.name}", "instruction": "blur it"}}\n'
        '{"image": "nowhere.png", "instruction": "blur it"}\n'
        '{"t2i_prompt": "a kitchen"}\n'
        "[1, 2]\n"
    )
    specs, errors = read_specs(str(manifest))
    assert specs[0] == {"id": "p1", "t2i_prompt": "a kitchen", "edits": ["remove the kettle"], "topic": "home"}
    assert specs[1]["image"] == str(photo.resolve()) and specs[1]["edits"] == ["make it warm"]
    assert specs[2]["edits"] == ["blur it"] and specs[2]["id"]  # a task record, id assigned from its line
    assert [e["line"] for e in errors] == [4, 5, 6]
    assert [e["error"]["kind"] for e in errors] == ["invalid_spec", "invalid_spec", "malformed_line"]
    assert "image file not found" in errors[0]["error"]["message"]


def test_edits_file_forms(tmp_path: Path) -> None:
    lines = tmp_path / "edits.txt"
    lines.write_text("# deletions\nremove the cat\n\nremove the dog\nremove the cat\n")
    assert read_edits_file(lines) == ["remove the cat", "remove the dog"]
    array = tmp_path / "edits.json"
    array.write_text('["make it winter", "make it night"]')
    assert read_edits_file(array) == ["make it winter", "make it night"]
    array.write_text("[1]")
    with pytest.raises(ValueError):
        read_edits_file(array)
    array.write_text('["unclosed"')
    with pytest.raises(ValueError, match="edits.json: malformed JSON array"):
        read_edits_file(array)
    binary = tmp_path / "edits.bin"
    binary.write_bytes(b"\xf4\x90\x80\x80 not text")
    with pytest.raises(ValueError, match="edits.bin: not UTF-8 text"):
        read_edits_file(binary)
    bom = tmp_path / "edits-bom.txt"
    bom.write_bytes("\ufeffmake it snowy\n".encode())
    assert read_edits_file(bom) == ["make it snowy"]


def test_photo_folder(tmp_path: Path) -> None:
    save_photo(tmp_path, "coffee", size=16)
    save_photo(tmp_path, "rocket", size=16, fmt="jpg")
    (tmp_path / "notes.txt").write_text("not a photo")
    specs = photo_folder_specs(tmp_path, ["make it warm"])
    assert [Path(s["image"]).name for s in specs] == ["coffee.png", "rocket.jpg"]
    with pytest.raises(ValueError):
        photo_folder_specs(tmp_path / "notes.txt", ["x"])
