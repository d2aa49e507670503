"""`mine --batch-api`: edits pre-filtered a window at a time, so each window is one provider batch job.

The GPU loop hands every finished edit to `PrefilterWindows.add`. A worker encodes it and writes it
to `<out>/staging/<job id>.png` FIRST, then appends an `awaiting` state line (with the edit's GPU
seconds). When `size` edits have gathered (configs/providers.toml [batch] records_per_job), or the
GPU loop ends, the window goes to the worker pool: `Prefilter.judge_many` asks A.2 for the whole
window in one `ask_many` and A.3 + A.4 for those that passed in a second one. At most `in_flight`
windows are judged at once; beyond that the GPU loop waits.

A killed run leaves `awaiting` lines and staged images: the resumed run re-judges those same bytes
(no GPU), so the cache keys are the same and the batch runner collects the job it already submitted
(`<pool>.batches.jsonl`) instead of paying again. A job still running when `--batch-wait` ends
leaves its edits awaiting, for `--resume` to collect. Judged edits follow the rules of the plain
path: a kept one is written to edits/ (content-addressed), and its staged copy is removed either way,
so a rejected edit stays on disk only with --keep-rejected.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from hilite_cli import storage
from hilite_cli.images import ImageError, safe_join, write_bytes_atomic
from hilite_cli.records import Record, RecordError
from hilite_cli.stages.mine.jobs import Job
from hilite_cli.stages.mine.operators import Candidates, EditResult, edit_result, edit_to_judge, record_edit
from hilite_cli.stages.mine.prefilter import Edit, Prefilter
from hilite_cli.stages.mine.recorder import Recorder

Drain = Callable[[list[Future[Any]], int], list[Future[Any]]]


@dataclass(frozen=True)
class SourceView:
    """What judging an edit needs of its source: the state entry, PNG bytes and pixels."""

    entry: Record
    png: bytes
    array: np.ndarray


@dataclass(frozen=True)
class Staged:
    """An edit written to the staging folder, awaiting its window's verdict. It holds no pixels and no
    image bytes (a window may hold thousands): the bytes are read back when the window is judged."""

    job: Job
    source: Record  # the source's state entry
    low: Record | None  # the low-level check, computed while the pixels were at hand
    path: storage.Location


def staging_path(out_dir: storage.Location, job: Job) -> storage.Location:
    return safe_join(out_dir, f"staging/{job.id}.png")


def clear_judged(out_dir: storage.Location, judged: set[str]) -> None:
    """Remove staged copies of edits that already have a verdict (a kill between the job's state line
    and the removal leaves one). Local folders only: an object store's leftovers are harmless files."""
    if storage.is_url(out_dir):
        return
    staging = Path(out_dir) / "staging"
    for path in staging.glob("*.png") if staging.is_dir() else []:
        if path.stem in judged:
            path.unlink(missing_ok=True)


class PrefilterWindows:
    """Edits awaiting the pre-filter, judged `size` at a time in the run's worker pool."""

    def __init__(
        self, *, prefilter: Prefilter, recorder: Recorder, candidates: Callable[[], Candidates], workers: ThreadPoolExecutor,
        drain: Drain, size: int, in_flight: int, on_pass: Callable[[Job], None], source_png: Callable[[str], bytes],
    ) -> None:
        self.prefilter = prefilter
        self.rec = recorder
        self.candidates = candidates
        self.workers = workers
        self.drain = drain
        self.size = max(1, size)
        self.in_flight = in_flight
        self.on_pass = on_pass
        self.source_png = source_png  # a source's PNG bytes by id (the run's source cache)
        self._window: list[Future[Staged | None]] = []
        self._judging: list[Future[None]] = []

    def add(self, job: Job, source: SourceView, image: Image.Image, gpu_s: float) -> None:
        """A fresh edit from the GPU loop: staged by a worker, judged with its window."""
        self._window.append(self.workers.submit(self._stage, job, source, image, gpu_s))
        if len(self._window) >= self.size:
            self.flush()

    def add_staged(self, job: Job, source: SourceView, png: bytes, path: storage.Location) -> None:
        """An edit a killed run staged: judged from its written bytes (the same cache keys, so no new job)."""
        done: Future[Staged | None] = Future()
        try:
            low = edit_to_judge(self.prefilter, job, source.png, source.array, png, self.candidates().png_level).low
            done.set_result(Staged(job, source.entry, low, path))
        except (RecordError, ImageError) as exc:
            self._fail(job, exc, path)
            done.set_result(None)
        self._window.append(done)
        if len(self._window) >= self.size:
            self.flush()

    def flush(self) -> None:
        """Send the gathered edits to be judged; wait while more than `in_flight` windows are being judged."""
        if not self._window:
            return
        window, self._window = self._window, []
        self._judging.append(self.workers.submit(self._judge, window))
        self._judging = self.drain(self._judging, self.in_flight)

    def finish(self) -> None:
        """Judge what is gathered and wait for every window (the verdicts a learning schedule needs)."""
        self.flush()
        self._judging = self.drain(self._judging, 0)

    # -- workers -------------------------------------------------------------------------------------
    def _stage(self, job: Job, source: SourceView, image: Image.Image, gpu_s: float) -> Staged | None:
        """Write the edit before anything is asked about it, then record it as awaiting the pre-filter."""
        path = staging_path(self.candidates().out_dir, job)
        try:
            edit = edit_to_judge(self.prefilter, job, source.png, source.array, image, self.candidates().png_level)
            write_bytes_atomic(path, edit.edited_png)
        except (RecordError, ImageError) as exc:
            self.rec.job_failed(job, getattr(exc, "kind", "bad_image"), str(exc), gpu_s, edited=True)
            return None
        self.rec.awaiting(job, str(path), gpu_s)
        return Staged(job, source.entry, edit.low, path)

    def _judge(self, window: list[Future[Staged | None]]) -> None:
        staged, edits = [], []
        for item in (s for f in window if (s := f.result()) is not None):
            try:
                edits.append(Edit(item.job.instruction, self.source_png(item.job.source), storage.read_bytes(item.path),
                                  item.low))
            except (ImageError, OSError) as exc:
                self._fail(item.job, exc, item.path)
                continue
            staged.append(item)
        if not staged:
            return
        verdicts = self.prefilter.judge_many(edits)
        batched = self.prefilter.provider.batch is not None
        candidates = self.candidates()
        for item, edit, verdict in zip(staged, edits, verdicts, strict=True):
            if batched and verdict.failure is not None and verdict.failure[0].endswith("_timeout"):
                continue  # left awaiting: its job is in the ledger, and --resume collects it
            try:
                result = edit_result(verdict, item.job, item.source, edit.edited_png, candidates)
            except (RecordError, ImageError) as exc:
                result = EditResult("failed", failure=(getattr(exc, "kind", "bad_image"), str(exc)))
            if result.passed:
                self.on_pass(item.job)
            record_edit(self.rec, item.job, result, 0.0)  # its GPU seconds are on the awaiting line
            storage.remove(item.path)

    def _fail(self, job: Job, exc: Exception, path: storage.Location) -> None:
        self.rec.job_failed(job, getattr(exc, "kind", "bad_image"), str(exc), 0.0, edited=True)
        storage.remove(path)
