"""`nhr` export: the released NHR-Edit layout, which `datasets.load_dataset(<export>)` reads as it reads NHR-Edit.

    train/metadata.jsonl                        one line per triplet
    train/images/NN/image_<n>_original.jpg      n = the source's index in the export (first appearance)
    train/images/NN/image_<n>_edited_<Y>.jpg    Y = 0, 1, … per source, in input order; NN = n % 100

Every edit of one source (the same image bytes) shares one original. `original_image_file_name` and
`edited_image_file_name` are imagefolder's `*_file_name` columns (relative to `train/`), read as the
image columns `original_image` and `edited_image`; `edit_instruction` is the instruction. (A bare
`file_name` beside another `*_file_name` is taken by whichever image column `datasets` fills first,
so the original gets a prefix too.) hilite's own fields ride along as flat
columns (scores, difficulty, category, kind, verdict, judge, licence, provenance), so every row has one
Arrow schema. The layout is JPEG: JPEG inputs are copied byte for byte, others are re-encoded once
(quality 95). Only records that passed validation are taken unless `include_rejected`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

from hilite_cli.exports.card import FLAT_COLUMNS, CardSpec, write_card
from hilite_cli.exports.common import (
    STAGE,
    AtomicFile,
    ExportSummary,
    checked_edits,
    dumps,
    flat_columns,
    jpeg_bytes,
    prepare_out_dir,
)
from hilite_cli.images import ImageError, image_file_bytes, safe_join, write_bytes_atomic
from hilite_cli.records import Record, with_error

SPLIT = "train"
SHARDS = 100
CARD = CardSpec(
    title="Instruction-editing triplets in the NHR-Edit layout (hilite nhr export)",
    purpose="Triplets (source image, instruction, edited image) laid out like the released NHR-Edit dataset: "
    "`train/metadata.jsonl` and `train/images/NN/image_<n>_original.jpg`, `image_<n>_edited_<Y>.jpg`. "
    "hilite could not check the NHR-Edit card's own field names offline; the names here are chosen so that "
    "`datasets.load_dataset` reads both images; hilite's own fields are extra columns.",
    load='import datasets\nds = datasets.load_dataset("<this folder>", split="train")\n'
    '# ds[0]["original_image"], ds[0]["edited_image"], ds[0]["edit_instruction"]',
    columns={
        "original_image": "the original (source) image (from `original_image_file_name`)",
        "edited_image": "the edited image (from `edited_image_file_name`)",
        "edit_instruction": "the edit instruction",
        "source_index": "n of `image_<n>_…`: which source the row edits",
        "edit_index": "Y of `image_<n>_edited_<Y>`: the edit's number for its source",
        "category": "the instruction's edit category (mine), null if unknown",
        "kind": "forward, inverse or bootstrap (how the triplet was made), null if unknown",
        "judge": "JSON string: the judge block (provider, model, prompt version, raw answer)",
        "licence": "the editor's licence as recorded, null if none",
        **FLAT_COLUMNS,
    },
)


def _source_key(path: str) -> str:
    """Hash of the image itself (not of bytes appended after it): one original per distinct source."""
    return hashlib.sha256(image_file_bytes(path)[0]).hexdigest()


def _write_jpeg(src: str, split_dir: Path, relative: str, *, keep_existing: bool) -> str:
    """Write `src` as JPEG under `split_dir`; `keep_existing` only for originals (one per source)."""
    target = safe_join(split_dir, relative)
    if not (keep_existing and target.exists()):
        write_bytes_atomic(target, jpeg_bytes(src))
    return relative


def write_nhr(
    records: Iterable[Record], out_dir: str | os.PathLike[str], *, include_rejected: bool = False
) -> ExportSummary:
    """Write triplets in the NHR-Edit layout under `out_dir/train/`, with a dataset card at `out_dir`."""
    root = prepare_out_dir(out_dir)
    split_dir = root / SPLIT
    summary = ExportSummary(format="nhr", target=str(root))
    sources: dict[str, int] = {}
    edits_of: dict[int, int] = {}
    with AtomicFile(split_dir / "metadata.jsonl") as fh:
        for edit in checked_edits(records, summary, only_passed=not include_rejected):
            key = _source_key(edit.source)
            n = sources.get(key, len(sources))
            stem = f"images/{n % SHARDS:02d}/image_{n}"
            index = edits_of.get(n, 0)
            try:
                original = _write_jpeg(edit.source, split_dir, f"{stem}_original.jpg", keep_existing=True)
                edited = _write_jpeg(edit.edited, split_dir, f"{stem}_edited_{index}.jpg", keep_existing=False)
            except ImageError as exc:
                summary.errors.append(with_error(edit.record, STAGE, exc.kind, str(exc)))
                continue
            sources[key] = n
            edits_of[n] = index + 1
            licence = edit.record.get("licence")
            row = {
                "original_image_file_name": original,
                "edited_image_file_name": edited,
                "edit_instruction": edit.instruction,
                "source_index": n,
                "edit_index": index,
                "category": edit.record.get("category") if isinstance(edit.record.get("category"), str) else None,
                "kind": edit.record.get("kind") if isinstance(edit.record.get("kind"), str) else None,
                "judge": dumps(edit.record.get("judge")).decode() if edit.record.get("judge") is not None else None,
                "licence": licence if isinstance(licence, str) else (dumps(licence).decode() if licence else None),
                **flat_columns(edit),
            }
            fh.write(dumps(row) + b"\n")
            summary.written += 1
    summary.counts["sources"] = len(sources)
    write_card(root, CARD, summary)
    return summary
