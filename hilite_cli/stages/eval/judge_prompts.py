"""The benchmarks' own judge prompts: VIEScore's bundled (MIT), ImgEdit's from the user's copy.

- GEdit-Bench judges with VIEScore (https://github.com/TIGER-AI-Lab/VIEScore, MIT licence; GEdit-Bench
  vendors the same module in https://github.com/stepfun-ai/Step1X-Edit under GEdit-Bench/). The
  four texts of the "tie" (text-guided image editing) task ship with hilite, with VIEScore's licence
  and a PROVENANCE file (commit, file, names), under `hilite_cli/prompts/viescore/`: each file is
  one string constant of `viescore/vie_prompts.py`, exactly. `--prompts DIR` overrides them with a
  checkout of either repo, whose `vie_prompts.py` is parsed with `ast` (never executed). SC prompt
  = `_context_no_delimit`, `_prompts_0shot_two_image_edit_rule`, `_prompts_0shot_tie_rule_SC` joined
  by newlines, with `<instruction>` filled in; PQ prompt = `_context_no_delimit` and
  `_prompts_0shot_rule_PQ`. Either way the run records the source and a hash of the texts.
- ImgEdit-Bench (https://github.com/PKU-YuanGroup/ImgEdit) publishes no licence file, so its prompts
  cannot be copied: `--prompts FILE` is the user's prompts JSON (`{edit_type: prompt}`, with
  `<edit_prompt>` where the instruction goes), the file ImgEdit's basic_bench.py takes as --prompts_json.
"""

from __future__ import annotations

import ast
import hashlib
from dataclasses import dataclass
from pathlib import Path

from importlib import resources

import orjson

BUNDLED_VIESCORE = "bundled: VIEScore 2cbea4e (MIT, TIGER-AI-Lab/VIEScore viescore/vie_prompts.py)"
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


def _tie_prompts(names: dict[str, str], source: str) -> VieScorePrompts:
    context, edit_rule, sc_rule, pq_rule = (names[n] for n in VIESCORE_NAMES)
    return VieScorePrompts("\n".join([context, edit_rule, sc_rule]), "\n".join([context, pq_rule]), source)


def bundled_viescore_prompts() -> VieScorePrompts:
    """The VIEScore texts shipped in hilite_cli/prompts/viescore/ (bytes, so no newline is translated)."""
    folder = resources.files("hilite_cli.prompts").joinpath("viescore")
    return _tie_prompts({n: folder.joinpath(f"{n}.txt").read_bytes().decode("utf-8") for n in VIESCORE_NAMES},
                        BUNDLED_VIESCORE)


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
    return _tie_prompts(names, str(path))


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
