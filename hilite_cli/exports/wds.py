"""`webdataset` export: tar shards of `<key>.src.png`, `<key>.edited.png`, `<key>.json`.

WebDataset groups tar members into samples by the part of the name before the first dot, so keys
are record ids reduced to `[A-Za-z0-9_-]` and each sample's members are written together. Images are
PNG (lossless): PNG inputs are copied byte for byte, others are decoded once and re-encoded.
Each shard is written under a temp name and renamed when full, so a reader never sees a torn tar.
Samples are spread over at least `min_shards` shards (configs/exports.toml [webdataset]) when there
are that many, since WebDataset hands whole shards to DataLoader workers and a worker without a shard
fails; fewer samples than that make one shard each and the summary warns. Only records that passed
validation are taken unless `include_rejected`; a README.md dataset card sits beside the shards.
"""

from __future__ import annotations

import io
import math
import os
import re
import tarfile
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from hilite_cli.config import load_config
from hilite_cli.exports.card import CardSpec, write_card
from hilite_cli.exports.common import (
    STAGE,
    AtomicFile,
    ExportSummary,
    checked_edits,
    dumps,
    file_key,
    prepare_out_dir,
    provenance,
    verdict_columns,
)
from hilite_cli.images import ImageError, encode_image, image_file_bytes, load_image
from hilite_cli.records import Record, with_error

SHARD_PATTERN = "shard-{:06d}.tar"
_SHARD_NAME = re.compile(r"shard-(\d{6})\.tar")
CARD = CardSpec(
    title="Instruction-editing triplets as WebDataset shards (hilite webdataset export)",
    purpose="Triplets (source image, instruction, edited image) as tar shards for streaming training "
    "with the `webdataset` library. Each sample is `<key>.src.png`, `<key>.edited.png`, `<key>.json`.",
    load='import webdataset as wds\nds = wds.WebDataset("<this folder>/shard-{000000..NNNNNN}.tar", shardshuffle=False)'
    '.decode("pil")\n# sample["src.png"], sample["edited.png"], sample["json"]["instruction"]',
    columns={
        "src.png": "the source image, PNG (lossless; PNG inputs byte for byte)",
        "edited.png": "the edited image, PNG",
        "json.id": "the hilite record id",
        "json.instruction": "the edit instruction",
        "json.scores": "{instruction, aesthetics, geometric}: the judge's 1-5 scores and their geometric mean",
        "json.kind": "forward, inverse or bootstrap (how the triplet was made), null if unknown",
        "json.passed": "the validate/mine verdict (false or null only with --include-rejected; null for triplets)",
        "json.thresholds": "{instruction, aesthetics} the verdict used, null if none recorded",
        "json.provenance": "parent ids, editor model, seed, params, judge block, checks, category, licences",
    },
)


def _png_bytes(path: str) -> bytes:
    """A PNG file's own bytes up to IEND (nothing appended travels); any other format re-encoded as PNG."""
    data, suffix = image_file_bytes(path)
    return data if suffix == ".png" else encode_image(load_image(path), "png")


class _ShardWriter:
    """Appends samples to `shard-NNNNNN.tar` files of at most `max_per_shard` samples each."""

    def __init__(self, root: Path, max_per_shard: int) -> None:
        self.root = root
        self.max_per_shard = max_per_shard
        self.shards = 0
        self._in_shard = 0
        self._file: AtomicFile | None = None
        self._tar: tarfile.TarFile | None = None

    def add(self, key: str, members: list[tuple[str, bytes]]) -> None:
        if self._tar is None or self._in_shard >= self.max_per_shard:
            self._close_shard()
            self._file = AtomicFile(self.root / SHARD_PATTERN.format(self.shards))
            fh: IO[Any] = self._file.__enter__()
            self._tar = tarfile.open(fileobj=fh, mode="w", format=tarfile.USTAR_FORMAT)
            self.shards += 1
            self._in_shard = 0
        for suffix, data in members:
            info = tarfile.TarInfo(f"{key}.{suffix}")
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            self._tar.addfile(info, io.BytesIO(data))
        self._in_shard += 1

    def _close_shard(self) -> None:
        if self._tar is not None and self._file is not None:
            self._tar.close()
            self._file.__exit__(None, None, None)
        self._tar, self._file = None, None

    def close(self) -> None:
        self._close_shard()

    def abort(self, exc: BaseException) -> None:
        if self._file is not None:
            self._file.__exit__(type(exc), exc, exc.__traceback__)
        self._tar, self._file = None, None


def _remove_stale_shards(root: Path, keep: int) -> None:
    """Shards numbered past this run's last one belong to an older export and would be read with it."""
    for path in root.glob("shard-*.tar"):
        match = _SHARD_NAME.fullmatch(path.name)
        if match and int(match.group(1)) >= keep:
            path.unlink()


def shard_size(samples: int, max_per_shard: int, min_shards: int) -> int:
    """Samples per shard: at most `max_per_shard`, and small enough to make `min_shards` shards when possible."""
    return max(1, min(max_per_shard, math.ceil(samples / max(1, min_shards))))


def write_webdataset(
    records: Iterable[Record], out_dir: str | os.PathLike[str], *, max_per_shard: int = 1000,
    include_rejected: bool = False,
) -> ExportSummary:
    """Write triplets as WebDataset tar shards under `out_dir`."""
    if max_per_shard < 1:
        raise ValueError(f"`max_per_shard` must be >= 1, got {max_per_shard}")
    root = prepare_out_dir(out_dir)
    summary = ExportSummary(format="webdataset", target=str(root))
    edits = list(checked_edits(records, summary, only_passed=not include_rejected))
    min_shards = int(load_config("exports")["webdataset"]["min_shards"])
    writer = _ShardWriter(root, shard_size(len(edits), max_per_shard, min_shards))
    seen: set[str] = set()
    try:
        for edit in edits:
            key = file_key(edit.record)
            if key in seen:
                summary.skipped["duplicate_id"] += 1
                continue
            try:
                src, edited = _png_bytes(edit.source), _png_bytes(edit.edited)
            except ImageError as exc:
                summary.errors.append(with_error(edit.record, STAGE, exc.kind, str(exc)))
                continue
            meta = {
                "id": edit.record.get("id"),
                "instruction": edit.instruction,
                "scores": edit.scores,
                "kind": edit.record.get("kind"),
                "passed": verdict_columns(edit.record)["passed"],
                "thresholds": edit.record.get("thresholds") if isinstance(edit.record.get("thresholds"), dict) else None,
                "provenance": provenance(edit.record),
            }
            writer.add(key, [("src.png", src), ("edited.png", edited), ("json", dumps(meta))])
            seen.add(key)
            summary.written += 1
    except BaseException as exc:
        writer.abort(exc)
        raise
    writer.close()
    _remove_stale_shards(root, writer.shards)
    summary.counts["shards"] = writer.shards
    if 0 < writer.shards < min_shards:
        summary.warnings.append(f"only {writer.shards} shard(s): a DataLoader with more workers than shards "
                                "leaves workers without data (use num_workers <= shards)")
    write_card(root, CARD, summary)
    return summary
