"""scripts/loop.sh runs as a user would run it: two rounds of ordinary hilite commands against the
loopback judge, the second mining with --schedule adaptive weighted by the first round's eval."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
from support.loopback import Loopback, Received
from support.photos import save_photo

ROOT = Path(__file__).resolve().parents[2]


def answer(request: Received) -> str:
    """A.2 scores, A.6 inverses and ImgEdit-style judge replies, by what the prompt asks."""
    text = request.text()
    if text.startswith("You are an expert evaluator"):
        return '{"InstructionAdherence": 4.9, "ImageAesthetic": 4.8}'
    if "Editing instruction: \"" in text:
        return "Give the photo its original colours"
    if text.startswith("TONE-RULES"):
        return "Prompt Compliance: 3\nVisual Seamlessness: 4\nPhysical & Detail Fidelity: 5"
    return "yes"


def test_two_rounds_of_the_loop(tmp_path: Path) -> None:
    photos = [save_photo(tmp_path, name, size=24) for name in ("astronaut", "coffee")]
    specs = tmp_path / "specs.jsonl"
    specs.write_bytes(b"".join(orjson.dumps({"id": p.stem, "image": str(p), "edits": ["make it grayscale", "make it sepia"],
                                             "category": "tone"}) + b"\n" for p in photos))
    bench = tmp_path / "bench"
    bench.mkdir()
    save_photo(bench, "chelsea", size=24)
    (bench / "basic_edit.json").write_bytes(orjson.dumps({"1": {"id": "chelsea.png", "prompt": "make it grayscale", "edit_type": "tone"}}))
    prompts = tmp_path / "prompts.json"
    prompts.write_bytes(orjson.dumps({"tone": "TONE-RULES <edit_prompt>"}))
    hilite = tmp_path / "hilite"
    hilite.write_text(f"#!/bin/sh\nexec {sys.executable} -m hilite_cli \"$@\"\n")
    hilite.chmod(0o755)
    with Loopback(answer=answer) as server:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "HILITE": str(hilite), "SPECS": str(specs), "WORK": str(tmp_path / "loop"),
               "ROUNDS": "2", "EDITOR": "classic", "JUDGE": "openai:gpt-4.1", "OPENAI_API_KEY": "sk-loop-test",
               "OPENAI_BASE_URL": server.openai_url, "BENCH": "imgedit", "BENCH_DATA": str(bench), "PROMPTS": str(prompts)}
        done = subprocess.run(["bash", str(ROOT / "scripts" / "loop.sh")], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "TRAINING STEP SKIPPED" in done.stderr
    loop = tmp_path / "loop"
    first = orjson.loads((loop / "round-1" / "mine-stats.json").read_bytes())
    second = orjson.loads((loop / "round-2" / "mine-stats.json").read_bytes())
    assert first["settings"]["schedule"] == "uniform" and second["settings"]["schedule"] == "adaptive"
    assert second["schedule"]["prior"] == {"tone": 1.0}  # the round-1 eval's category_weights
    assert orjson.loads((loop / "round-2" / "eval.json").read_bytes())["overall"]["items"]["overall"] == 4.0
    exported = [orjson.loads(x) for x in (loop / "round-1" / "export" / "metadata.jsonl").read_bytes().splitlines()]
    assert exported and any(row["difficulty"] == 1.0 for row in exported)  # the curriculum column
