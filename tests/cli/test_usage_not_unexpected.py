"""Ordinary usage mistakes are one line and exit 2, never "unexpected; set HILITE_DEBUG=1" (that is for bugs)."""

from __future__ import annotations

from pathlib import Path

import orjson

from support.cli import hilite
from support.photos import photo


def test_semantic_checks_with_the_offline_judge(tmp_path: Path) -> None:
    photo("chelsea", 32).save(tmp_path / "x.png")
    (tmp_path / "d.jsonl").write_bytes(orjson.dumps({"id": "c", "image": "x.png", "instruction": "make it blue",
                                                     "model": "m", "output": "x.png"}) + b"\n")
    res = hilite("validate", "d.jsonl", "--judge", "offline", "--checks", "lowlevel,unwanted", "-o", "out.jsonl",
                 cwd=tmp_path)
    assert res.returncode == 2 and b"use --checks lowlevel" in res.stderr
    assert b"unexpected" not in res.stderr and not (tmp_path / "out.jsonl").exists()


def test_text_mask_without_segmentation_weights(tmp_path: Path) -> None:
    photo("chelsea", 32).save(tmp_path / "x.png")
    res = hilite("mask", "x.png", "--text", "the cat", "--segmenter", str(tmp_path / "no-such-clipseg"), cwd=tmp_path)
    assert res.returncode == 2 and b"cannot load CLIPSeg weights" in res.stderr
    assert b"unexpected" not in res.stderr and len(res.stderr.strip().splitlines()) == 1


def test_a_named_editor_that_cannot_run_here_is_refused_before_any_record(tmp_path: Path) -> None:
    """`--models instruct-pix2pix` without weights used to fail once per record and attempt, then exit 1."""
    photo("chelsea", 32).save(tmp_path / "x.png")
    (tmp_path / "t.jsonl").write_bytes(b"".join(orjson.dumps({"id": f"t{i}", "image": "x.png", "instruction": "make it blue"})
                                                + b"\n" for i in range(4)))
    res = hilite("edit", "t.jsonl", "--models", "instruct-pix2pix,classic", "--attempts", "4", "--out", "edits/",
                 "-o", "c.jsonl", cwd=tmp_path, env={"HF_HOME": str(tmp_path / "hf")})
    assert res.returncode == 2, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and b"instruct-pix2pix: weights not in the HF cache" in res.stderr
    assert not (tmp_path / "c.jsonl").exists() and not (tmp_path / "edits").exists()
