"""`trl` export: conversational rows for fine-tuning a VLM judge with TRL's SFTTrainer.

Each scored edit becomes one exchange: the user turn holds the original and edited images (two
`{"type": "image"}` placeholders, in prompt A.2's order) and A.2's text with the instruction; the
assistant turn is the judge's answer as A.2 asks for it, `{"InstructionAdherence": x,
"ImageAesthetic": y}`. Rows are a `datasets` imagefolder: `metadata.jsonl`'s `file_names` list
becomes the `images` column TRL fills the placeholders from. Passing and failing edits are both
exported: a judge has to learn low scores too.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from hilite_cli.exports.card import ALL_SCORED, FLAT_COLUMNS, CardSpec, write_card
from hilite_cli.exports.common import (
    Edit,
    ExportSummary,
    checked_edits,
    flat_columns,
    prepare_out_dir,
    store_image,
    write_jsonl,
)
from hilite_cli.prompts import prompt_version, render_prompt
from hilite_cli.records import Record

PROMPT_NAME = "a2_evaluation"
CARD = CardSpec(
    title="Judge-training conversations for TRL's SFTTrainer (hilite trl export)",
    purpose="Teaches a vision-language model to answer NHR's prompt A.2 with the judge's two scores for an "
    "(original, edited, instruction) triplet, with `trl.SFTTrainer`. Conversational `messages` with image "
    "placeholders; `images` fills them in order.",
    load='import datasets\nds = datasets.load_dataset("imagefolder", data_dir="<this folder>", split="train")',
    columns={
        "messages": "user turn: two image placeholders (original, edited) and prompt A.2 with the instruction; "
        "assistant turn: {\"InstructionAdherence\": x, \"ImageAesthetic\": y}",
        "images": "[original, edited] (from `file_names`), in the placeholders' order",
        "prompt_version": "hash of prompt A.2's text",
        **FLAT_COLUMNS,
    },
    task="image-text-to-text",
    takes=ALL_SCORED,
)


def judge_messages(instruction: str, adherence: float, aesthetics: float) -> list[dict[str, Any]]:
    """The user/assistant exchange that teaches a judge to answer A.2 with these scores."""
    answer = json.dumps({"InstructionAdherence": adherence, "ImageAesthetic": aesthetics})
    return [
        {
            "role": "user",
            "content": [
                {"type": "image"},
                {"type": "image"},
                {"type": "text", "text": render_prompt(PROMPT_NAME, instruction=instruction)},
            ],
        },
        {"role": "assistant", "content": [{"type": "text", "text": answer}]},
    ]


def _row(edit: Edit, root: Path, version: str) -> dict[str, Any]:
    assert edit.adherence is not None and edit.aesthetics is not None
    return {
        "messages": judge_messages(edit.instruction, edit.adherence, edit.aesthetics),
        "file_names": [store_image(path, root) for path in (edit.source, edit.edited)],
        "prompt_version": version,
        **flat_columns(edit),
    }


def write_trl(records: Iterable[Record], out_dir: str | os.PathLike[str]) -> ExportSummary:
    """Write one judge-training row per edit with both scores, prompted with A.2 (its version recorded)."""
    root = prepare_out_dir(out_dir)
    summary = ExportSummary(format="trl", target=str(root))
    version = prompt_version(PROMPT_NAME)
    rows = (_row(edit, root, version) for edit in checked_edits(records, summary, need_scores=True))
    summary.written = write_jsonl(rows, root / "metadata.jsonl")
    write_card(root, CARD, summary)
    return summary
