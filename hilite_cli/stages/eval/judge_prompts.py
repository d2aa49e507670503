"""The benchmarks' own judge prompts, read from the user's copy of each benchmark's code.

- GEdit-Bench judges with VIEScore (https://github.com/TIGER-AI-Lab/VIEScore, MIT licence; GEdit-Bench
  vendors the same module in https://github.com/stepfun-ai/Step1X-Edit under GEdit-Bench/). The MIT
  licence would allow bundling the prompts with its notice, but hilite does not ship third-party
  prompt text: `--prompts DIR` points at a checkout of either repo, and the prompts are read from
  its `viescore/vie_prompts.py` (parsed with `ast`, never executed): the "tie" (text-guided image
  editing) task's SC prompt = `_context_no_delimit`, `_prompts_0shot_two_image_edit_rule`,
  `_prompts_0shot_tie_rule_SC` joined by newlines, with `<instruction>` filled in; its PQ prompt =
  `_context_no_delimit` and `_prompts_0shot_rule_PQ`.
- ImgEdit-Bench (https://github.com/PKU-YuanGroup/ImgEdit) publishes no licence file, so its prompts
  cannot be copied: `--prompts FILE` is the user's prompts JSON (`{edit_type: prompt}`, with
  `<edit_prompt>` where the instruction goes), the file ImgEdit's basic_bench.py takes as --prompts_json.
"""

from __future__ import annotations

import ast
import hashlib
from dataclasses import dataclass
from pathlib import Path

import orjson

VIESCORE_NAMES = ("_context_no_delimit", "_prompts_0shot_two_image_edit_rule", "_prompts_0shot_tie_rule_SC",
                  "_prompts_0shot_rule_PQ")


class PromptsError(ValueError):
    """Judge prompts that cannot be read: one line saying what is missing."""


def _version(*texts: str) -> str:
    return hashlib.sha256("\0".join(texts).encode()).hexdigest()[:12]


@dataclass(frozen=True)
class VieScorePrompts:
    sc_template: str
    pq: str
    source: str

    @property
    def version(self) -> str:
        return _version(self.sc_template, self.pq)

    def sc(self, instruction: str) -> str:
        return self.sc_template.replace("<instruction>", instruction)


@dataclass(frozen=True)
class ImgEditPrompts:
    by_type: dict[str, str]
    source: str

    @property
    def version(self) -> str:
        return _version(*(f"{k}={v}" for k, v in sorted(self.by_type.items())))

    def prompt(self, edit_type: str, instruction: str) -> str | None:
        template = self.by_type.get(edit_type)
        return None if template is None else template.replace("<edit_prompt>", instruction)


def _string_constants(path: Path) -> dict[str, str]:
    """Top-level `NAME = "..."` assignments of a Python file, without running it."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (OSError, SyntaxError, UnicodeDecodeError) as exc:
        raise PromptsError(f"{path}: cannot read it as Python ({exc})") from None
    out = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    out[target.id] = node.value.value
    return out


def viescore_prompts(where: Path) -> VieScorePrompts:
    """VIEScore's tie-task prompts from a VIEScore or Step1X-Edit checkout (or the vie_prompts.py itself)."""
    if where.is_file():
        path = where
    else:
        found = sorted(where.rglob("vie_prompts.py")) if where.is_dir() else []
        if not found:
            raise PromptsError(f"--prompts {where}: no vie_prompts.py under it (point it at a VIEScore or "
                               "Step1X-Edit checkout)")
        path = found[0]
    names = _string_constants(path)
    missing = [n for n in VIESCORE_NAMES if n not in names]
    if missing:
        raise PromptsError(f"{path}: no {', '.join(missing)} (not VIEScore's prompt module?)")
    context, edit_rule, sc_rule, pq_rule = (names[n] for n in VIESCORE_NAMES)
    return VieScorePrompts("\n".join([context, edit_rule, sc_rule]), "\n".join([context, pq_rule]), str(path))


def imgedit_prompts(where: Path) -> ImgEditPrompts:
    """ImgEdit's judge prompts per edit type from the user's prompts JSON (a file, or DIR/prompts.json)."""
    path = where / "prompts.json" if where.is_dir() else where
    if not path.is_file():
        raise PromptsError(f"--prompts {where}: no ImgEdit prompts JSON there (ImgEdit publishes no licence, "
                           "so hilite cannot ship them: pass your copy)")
    try:
        data = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise PromptsError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict) or not data or not all(isinstance(v, str) for v in data.values()):
        raise PromptsError(f"{path}: expected an object of edit_type -> prompt text")
    return ImgEditPrompts(dict(data), str(path))
