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


def _loop_env(tmp_path: Path, edits: list[str], server: Loopback, **extra: str) -> dict[str, str]:
    """scripts/loop.sh's environment over two photo specs with `edits`, a one-item ImgEdit folder, its
    prompts, a `hilite` wrapper and the loopback judge; `extra` adds or overrides variables."""
    photos = [save_photo(tmp_path, name, size=24) for name in ("astronaut", "coffee")]
    specs = tmp_path / "specs.jsonl"
    specs.write_bytes(b"".join(orjson.dumps({"id": p.stem, "image": str(p), "edits": edits, "category": "tone"}) + b"\n"
                               for p in photos))
    bench = tmp_path / "bench"
    bench.mkdir()
    save_photo(bench, "chelsea", size=24)
    (bench / "basic_edit.json").write_bytes(orjson.dumps({"1": {"id": "chelsea.png", "prompt": "make it grayscale", "edit_type": "tone"}}))
    prompts = tmp_path / "prompts.json"
    prompts.write_bytes(orjson.dumps({"tone": "TONE-RULES <edit_prompt>"}))
    hilite = tmp_path / "hilite"
    hilite.write_text(f"#!/bin/sh\nexec {sys.executable} -m hilite_cli \"$@\"\n")
    hilite.chmod(0o755)
    return {**os.environ, "PYTHONPATH": str(ROOT), "HILITE": str(hilite), "SPECS": str(specs), "WORK": str(tmp_path / "loop"),
            "EDITOR": "classic", "JUDGE": "openai:gpt-4.1", "OPENAI_API_KEY": "sk-loop-test",
            "OPENAI_BASE_URL": server.openai_url, "BENCH": "imgedit", "BENCH_DATA": str(bench), "PROMPTS": str(prompts),
            **extra}


def test_two_rounds_of_the_loop(tmp_path: Path) -> None:
    with Loopback(answer=answer) as server:
        env = _loop_env(tmp_path, ["make it grayscale", "make it sepia"], server, ROUNDS="2")
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


# Stands in for diffusers' examples/instruct_pix2pix/train_instruct_pix2pix.py: the same required
# arguments (argparse's required --pretrained_model_name_or_path; --seed, which the script passes to
# torch.Generator.manual_seed) and the same data loading (imagefolder over `<train_data_dir>/**`, the
# default input_image / edit_prompt / edited_image columns, converted to RGB), then a marker file.
FAKE_TRAINER = '''
import argparse, os, sys, json
import datasets, torch
p = argparse.ArgumentParser()
p.add_argument("--pretrained_model_name_or_path", type=str, default=None, required=True)
p.add_argument("--train_data_dir", type=str, default=None)
p.add_argument("--output_dir", type=str, default="instruct-pix2pix-model")
p.add_argument("--seed", type=int, default=None)
args = p.parse_args()
torch.Generator().manual_seed(args.seed)
ds = datasets.load_dataset("imagefolder", data_files={"train": os.path.join(args.train_data_dir, "**")})["train"]
for column in ("input_image", "edit_prompt", "edited_image"):
    assert column in ds.column_names, (column, ds.column_names)
rows = [(r["input_image"].convert("RGB").size, r["edit_prompt"], r["edited_image"].convert("RGB").size) for r in ds]
json.dump({"base": args.pretrained_model_name_or_path, "rows": len(rows)}, open(os.path.join(args.output_dir, "trained.json"), "w"))
'''


def _readme_train_cmd() -> str:
    import re

    text = (ROOT / "README.md").read_text()
    found = re.search(r"TRAIN_CMD='(.*?)'", text, re.DOTALL)
    assert found, "README shows no TRAIN_CMD"
    return found.group(1)  # as written, line continuations too: loop.sh runs it with bash -c


def test_the_readme_training_recipe_runs_with_the_trainers_required_arguments(tmp_path: Path) -> None:
    trainer = tmp_path / "train_instruct_pix2pix.py"
    trainer.write_text(FAKE_TRAINER)
    recipe = _readme_train_cmd()
    assert recipe.startswith("accelerate launch train_instruct_pix2pix.py ")
    train_cmd = recipe.replace("accelerate launch train_instruct_pix2pix.py", f"{sys.executable} {trainer}")
    with Loopback(answer=answer) as server:
        env = _loop_env(tmp_path, ["make it grayscale"], server, ROUNDS="1", TRAIN_CMD=train_cmd,
                        HF_DATASETS_CACHE=str(tmp_path / "hf-cache"))
        done = subprocess.run(["bash", str(ROOT / "scripts" / "loop.sh")], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    trained = orjson.loads((tmp_path / "loop" / "round-1" / "trained" / "trained.json").read_bytes())
    assert trained["base"] == "stable-diffusion-v1-5/stable-diffusion-v1-5" and trained["rows"] > 0
    header = (ROOT / "scripts" / "loop.sh").read_text()
    assert "--pretrained_model_name_or_path \"$BASE_MODEL\"" in header and "--seed 0" in header
