"""`hilite export` through the CLI: each format lands where its reader finds it."""

from __future__ import annotations

from pathlib import Path

import orjson

from support.cli import hilite
from support.photos import save_photo


def _triplets(tmp_path: Path) -> Path:
    src = save_photo(tmp_path, "astronaut", 32)
    edited = save_photo(tmp_path, "chelsea", 32)
    rows = [{"id": f"t{i}", "source": src.name, "edited": edited.name, "instruction": f"edit {i}", "kind": "forward",
             "parents": [f"c{i}"], "scores": {"instruction": 4.0 + i / 10, "aesthetics": 4.8, "geometric": None}}
            for i in range(3)]
    rows.append({"id": "bad", "source": "missing.png", "edited": edited.name, "instruction": "x", "kind": "forward"})
    path = tmp_path / "triplets.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(r) for r in rows) + b"\n")
    return path


def test_export_ip2p_loads_with_datasets(tmp_path: Path) -> None:
    from datasets import load_dataset

    res = hilite("export", str(_triplets(tmp_path)), "--format", "ip2p", "--to", str(tmp_path / "ds"))
    assert res.returncode == 1 and b"3 written" in res.stderr and b"missing.png" in res.stderr
    ds = load_dataset("imagefolder", data_dir=str(tmp_path / "ds"), split="train")
    assert len(ds) == 3 and {"input_image", "edited_image", "edit_prompt"} <= set(ds.column_names)


def test_export_kto_and_unknown_format(tmp_path: Path) -> None:
    triplets = _triplets(tmp_path)
    res = hilite("export", str(triplets), "--format", "kto", "--to", str(tmp_path / "kto.jsonl"), "--threshold", "4.1")
    rows = [orjson.loads(x) for x in (tmp_path / "kto.jsonl").read_bytes().splitlines()]
    assert [r["label"] for r in rows] == [False, True, True], res.stderr
    # Paths are relative to the export's folder, like every manifest's, so the export can move with its images.
    res = hilite("export", str(triplets), "--format", "kto", "--to", str(tmp_path / "out" / "kto.jsonl"))
    rows = [orjson.loads(x) for x in (tmp_path / "out" / "kto.jsonl").read_bytes().splitlines()]
    assert len(rows) == 3, res.stderr
    for row in rows:
        assert row["source"].startswith("../") and row["edited"].startswith("../")
        assert (tmp_path / "out" / row["source"]).is_file() and (tmp_path / "out" / row["edited"]).is_file()
    res = hilite("export", str(triplets), "--format", "nope", "--to", str(tmp_path / "x"))
    assert res.returncode == 2 and b"unknown --format" in res.stderr


def test_export_files_follow_the_umask(tmp_path: Path) -> None:
    import os
    import stat

    umask = os.umask(0)
    os.umask(umask)
    triplets = _triplets(tmp_path)
    hilite("export", str(triplets), "--format", "kto", "--to", str(tmp_path / "kto.jsonl"))
    hilite("export", str(triplets), "--format", "ip2p", "--to", str(tmp_path / "ds"))
    for path in (tmp_path / "kto.jsonl", tmp_path / "ds" / "metadata.jsonl"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask, path


def test_folder_exports_refuse_files_that_are_not_images(tmp_path: Path) -> None:
    triplets = _triplets(tmp_path)
    (tmp_path / "notes.png").write_text("not an image")
    src = orjson.loads(triplets.read_bytes().splitlines()[0])["source"]
    (tmp_path / "cut.png").write_bytes((tmp_path / src).read_bytes()[:200])
    scores = {"instruction": 4.5, "aesthetics": 4.5}
    rows = [{"id": "text", "source": src, "edited": "notes.png", "instruction": "x", "scores": scores},
            {"id": "cut", "source": "cut.png", "edited": src, "instruction": "x", "scores": scores}]
    with triplets.open("ab") as fh:
        fh.write(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    for fmt in ("ip2p", "trl", "webdataset"):
        res = hilite("export", str(triplets), "--format", fmt, "--to", str(tmp_path / fmt),
                     "--errors", str(tmp_path / f"{fmt}.errors.jsonl"))
        assert res.returncode == 1, res.stderr
        errors = {e["id"]: e["error"] for e in map(orjson.loads, (tmp_path / f"{fmt}.errors.jsonl").read_bytes().splitlines())}
        assert errors["text"]["kind"] == "bad_image" and "edited image" in errors["text"]["message"]
        assert errors["cut"]["kind"] == "bad_image" and "source image" in errors["cut"]["message"]
        assert b"3 written" in res.stderr  # the good triplets still export


def test_preference_exports_report_unreadable_records(tmp_path: Path) -> None:
    triplets = _triplets(tmp_path)
    with triplets.open("ab") as fh:
        fh.write(orjson.dumps({"id": "no-image", "instruction": "x", "scores": {"instruction": 5, "aesthetics": 5}}) + b"\n")
    for fmt in ("kto", "dpo"):
        res = hilite("export", str(triplets), "--format", fmt, "--to", str(tmp_path / f"{fmt}.jsonl"),
                     "--errors", str(tmp_path / f"{fmt}.errors.jsonl"))
        assert res.returncode == 1, res.stderr
        assert b"record no-image: record names no `source`" in res.stderr
        [err] = [orjson.loads(x) for x in (tmp_path / f"{fmt}.errors.jsonl").read_bytes().splitlines()]
        assert err["id"] == "no-image" and err["error"]["kind"] == "invalid_record"


def test_an_export_that_makes_nothing_says_so_and_exits_1(tmp_path: Path) -> None:
    """Triplets with no scores: kto, dpo, diffusion-dpo and trl could export nothing, and used to exit 0."""
    src = save_photo(tmp_path, "astronaut", 32)
    edited = save_photo(tmp_path, "chelsea", 32)
    path = tmp_path / "plain.jsonl"
    path.write_bytes(b"".join(orjson.dumps({"id": f"t{i}", "source": src.name, "edited": edited.name,
                                            "instruction": "make it blue", "kind": "forward"}) + b"\n" for i in range(3)))
    for fmt, target in (("kto", "k.jsonl"), ("dpo", "d.jsonl"), ("diffusion-dpo", "ddpo"), ("trl", "trl")):
        res = hilite("export", str(path), "--format", fmt, "--to", str(tmp_path / target))
        assert res.returncode == 1, (fmt, res.stderr)
        assert b"warning: no record could be exported" in res.stderr and b"missing a score" in res.stderr
