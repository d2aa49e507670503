"""`ip2p` export: an imagefolder that diffusers' `train_instruct_pix2pix.py` loads with its defaults.

`datasets`' imagefolder turns every `<name>_file_name` column of `metadata.jsonl` into an image
column `<name>`, so `input_image_file_name` / `edited_image_file_name` become the script's default
`input_image` / `edited_image` columns and `edit_prompt` is its default text column. Scores are
flat columns and provenance a JSON string, so every row has the same Arrow schema.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from hilite_cli.exports.common import (
    ExportSummary,
    checked_edits,
    flat_columns,
    prepare_out_dir,
    store_image,
    write_jsonl,
)
from hilite_cli.records import Record


def write_ip2p(records: Iterable[Record], out_dir: str | os.PathLike[str]) -> ExportSummary:
    """Copy each triplet's two images into `out_dir/images/` (content-addressed) and write `metadata.jsonl`."""
    root = prepare_out_dir(out_dir)
    summary = ExportSummary(format="ip2p", target=str(root))
    rows = (
        {
            "input_image_file_name": store_image(edit.source, root),
            "edited_image_file_name": store_image(edit.edited, root),
            "edit_prompt": edit.instruction,
            **flat_columns(edit),
        }
        for edit in checked_edits(records, summary)
    )
    summary.written = write_jsonl(rows, root / "metadata.jsonl")
    return summary
