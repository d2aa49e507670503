"""`ip2p` export: an imagefolder that diffusers' `train_instruct_pix2pix.py` loads with its defaults.

`datasets`' imagefolder turns every `<name>_file_name` column of `metadata.jsonl` into an image
column `<name>`, so `input_image_file_name` / `edited_image_file_name` become the script's default
`input_image` / `edited_image` columns and `edit_prompt` is its default text column. Scores are
flat columns and provenance a JSON string, so every row has the same Arrow schema. Only records that
passed validation are taken unless `include_rejected`; a README.md dataset card says what was made how.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from hilite_cli.exports.card import FLAT_COLUMNS, CardSpec, write_card
from hilite_cli.exports.common import (
    ExportSummary,
    checked_edits,
    flat_columns,
    prepare_out_dir,
    store_image,
    write_jsonl,
)
from hilite_cli.records import Record

CARD = CardSpec(
    title="Instruction-editing triplets for train_instruct_pix2pix.py (hilite ip2p export)",
    purpose="Triplets (source image, instruction, edited image) for supervised instruction-based editing. "
    "diffusers' `examples/instruct_pix2pix/train_instruct_pix2pix.py` reads the default columns "
    "`input_image`, `edit_prompt`, `edited_image` as they are: `--train_data_dir <this folder>`.",
    load='import datasets\nds = datasets.load_dataset("imagefolder", data_dir="<this folder>", split="train")',
    columns={
        "input_image": "the source image (from `input_image_file_name`)",
        "edit_prompt": "the edit instruction",
        "edited_image": "the edited image (from `edited_image_file_name`)",
        **FLAT_COLUMNS,
    },
)


def write_ip2p(
    records: Iterable[Record], out_dir: str | os.PathLike[str], *, include_rejected: bool = False
) -> ExportSummary:
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
        for edit in checked_edits(records, summary, only_passed=not include_rejected)
    )
    summary.written = write_jsonl(rows, root / "metadata.jsonl")
    write_card(root, CARD, summary)
    return summary
