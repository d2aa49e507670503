"""Run a stage over a manifest: batches, resume, error records, a summary.

The loop is the same for every executor; only how batches are mapped through the stage differs
(`local_batches` here, `RayBatches` in `engine/ray.py`), so a stage behaves the same on both.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import orjson

from hilite_cli.core import Record, RecordError, with_error
from hilite_cli.manifest import DoneLedger, ErrorManifest, Line, ManifestWriter, UnwritableRecord
from hilite_cli.stages.base import Stage

Batch = list[tuple[int, Record]]
# Maps a stream of input batches to (batch, output records) pairs, in input order.
BatchMapper = Callable[[Stage, Iterator[Batch]], Iterator[tuple[Batch, list[Record]]]]


@dataclass
class RunSummary:
    stage: str
    done: int = 0
    failed: int = 0
    skipped: int = 0
    inputs: int = 0
    seconds: float = 0.0
    extra: dict[str, int] = field(default_factory=dict)
    usage: list[dict[str, object]] = field(default_factory=list)  # per provider: calls, tokens, cost (pricing.summary)

    @property
    def exit_code(self) -> int:
        """0 when everything went through, 1 when some records failed (design: exit codes)."""
        return 1 if self.failed else 0

    def line(self) -> str:
        extra = "".join(f", {v} {k}" for k, v in self.extra.items())
        return (
            f"{self.stage}: {self.done} done, {self.failed} failed, {self.skipped} skipped"
            f"{extra} ({self.inputs} inputs, {self.seconds:.1f}s)"
        )


class StageInterrupted(KeyboardInterrupt):
    """Ctrl-C during `run_stage`, carrying the counts so far (what was written stays written)."""

    def __init__(self, summary: RunSummary, total: int | None) -> None:
        super().__init__(summary.stage)
        self.summary = summary
        self.total = total


def _name_line(record: Record, stage: Stage, lines: dict[str, int]) -> Record:
    """Error records a stage returns name their input line, like the ones the executor makes."""
    message = record["error"].get("message", "")
    number = lines.get(_safe_key(stage, record))
    if number is None or message.startswith("line "):
        return record
    return {**record, "error": {**record["error"], "message": f"line {number}: {message}"}}


def run_batch(stage: Stage, batch: Batch) -> list[Record]:
    """Run one batch; if it raises, isolate the failing record by running the batch one by one."""
    try:
        return stage([r for _, r in batch])
    except Exception as exc:  # noqa: BLE001 - one record's failure must not stop the others
        if len(batch) > 1:
            return [out for item in batch for out in run_batch(stage, [item])]
        if os.environ.get("HILITE_DEBUG") == "1" and not isinstance(exc, RecordError):
            raise
        number, record = batch[0]
        kind = getattr(exc, "kind", type(exc).__name__)
        message = exc.message if isinstance(exc, RecordError) else str(exc)
        return [with_error(record, stage.name, kind, f"line {number}: {message}")]


def local_batches(stage: Stage, batches: Iterator[Batch]) -> Iterator[tuple[Batch, list[Record]]]:
    """Run every batch in this process, with `setup`/`teardown` around the stream.

    A stage with a `prefetch(records)` method (validate: its judge calls) is handed each batch before
    the one ahead of it runs, so its work goes on across batch boundaries; outputs stay in order.
    """
    prefetch = getattr(stage, "prefetch", None)
    stage.setup()
    batches = iter(batches)
    try:
        following = next(batches, None)
        if prefetch is not None and following:
            prefetch([record for _, record in following])
        while following is not None:
            batch, following = following, next(batches, None)
            if prefetch is not None and following:
                prefetch([record for _, record in following])
            yield batch, run_batch(stage, batch)
        yield [], stage.finish()
    finally:
        stage.teardown()


def _digest(record: Record) -> int:
    """A fingerprint of a record's content, to tell a repeated record from another one with its id."""
    return hash(orjson.dumps(record, option=orjson.OPT_SORT_KEYS))


def _reason(exc: Exception) -> str:
    if isinstance(exc, RecursionError) or "Recursion limit" in str(exc):
        return "record is nested too deeply to handle"
    return f"record cannot be handled ({type(exc).__name__}: {exc})"


