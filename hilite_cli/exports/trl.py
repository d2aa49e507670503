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
from typing import Any

import orjson

from hilite_cli.exports.common import (
    AtomicFile,
    ExportSummary,
    checked_edits,
    content_name,
    copy_image,
    dumps,
    prepare_out_dir,
    provenance,
)
from hilite_cli.prompts import prompt_version, render_prompt
from hilite_cli.records import Record

IMAGES_DIR = "images"
PROMPT_NAME = "a2_evaluation"


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


def write_trl(records: Iterable[Record], out_dir: str | os.PathLike[str]) -> ExportSummary:
    """Write one judge-training row per edit with both scores, prompted with A.2 (its version recorded)."""
    root = prepare_out_dir(out_dir)
    summary = ExportSummary(format="trl", target=str(root))
    version = prompt_version(PROMPT_NAME)
    with AtomicFile(root / "metadata.jsonl") as fh:
        for edit in checked_edits(records, summary, need_scores=True):
            assert edit.adherence is not None and edit.aesthetics is not None
            row = {
                "messages": judge_messages(edit.instruction, edit.adherence, edit.aesthetics),
                "file_names": [
                    copy_image(path, root, f"{IMAGES_DIR}/{content_name(path)}") for path in (edit.source, edit.edited)
                ],
                "id": str(edit.record.get("id")),
                "score_instruction": edit.adherence,
                "score_aesthetics": edit.aesthetics,
                "score_geometric": edit.geometric,
                "prompt_version": version,
                "provenance": orjson.dumps(provenance(edit.record), option=orjson.OPT_SORT_KEYS).decode(),
            }
            fh.write(dumps(row) + b"\n")
            summary.written += 1
    return summary
