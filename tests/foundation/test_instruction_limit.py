"""An instruction past configs/thresholds.toml [instructions] max_chars is refused, naming its length,
before any stage sends it on (a 1 MB instruction used to reach the judge and make a 7 MB route record)."""

from __future__ import annotations

from pathlib import Path

import orjson

from hilite_cli.records import max_instruction_chars
from support.cli import hilite
from support.photos import photo

LONG = "make it " + "very " * 1000 + "blue"


def test_a_long_instruction_in_a_manifest_is_that_records_error(tmp_path: Path) -> None:
    assert len(LONG) > max_instruction_chars()
    photo("chelsea", 32).save(tmp_path / "cat.png")
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_bytes(orjson.dumps({"id": "long", "image": "cat.png", "instruction": LONG}) + b"\n"
                      + orjson.dumps({"id": "ok", "image": "cat.png", "instruction": "make it blue"}) + b"\n")
    res = hilite("route", str(tasks), "--provider", "offline", "-o", str(tmp_path / "r.jsonl"))
    assert res.returncode == 1, res.stderr
    routed = [orjson.loads(x) for x in (tmp_path / "r.jsonl").read_bytes().splitlines()]
    assert [r["id"] for r in routed] == ["ok"]
    (error,) = [orjson.loads(x) for x in (tmp_path / "r.jsonl.errors.jsonl").read_bytes().splitlines()]
    assert f"{len(LONG)} characters long" in error["error"]["message"]


def test_a_long_instruction_on_the_command_line_is_a_usage_error(tmp_path: Path) -> None:
    photo("chelsea", 32).save(tmp_path / "cat.png")
    res = hilite("edit", str(tmp_path / "cat.png"), LONG, "--models", "classic", "--out", str(tmp_path / "out"))
    assert res.returncode == 2 and f"{len(LONG)} characters long".encode() in res.stderr
    assert not (tmp_path / "out").exists()


def test_a_folder_is_not_called_a_manifest(tmp_path: Path) -> None:
    res = hilite("edit", str(tmp_path), "make it blue", "--models", "classic", "--out", str(tmp_path / "out"))
    assert res.returncode == 2 and b"is a folder" in res.stderr and b"manifest" not in res.stderr.split(b"is a folder")[0]
