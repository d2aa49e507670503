"""A tiny GEdit-Bench (the hub repo's parquet layout) and ImgEdit-Bench (basic_edit.json + images),
edited images in each benchmark's layout, and stand-in prompt files in the layout of the user's copy."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
from support.photos import photo

# Stand-in prompt text (not the benchmarks' own), in the layout hilite reads from a VIEScore checkout.
VIE_PROMPTS = '''
_context_no_delimit = """CONTEXT: answer {"score": [...], "reasoning": "..."}"""
_prompts_0shot_two_image_edit_rule = """EDIT-RULES: two images, original then edited."""
_prompts_0shot_tie_rule_SC = """SC-RULES: [success, overediting]. Editing instruction: <instruction>"""
_prompts_0shot_rule_PQ = """PQ-RULES: [naturalness, artifacts]"""
_not_a_constant = str(1)
import os
os._exit(3)  # never runs: hilite parses this file, it does not execute it
'''


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Bench:
    data: Path
    edited: Path
    prompts: Path
    edited_sha: dict[str, str]  # key -> sha256 of the PNG the judge receives


def _png(name: str, size: int, edit: bool) -> bytes:
    from hilite_cli.images import encode_image

    img = photo(name, size)
    return encode_image(img.rotate(90) if edit else img)


@pytest.fixture
def gedit(tmp_path: Path) -> Bench:
    import datasets
    from PIL import Image
    import io

    rows = [("k1", "color_alter", "make the car red", "en"), ("k2", "color_alter", "make the sky green", "en"),
            ("k3", "style_change", "make it a watercolour", "en"), ("k4", "style_change", "变成水彩画", "cn"),
            ("k5", "style_change", "make it pixel art", "en")]
    names = ["astronaut", "coffee", "chelsea", "rocket", "camera"]
    images = [Image.open(io.BytesIO(_png(n, 24, False))) for n in names]
    table = datasets.Dataset.from_dict(
        {"key": [r[0] for r in rows], "task_type": [r[1] for r in rows], "instruction": [r[2] for r in rows],
         "instruction_language": [r[3] for r in rows], "input_image": images, "Intersection_exist": [True, False, True, True, True]},
        features=datasets.Features({"key": datasets.Value("string"), "task_type": datasets.Value("string"),
                                    "instruction": datasets.Value("string"), "instruction_language": datasets.Value("string"),
                                    "input_image": datasets.Image(), "Intersection_exist": datasets.Value("bool")}),
    )
    data = tmp_path / "GEdit-Bench" / "data"
    data.mkdir(parents=True)
    table.to_parquet(str(data / "train-00000-of-00001.parquet"))
    edited = tmp_path / "results" / "mymodel" / "fullset"
    shas = {}
    for (key, task, _, lang), name in zip(rows, names, strict=True):
        png = _png(name, 24, True)
        target = edited / task / lang / f"{key}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(png)
        shas[key] = sha(png)
    prompts = tmp_path / "VIEScore" / "viescore"
    prompts.mkdir(parents=True)
    (prompts / "vie_prompts.py").write_text(VIE_PROMPTS)
    return Bench(tmp_path / "GEdit-Bench", edited, tmp_path / "VIEScore", shas)


@pytest.fixture
def imgedit(tmp_path: Path) -> Bench:
    root = tmp_path / "ImgEdit" / "Basic"
    entries = {"k1": ("animal/a.png", "Add a hat to the cat.", "add", "chelsea"),
               "k2": ("animal/b.png", "Add a red ball.", "add", "coffee"),
               "k3": ("style/c.png", "Turn it into ukiyo-e.", "style", "astronaut"),
               "k4": ("animal/d.png", "Add a bird.", "add", "rocket")}
    edited = tmp_path / "edited"
    edited.mkdir()
    shas = {}
    for key, (rel, _, _, name) in entries.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(_png(name, 24, False))
        if key != "k4":  # k4 was never edited
            png = _png(name, 24, True)
            (edited / f"{key}.png").write_bytes(png)
            shas[key] = sha(png)
    meta = {k: {"id": rel, "prompt": prompt, "edit_type": kind} for k, (rel, prompt, kind, _) in entries.items()}
    (root / "basic_edit.json").write_bytes(orjson.dumps(meta))
    prompts = tmp_path / "imgedit_prompts.json"
    prompts.write_bytes(orjson.dumps({"add": "ADD-RULES. Instruction: <edit_prompt>", "style": "STYLE-RULES. Instruction: <edit_prompt>"}))
    return Bench(root, edited, prompts, shas)
