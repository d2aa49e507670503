"""Edge cases a user hits: in-place output, hostile ids, URLs in path fields, file modes, line numbers."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import orjson
from PIL import Image

from hilite_cli.manifest import ManifestWriter, read_manifest
from support.cli import hilite
from support.photos import photo, save_photo


def _manifest(path: Path, rows: list[dict]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return path


def test_output_that_is_the_input_is_refused(tmp_path: Path) -> None:
    img = save_photo(tmp_path, "coffee", 16)
    m = _manifest(tmp_path / "t.jsonl", [{"id": "a", "image": img.name}])
    before = m.read_bytes()
    res = hilite("mask", str(m), "--box", "0,0,1,1", "-o", str(m), cwd=tmp_path)
    assert res.returncode == 2 and b"erase the input" in res.stderr and m.read_bytes() == before


def test_urls_stay_untouched_and_home_is_expanded(tmp_path: Path) -> None:
    m = _manifest(tmp_path / "t.jsonl", [{"id": "a", "image": "https://example.com/a.png", "source": "~/x.png"}])
    [line] = list(read_manifest(str(m)))
    assert line.record["image"] == "https://example.com/a.png"
    assert line.record["source"] == str(Path.home() / "x.png")
    out = tmp_path / "sub" / "o.jsonl"
    with ManifestWriter(str(out)) as w:
        w.write(line.record)
    assert orjson.loads(out.read_bytes())["image"] == "https://example.com/a.png"


def test_images_are_readable_by_others(tmp_path: Path) -> None:
    img = save_photo(tmp_path, "coffee", 16)
    _manifest(tmp_path / "t.jsonl", [{"id": "a", "image": img.name}])
    assert hilite("mask", "t.jsonl", "--box", "0,0,1,1", "--out", "m", "-o", "o.jsonl", cwd=tmp_path).returncode == 0
    [mask] = list((tmp_path / "m").iterdir())
    old = os.umask(0)
    os.umask(old)
    assert stat.S_IMODE(mask.stat().st_mode) == 0o666 & ~old


def test_hostile_ids_cannot_move_contact_sheets_out(tmp_path: Path) -> None:
    img = save_photo(tmp_path, "coffee", 16)
    _manifest(tmp_path / "t.jsonl", [{"id": "../../escaped", "image": img.name, "instruction": "make it darker"}])
    res = hilite("edit", "t.jsonl", "--models", "classic", "--sheet", "--out", "e", "-o", "c.jsonl", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    [cand] = [orjson.loads(x) for x in (tmp_path / "c.jsonl").read_bytes().splitlines()]
    sheet = (tmp_path / cand["sheet"]).resolve()
    assert sheet.is_file() and (tmp_path / "e" / "sheets").resolve() in sheet.parents
    assert not (tmp_path.parent / "escaped.png").exists()


def test_edit_usage_errors_and_empty_model_lists(tmp_path: Path) -> None:
    img = save_photo(tmp_path, "coffee", 16)
    m = _manifest(tmp_path / "t.jsonl", [{"id": "a", "image": img.name, "instruction": "make it darker", "models": []},
                                         {"id": "b", "image": img.name, "instruction": "make it darker"},
                                         {"id": "b2", "image": img.name, "instruction": "make it darker"}])
    assert hilite("edit", str(m), "--models", "nonexistent", cwd=tmp_path).returncode == 2
    res = hilite("edit", str(m), "--models", "classic", "--out", "e", "-o", "c.jsonl", cwd=tmp_path)
    assert res.returncode == 1
    [err] = [orjson.loads(x) for x in (tmp_path / "c.jsonl.errors.jsonl").read_bytes().splitlines()]
    assert err["id"] == "a" and err["error"]["kind"] == "no_models" and "line 1" in err["error"]["message"]
    # b2 is another task (its own id) with the same image and instruction: it keeps its own candidate
    cands = [orjson.loads(x) for x in (tmp_path / "c.jsonl").read_bytes().splitlines()]
    assert sorted(c["parent"] for c in cands) == ["b", "b2"] and len({c["id"] for c in cands}) == 2
    one_off = hilite("edit", img.name, "make it darker", "--models", "classic", "-o", "x.jsonl", cwd=tmp_path)
    assert one_off.returncode == 2
    assert hilite("edit", "missing.png", "make it darker", cwd=tmp_path).returncode == 2


def test_route_batch_errors_name_their_line(tmp_path: Path) -> None:
    img = save_photo(tmp_path, "coffee", 16)
    m = _manifest(tmp_path / "t.jsonl", [{"id": "a", "image": img.name, "instruction": "make it darker"},
                                         {"id": "b", "image": img.name}])
    res = hilite("route", str(m), "-o", "r.jsonl", cwd=tmp_path)
    [err] = [orjson.loads(x) for x in (tmp_path / "r.jsonl.errors.jsonl").read_bytes().splitlines()]
    assert res.returncode == 1 and err["id"] == "b" and err["error"]["message"].startswith("line 2: ")


def test_mask_diff_field_resolves_against_the_manifest_folder(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    src = np.asarray(photo("chelsea", 32))
    after = src.copy()
    after[8:24, 8:24] = 0
    Image.fromarray(src).save(data / "before.png")
    Image.fromarray(after).save(data / "after.png")
    _manifest(data / "d.jsonl", [{"id": "a", "image": "before.png", "after": "after.png"}])
    res = hilite("mask", "data/d.jsonl", "--diff", "after", "--field", "change", "--out", "m", "-o", "out/o.jsonl",
                 cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    [rec] = [orjson.loads(x) for x in (tmp_path / "out" / "o.jsonl").read_bytes().splitlines()]
    assert rec["after"] == "../data/after.png" and (tmp_path / "out" / rec["change"]).is_file()


def test_an_unwritable_errors_manifest_loses_no_good_record(tmp_path: Path) -> None:
    """Error records fall back to stderr; the good records after a bad one are still written."""
    img = save_photo(tmp_path, "coffee", 16)
    lines = [orjson.dumps({"id": f"t{i}", "image": img.name, "instruction": "x"}) for i in range(6)]
    lines.insert(2, b"{not json")
    (tmp_path / "t.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    (tmp_path / "blocker").write_text("a file where a folder is needed")
    res = hilite("mask", "t.jsonl", "--box", "0,0,0.5,0.5", "--out", "m", "-o", "o.jsonl",
                 "--errors", "blocker/e.jsonl", cwd=tmp_path)
    assert res.returncode == 1, res.stderr
    assert [orjson.loads(x)["id"] for x in (tmp_path / "o.jsonl").read_bytes().splitlines()] == [f"t{i}" for i in range(6)]
    stderr = res.stderr.decode()
    assert "cannot write the errors manifest blocker/e.jsonl" in stderr and "errors in stderr" in stderr
    [record] = [orjson.loads(x) for x in stderr.splitlines() if x.startswith("{")]
    assert record["error"]["stage"] == "mask" and "line 3" in record["error"]["message"]


def test_a_repeated_input_id_is_an_error_whatever_the_output(tmp_path: Path) -> None:
    img = save_photo(tmp_path, "coffee", 16)
    rows = [{"id": "t1", "image": img.name, "instruction": "x"}, {"id": "t2", "image": img.name, "instruction": "y"},
            {"id": "t1", "image": img.name, "instruction": "z"}]
    (tmp_path / "t.jsonl").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    to_file = hilite("mask", "t.jsonl", "--box", "0,0,0.5,0.5", "--out", "m", "-o", "o.jsonl", cwd=tmp_path)
    to_stdout = hilite("mask", "t.jsonl", "--box", "0,0,0.5,0.5", "--out", "m", "--errors", "e.jsonl", cwd=tmp_path)
    assert to_file.returncode == to_stdout.returncode == 1
    written = [orjson.loads(x) for x in (tmp_path / "o.jsonl").read_bytes().splitlines()]
    assert [r["instruction"] for r in written] == ["x", "y"]
    assert [orjson.loads(x)["instruction"] for x in to_stdout.stdout.splitlines()] == ["x", "y"]
    for errors in (tmp_path / "o.jsonl.errors.jsonl", tmp_path / "e.jsonl"):
        [err] = [orjson.loads(x) for x in errors.read_bytes().splitlines()]
        assert err["error"]["kind"] == "duplicate_id" and err["error"]["message"].startswith("line 3: id `t1` repeats line 1")


def test_a_folder_given_as_manifest_is_named_as_such(tmp_path: Path) -> None:
    (tmp_path / "tasks").mkdir()
    res = hilite("route", "tasks", cwd=tmp_path)
    assert res.returncode == 2 and b"input manifest tasks is a folder" in res.stderr
