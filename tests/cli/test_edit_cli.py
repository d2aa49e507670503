"""`hilite route` and `hilite edit` as a user runs them, with the weights-free classic editor."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
from PIL import Image

from support.cli import hilite
from support.photos import save_photo


def test_route_one_off_offline(tmp_path: Path) -> None:
    img = save_photo(tmp_path, "astronaut", 32)
    res = hilite("route", str(img), "make the sky stormy", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    [rec] = [orjson.loads(x) for x in res.stdout.splitlines()]
    assert rec["router"]["provider"] == "offline" and rec["models"] and rec["intent"]
    assert all(m["name"] not in ("paint-by-example", "anydoor") for m in rec["models"])  # no mask, no reference


def test_one_off_edit_then_pick_records_feedback(tmp_path: Path) -> None:
    img = save_photo(tmp_path, "chelsea", 48)
    args = ("edit", str(img), "make it black and white", "--models", "classic", "--out", "out")
    res = hilite(*args, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert b"A" in res.stderr and b"contact sheet" in res.stderr  # the table is for the terminal
    [cand] = [orjson.loads(x) for x in (tmp_path / "out" / "candidates.jsonl").read_bytes().splitlines()]
    [printed] = [orjson.loads(x) for x in res.stdout.splitlines()]  # stdout is JSONL, paths from the cwd
    assert printed["id"] == cand["id"] and printed["output"] == f"out/{cand['output']}"
    assert printed["intent"] == "general_editing" and printed["router"]["provider"] == "offline"  # routed, then filtered
    gray = np.asarray(Image.open(tmp_path / "out" / cand["output"]))
    assert (gray[..., 0] == gray[..., 1]).all() and (gray[..., 1] == gray[..., 2]).all()
    assert (tmp_path / "out" / cand["sheet"]).is_file()

    res = hilite(*args, "--pick", "a", "--instruction-match", "5", "--original-match", "4", "--comment", "nice",
                 cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert b"1 skipped" in res.stderr  # the candidates were reused, not recomputed
    [fb] = [orjson.loads(x) for x in (tmp_path / "out" / "feedback.jsonl").read_bytes().splitlines()]
    assert fb["chosen_slot"] == "A" and fb["chosen_model"] == "classic" and fb["matches_instruction"] == 5
    assert fb["matches_original"] == 4 and fb["offensive"] is False and fb["comment"] == "nice"
    assert (tmp_path / "out" / fb["output"]).is_file()


def test_one_off_models_filter_the_routed_ranking(tmp_path: Path) -> None:
    img = save_photo(tmp_path, "chelsea", 48)
    res = hilite("edit", str(img), "add a dragon", "--models", "classic", "--out", "out", cwd=tmp_path)
    assert res.returncode == 1 and res.stdout == b""
    assert b"object_insertion" in res.stderr and b"none of the routed models is among --models classic" in res.stderr


def test_manifest_edit_with_sheets_and_refusal(tmp_path: Path) -> None:
    img = save_photo(tmp_path, "coffee", 32)
    tasks = [{"id": "a", "image": img.name, "instruction": "make it warmer"},
             {"id": "b", "image": img.name, "instruction": "add a dragon"}]
    (tmp_path / "t.jsonl").write_bytes(b"\n".join(orjson.dumps(t) for t in tasks) + b"\n")
    res = hilite("edit", "t.jsonl", "--models", "classic", "--attempts", "2", "--sheet", "--out", "e", "-o", "c.jsonl",
                 cwd=tmp_path)
    assert res.returncode == 1
    cands = [orjson.loads(x) for x in (tmp_path / "c.jsonl").read_bytes().splitlines()]
    # classic is deterministic: its 2 seeds give one candidate, and the record says so
    assert [c["parent"] for c in cands] == ["a"] and [c["slot"] for c in cands] == ["A"]
    assert "1 candidate made" in cands[0]["params"]["note"]
    assert (tmp_path / "e" / "sheets" / "a.png").is_file()
    [err] = [orjson.loads(x) for x in (tmp_path / "c.jsonl.errors.jsonl").read_bytes().splitlines()]
    assert err["id"] == "b" and err["error"]["kind"] == "unsupported_instruction"


def test_route_pipe_edit_with_models_filter(tmp_path: Path) -> None:
    img = save_photo(tmp_path, "rocket", 32)
    (tmp_path / "t.jsonl").write_bytes(orjson.dumps({"id": "r", "image": img.name, "instruction": "make it cooler"}) + b"\n")
    routed = hilite("route", "t.jsonl", cwd=tmp_path)
    assert routed.returncode == 0, routed.stderr
    res = hilite("edit", "-", "--models", "classic", "--out", "e", stdin=routed.stdout, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    [cand] = [orjson.loads(x) for x in res.stdout.splitlines()]
    assert cand["model"] == "classic" and cand["parent"] == "r" and (tmp_path / cand["output"]).is_file()


def test_an_empty_instruction_is_refused_by_every_stage(tmp_path: Path) -> None:
    img = save_photo(tmp_path, "coffee", 32)
    tasks = [{"id": "blank", "image": img.name, "instruction": "  "}, {"id": "ok", "image": img.name, "instruction": "make it warmer"}]
    (tmp_path / "t.jsonl").write_bytes(b"".join(orjson.dumps(t) + b"\n" for t in tasks))
    res = hilite("route", "t.jsonl", "--errors", "route.errors.jsonl", cwd=tmp_path)
    assert res.returncode == 1 and [orjson.loads(x)["id"] for x in res.stdout.splitlines()] == ["ok"]
    [err] = [orjson.loads(x) for x in (tmp_path / "route.errors.jsonl").read_bytes().splitlines()]
    assert err["error"]["message"] == "line 1: not a valid task record: `instruction`: string should have at least 1 character"
    candidates = [{"id": "c", "image": img.name, "output": img.name, "instruction": "", "model": "classic"}]
    (tmp_path / "c.jsonl").write_bytes(b"".join(orjson.dumps(c) + b"\n" for c in candidates))
    res = hilite("validate", "c.jsonl", "--judge", "offline", "--errors", "v.errors.jsonl", cwd=tmp_path)
    assert res.returncode == 1 and res.stdout == b""
    assert b"`instruction`" in (tmp_path / "v.errors.jsonl").read_bytes()
