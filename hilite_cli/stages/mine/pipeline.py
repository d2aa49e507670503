"""The mining loop (Algorithm 2 over every spec, NHR 3.5's scheduler), with GPU work and provider
calls overlapped.

The main thread only runs model calls: T2I generations (one call per source, since each source has
its own random size), then edit groups drawn by the scheduler (one batched call per group).
Everything else for a finished image (PNG encoding, the gate or the pre-filter's provider calls,
the low-level check, atomic image writes, manifest and state appends) runs in a thread pool while
the next model call runs. At most `max_pending` edits wait for the pre-filter; beyond that the
loop waits (and the GPU idles, which the busy fraction shows honestly).

Under `--batch-api` the gate runs once for all generated sources, and edits are staged and judged a
window at a time (`windows.py`), so each window's provider calls are one batch job.

What is written, and in which order, is `recorder.py`'s job.

GPU time is the wall-clock inside model calls x `gpus`; the budget counts what the state file
records from earlier runs plus this run's model time. Provider spend (`--budget-usd`) is counted
the same way: earlier runs' `usd` from the state file plus this run's. Busy fraction = model time /
wall time of the mining loop (model loading reported apart).
"""

from __future__ import annotations

import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from hilite_cli import storage
from hilite_cli.images import ImageError
from hilite_cli.models.base import Editor, ModelLoadError, TextToImage
from hilite_cli.models.registry import attempts_for, effective_params, get_spec
from hilite_cli.providers import Provider
from hilite_cli.records import Record, RecordError
from hilite_cli.stages.mine.adaptive import make_scheduler, universe_attempts
from hilite_cli.stages.mine.categories import pair_categories
from hilite_cli.stages.mine.difficulty import annotate_pool, category_stats, difficulties, verdict
from hilite_cli.stages.mine.jobs import AWAITING_GATE, AWAITING_PREFILTER, Job, enumerate_jobs
from hilite_cli.stages.mine.operators import (
    Candidates, SourceResult, candidate_id, check_edit, check_source, gate_many, read_source, record_edit, record_source,
    write_source,
)
from hilite_cli.stages.mine.prefilter import Prefilter
from hilite_cli.stages.mine.recorder import Progress, Recorder
from hilite_cli.stages.mine.sources import USABLE, SourcePlan, plan_sources, resolution_bounds
from hilite_cli.stages.mine.stats import Session, compute_stats
from hilite_cli.stages.mine.windows import PrefilterWindows, SourceView, clear_judged

Loader = Callable[..., Editor | TextToImage]
SOURCE_CACHE = 16  # sources kept decoded (pixels and PNG) for their next groups
PREFETCH = 8  # groups ahead whose sources are decoded off the GPU loop, before it asks for them


def default_png_level() -> int:
    """The zlib level of every PNG mine writes or sends (configs/mining.toml [images] png_level)."""
    from hilite_cli.config import load_config

    return int(load_config("mining").get("images", {}).get("png_level", 6))


def _default_loader(name: str, **kwargs: Any) -> Editor | TextToImage:
    from hilite_cli.models.loader import load_model

    return load_model(name, **kwargs)


@dataclass
class MineSettings:
    """Everything a run needs besides its specs and providers (options over configs/mining.toml)."""

    out_dir: storage.Location  # a local folder or an fsspec URL
    pool: Path
    errors: Path
    n_sources: int
    attempts: int
    t2i: str
    editor: str
    seed: int
    window: int
    postprocess_workers: int
    max_pending: int
    t2i_params: dict[str, Any] = field(default_factory=dict)
    edit_params: dict[str, Any] = field(default_factory=dict)
    bounds: dict[str, Any] = field(default_factory=dict)
    weights: dict[str, Path] = field(default_factory=dict)
    device: str | None = None
    dtype: str | None = None
    keep_rejected: bool = False
    budget_gpu_hours: float | None = None
    budget_usd: float | None = None  # provider spend (gate + pre-filter), earlier runs' included
    gpus: int = 1
    until_first_pass: bool = False
    overlap: bool = True
    resume: bool = False
    retry_failed: bool = False
    schedule: str = "uniform"
    category_weights: dict[str, float] = field(default_factory=dict)
    batch_window: int | None = None  # --batch-api: edits per pre-filter window and sources per gate ask_many
    windows_in_flight: int = 2  # --batch-api: pre-filter windows judged at once beside the GPU loop
    png_level: int = field(default_factory=default_png_level)

    @property
    def state_path(self) -> Path:
        return Path(f"{self.pool}.state.jsonl")


