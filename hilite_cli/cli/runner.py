"""Glue between a command and the local executor: open manifests, run, report, exit."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

import typer

from hilite_cli.cli.terminal import count_lines, interrupted
from hilite_cli.engine.local import BatchMapper, RunSummary, StageInterrupted, local_batches, run_stage
from hilite_cli.manifest import (
    STDIO, DoneLedger, ErrorManifest, Line, ManifestError, ManifestWriter, default_errors_path, missing_manifest,
    read_manifest,
)
from hilite_cli.stages.base import Stage


def usage_error(message: str) -> typer.Exit:
    """Print a one-line reason and return the exit for bad usage or unreadable input (code 2)."""
    print(f"hilite: error: {message}", file=sys.stderr)
    return typer.Exit(2)


def require_manifests(paths: Iterable[str]) -> None:
    """Exit 2 before anything is written when an input manifest does not exist (stdin always does)."""
    for path in paths:
        if path != STDIO and not Path(path).is_file():
            raise usage_error(missing_manifest(path))


def prepare_output_file(path: Path | None, option: str, suffixes: tuple[str, ...] = ()) -> None:
    """Check an output file option before the work starts: its folder is created and its kind is
    known, so a long run never ends by failing to write its report."""
    if path is None:
        return
    if suffixes and path.suffix.lower() not in suffixes:
        raise usage_error(f"{option} {path}: expected a file ending in {', '.join(suffixes)}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise usage_error(f"{option} {path}: cannot create its folder ({exc.strerror or exc})") from None

def run_manifest(
    stage: Stage,
    input: str | Iterable[Line],
    output: str,
    errors: str | None,
    *,
    resume: bool = False,
    progress: bool = True,
    executor: str = "local",
    workers: int = 1,
    gpus_per_worker: float = 0.0,
    tee: list | None = None,
    path_fields: tuple[str, ...] = (),
) -> RunSummary:
    """Run `stage` over `input` (a manifest path or prepared lines) and exit like the design says.

    `path_fields` names record fields beyond the standard ones that hold image paths (resolved
    against the manifest's folder on read, written relative to the output's).
    """
    if resume and output == STDIO:
        raise usage_error("--resume needs an output file (-o FILE): stdout cannot be resumed")
    if isinstance(input, str) and input != STDIO:
        require_manifests([input])
        if output != STDIO and Path(output).resolve() == Path(input).resolve():
            raise usage_error(f"-o {output} is the input manifest: writing it would erase the input")
    lines = read_manifest(input, path_fields=path_fields) if isinstance(input, str) else input
    errors_path = errors or default_errors_path(output, stage.name)
    try:
        out = ManifestWriter(output, resume=resume, tee=tee, path_fields=path_fields)
    except OSError as exc:
        raise usage_error(f"cannot open output {output}: {exc}") from None
    err = ErrorManifest(errors_path)
    ledger = DoneLedger(output, resume=resume)
    try:
        total = count_lines(input) if isinstance(input, str) else (len(input) if isinstance(input, list) else None)
        summary = run_stage(stage, lines, out, err, ledger=ledger, progress=progress, mapper=_mapper(executor, workers, gpus_per_worker),
                            total=total)
    except ManifestError as exc:
        raise usage_error(str(exc)) from None
    except StageInterrupted as exc:
        raise interrupted(exc.summary.line(), _left(exc), output) from None
    finally:
        out.close()
        err.close()
        ledger.close()
    tail = f"; errors in {err.where()}" if summary.failed else ""
    print(summary.line() + tail, file=sys.stderr)
    return summary


def _left(exc: StageInterrupted) -> str:
    if exc.total is None:
        return "the rest of the input stream (its length is unknown)"
    return f"{max(0, exc.total - exc.summary.inputs)} of {exc.total} input lines"


def _mapper(executor: str, workers: int, gpus_per_worker: float) -> BatchMapper:
    if executor == "local":
        return local_batches
    if executor == "ray":
        from hilite_cli.engine.ray import RayBatches

        return RayBatches(workers=workers, num_gpus=gpus_per_worker)
    raise usage_error(f"unknown executor {executor!r}: choose local or ray")


def exit_with(summary: RunSummary) -> None:
    if summary.exit_code:
        raise typer.Exit(summary.exit_code)
