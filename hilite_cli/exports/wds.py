"""`webdataset` export: tar shards of `<key>.src.png`, `<key>.edited.png`, `<key>.json`.

WebDataset groups tar members into samples by the part of the name before the first dot, so keys
are record ids reduced to `[A-Za-z0-9_-]` and each sample's members are written together. Images are
PNG (lossless): PNG inputs are copied byte for byte, others are decoded once and re-encoded.
Each shard is written under a temp name and renamed when full, so a reader never sees a torn tar.
"""

from __future__ import annotations

import io
import os
import re
import tarfile
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from hilite_cli.exports.common import (
    STAGE,
    AtomicFile,
    ExportSummary,
    checked_edits,
    dumps,
    file_key,
    prepare_out_dir,
    provenance,
)
from hilite_cli.images import ImageError, encode_image, image_file_bytes, load_image
from hilite_cli.records import Record, with_error

SHARD_PATTERN = "shard-{:06d}.tar"
_SHARD_NAME = re.compile(r"shard-(\d{6})\.tar")


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


def write_webdataset(
    records: Iterable[Record], out_dir: str | os.PathLike[str], *, max_per_shard: int = 1000
) -> ExportSummary:
    """Write triplets as WebDataset tar shards under `out_dir`."""
    if max_per_shard < 1:
        raise ValueError(f"`max_per_shard` must be >= 1, got {max_per_shard}")
    root = prepare_out_dir(out_dir)
    summary = ExportSummary(format="webdataset", target=str(root))
    writer = _ShardWriter(root, max_per_shard)
    seen: set[str] = set()
    try:
        for edit in checked_edits(records, summary):
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
    return summary
