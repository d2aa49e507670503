"""`diffusion-dpo` export: preference pairs in Pick-a-Pic's columns, which Diffusion-DPO trains on.

THIS TRAINS TEXT-TO-IMAGE PREFERENCES, NOT EDITING. diffusers' `train_diffusion_dpo.py` and
Salesforce's Diffusion-DPO `train.py` read `jpg_0`/`jpg_1` (encoded image bytes), `label_0` (1 when
`jpg_0` is preferred) and `caption`, and nothing else: the model learns to draw the preferred edited
image from the caption (here the edit instruction) alone. The source image is in the `source` column,
which neither trainer reads; an editing preference trainer that conditions on it can use it. `jpg_0`,
`jpg_1` and `source` hold JPEG bytes as their names promise (JPEG inputs byte for byte, others
encoded once at quality 95); `label_1` = 1 - `label_0`, as in Pick-a-Pic. Two views of the same pairs
are written:

    parquet/pairs.parquet                  bytes columns: `load_dataset("<out>/parquet")`, as train.py expects
    images/<sha>.<ext> + metadata.jsonl    files: `jpg_0_file_name`, `jpg_1_file_name`, `source_file_name`
                                           (a `datasets` imagefolder)

The parquet file is not named `train-*`: `datasets` would take such a file as the whole train split
of `<out>` and hide the imagefolder view. `caption` is the edit instruction and `source` the image
being edited. Which side holds the winner is decided by a hash of the pair, so labels are balanced
and position carries no signal.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

from hilite_cli.exports.card import ALL_SCORED, CardSpec, write_card
from hilite_cli.exports.common import (
    AtomicFile,
    Edit,
    ExportSummary,
    checked_edits,
    dumps,
    jpeg_bytes,
    prepare_out_dir,
    provenance,
    store_image,
)
from hilite_cli.exports.dpo import preference_pairs
from hilite_cli.records import Record, stable_id

PARQUET_PATH = "parquet/pairs.parquet"
ROW_GROUP = 256
CARD = CardSpec(
    title="Edit preference pairs in Pick-a-Pic layout, TEXT-TO-IMAGE preferences (hilite diffusion-dpo export)",
    purpose="Preference pairs for Diffusion-DPO (diffusers' `examples/research_projects/diffusion_dpo/"
    "train_diffusion_dpo.py`, Salesforce's `DiffusionDPO/train.py`). **This trains text-to-image "
    "preferences, not editing**: those trainers read `jpg_0`, `jpg_1`, `label_0` and `caption` only, so the "
    "model learns to draw the preferred edited image from the instruction alone. The source image is in "
    "`source`, which neither trainer reads.",
    load='import datasets\nds = datasets.load_dataset("<this folder>/parquet", split="train")  # bytes columns\n'
    '# or the files: datasets.load_dataset("imagefolder", data_dir="<this folder>", split="train")',
    columns={
        "jpg_0": "JPEG bytes of one edit (JPEG inputs byte for byte, others encoded at quality 95)",
        "jpg_1": "JPEG bytes of the other edit of the same source for the same instruction",
        "label_0": "1 when jpg_0 is preferred (higher sqrt(adherence x aesthetics)), else 0",
        "label_1": "1 - label_0",
        "caption": "the edit instruction (the trainers' text prompt)",
        "source": "JPEG bytes of the source image both edits were made from (not read by the trainers)",
        "margin": "geometric-mean gap between the two edits (> --min-margin)",
        "id, id_0, id_1": "the pair's id and the two candidates' record ids",
        "model_0, model_1": "the editor that made each side",
        "score_*_0, score_*_1": "each side's judge scores (instruction, aesthetics, geometric; 1-5)",
        "provenance": "JSON string: {0, 1} provenance of both candidates",
        "*_file_name (metadata.jsonl)": "the same images as files (their own encoding) for the imagefolder view",
    },
    takes=ALL_SCORED,
)


def _pair_columns(first: Edit, second: Edit, winner_first: bool, margin: float) -> dict[str, Any]:
    """The scalar columns of one pair: label, caption, both sides' scores and provenance."""
    columns: dict[str, Any] = {
        "id": stable_id("diffusion-dpo", first.record.get("id"), second.record.get("id")),
        "label_0": 1 if winner_first else 0,
        "label_1": 0 if winner_first else 1,
        "caption": first.instruction,
        "margin": margin,
    }
    for side, edit in (("0", first), ("1", second)):
        columns[f"id_{side}"] = None if edit.record.get("id") is None else str(edit.record["id"])
        columns[f"model_{side}"] = edit.record.get("model")
        columns[f"score_instruction_{side}"] = edit.adherence
        columns[f"score_aesthetics_{side}"] = edit.aesthetics
        columns[f"score_geometric_{side}"] = edit.geometric
    columns["provenance"] = dumps({"0": provenance(first.record), "1": provenance(second.record)}).decode()
    return columns