@dataclass(frozen=True)
class _Source(SourceView):
    """A usable source, loaded once for all its edit groups."""

    image: Image.Image


class MiningRun:
    """One `hilite mine` run over prepared specs; `run()` returns the Table-3 style stats."""

    def __init__(
        self,
        settings: MineSettings,
        specs: list[Record],
        *,
        gate: Provider | None,
        prefilter: Prefilter,
        loader: Loader = _default_loader,
        input_errors: list[Record] | None = None,
        progress: Progress | None = None,
        spend: Callable[[], float] | None = None,
    ) -> None:
        self.s = settings
        self.spend = spend  # US dollars the providers have cost so far (for budget_usd)
        self.specs = specs
        self.input_errors = input_errors or []
        self.gate = gate
        self.prefilter = prefilter
        self.loader = loader
        self.progress = progress
        self.editor_spec = get_spec(settings.editor)
        if self.editor_spec.kind == "t2i" or self.editor_spec.prompt_style != "instruction":
            raise ValueError(
                f"--editor {settings.editor}: mining needs an instruction-following editor (prompt_style "
                f"'instruction'), got kind {self.editor_spec.kind!r} with prompt_style {self.editor_spec.prompt_style!r}"
            )
        self.edit_params = effective_params(self.editor_spec, settings.edit_params)
        needs_t2i = any("t2i_prompt" in s for s in specs)
        self.t2i_spec = get_spec(settings.t2i) if needs_t2i else None
        if self.t2i_spec is not None and self.t2i_spec.kind != "t2i":
            raise ValueError(f"--t2i {settings.t2i}: not a text-to-image model (kind {self.t2i_spec.kind!r})")
        self.t2i_params = effective_params(self.t2i_spec, settings.t2i_params) if self.t2i_spec else {}
        bounds = resolution_bounds(self.t2i_spec, settings.bounds) if self.t2i_spec else {}
        self.plans = plan_sources(
            specs, n_sources=settings.n_sources, t2i_spec=self.t2i_spec, bounds=bounds, t2i_params=self.t2i_params
        )
        self.recorded_params: dict[str, Any] = self.edit_params
        self._loaded_editor: Editor | None = None
        self.passed_pairs: set[tuple[str, str]] = set()
        self.categories = pair_categories(specs, self.plans)
        self.schedule_summary: dict[str, Any] | None = None
        self._lock = threading.Lock()
        self._sources: OrderedDict[str, Future[_Source]] = OrderedDict()
        self._source_lock = threading.Lock()
        self.session: Session | None = None  # this run's timing, for `status()` while it runs
        self.spent_before = 0.0
        self.usd_before = 0.0  # provider US dollars the state file records from earlier runs
        self.jobs_total: int | None = None
        self.windows: PrefilterWindows | None = None  # --batch-api (or staged edits to re-judge)

    # -- the run ---------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        s = self.s
        storage.makedirs(s.out_dir)
        self.rec = Recorder(pool=s.pool, errors=s.errors, state=s.state_path, resume=s.resume, t2i=s.t2i,
                            t2i_params=self.t2i_params, retry_failed=s.retry_failed, progress=self.progress,
                            spend=self.spend)
        self.state = self.rec.state
        for record in self.input_errors:
            self.rec.error(record)
        self.spent_before = self.state.gpu_seconds()
        self.usd_before = self.state.usd_spent()
        self.passed_pairs = {(j["source"], j["instruction"]) for j in self.state.jobs.values() if j["outcome"] == "passed"}
        session = self.session = Session(start=time.perf_counter())
        universe: list[Job] = []
        try:
            with ThreadPoolExecutor(max_workers=s.postprocess_workers, thread_name_prefix="mine-post") as pool, \
                    ThreadPoolExecutor(max_workers=2, thread_name_prefix="mine-source") as loaders:
                self.workers, self.loaders = pool, loaders
                if any(p.id not in self.state.sources for p in self.plans):
                    self._editor(session)  # fail fast: no GPU time on sources for an editor that cannot load
                self._make_sources(session)
                universe = self._jobs()
                self.jobs_total = len(universe)
                if session.stop_reason != "budget":
                    self._edit(session, universe)
        finally:
            session.wall_s = time.perf_counter() - session.start
            self.rec.close()
        per_pair = difficulties(self.state.jobs, self.categories)
        annotate_pool(s.pool, per_pair)
        stats = compute_stats(
            plans=self.plans,
            state=self.state,
            universe=universe,
            settings=self._stats_settings(),
            session=session,
            error_records=self.rec.error_records,
        )
        stats["budget"].update(self._usd_block())
        return {**stats, "difficulty": category_stats(per_pair), "schedule": self.schedule_summary}

    def _usd_block(self) -> dict[str, float | None]:
        """Provider spend for the stats' budget block: earlier runs (state file), this run, total."""
        this_run = self.spend() if self.spend is not None else None
        total = None if this_run is None else self.usd_before + this_run
        return {"limit_usd": self.s.budget_usd, "earlier_usd": self.usd_before, "this_run_usd": this_run,
                "spent_usd": total}

    def _stats_settings(self) -> dict[str, Any]:
        s = self.s
        return {
            "t2i": s.t2i if self.t2i_spec else None,
            "editor": s.editor,
            "gate": _provider_name(self.gate) if self.gate else None,
            "prefilter": _provider_name(self.prefilter.provider),
            "n_sources": s.n_sources,
            "attempts": s.attempts,
            "budget_gpu_hours": s.budget_gpu_hours,
            "gpus": s.gpus,
            "until_first_pass": s.until_first_pass,
            "schedule": s.schedule,
            "seed": s.seed,
            "window": s.window,
            "overlap": s.overlap,
            "lowlevel": self.prefilter.lowlevel,
            "t_aes": self.prefilter.thresholds.aesthetics,
            "t_adh": self.prefilter.thresholds.instruction,
        }

    def status(self) -> dict[str, float | int | None]:
        """GPU hours spent (earlier runs included) against the budget, and jobs not yet run: for a progress line.

        `jobs_left` is an upper bound with --until-first-pass (a pair that passed drops its other jobs).
        """
        busy = self.session.busy_s if self.session else 0.0
        left = None if self.jobs_total is None else max(0, self.jobs_total - len(self.state.jobs))
        return {"gpu_hours": (self.spent_before + busy) * self.s.gpus / 3600,
                "budget_gpu_hours": self.s.budget_gpu_hours, "jobs_left": left}

    def _budget_left(self, session: Session) -> bool:
        if self.s.budget_usd is not None and self.spend is not None \
                and self.usd_before + self.spend() >= self.s.budget_usd:
            return False
        if self.s.budget_gpu_hours is None:
            return True
        return (self.spent_before + session.busy_s) * self.s.gpus < self.s.budget_gpu_hours * 3600

    def _load(self, name: str, session: Session) -> Any:
        t0 = time.perf_counter()
        model = self.loader(name, weights=self.s.weights, device=self.s.device, dtype=self.s.dtype)
        session.load_s += time.perf_counter() - t0
        return model

    def _drain(self, pending: list[Future[None]], keep: int) -> list[Future[None]]:
        """Wait until at most `keep` futures are pending; re-raise what a worker raised."""
        while len(pending) > keep:
            done, rest = wait(pending, return_when=FIRST_COMPLETED)
            for f in done:
                f.result()
            pending = list(rest)
        finished = [f for f in pending if f.done()]
        for f in finished:
            f.result()
        return [f for f in pending if not f.done()]

    def _submit(self, pending: list[Future[None]], fn: Callable[..., None], *args: Any) -> list[Future[None]]:
        pending.append(self.workers.submit(fn, *args))
        return self._drain(pending, self.s.max_pending)

    def _settle(self, pending: list[Future[None]]) -> list[Future[None]]:
        """Without overlap, wait for the pool after every model call (the baseline the bench compares)."""
        return pending if self.s.overlap else self._drain(pending, 0)

    # -- sources (Algorithm 2, lines 2-6) -----------------------------------------------------------
    def _make_sources(self, session: Session) -> None:
        todo = [p for p in self.plans if p.id not in self.state.sources]
        t2i, unloadable = None, None
        if any(p.kind == "t2i" for p in todo):
            try:
                t2i = self._load(self.s.t2i, session)
            except ModelLoadError as exc:  # the photo specs can still be mined; each T2I source fails, named
                unloadable = exc
                print(f"hilite mine: {exc.message}", file=sys.stderr)
        pending: list[Future[None]] = []
        written: list[tuple[SourcePlan, str, bytes, float]] = []  # --batch-api: sources waiting for the gate
        staged = self._staged_sources()
        for plan in todo:
            if plan.kind == "photo":
                pending = self._submit(pending, self._finish_source, plan, None, 0.0)
                continue
            if plan.id in staged:  # generated by a killed run, its GPU seconds on its awaiting line
                if self._batch_gate:
                    written.append((plan, *staged[plan.id], 0.0))
                else:
                    pending = self._submit(pending, self._finish_source, plan, staged[plan.id][1], 0.0)
                continue
            if unloadable is not None:
                self.rec.source_failed(plan, unloadable.kind, unloadable.message, 0.0)
                continue
            if not self._budget_left(session):
                session.stop_reason = "budget"
                break
            t0 = time.perf_counter()
            try:
                image = t2i.generate(
                    plan.t2i_prompt, seeds=[plan.seed], width=plan.width, height=plan.height, params=self.t2i_params
                )[0]
            except RecordError as exc:
                dt = time.perf_counter() - t0
                session.busy_s += dt
                self.rec.source_failed(plan, exc.kind, exc.message, dt)
                continue
            dt = time.perf_counter() - t0
            session.busy_s += dt
            if self._batch_gate:
                pending = self._submit(pending, self._write_source, plan, image, dt, written)
            else:
                pending = self._submit(pending, self._finish_source, plan, image, dt)
            pending = self._settle(pending)
        self._drain(pending, 0)
        self._gate_written(written)

    @property
    def _batch_gate(self) -> bool:
        return self.gate is not None and self.gate.batch is not None

    def _staged_sources(self) -> dict[str, tuple[str, bytes]]:
        """Sources a killed (or --batch-wait-limited) run generated and wrote but never got the gate's
        verdict for: plan id -> (path, PNG bytes). Gating those bytes again finds the same cache keys,
        so the batch runner collects the job already submitted; a missing file is generated again."""
        out = {}
        for plan_id, entry in self.state.awaiting.items():
            if entry["outcome"] == AWAITING_GATE and plan_id not in self.state.sources:
                try:
                    out[plan_id] = (entry["staged"], storage.read_bytes(entry["staged"]))
                except OSError:
                    continue
        return out

    def _write_source(self, plan: SourcePlan, image: Image.Image, gpu_s: float,
                      written: list[tuple[SourcePlan, str, bytes, float]]) -> None:
        """Worker (--batch-api): write a generated source; the gate asks for all of them at once later."""
        try:
            path, png = write_source(plan, image, self.s.out_dir, self.s.png_level)
        except (RecordError, ImageError) as exc:
            record_source(self.rec, plan, SourceResult("failed", None, None, (getattr(exc, "kind", "bad_image"), str(exc))),
                          gpu_s)
            return
        self.rec.awaiting_source(plan, path, gpu_s)
        with self._lock:
            written.append((plan, path, png, 0.0))  # its GPU seconds are on the awaiting line

    def _gate_written(self, written: list[tuple[SourcePlan, str, bytes, float]]) -> None:
        """The A.5 gate for every source this run generated, `batch_window` per ask_many (one batch job)."""
        if not written:
            return
        assert self.gate is not None
        size = self.s.batch_window or len(written)
        for start in range(0, len(written), size):
            chunk = written[start:start + size]
            results = gate_many(self.gate, [(plan, path, png) for plan, path, png, _ in chunk])
            for (plan, _, _, gpu_s), result in zip(chunk, results, strict=True):
                if result.failure is not None and result.failure[0] == "gate_timeout":
                    continue  # its job outlived --batch-wait: left awaiting, and --resume collects it
                record_source(self.rec, plan, result, gpu_s)

    def _finish_source(self, plan: SourcePlan, image: Image.Image | None, gpu_s: float) -> None:
        """Worker: write the source, ask the gate, record the outcome."""
        record_source(self.rec, plan, check_source(self.gate, plan, image, self.s.out_dir, self.s.png_level), gpu_s)

    # -- jobs (Algorithm 2, lines 7-18) -------------------------------------------------------------
    def _jobs(self) -> list[Job]:
        usable = [(p.id, p.instructions) for p in self.plans if self.state.sources.get(p.id, {}).get("outcome") in USABLE]
        return enumerate_jobs(usable, attempts_for(self.editor_spec, universe_attempts(self.s.schedule, self.s.attempts)))

    def _source(self, source_id: str) -> _Source:
        """The source image, PNG bytes and pixels, loaded once and kept for the next groups (the GPU loop
        and, under --batch-api, the pre-filter windows ask for them)."""
        return self._prefetch([source_id])[0].result()

    def _prefetch(self, source_ids: list[str]) -> list[Future[_Source]]:
        """Decode (and, for a photo, PNG-encode) these sources in the loader threads, not on the GPU loop."""
        with self._source_lock:
            for source_id in source_ids:
                if source_id not in self._sources:
                    self._sources[source_id] = self.loaders.submit(self._read_source, source_id)
                self._sources.move_to_end(source_id)
            futures = [self._sources[i] for i in source_ids]
            while len(self._sources) > SOURCE_CACHE:
                self._sources.popitem(last=False)
            return futures

    def _read_source(self, source_id: str) -> _Source:
        entry = self.state.sources[source_id]
        image, png = read_source(entry, self.s.png_level)
        return _Source(entry=entry, png=png, array=np.asarray(image), image=image)

    def _editor(self, session: Session) -> Editor:
        """The editor, loaded once; its seed note (if any) is recorded in every candidate's params."""
        if self._loaded_editor is None:
            self._loaded_editor = self._load(self.s.editor, session)
            note = getattr(self._loaded_editor, "seed_note", None)
            self.recorded_params = {**self.edit_params, "note": note} if note else self.edit_params
        return self._loaded_editor

    def _edit(self, session: Session, universe: list[Job]) -> None:
        awaiting = self._awaiting()
        clear_judged(self.s.out_dir, set(self.state.jobs))
        scheduler = make_scheduler(
            self.s.schedule, universe, done=set(self.state.jobs) | set(awaiting), seed=self.s.seed, window=self.s.window,
            passed_pairs=self.passed_pairs if self.s.until_first_pass else None, categories=self.categories,
            attempts=self.s.attempts, outcomes={i: verdict(e["outcome"]) for i, e in self.state.jobs.items()},
            prior=self.s.category_weights,
        )
        learns = hasattr(scheduler, "observe")
        self.rec.observe = scheduler.observe if learns else None
        self.windows = self._prefilter_windows() if self._batch_prefilter or awaiting else None
        try:
            if self.windows is not None:
                self._rejudge(awaiting)
            self._edit_windows(session, scheduler, learns)
            if self.windows is not None:
                self.windows.finish()
        finally:
            self.schedule_summary = scheduler.summary() if learns else None
        if learns and session.stop_reason != "budget" and scheduler.drawn >= scheduler.budget:
            session.stop_reason = "job_budget"

    def _edit_windows(self, session: Session, scheduler: Any, learns: bool) -> None:
        if not len(scheduler):
            return
        editor = self._editor(session)
        pending: list[Future[None]] = []
        # A learning schedule sees every verdict of a window before it draws the next one (reproducible).
        while groups := scheduler.next_window():
            for k, group in enumerate(groups):
                self._prefetch([g[0].source for g in groups[k + 1:k + 1 + PREFETCH]])
                if not self._budget_left(session):
                    session.stop_reason = "budget"
                    self._drain(pending, 0)
                    return
                with self._lock:
                    group = [j for j in group if scheduler.runnable(j)]
                if scheduler.todo(group):
                    pending = self._run_group(session, editor, group, scheduler.todo(group), pending)
            if self._batch_prefilter and (learns or self.s.until_first_pass):
                pending = self._drain(pending, 0)
                self.windows.finish()  # type: ignore[union-attr]  # the next draw sees this window's verdicts
            if learns:
                pending = self._drain(pending, 0)
        self._drain(pending, 0)

    @property
    def _batch_prefilter(self) -> bool:
        return self.prefilter.provider.batch is not None

    def _prefilter_windows(self) -> PrefilterWindows:
        return PrefilterWindows(
            prefilter=self.prefilter, recorder=self.rec, candidates=self.candidates, workers=self.workers,
            drain=self._drain, size=self.s.batch_window or self.s.max_pending,
            # A window being judged holds a worker for the whole batch job: keep one free for staging.
            in_flight=max(0, min(self.s.windows_in_flight, self.s.postprocess_workers - 1)) if self.s.overlap else 0,
            on_pass=self._passed,
            source_png=lambda source_id: self._source(source_id).png,
        )

    def _passed(self, job: Job) -> None:
        with self._lock:
            self.passed_pairs.add(job.pair)

    def _awaiting(self) -> dict[str, Record]:
        """Edits a killed (or --batch-wait-limited) run staged but never recorded a verdict for, whose
        staged image is still there; the others are simply edited again."""
        return {i: e for i, e in self.state.awaiting.items()
                if e["outcome"] == AWAITING_PREFILTER and i not in self.state.jobs and storage.exists(e["staged"])}

    def _rejudge(self, awaiting: dict[str, Record]) -> None:
        """Judge the staged edits of an earlier run from their written bytes: no GPU, and the same cache
        keys, so the batch runner collects the jobs that run submitted instead of submitting again."""
        assert self.windows is not None
        for entry in awaiting.values():
            job = Job(entry["id"], entry["source"], entry["instruction"], entry["seed"])
            try:
                source = self._source(job.source)
                png = storage.read_bytes(entry["staged"])
            except (ImageError, OSError, KeyError) as exc:
                self.rec.job_failed(job, getattr(exc, "kind", "bad_image"), f"staged edit cannot be judged: {exc}", 0.0,
                                    edited=True)
                continue
            self.windows.add_staged(job, source, png, entry["staged"])

    def _run_group(
        self, session: Session, editor: Editor, group: list[Job], todo: list[Job], pending: list[Future[None]]
    ) -> list[Future[None]]:
        """ONE batched edit call for the seeds of one (source, instruction); pre-filter in the pool.

        The whole drawn group runs (the same batch as an uninterrupted run); only `todo` is recorded.
        """
        try:
            source = self._source(group[0].source)
        except ImageError as exc:
            for job in todo:
                self.rec.job_failed(job, exc.kind, str(exc), 0.0, edited=False)
            return pending
        t0, started = time.perf_counter(), time.time()
        try:
            seeds = [j.seed for j in group]
            images = editor.edit(source.image, prompt=group[0].instruction, seeds=seeds, params=self.edit_params)
            if len(images) != len(group):
                raise RecordError("model_output", f"{self.s.editor} returned {len(images)} images for {len(group)} seeds")
        except RecordError as exc:
            dt = time.perf_counter() - t0
            session.busy_s += dt
            session.called(started, time.time())
            for job in todo:
                self.rec.job_failed(job, exc.kind, exc.message, dt / len(todo), edited=False)
            return pending
        dt = time.perf_counter() - t0
        session.busy_s += dt
        session.called(started, time.time())
        for job, image in zip(group, images, strict=True):
            if job not in todo:
                continue
            if self._batch_prefilter:
                assert self.windows is not None
                self.windows.add(job, source, image, dt / len(todo))
            else:
                pending = self._submit(pending, self._finish_job, job, source, image, dt / len(todo))
        return self._settle(pending)

    def candidate_id(self, job: Job) -> str:
        return candidate_id(job, self.s.editor, self.edit_params)

    def candidates(self) -> Candidates:
        """How this run names and describes its candidates (the editor's seed note included)."""
        return Candidates(self.s.editor, self.edit_params, self.recorded_params, self.s.out_dir, self.s.keep_rejected,
                          self.s.png_level)

    def _finish_job(self, job: Job, source: _Source, edited: Image.Image, gpu_s: float) -> None:
        """Worker: pre-filter one edit, write it if it is kept, record the job's outcome."""
        result = check_edit(self.prefilter, job, source.entry, source.png, source.array, edited, self.candidates())
        if result.passed:
            self._passed(job)
        record_edit(self.rec, job, result, gpu_s)


def _provider_name(provider: Provider) -> str:
    return f"{provider.name}:{provider.model}" if provider.model else provider.name
