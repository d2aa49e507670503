"""Training exports (NHR 2.3): preference files (KTO, DPO) and datasets in formats trainers read.

`FILE_EXPORTS` write one JSONL file from scored candidates (with its `<stem>.README.md` card beside it);
`EXPORTERS` write a dataset folder with a README.md dataset card (`card`).
Every writer returns an `ExportSummary` whose `errors` are error records (`error.stage == "export"`)
for the records it could not export; the rest still export.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import orjson

from hilite_cli.core import PATH_FIELDS
from hilite_cli.images import write_bytes_atomic
from hilite_cli.outputs import remove_temp_files, temp_prefix

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


# The list of files a dataset export wrote, kept in its folder: `--overwrite` clears exactly these.
EXPORT_MANIFEST = ".hilite-export.json"


class ExportTargetError(ValueError):
    """The folder an export would write into holds files it would leave stale or must not touch."""


def _files(root: Path) -> set[str]:
    """Every file under `root` (relative, POSIX), but the export manifest and a killed run's temp files."""
    out = set()
    for path in root.rglob("*"):
        rel = path.relative_to(root).as_posix()
        if rel == EXPORT_MANIFEST or any(part.startswith(".") and part.endswith(".tmp") for part in rel.split("/")):
            continue
        if path.is_file() or path.is_symlink():
            out.add(rel)
    return out


def export_manifest(root: Path) -> set[str] | None:
    """The files an earlier export recorded as its own (relative paths), or None when there is no record."""
    try:
        listed = orjson.loads((root / EXPORT_MANIFEST).read_bytes())["files"]
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError):
        return None
    return {str(f) for f in listed} if isinstance(listed, list) else None


def prepare_target(out_dir: str | os.PathLike[str], *, overwrite: bool, option: str = "--to") -> None:
    """Before a dataset export: an absent or empty folder is fine; a non-empty one is refused (its old
    images would sit beside the new metadata.jsonl) unless `overwrite`, which replaces an earlier
    export, and only when every file in the folder is one that export recorded writing."""
    root = Path(out_dir)
    if not root.is_dir():
        return
    remove_temp_files([], [root])
    files = _files(root)
    if not files and not (root / EXPORT_MANIFEST).exists():
        return
    if not overwrite:
        listed = ", ".join(sorted(files)[:3]) or EXPORT_MANIFEST
        raise ExportTargetError(
            f"{option} {root} is not empty ({listed}): its old files would sit beside the new export; pass --overwrite "
            "to replace a previous export, or choose an empty folder"
        )
    owned = export_manifest(root)
    if owned is None:
        raise ExportTargetError(
            f"{option} {root} holds no record of an export ({EXPORT_MANIFEST}), so no file in it is known to be an "
            "export's own: --overwrite clears only files an export wrote; choose an empty folder"
        )
    others = sorted(files - owned)
    if others:
        raise ExportTargetError(
            f"{option} {root} holds files no export wrote ({', '.join(others[:3])}): --overwrite clears only an "
            "export's own files, so move those or choose an empty folder"
        )


def _referenced(records: list[Record]) -> set[str]:
    """The real paths of every file the input records point at: never removed by an overwrite."""
    return {os.path.realpath(v) for r in records for k in PATH_FIELDS if isinstance(v := r.get(k), str) and v}


def write_dataset(
    records: Iterable[Record], out_dir: str | os.PathLike[str], format: str, **options: Any
) -> ExportSummary:
    """Write `records` (triplets or scored candidates) as a `format` dataset under `out_dir`.

    The export is written into a temp folder inside `out_dir` and moved into place file by file; then
    the files an earlier export recorded (and this one did not write again) are removed, except any
    the input points at, and the new list of files is recorded in `EXPORT_MANIFEST`.
    """
    try:
        exporter = EXPORTERS[format]
    except KeyError:
        raise ValueError(f"unknown export `format` {format!r}; choose one of: {', '.join(EXPORTERS)}") from None
    records = list(records)
    root = Path(out_dir)
    if root.exists() and not root.is_dir():
        raise NotADirectoryError(f"`out_dir` {root} exists and is not a directory")
    root.mkdir(parents=True, exist_ok=True)
    old = export_manifest(root) or set()
    staging = Path(tempfile.mkdtemp(prefix=temp_prefix(root), suffix=".tmp", dir=root))
    try:
        summary = exporter(records, staging, **options)
        written = _files(staging)
        for rel in sorted(written):
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / rel, root / rel)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    keep = _referenced(records)
    for rel in sorted(old - written):
        path = root / rel
        if os.path.realpath(path) not in keep:
            path.unlink(missing_ok=True)
            _prune_empty(path.parent, root)
    write_bytes_atomic(root / EXPORT_MANIFEST, orjson.dumps({"format": format, "files": sorted(written | (old & {
        os.path.relpath(p, os.path.realpath(root)) for p in keep}))}, option=orjson.OPT_INDENT_2))
    summary.target = str(root.resolve())
    return summary


def _prune_empty(folder: Path, root: Path) -> None:
    """Remove folders left empty by an overwrite, up to (not including) the export root."""
    while folder != root and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent


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
