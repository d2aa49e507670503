"""Training exports (NHR 2.3): preference files (KTO, DPO) and datasets in formats trainers read.

`FILE_EXPORTS` write one JSONL file from scored candidates; `EXPORTERS` write a dataset folder.
Every writer returns an `ExportSummary` whose `errors` are error records (`error.stage == "export"`)
for the records it could not export; the rest still export.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
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
    "FILE_EXPORTS",
    "ExportSummary",
    "dpo_pairs",
    "kto_rows",
    "write_dataset",
    "write_dpo",
    "write_kto",
]
