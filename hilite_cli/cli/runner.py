"""Glue between a command and the local executor: open manifests, run, report, exit."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import typer

from hilite_cli.cli.terminal import count_lines, interrupted
from hilite_cli.engine.local import BatchMapper, RunSummary, StageInterrupted, local_batches, run_stage
from hilite_cli.manifest import (
    STDIO, DoneLedger, ErrorManifest, LedgerMismatch, Line, ManifestError, ManifestWriter, check_ledger,
    check_manifest_text, default_errors_path, is_stream, ledger_path, missing_manifest, read_manifest,
)
from hilite_cli.outputs import (
    Named, OutputClash, OutputLocked, RunLocks, check_aliases, new_paths, remove_empty, remove_temp_files,
)
from hilite_cli.providers.usage import usage_scope
from hilite_cli.stages.base import Stage


def usage_error(message: str) -> typer.Exit:
    """Print a one-line reason and return the exit for bad usage or unreadable input (code 2)."""
    print(f"hilite: error: {message}", file=sys.stderr)
    return typer.Exit(2)


def require_manifests(paths: Iterable[str]) -> None:
    """Exit 2 before anything is written when an input manifest does not exist (stdin always does) or is
    plainly not JSONL (an image, an archive)."""
    for path in paths:
        if path != STDIO and not Path(path).is_file():
            raise usage_error(missing_manifest(path))
        try:
            check_manifest_text(path)
        except ManifestError as exc:
            raise usage_error(str(exc)) from None


def require_images(named: Iterable[tuple[str, str | Path | None]]) -> None:
    """Exit 2 when an image given on the command line (one-off forms) is not a file."""
    for label, path in named:
        if path is not None and not Path(path).is_file():
            what = "is a folder" if Path(path).is_dir() else "not found"
            raise usage_error(f"{label} {path}: image {what}")


def guard_outputs(reads: Iterable[Named], writes: Iterable[Named]) -> None:
    """Exit 2, touching nothing, when a file the command writes is one it reads or another it writes."""
    try:
        check_aliases(reads, writes)
    except OutputClash as exc:
        raise usage_error(str(exc)) from None


def refuse_rerun(state: Path | None, option: str, what: str) -> None:
    """Exit 2 when a run without --resume would wipe the work recorded in `state` (a ledger, a state file)."""
    if state is not None and state.is_file() and state.stat().st_size > 0:
        raise usage_error(f"{option} already holds a run's work ({what} {state}): pass --resume to continue it "
                          "or --overwrite to start over")


@contextmanager
def locked(outputs: Iterable[str | Path | None], errors: str | Path | None = None) -> Iterator[None]:
    """Hold the outputs' (and the errors manifest's) run locks for the block; a run already writing one
    of them is exit 2. An errors manifest whose lock cannot be created goes on unlocked: its records
    fall back to stderr."""
    locks = RunLocks([*outputs, errors], unwritable_ok=[errors])
    try:
        locks.acquire()
    except OutputLocked as exc:
        raise usage_error(str(exc)) from None
    except OSError as exc:
        raise usage_error(f"cannot lock the output ({exc.strerror or exc}: {exc.filename})") from None
    try:
        yield
    finally:
        locks.release()


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
    overwrite: bool = False,
    ledger: bool = True,
    reads: Iterable[Named] = (),
    writes: Iterable[Named] = (),
    progress: bool = True,
    executor: str = "local",
    workers: int = 1,
    gpus_per_worker: float = 0.0,
    max_workers: int | None = None,
    tee: list | None = None,
    path_fields: tuple[str, ...] = (),
) -> RunSummary:
    """Run `stage` over `input` (a manifest path or prepared lines) and exit like the design says.

    Before anything is opened: the inputs must be JSONL, no output may alias an input or another
    output (`reads`/`writes` add a command's own files), an output whose ledger holds work needs
    `--resume` or `--overwrite`, and no other run may be writing it. A run that cannot be resumed
    (no `--resume`, or whole-stream output) passes `ledger=False`: it keeps no ledger. `path_fields` names record fields beyond the
    standard ones that hold image paths (resolved against the manifest's folder on read, written
    relative to the output's).
    """
    if resume and overwrite:
        raise usage_error("--resume continues the output, --overwrite starts it over: give one")
    if resume and is_stream(output):
        what = "stdout" if output == STDIO else f"-o {output} is not a regular file and"
        raise usage_error(f"--resume needs an output file (-o FILE): {what} cannot be resumed")
    if isinstance(input, str):
        require_manifests([input])
    errors_path = errors or default_errors_path(output, stage.name)
    done_path = ledger_path(output)
    writes = list(writes)
    guard_outputs(
        [("the input manifest", input if isinstance(input, str) else None), *reads],
        [("-o", output), ("--errors" if errors else "the errors manifest", errors_path),
         ("the resume ledger", done_path), *writes],
    )
    if not resume and not overwrite:
        refuse_rerun(done_path, f"-o {output}", "its resume ledger")
    created = new_paths([output, errors_path, done_path])
    with locked([output, *(path for _, path in writes)], errors_path):
        remove_temp_files([output, errors_path])
        if resume and ledger:
            resumable(output)
        if not ledger and done_path is not None:  # an earlier resumable run's ledger no longer describes -o
            done_path.unlink(missing_ok=True)
        lines = read_manifest(input, path_fields=path_fields) if isinstance(input, str) else input
        try:
            out = ManifestWriter(output, resume=resume, tee=tee, path_fields=path_fields)
        except OSError as exc:
            raise usage_error(f"cannot open output {output}: {exc}") from None
        err = ErrorManifest(errors_path)
        done = DoneLedger(output, resume=resume, writer=out) if ledger else None
        finished = False
        try:
            total = count_lines(input) if isinstance(input, str) else (len(input) if isinstance(input, list) else None)
            with usage_scope() as meters:
                summary = run_stage(stage, lines, out, err, ledger=done, progress=progress,
                                    mapper=batch_mapper(executor, workers, gpus_per_worker, max_workers), total=total)
            summary.usage = report_usage(stage.name, meters)
            finished = True
        except ManifestError as exc:
            raise usage_error(str(exc)) from None
        except StageInterrupted as exc:
            raise interrupted(exc.summary.line(), _left(exc), output) from None
        finally:
            out.close()
            err.close()
            if done is not None:
                done.close()
            if not finished:  # stopped before the end (a model that cannot load): take back the empty files
                remove_empty(created)
    tail = f"; errors in {err.where()}" if summary.failed else ""
    print(summary.line() + tail, file=sys.stderr)
    return summary


def resumable(output: str) -> None:
    """Exit 2 when `output` no longer holds what its resume ledger says was written (deleted, cut short,
    edited): resuming would skip inputs whose records are not in it."""
    try:
        check_ledger(output)
    except LedgerMismatch as exc:
        raise usage_error(f"cannot resume: {exc}; start over with --overwrite (or put the output back)") from None


def report_usage(stage: str, meters: list) -> list[dict[str, object]]:
    """One line per provider that was asked anything (calls, cached, tokens, estimated cost) on stderr;
    the same figures returned for the command's stats."""
    from hilite_cli.providers.pricing import summary, summary_line

    stats = [summary(m) for m in meters if m.calls or m.cached.answers]
    for entry in stats:
        print(summary_line(stage, entry), file=sys.stderr)
    return stats


def _left(exc: StageInterrupted) -> str:
    if exc.total is None:
        return "the rest of the input stream (its length is unknown)"
    return f"{max(0, exc.total - exc.summary.inputs)} of {exc.total} input lines"


def batch_mapper(executor: str, workers: int, gpus_per_worker: float, max_workers: int | None = None) -> BatchMapper:
    """The executor's batch mapper; `ray` joins RAY_ADDRESS (or starts a local instance)."""
    if executor == "local":
        return local_batches
    if executor == "ray":
        from hilite_cli.engine.ray import RayBatches

        return RayBatches(workers=workers, max_workers=max_workers, num_gpus=gpus_per_worker)
    raise usage_error(f"unknown executor {executor!r}: choose local or ray")


def exit_with(summary: RunSummary) -> None:
    """Exit with the run's code; an input with no records at all is said out loud, never a quiet success."""
    if summary.inputs == 0 and not summary.skipped and not summary.failed:
        print(f"hilite {summary.stage}: warning: the input held no records, so nothing was made", file=sys.stderr)
    if summary.exit_code:
        raise typer.Exit(summary.exit_code)
