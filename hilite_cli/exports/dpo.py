"""DPO export (NHR 2.3): preference pairs among candidates for the same (source image, instruction),
in TRL's vision preference format, for training a VLM judge with `trl.DPOTrainer`.

What the file trains: a vision-language model that, shown the original and two edits of it for an
instruction, answers which edit is better. Each row is TRL's conversational preference example:
`images` = [original, edit A, edit B] (paths relative to the file; cast to `Sequence(Image())` on
load), `prompt` = one user turn with three image placeholders and the question (prompt
`pref_pairwise`, its version in `prompt_version`), `chosen` / `rejected` = assistant turns "A" / "B"
naming the better and the worse edit. Which side (A or B) holds the winner is decided by a hash of
the pair, so the letter carries no signal. It does NOT train an image editor: TRL's trainers
generate text. The edits themselves are `chosen_edit` / `rejected_edit` (paths), with both sides'
scores, the margin and provenance (a JSON string), for an image-editing preference trainer to use.

Every pair whose geometric means differ by more than `min_margin` is emitted (not only best-vs-rest):
with k attempts per task that is up to k(k-1)/2 pairs, which is what DPO's pairwise loss can use.
Order is deterministic: groups in order of first appearance; inside a group candidates are ranked by
geometric mean (ties by id) and pairs come out as (rank i, rank j) for i < j. Equal scores make no pair.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from hilite_cli.exports.card import ALL_SCORED, CardSpec, write_file_card
from hilite_cli.exports.common import (
    Edit,
    ExportSummary,
    dumps,
    provenance,
    readable_records,
    scored_edits,
    write_jsonl,
)
from hilite_cli.prompts import prompt_version, render_prompt
from hilite_cli.records import Record, stable_id

PROMPT = "pref_pairwise"
CARD = CardSpec(
    title="Edit preference pairs for a vision judge, TRL DPO format (hilite dpo export)",
    purpose="Trains a vision-language model to tell the better of two edits of one image for one instruction, "
    "with `trl.DPOTrainer` (a VLM and its processor). Columns are TRL's conversational preference format with "
    "images. It does not train an image editor: the edits themselves are in `chosen_edit` / `rejected_edit`.",
    load='import datasets\nds = datasets.load_dataset("json", data_files="<this file>", split="train")\n'
    'ds = ds.cast_column("images", datasets.Sequence(datasets.Image()))  # paths relative to the file: run from its folder',
    columns={
        "images": "[original, edit A, edit B]: the three images the prompt's placeholders refer to, in order",
        "prompt": "user turn: three image placeholders and the question (prompt `pref_pairwise`)",
        "chosen": "assistant turn naming the better edit (\"A\" or \"B\")",
        "rejected": "assistant turn naming the worse edit",
        "chosen_edit": "path of the better edit (higher sqrt(adherence x aesthetics))",
        "rejected_edit": "path of the worse edit",
        "source": "path of the original image",
        "instruction": "the edit instruction",
        "chosen_scores": "{instruction, aesthetics, geometric} of the better edit (judge, 1-5)",
        "rejected_scores": "the same for the worse edit",
        "margin": "geometric-mean gap between the two (> --min-margin)",
        "prompt_version": "hash of the `pref_pairwise` prompt text",
        "provenance": "JSON string: {chosen, rejected} provenance of both candidates (ids, editor, seed, judge)",
    },
    task="image-text-to-text",
    takes=ALL_SCORED,
)


def group_key(edit: Edit) -> tuple[str, str]:
    """Candidates compete only with others made from the same source file for the same instruction."""
    return (os.path.normpath(os.path.abspath(edit.source)), edit.instruction)


def ranked_groups(scored: Iterable[Record], stats: Counter[str]) -> Iterator[list[Edit]]:
    """Scored candidates grouped by `group_key`, each group best first; unscored ones are counted."""
    groups: dict[tuple[str, str], list[Edit]] = {}
    for edit in scored_edits(scored, stats, need_geometric=True):
        groups.setdefault(group_key(edit), []).append(edit)
    for edits in groups.values():
        yield sorted(edits, key=lambda e: (-(e.geometric or 0.0), str(e.record.get("id"))))


def preference_pairs(
    scored: Iterable[Record], *, min_margin: float = 0.0, stats: Counter[str] | None = None
) -> Iterator[tuple[Edit, Edit, float]]:
    """(winner, loser, margin) for every pair in a group whose geometric means differ by > `min_margin`."""
    if min_margin < 0:
        raise ValueError(f"`min_margin` must be >= 0 (a negative margin would pair ties), got {min_margin}")
    stats = stats if stats is not None else Counter()
    for ranked in ranked_groups(scored, stats):
        for i, winner in enumerate(ranked):
            for loser in ranked[i + 1 :]:
                margin = (winner.geometric or 0.0) - (loser.geometric or 0.0)
                if margin > min_margin:
                    stats["pairs"] += 1
                    yield winner, loser, margin
                else:
                    stats["below_margin"] += 1


def judge_turns(instruction: str, chosen_letter: str) -> dict[str, Any]:
    """TRL's conversational prompt/chosen/rejected for one pair: the winner is `chosen_letter` (A or B)."""
    other = "B" if chosen_letter == "A" else "A"
    return {
        "prompt": [{"role": "user", "content": [{"type": "image"}, {"type": "image"}, {"type": "image"},
                                                 {"type": "text", "text": render_prompt(PROMPT, instruction=instruction)}]}],
        "chosen": [{"role": "assistant", "content": [{"type": "text", "text": chosen_letter}]}],
        "rejected": [{"role": "assistant", "content": [{"type": "text", "text": other}]}],
    }


def dpo_pairs(
    scored: Iterable[Record], *, min_margin: float = 0.0, stats: Counter[str] | None = None
) -> Iterator[dict[str, Any]]:
    """TRL vision preference rows (see the module docstring), with the edits, scores, margin and provenance."""
    version = prompt_version(PROMPT)
    for winner, loser, margin in preference_pairs(scored, min_margin=min_margin, stats=stats):
        pair_id = stable_id("dpo", winner.record.get("id"), loser.record.get("id"))
        winner_is_a = int(pair_id, 16) % 2 == 0
        first, second = (winner, loser) if winner_is_a else (loser, winner)
        yield {
            "id": pair_id,
            "images": [winner.source, first.edited, second.edited],
            **judge_turns(winner.instruction, "A" if winner_is_a else "B"),
            "chosen_edit": winner.edited,
            "rejected_edit": loser.edited,
            "source": winner.source,
            "instruction": winner.instruction,
            "chosen_scores": winner.scores,
            "rejected_scores": loser.scores,
            "margin": margin,
            "prompt_version": version,
            "provenance": dumps({"chosen": provenance(winner.record), "rejected": provenance(loser.record)}).decode(),
        }


def write_dpo(scored: Iterable[Record], path: str | os.PathLike[str], *, min_margin: float = 0.0) -> ExportSummary:
    """Write DPO pair rows to a JSONL file."""
    stats: Counter[str] = Counter()
    summary = ExportSummary(format="dpo", target=str(Path(path)))
    pairs = dpo_pairs(readable_records(scored, summary), min_margin=min_margin, stats=stats)
    summary.written = write_jsonl(pairs, path, path_fields=("images", "source", "chosen_edit", "rejected_edit"))
    summary.take_stats(stats, counted=("pairs", "below_margin"))
    write_file_card(Path(path), CARD, summary)
    return summary
