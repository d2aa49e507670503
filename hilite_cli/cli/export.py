"""`hilite export`: turn triplets or scored candidates into what training tools read."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from hilite_cli.cli.options import Errors
from hilite_cli.cli.runner import guard_outputs, require_manifests, usage_error
from hilite_cli.records import Record

if TYPE_CHECKING:
    from hilite_cli.manifest import Line

DATASET_FORMATS = ("ip2p", "nhr", "webdataset", "diffusion-dpo", "trl")
FILE_FORMATS = ("kto", "dpo")
SHORT = "Export triplets or scored candidates for training: ip2p, nhr, webdataset, diffusion-dpo, trl, kto, dpo."
HELP = f"""{SHORT}

\b
  hilite export triplets.jsonl --format ip2p --to dataset/      # diffusers' train_instruct_pix2pix.py
  hilite export triplets.jsonl --format nhr --to nhr-edit/       # NHR-Edit layout (train/metadata.jsonl)
  hilite export triplets.jsonl --format webdataset --to shards/
  hilite export scored.jsonl --format dpo --to dpo.jsonl --min-margin 0.3
  hilite export scored.jsonl --format kto --to kto.jsonl --threshold 4.7
  hilite export scored.jsonl --format diffusion-dpo --to pairs/

Dataset formats ({", ".join(DATASET_FORMATS)}) write a folder; kto and dpo write one JSONL file.
ip2p, nhr and webdataset train an editor and take only records that passed validation unless
--include-rejected. diffusion-dpo keeps Pick-a-Pic's columns for Diffusion-DPO trainers, which read
the caption (the instruction) and the two edits but not the source: it trains TEXT-TO-IMAGE
preferences, not editing. trl, dpo and kto train a vision-language judge with TRL (SFT, DPO, KTO):
dpo rows ask which of two edits is better (prompt, chosen, rejected, images), kto rows ask whether
an edit is good (prompt, completion, label, images). Every export writes a dataset card (README.md)
with its columns, how the data was made and the licences the records name.
Both score axes and each record's provenance (with mine's `difficulty` and `category`) travel in
every format. --order difficulty writes a curriculum: easy -> hard by attempts to the first
validated pass (known from `validate --keep all` output), else to the first pre-filter pass;
records without a difficulty go last.
"""


def dataset_writes(option: str, target: Path, fmt: str) -> list[tuple[str, Path]]:
    """The files an export writes whose names are fixed, for the aliasing check (images are content-addressed)."""
    if fmt in ("webdataset", *FILE_FORMATS):
        return [(option, target)]
    metadata = target / "train" / "metadata.jsonl" if fmt == "nhr" else target / "metadata.jsonl"
    return [(option, target), (f"{option} {fmt} metadata", metadata)]


TRAINING_SETS = ("ip2p", "nhr", "webdataset")  # take passed records only, unless --include-rejected


def check_export_target(option: str, target: Path, fmt: str, *, overwrite: bool) -> None:
    """Exit 2 before any work when an export would replace what is there: a dataset folder that holds
    files (unless `overwrite`, and then only an earlier export's own files), or an existing kto/dpo
    file (unless `overwrite`). A device or FIFO (`--to /dev/stdout`) is written in place."""
    from hilite_cli.exports import ExportTargetError, prepare_target
    from hilite_cli.manifest import is_stream

    if fmt in FILE_FORMATS:
        if target.is_dir():
            raise usage_error(f"{option} {target} is a folder: {fmt} writes one JSONL file")
        if target.exists() and not is_stream(target) and not overwrite:
            raise usage_error(f"{option} {target} already exists: pass --overwrite to replace it, or choose another file")
        return
    try:
        prepare_target(target, overwrite=overwrite, option=option)
    except ExportTargetError as exc:
        raise usage_error(str(exc)) from None


def export_records(records: list[dict[str, Any]], fmt: str, target: Path, *, min_margin: float = 0.0,
                   t_aes: float | None = None, t_adh: float | None = None, max_per_shard: int = 1000,
                   include_rejected: bool = False) -> Any:
    """Dispatch to the exporter for `fmt`; shared by `hilite export` and `hilite validate --export`."""
    from hilite_cli.exports import FILE_EXPORTS, write_dataset

    if fmt == "kto":
        return FILE_EXPORTS["kto"](records, target, t_aes=t_aes, t_adh=t_adh)
    if fmt == "dpo":
        return FILE_EXPORTS["dpo"](records, target, min_margin=min_margin)
    options: dict[str, Any] = {}
    if fmt in TRAINING_SETS:
        options["include_rejected"] = include_rejected
    if fmt == "webdataset":
        options["max_per_shard"] = max_per_shard
    if fmt == "diffusion-dpo":
        options["min_margin"] = min_margin
    return write_dataset(records, target, fmt, **options)


def report_export(summary: Any, errors_path: str) -> int:
    """Print the export's one-line summary, write its error records; returns how many failed."""
    from hilite_cli.manifest import ErrorManifest

    if summary.errors:
        with ErrorManifest(errors_path) as err:
            for rec in summary.errors:
                err.write(rec)
                which = f"record {rec['id']}: " if rec.get("id") else ""
                print(f"hilite export: {which}{rec['error']['message']}", file=sys.stderr)
    for warning in summary.warnings:
        print(f"hilite export: warning: {warning}", file=sys.stderr)
    left_out = summary.left_out()
    print(f"export {summary.format}: {summary.written} written to {summary.target}"
          f"{', ' + left_out if left_out else ''}, {len(summary.errors)} failed", file=sys.stderr)
    if not summary.written:  # an empty export never passes for a made one (hilite export also exits 1)
        print(f"hilite export: warning: no record could be exported to {summary.target}"
              + (f" ({left_out})" if left_out else ""), file=sys.stderr)
    return len(summary.errors)


def command(
    input: Annotated[str, typer.Argument(help="Triplets or scored candidates (JSONL), or - for stdin.")],
    format: Annotated[str, typer.Option("--format", "-f", help=f"One of: {', '.join(DATASET_FORMATS + FILE_FORMATS)}.")],
    to: Annotated[Path, typer.Option("--to", help="Folder (dataset formats) or file (kto, dpo) to write.")],
    min_margin: Annotated[float, typer.Option(help="dpo / diffusion-dpo: smallest geometric-mean gap that makes a pair.")] = 0.0,
    threshold: Annotated[float | None, typer.Option(help="kto: good when both scores reach this [default: configs].")] = None,
    max_per_shard: Annotated[int, typer.Option(help="webdataset: samples per tar shard.")] = 1000,
    order: Annotated[str, typer.Option(help="input (as read) or difficulty (easy -> hard: attempts to the first pass).")] = "input",
    include_rejected: Annotated[bool, typer.Option(
        "--include-rejected", help="ip2p, nhr, webdataset: also export records validate/mine rejected (passed false "
        "or null); rows then say `passed` and the thresholds. Default: passed records only."
    )] = False,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Replace the export already in --to: a kto/dpo file, or a dataset folder (clears only "
        "the files an export recorded writing, in its .hilite-export.json)."
    )] = False,
    errors: Errors = None,
) -> None:
    from hilite_cli.cli.runner import locked

    if format not in DATASET_FORMATS + FILE_FORMATS:
        raise usage_error(f"unknown --format {format!r}; choose one of: {', '.join(DATASET_FORMATS + FILE_FORMATS)}")
    require_manifests([input])
    errors_path = errors or f"{to}.errors.jsonl"
    guard_outputs([("the input manifest", input)],
                  [*dataset_writes("--to", to, format), ("--errors" if errors else "the errors manifest", errors_path)])
    with locked([to], errors_path):
        _export(input, format, to, min_margin, threshold, max_per_shard, order, overwrite, errors_path,
                include_rejected)