def _safe_key(stage: Stage, record: Record) -> str | None:
    """An output record's input key; None for an error record whose key cannot be made."""
    try:
        return stage.key(record)
    except Exception:  # noqa: BLE001 - an error record already, whatever its key
        return None


def run_stage(
    stage: Stage,
    lines: Iterable[Line],
    output: ManifestWriter,
    errors: ErrorManifest | ManifestWriter,
    *,
    ledger: DoneLedger | None = None,
    progress: bool = True,
    mapper: BatchMapper = local_batches,
    total: int | None = None,
) -> RunSummary:
    """Feed `lines` through `stage` in batches; good records go to `output`, failed ones to `errors`.

    `total` (the input's line count, when known) gives the progress bar its end and ETA.
    """
    from tqdm import tqdm

    summary = RunSummary(stage.name)
    started = time.perf_counter()
    bar = tqdm(desc=stage.name, unit="rec", total=total, file=sys.stderr, disable=None if progress else True, leave=False)

    def fail(rec: Record) -> None:
        errors.write(rec)
        summary.failed += 1
        print(f"hilite {stage.name}: {rec['error']['message']}", file=sys.stderr)

    def emit(records: list[Record], lines: dict[str, int] | None = None) -> None:
        for rec in records:
            if rec.get("error"):
                fail(_name_line(rec, stage, lines or {}))
                continue
            try:
                written = output.write(rec)
            except UnwritableRecord as exc:  # e.g. nested deeper than JSON writers go: this record's error
                fail(_name_line(with_error(rec, stage.name, "unwritable_record", str(exc)), stage, lines or {}))
                continue
            if written:
                summary.done += 1
            else:  # the same record (same id) again: written once, counted here so the numbers add up
                summary.extra["duplicates"] = summary.extra.get("duplicates", 0) + 1

    first_line: dict[str, tuple[int, int]] = {}  # key -> (line that brought it in this run, content hash)

    def batches() -> Iterator[Batch]:
        batch: Batch = []
        for line in lines:
            summary.inputs += 1
            try:  # the key and the fingerprint can fail on one odd record (nested too deep): its error only
                key = stage.key(line.record) if line.record is not None else ""
                digest = _digest(line.record) if line.record is not None else 0
            except Exception as exc:  # noqa: BLE001
                assert line.record is not None
                emit([with_error(line.record, stage.name, "unusable_record", f"line {line.number}: {_reason(exc)}")])
                bar.update(1)
                continue
            if line.record is None:
                emit([line.error_record(stage.name)])
                bar.update(1)
            elif key in first_line and first_line[key][1] == digest:  # the same record again
                summary.extra["duplicates"] = summary.extra.get("duplicates", 0) + 1
                bar.update(1)
            elif key in first_line:  # two different inputs, one id: which one a later stage means is unknowable
                message = f"line {line.number}: id `{key}` repeats line {first_line[key][0]} with other content; ids must be unique"
                emit([with_error(line.record, stage.name, "duplicate_id", message)])
                bar.update(1)
            elif ledger is not None and key in ledger:
                summary.skipped += 1
                bar.update(1)
            else:
                first_line[key] = (line.number, digest)
                batch.append((line.number, line.record))
                if len(batch) >= stage.batch_size:
                    yield batch
                    batch = []
        if batch:
            yield batch

    try:
        for batch, outputs in mapper(stage, batches()):
            emit(outputs, {stage.key(r): number for number, r in batch})
            if ledger is not None and batch:
                # An input that failed is not done: --resume tries it again (a rate limit or a missing
                # file may be gone by then); what it did produce is deduplicated by id on the re-run.
                failed = {_safe_key(stage, r) for r in outputs if r.get("error")}
                ledger.mark([key for key in (stage.key(r) for _, r in batch) if key not in failed])
            bar.update(len(batch))
    except KeyboardInterrupt:
        summary.seconds = time.perf_counter() - started
        raise StageInterrupted(summary, total) from None
    finally:
        bar.close()
    summary.extra.update(getattr(stage, "stats", {}))
    summary.seconds = time.perf_counter() - started
    return summary
