"""`ip2p` export: an imagefolder that diffusers' `train_instruct_pix2pix.py` loads with its defaults.

`datasets`' imagefolder turns every `<name>_file_name` column of `metadata.jsonl` into an image
column `<name>`, so `input_image_file_name` / `edited_image_file_name` become the script's default
`input_image` / `edited_image` columns and `edit_prompt` is its default text column. Scores are
flat columns and provenance a JSON string, so every row has the same Arrow schema.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

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
from hilite_cli.records import Record

IMAGES_DIR = "images"


def write_ip2p(records: Iterable[Record], out_dir: str | os.PathLike[str]) -> ExportSummary:
    """Copy each triplet's two images into `out_dir/images/` (content-addressed) and write `metadata.jsonl`."""
    root = prepare_out_dir(out_dir)
    summary = ExportSummary(format="ip2p", target=str(root))
    with AtomicFile(root / "metadata.jsonl") as fh:
        for edit in checked_edits(records, summary):
            row = {
                "input_image_file_name": copy_image(edit.source, root, f"{IMAGES_DIR}/{content_name(edit.source)}"),
                "edited_image_file_name": copy_image(edit.edited, root, f"{IMAGES_DIR}/{content_name(edit.edited)}"),
                "edit_prompt": edit.instruction,
                "id": str(edit.record.get("id")),
                "score_instruction": edit.adherence,
                "score_aesthetics": edit.aesthetics,
                "score_geometric": edit.geometric,
                "provenance": orjson.dumps(provenance(edit.record), option=orjson.OPT_SORT_KEYS).decode(),
            }
            fh.write(dumps(row) + b"\n")
            summary.written += 1
    return summary