def _export(input: str, format: str, to: Path, min_margin: float, threshold: float | None, max_per_shard: int,
            order: str, overwrite: bool, errors_path: str, include_rejected: bool) -> None:
    from hilite_cli.manifest import ManifestError, read_manifest

    if order not in ("input", "difficulty"):
        raise usage_error(f"--order must be input or difficulty, got {order!r}")
    check_export_target("--to", to, format, overwrite=overwrite)
    reading = _Reading(read_manifest(input))
    records: Iterable[Record] = reading
    if order == "difficulty":
        from hilite_cli.stages.mine.difficulty import difficulty_key, with_validated_difficulty

        try:  # a sort needs every record: the one order that holds the manifest in memory
            records = sorted(with_validated_difficulty(list(reading)), key=difficulty_key)
        except ManifestError as exc:
            raise usage_error(str(exc)) from None
    try:
        summary = export_records(records, format, to, min_margin=min_margin, t_aes=threshold, t_adh=threshold,
                                 max_per_shard=max_per_shard, include_rejected=include_rejected)
    except ManifestError as exc:
        raise usage_error(str(exc)) from None
    except (ValueError, RuntimeError) as exc:
        raise usage_error(str(exc)) from None
    summary.errors[:0] = reading.bad
    failed = report_export(summary, errors_path)
    if failed or not summary.written:
        raise typer.Exit(1)


class _Reading:
    """The manifest's records as they are read (an export streams them through, never holding them);
    a line that is not a record becomes an error record in `bad`."""

    def __init__(self, lines: Iterable[Line]) -> None:
        self.lines = lines
        self.bad: list[Record] = []

    def __iter__(self) -> Iterator[Record]:
        for line in self.lines:
            if line.record is None:
                self.bad.append(line.error_record("export"))
            else:
                yield line.record
