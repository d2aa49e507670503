"""`nhr` export: the released NHR-Edit layout.

    images/NN/<source_id>_original.jpg
    images/NN/<source_id>_edited_Y.jpg      Y = 0, 1, … per source, in input order
    metadata.jsonl                          one line per triplet

`source_id` is a hash of the source image's bytes, so every edit of one source shares one original
and one shard `NN` (two decimal digits). The layout is JPEG: JPEG inputs are copied byte for byte,
other formats are re-encoded once (quality 95).
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from hilite_cli.exports.common import (
    STAGE,
    AtomicFile,
    ExportSummary,
    checked_edits,
    dumps,
    prepare_out_dir,
    provenance,
)
from hilite_cli.images import ImageError, encode_image, image_file_bytes, load_image, safe_join, write_bytes_atomic
from hilite_cli.records import Record, with_error

SHARDS = 100


def _source_id(path: str) -> str:
    """Hash of the image itself (not of bytes appended after it)."""
    return hashlib.sha256(image_file_bytes(path)[0]).hexdigest()[:16]


def _write_jpeg(src: str, out_dir: Path, relative: str, *, keep_existing: bool) -> str:
    """Write `src` as JPEG; `keep_existing` only for names that are content hashes (originals)."""
    target = safe_join(out_dir, relative)
    if not (keep_existing and target.exists()):
        data, suffix = image_file_bytes(src)  # a JPEG's own bytes up to EOI; anything else re-encoded
        if suffix != ".jpg":
            data = encode_image(load_image(src), "jpg")
        write_bytes_atomic(target, data)
    return relative


def write_nhr(records: Iterable[Record], out_dir: str | os.PathLike[str]) -> ExportSummary:
    """Write triplets in the NHR-Edit layout under `out_dir`."""
    root = prepare_out_dir(out_dir)
    summary = ExportSummary(format="nhr", target=str(root))
    edits_per_source: Counter[str] = Counter()
    with AtomicFile(root / "metadata.jsonl") as fh:
        for edit in checked_edits(records, summary):
            source_id = _source_id(edit.source)
            shard = f"images/{int(source_id, 16) % SHARDS:02d}"
            index = edits_per_source[source_id]
            try:
                original = _write_jpeg(edit.source, root, f"{shard}/{source_id}_original.jpg", keep_existing=True)
                edited = _write_jpeg(edit.edited, root, f"{shard}/{source_id}_edited_{index}.jpg", keep_existing=False)
            except ImageError as exc:
                summary.errors.append(with_error(edit.record, STAGE, exc.kind, str(exc)))
                continue
            row = {
                "sample_id": edit.record.get("id"),
                "source_id": source_id,
                "edit_index": index,
                "original_image": original,
                "edited_image": edited,
                "instruction": edit.instruction,
                "scores": edit.scores,
                "kind": edit.record.get("kind"),
                "provenance": provenance(edit.record),
            }
            edits_per_source[source_id] += 1
            fh.write(dumps(row) + b"\n")
            summary.written += 1
    summary.counts["sources"] = len(edits_per_source)
    return summary
