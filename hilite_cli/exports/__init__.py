"""Training exports (NHR 2.3): preference files (KTO, DPO) and datasets in formats trainers read.

`FILE_EXPORTS` write one JSONL file from scored candidates (with its `<stem>.README.md` card beside it);
`EXPORTERS` write a dataset folder with a README.md dataset card (`card`).
Every writer returns an `ExportSummary` whose `errors` are error records (`error.stage == "export"`)
for the records it could not export; the rest still export.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from hilite_cli.exports.common import ExportSummary
from hilite_cli.exports.diffusion_dpo import write_diffusion_dpo
from hilite_cli.exports.dpo import dpo_pairs, write_dpo
from hilite_cli.exports.ip2p import write_ip2p
from hilite_cli.exports.kto import kto_rows, write_kto
from hilite_cli.exports.nhr import write_nhr
from hilite_cli.exports.trl import write_trl
from hilite_cli.exports.wds import write_webdataset
from hilite_cli.records import Record

EXPORTERS: dict[str, Callable[..., ExportSummary]] = {
    "ip2p": write_ip2p,
    "nhr": write_nhr,
    "webdataset": write_webdataset,
    "diffusion-dpo": write_diffusion_dpo,
    "trl": write_trl,
}

FILE_EXPORTS: dict[str, Callable[..., ExportSummary]] = {
    "kto": write_kto,
    "dpo": write_dpo,
}


# What dataset exports write in their folder (glob patterns; `.*.tmp` are the temp files of a killed run).
# `--overwrite` removes exactly these, and nothing else.
OWNED_PATTERNS: tuple[str, ...] = ("metadata.jsonl", "images", "parquet", "shard-*.tar", ".*.tmp", "README.md", "train")


class ExportTargetError(ValueError):
    """The folder an export would write into holds files it would leave stale or must not touch."""


def prepare_target(out_dir: str | os.PathLike[str], *, overwrite: bool) -> None:
    """Before a dataset export: an absent or empty folder is fine; a non-empty one is refused (its old
    images would sit beside the new metadata.jsonl) unless `overwrite`, which clears what exports own,
    and only when the folder holds nothing else."""
    root = Path(out_dir)
    if not root.is_dir() or not any(root.iterdir()):
        return
    owned = {path for pattern in OWNED_PATTERNS for path in root.glob(pattern)}
    others = sorted(p.name for p in root.iterdir() if p not in owned)
    if not overwrite:
        listed = ", ".join(sorted(p.name for p in root.iterdir())[:3])
        raise ExportTargetError(
            f"--to {root} is not empty ({listed}): its old files would sit beside the new export; pass --overwrite "
            "to replace a previous export, or choose an empty folder"
        )
    if others:
        raise ExportTargetError(
            f"--to {root} holds files no export wrote ({', '.join(others[:3])}): --overwrite clears only an "
            "export's own files, so move those or choose an empty folder"
        )
    for path in owned:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


def write_dataset(
    records: Iterable[Record], out_dir: str | os.PathLike[str], format: str, **options: Any
) -> ExportSummary:
    """Write `records` (triplets or scored candidates) as a `format` dataset under `out_dir`."""
    try:
        exporter = EXPORTERS[format]
    except KeyError:
        raise ValueError(f"unknown export `format` {format!r}; choose one of: {', '.join(EXPORTERS)}") from None
    return exporter(records, out_dir, **options)


__all__ = [
    "EXPORTERS",
    "ExportTargetError",
    "FILE_EXPORTS",
    "ExportSummary",
    "dpo_pairs",
    "kto_rows",
    "prepare_target",
    "write_dataset",
    "write_dpo",
    "write_kto",
]
