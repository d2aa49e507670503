"""Run a stage over a manifest in this process: batches, resume, error records, a summary."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from hilite_cli.manifest import DoneLedger, Line, ManifestWriter
from hilite_cli.records import Record, RecordError, with_error
from hilite_cli.stages.base import Stage


@dataclass
class RunSummary:
    stage: str
    done: int = 0
    failed: int = 0
    skipped: int = 0
    inputs: int = 0
    seconds: float = 0.0
    extra: dict[str, int] = field(default_factory=dict)

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


def _read_error(line: Line, stage: str) -> Record:
    return {
        "line": line.number,
        "raw": line.raw,
        "error": {"stage": stage, "kind": "malformed_line", "message": f"line {line.number}: {line.problem}"},
    }


def _debug() -> bool:
    return os.environ.get("HILITE_DEBUG") == "1"


def _run_batch(stage: Stage, batch: list[tuple[int, Record]]) -> list[Record]:
    """Run one batch; if it raises, isolate the failing record by running the batch one by one."""
    try:
        return stage([r for _, r in batch])
    except RecordError as exc:
        if len(batch) > 1:
            return [out for item in batch for out in _run_batch(stage, [item])]
        number, record = batch[0]
        return [with_error(record, stage.name, exc.kind, f"line {number}: {exc.message}")]
    except Exception as exc:  # noqa: BLE001 - one record's failure must not stop the others
        if _debug():
            raise
        if len(batch) > 1:
            return [out for item in batch for out in _run_batch(stage, [item])]
        number, record = batch[0]
        kind = getattr(exc, "kind", type(exc).__name__)
        return [with_error(record, stage.name, kind, f"line {number}: {exc}")]


def run_stage(
    stage: Stage,
    lines: Iterable[Line],
    output: ManifestWriter,
    errors: ManifestWriter,
    *,
    ledger: DoneLedger | None = None,
    progress: bool = True,
) -> RunSummary:
    """Feed `lines` through `stage` in batches; good records go to `output`, failed ones to `errors`."""
    from tqdm import tqdm

    summary = RunSummary(stage.name)
    started = time.perf_counter()
    bar = tqdm(desc=stage.name, unit="rec", file=sys.stderr, disable=None if progress else True, leave=False)

    def emit(records: list[Record]) -> None:
        for rec in records:
            if rec.get("error"):
                errors.write(rec)
                summary.failed += 1
                print(f"hilite {stage.name}: {rec['error']['message']}", file=sys.stderr)
            elif output.write(rec):
                summary.done += 1

    def flush(batch: list[tuple[int, Record]]) -> None:
        if not batch:
            return
        emit(_run_batch(stage, batch))
        if ledger is not None:
            ledger.mark([stage.key(r) for _, r in batch])
        bar.update(len(batch))

    stage.setup()
    try:
        batch: list[tuple[int, Record]] = []
        for line in lines:
            summary.inputs += 1
            if line.record is None:
                emit([_read_error(line, stage.name)])
                bar.update(1)
                continue
            if ledger is not None and stage.key(line.record) in ledger:
                summary.skipped += 1
                bar.update(1)
                continue
            batch.append((line.number, line.record))
            if len(batch) >= stage.batch_size:
                flush(batch)
                batch = []
        flush(batch)
        emit(stage.finish())
    finally:
        stage.teardown()
        bar.close()
    summary.seconds = time.perf_counter() - started
    return summary
