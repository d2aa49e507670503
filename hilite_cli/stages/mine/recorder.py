"""Everything one mining run writes, from any thread: images, pool lines, error records, state entries.

Order of writes for one job: edited image (atomic, content-addressed) -> pool line -> state line.
A kill between any two leaves a job that is not in the state, so a resumed run redoes it; its
candidate id is the same, and the pool writer (opened with resume) never writes an id twice.

With `retry_failed`, failed sources and jobs are forgotten (see jobs.StateFile) and their error
records are taken out of the errors manifest once, before the run, so the manifest keeps only
failures that still stand.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from hilite_cli import storage
from hilite_cli.images import content_hash, safe_join, write_bytes_atomic
from hilite_cli.manifest import ManifestWriter, UnwritableRecord, repair_torn_tail, slim_error
from hilite_cli.records import Record, with_error
from hilite_cli.stages.mine.jobs import AWAITING_GATE, AWAITING_PREFILTER, Job, StateFile
from hilite_cli.stages.mine.sources import SourcePlan

Progress = Callable[[str, str], None]


def write_png(data: bytes, out_dir: storage.Location, subdir: str) -> storage.Location:
    """Content-addressed, atomic write of already-encoded PNG bytes (the same naming as images.save_image)."""
    target = safe_join(out_dir, f"{subdir}/{content_hash(data)[:16]}.png")
    if not storage.exists(target):
        write_bytes_atomic(target, data)
    return target


def drop_records(path: Path, ids: set[str]) -> int:
    """Rewrite a JSONL manifest without the records whose id is in `ids` (atomically); how many went."""
    if not ids or not path.is_file():
        return 0
    repair_torn_tail(path)
    kept, dropped = [], 0
    for line in path.read_bytes().splitlines(keepends=True):
        if line.strip() and _line_id(line) in ids:
            dropped += 1
        else:
            kept.append(line)
    if dropped:
        write_bytes_atomic(path, b"".join(kept))
    return dropped


def _line_id(line: bytes) -> str | None:
    """The id of one manifest line; None for a line that is not a JSON object (kept as it is)."""
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    return str(record.get("id")) if isinstance(record, dict) else None


def _public(entry: Record) -> Record:
    """A state entry as an error record: without the bookkeeping fields."""
    return {k: v for k, v in entry.items() if k not in ("type", "gpu_s", "usd")}


class Recorder:
    """The pool, errors and state writers of one run, behind one lock."""

    def __init__(
        self, *, pool: Path, errors: Path, state: Path, resume: bool, t2i: str, t2i_params: dict[str, Any],
        retry_failed: bool = False, progress: Progress | None = None, spend: Callable[[], float] | None = None,
    ) -> None:
        self.state = StateFile(state, resume=resume)
        self.retried = self.state.forget_failed() if resume and retry_failed else set()
        drop_records(errors, self.retried)
        self.out = ManifestWriter(str(pool), resume=resume)
        self.errors = ManifestWriter(str(errors), resume=resume, lazy=True)
        self.t2i = t2i
        self.t2i_params = t2i_params
        self.progress = progress or (lambda kind, outcome: None)
        # The scheduler's `observe(job, passed)`, for schedules that learn from verdicts (adaptive).
        self.observe: Callable[[Job, bool | None], None] | None = None
        self._lock = threading.Lock()
        self.spend = spend  # this run's provider spend so far (US dollars), logged as deltas on state lines
        self._logged_usd = 0.0
        self._spend_lock = threading.Lock()

    def log(self, entry: Record) -> None:
        """Append a state entry with the provider spend since the previous one (`usd`)."""
        with self._spend_lock:
            if self.spend is not None:
                now = self.spend()
                entry = {**entry, "usd": now - self._logged_usd}
                self._logged_usd = now
            self.state.append(entry)

    def close(self) -> None:
        self.out.close()
        self.errors.close()
        self.state.close()

    @property
    def error_records(self) -> int:
        """Error records in the errors manifest, this run's and earlier ones'."""
        return len(self.errors.seen)

    def error(self, record: Record) -> None:
        with self._lock:
            try:
                self.errors.write(record)
            except UnwritableRecord as exc:  # a spec nested too deep: its error still goes on record
                self.errors.write(slim_error(record, str(exc)))

    def candidate(self, record: Record) -> None:
        with self._lock:
            self.out.write(record)

    # -- sources -----------------------------------------------------------------------------------
    def source_entry(self, plan: SourcePlan, outcome: str, image: str | None, gate: Record | None, gpu_s: float) -> Record:
        entry: Record = {"type": "source", "id": plan.id, "kind": plan.kind, "outcome": outcome, "image": image,
                         "generated": plan.kind == "t2i" and image is not None, "specs": plan.specs, "gate": gate,
                         "gpu_s": gpu_s}
        if plan.kind == "t2i":
            entry |= {"t2i_prompt": plan.t2i_prompt, "t2i_model": self.t2i, "t2i_params": self.t2i_params,
                      "seed": plan.seed, "width": plan.width, "height": plan.height}
        return entry

    def source(self, plan: SourcePlan, outcome: str, image: str, gate: Record, gpu_s: float) -> None:
        self.log(self.source_entry(plan, outcome, image, gate, gpu_s))
        self.progress("source", outcome)

    def source_failed(
        self, plan: SourcePlan, kind: str, message: str, gpu_s: float, *, image: str | None = None, gate: Record | None = None
    ) -> None:
        entry = self.source_entry(plan, f"failed:{kind}", image, gate, gpu_s)
        self.error(with_error(_public(entry), "mine.sources", kind, message))
        self.log(entry)
        self.progress("source", entry["outcome"])

    # -- jobs --------------------------------------------------------------------------------------
    @staticmethod
    def job_entry(
        job: Job, outcome: str, gpu_s: float, *, edited: bool, candidate: str | None = None, semantic: str | None = None
    ) -> Record:
        return {"type": "job", "id": job.id, "source": job.source, "instruction": job.instruction, "seed": job.seed,
                "outcome": outcome, "edited": edited, "semantic": semantic, "candidate": candidate, "gpu_s": gpu_s}

    def job(self, job: Job, outcome: str, gpu_s: float, *, candidate: str | None, semantic: str) -> None:
        self.log(self.job_entry(job, outcome, gpu_s, edited=True, candidate=candidate, semantic=semantic))
        if self.observe is not None:
            self.observe(job, outcome == "passed")
        self.progress("job", outcome)

    def awaiting_source(self, plan: SourcePlan, image: str, gpu_s: float) -> None:
        """A generated source written to sources/, waiting for the gate's batch job (--batch-api): a
        killed run's --resume gates these bytes again (the ledger collects the job) instead of
        generating them again."""
        self.log({"type": "awaiting", "id": plan.id, "kind": plan.kind, "outcome": AWAITING_GATE, "staged": image,
                  "gpu_s": gpu_s})

    def awaiting(self, job: Job, staged: str, gpu_s: float) -> None:
        """An edit written to the staging folder, waiting for its pre-filter window (--batch-api)."""
        self.log({"type": "awaiting", "id": job.id, "source": job.source, "instruction": job.instruction,
                  "seed": job.seed, "outcome": AWAITING_PREFILTER, "staged": staged, "gpu_s": gpu_s})

    def job_failed(self, job: Job, kind: str, message: str, gpu_s: float, *, edited: bool) -> None:
        entry = self.job_entry(job, f"failed:{kind}", gpu_s, edited=edited)
        self.error(with_error(_public(entry), "mine.jobs", kind, message))
        self.log(entry)
        if self.observe is not None:
            self.observe(job, None)
        self.progress("job", entry["outcome"])