def _placed_pairs(
    edits: list[Edit], min_margin: float, stats: Counter[str]
) -> Iterator[tuple[Edit, Edit, bool, float]]:
    """(jpg_0 side, jpg_1 side, winner is jpg_0, margin) for every preference pair."""
    for winner, loser, margin in preference_pairs((e.record for e in edits), min_margin=min_margin, stats=stats):
        winner_first = int(stable_id(winner.record.get("id"), loser.record.get("id")), 16) % 2 == 0
        yield (winner, loser, True, margin) if winner_first else (loser, winner, False, margin)


def _pyarrow() -> tuple[Any, Any]:
    """pyarrow and pyarrow.parquet, or an error that says how to install them."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ImportError("the diffusion-dpo export writes parquet: pip install 'hilite_cli[export]'") from None
    return pa, pq


def _schema(pa: Any) -> Any:
    fields = [
        pa.field("jpg_0", pa.binary()),
        pa.field("jpg_1", pa.binary()),
        pa.field("source", pa.binary()),
        pa.field("label_0", pa.int64()),
        pa.field("label_1", pa.int64()),
        pa.field("caption", pa.string()),
        pa.field("margin", pa.float64()),
        pa.field("id", pa.string()),
    ]
    for side in ("0", "1"):
        fields += [
            pa.field(f"id_{side}", pa.string()),
            pa.field(f"model_{side}", pa.string()),
            pa.field(f"score_instruction_{side}", pa.float64()),
            pa.field(f"score_aesthetics_{side}", pa.float64()),
            pa.field(f"score_geometric_{side}", pa.float64()),
        ]
    fields.append(pa.field("provenance", pa.string()))
    return pa.schema(fields)


def write_diffusion_dpo(
    records: Iterable[Record], out_dir: str | os.PathLike[str], *, min_margin: float = 0.0
) -> ExportSummary:
    """Pair scored candidates per (source, instruction) and write both views of the pairs under `out_dir`."""
    pa, pq = _pyarrow()
    root = prepare_out_dir(out_dir)
    summary = ExportSummary(format="diffusion-dpo", target=str(root))
    edits = list(checked_edits(records, summary, need_scores=True))
    stats: Counter[str] = Counter()
    schema = _schema(pa)
    batch: list[dict[str, Any]] = []
    with AtomicFile(root / "metadata.jsonl") as meta, AtomicFile(root / PARQUET_PATH) as raw:
        with pq.ParquetWriter(raw, schema) as parquet:
            for first, second, winner_first, margin in _placed_pairs(edits, min_margin, stats):
                columns = _pair_columns(first, second, winner_first, margin)
                names = {
                    f"{col}_file_name": store_image(path, root)
                    for col, path in (("jpg_0", first.edited), ("jpg_1", second.edited), ("source", first.source))
                }
                meta.write(dumps({**names, **columns}) + b"\n")
                batch.append(
                    {
                        "jpg_0": jpeg_bytes(first.edited),  # the image itself as JPEG, never appended bytes
                        "jpg_1": jpeg_bytes(second.edited),
                        "source": jpeg_bytes(first.source),
                        **columns,
                    }
                )
                summary.written += 1
                if len(batch) >= ROW_GROUP:
                    parquet.write_table(pa.Table.from_pylist(batch, schema=schema))
                    batch.clear()
            if batch:
                parquet.write_table(pa.Table.from_pylist(batch, schema=schema))
    summary.counts.update({k: stats[k] for k in ("pairs", "below_margin")})
    write_card(root, CARD, summary)
    return summary
