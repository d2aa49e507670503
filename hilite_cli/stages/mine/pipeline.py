"""The mining driver (Algorithm 2 over every spec, NHR 3.5's scheduler): it plans the sources, draws
the scheduler's groups, checks the budget and records every outcome; an executor runs the flow.

The flow itself (stages/mine/flow.py) is described once: a model operator (T2I, then the editor),
then a CPU operator that encodes, writes and asks the providers. The local executor
(engine/mine_local.py) runs the model calls on this thread and the CPU operators in a thread pool
beside it; the Ray executor (engine/mine_ray.py) runs each operator as a Ray Data actor pool. Either
way the items come back here, and only this process writes the pool, errors and state file
(`recorder.py`).

Under `--batch-api` (local) the gate runs once for all generated sources, and edits are staged and
judged a window at a time (`windows.py`), so each window's provider calls are one batch job.

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
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hilite_cli import storage
from hilite_cli.images import ImageError
from hilite_cli.models.base import Editor, ModelLoadError, TextToImage
from hilite_cli.models.registry import attempts_for, effective_params, get_spec
from hilite_cli.providers import Provider
from hilite_cli.records import Record
from hilite_cli.stages.mine.adaptive import make_scheduler, universe_attempts
from hilite_cli.stages.mine.categories import pair_categories
from hilite_cli.stages.mine.difficulty import annotate_pool, category_stats, difficulties, verdict
from hilite_cli.stages.mine.flow import (
    BARRIER, SOURCE_CACHE, CheckEdits, CheckSource, Edit, Generate, Group, Made, ModelOperator, ProviderRecipe, Source,
)
from hilite_cli.stages.mine.jobs import AWAITING_GATE, AWAITING_PREFILTER, Job, enumerate_jobs
from hilite_cli.stages.mine.operators import Candidates, gate_many, read_source, record_edit, record_source
from hilite_cli.stages.mine.prefilter import Prefilter
from hilite_cli.stages.mine.recorder import Progress, Recorder
from hilite_cli.stages.mine.sources import USABLE, SourcePlan, plan_sources, resolution_bounds
from hilite_cli.stages.mine.stats import Session, compute_stats
from hilite_cli.stages.mine.windows import PrefilterWindows, clear_judged

Loader = Callable[..., Editor | TextToImage]
PREFETCH = 8  # groups ahead whose sources are decoded off the GPU loop, before it asks for them


def _default_loader(name: str, **kwargs: Any) -> Editor | TextToImage:
    from hilite_cli.models.loader import load_model

    return load_model(name, **kwargs)


def default_png_level() -> int:
    """The zlib level of every PNG mine writes or sends (configs/mining.toml [images] png_level)."""
    from hilite_cli.config import load_config

    return int(load_config("mining").get("images", {}).get("png_level", 6))


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


class MiningRun:
    """One `hilite mine` run over prepared specs; `run()` returns the Table-3 style stats.

    `executor` runs the flow (default: the local executor); a remote one (Ray) opens the providers
    on its workers from `recipes` (gate, pre-filter), since a live client does not travel.
    """

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
        executor: Any = None,
        recipes: tuple[ProviderRecipe | None, ProviderRecipe] | None = None,
    ) -> None:
        self.s = settings
        self.spend = spend  # US dollars the providers have cost so far (for budget_usd)
        self.specs = specs
        self.input_errors = input_errors or []
        self.gate = gate
        self.prefilter = prefilter
        self.loader = loader
        self.progress = progress
        self.executor = executor
        self.recipes = recipes
        if executor is not None and executor.remote and settings.until_first_pass:
            raise ValueError("--until-first-pass is not supported with --executor ray: dropping seeds changes a group's "
                             "batch, so its images would differ from a local run")
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
        self._edit_op: Edit | None = None
        self.passed_pairs: set[tuple[str, str]] = set()
        self.categories = pair_categories(specs, self.plans)
        self.schedule_summary: dict[str, Any] | None = None
        self._lock = threading.Lock()
        self._sources: OrderedDict[str, Future[Source]] = OrderedDict()
        self._source_lock = threading.Lock()
        self.session: Session | None = None  # this run's timing, for `status()` while it runs
        self.spent_before = 0.0
        self.usd_before = 0.0  # provider US dollars the state file records from earlier runs
        self.jobs_total: int | None = None
        self.meters = {"gate": gate.usage if gate is not None else None, "prefilter": prefilter.provider.usage}
        self.windows: PrefilterWindows | None = None  # --batch-api (or staged edits to re-judge)
        self._load_s = 0.0  # model loading of the phase running now (actors load side by side: the slowest)

    # -- the run ---------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        from hilite_cli.engine.mine_local import LocalFlow

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
        self.flow = self.executor or LocalFlow(s.postprocess_workers, s.max_pending, s.overlap)
        universe: list[Job] = []
        try:
            with ThreadPoolExecutor(max_workers=2, thread_name_prefix="mine-source") as loaders:
                self.loaders = loaders
                if any(p.id not in self.state.sources for p in self.plans) and not self.flow.remote:
                    self._editor()  # fail fast: no GPU time on sources for an editor that cannot load
                self._make_sources(session)
                universe = self._jobs()
                self.jobs_total = len(universe)
                if session.stop_reason != "budget":
                    self._edit(session, universe)
        finally:
            if self.executor is None:
                self.flow.close()
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
        util = stats["utilization"]
        for key in ("gpu_busy_fraction", "gpu_busy_fraction_steady"):  # per GPU worker
            util[key] = None if util[key] is None else util[key] / self.flow.gpu_workers
        ray = self.flow.summary()
        return {**stats, "difficulty": category_stats(per_pair), "schedule": self.schedule_summary, **({"ray": ray} if ray else {})}

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
            **({"executor": "ray"} if self.flow.remote else {}),
        }

    def status(self) -> dict[str, float | int | None]:
        """GPU hours spent (earlier runs included) against the budget, and jobs not yet run: for a progress line.

        `jobs_left` is an upper bound with --until-first-pass (a pair that passed drops its other jobs).
        """
        busy = self.session.busy_s if self.session else 0.0
        left = None if self.jobs_total is None else max(0, self.jobs_total - len(self.state.jobs))
        return {"gpu_hours": (self.spent_before + busy) * self.s.gpus / 3600,
                "budget_gpu_hours": self.s.budget_gpu_hours, "jobs_left": left}

    def _within_budget(self, session: Session) -> bool:
        """Whether GPU hours and provider spend (earlier runs' included) are left; if not, the run stops."""
        usd = self.s.budget_usd is not None and self.spend is not None and self.usd_before + self.spend() >= self.s.budget_usd
        gpu = self.s.budget_gpu_hours is not None \
            and (self.spent_before + session.busy_s) * self.s.gpus >= self.s.budget_gpu_hours * 3600
        if usd or gpu:
            session.stop_reason = "budget"
        return not (usd or gpu)

    def _account(self, item: Made | Group) -> None:
        """What the driver counts as soon as a model call is done: GPU time, its span, model loading."""
        self.session.busy_s += item.gpu_s  # type: ignore[union-attr]
        if isinstance(item, Group) and item.span is not None:
            self.session.called(*item.span)  # type: ignore[union-attr]
        self._load_s = max(self._load_s, item.load_s)

    def _providers(self) -> tuple[Provider | ProviderRecipe | None, Provider | ProviderRecipe]:
        """The gate and the pre-filter as the operators get them: live here, recipes for remote workers."""
        if self.flow.remote:
            assert self.recipes is not None, "a remote executor needs provider recipes"
            return self.recipes
        return self.gate, self.prefilter.provider

    def _local_model(self, op: ModelOperator) -> ModelOperator:
        """Load a model on this process now (local executor), its load time counted once."""
        op.setup()
        self.session.load_s += op.take_load_s()  # type: ignore[union-attr]
        return op

    # -- sources (Algorithm 2, lines 2-6) -----------------------------------------------------------
    def _make_sources(self, session: Session) -> None:
        todo = [p for p in self.plans if p.id not in self.state.sources]
        if not todo:
            return
        staged = self._staged_sources()
        gate, _ = self._providers()
        ops: list[Any] = [CheckSource(gate, self.s.out_dir, self.s.png_level, self.s.postprocess_workers,
                                      gate_later=self._batch_gate)]
        if any(p.kind == "t2i" and p.id not in staged for p in todo):
            generate = Generate(self.loader, self.s.t2i, self._load_args(), self.t2i_params)
            if not self.flow.remote:
                self._local_model(generate)
                if generate.error is not None and not isinstance(generate.error, ModelLoadError):
                    raise generate.error
                if generate.error is not None:  # the photo specs can still be mined; each T2I source fails, named
                    print(f"hilite mine: {generate.error.message}", file=sys.stderr)
            ops.insert(0, generate)
        written: list[tuple[SourcePlan, str, bytes, float]] = []  # --batch-api: sources waiting for the gate
        items = [Made(p, staged=staged.get(p.id)) for p in todo]
        self._load_s = 0.0
        keep_going = lambda m: m.plan.kind != "t2i" or m.staged is not None or self._within_budget(session)  # noqa: E731
        for made in self.flow.map(ops, items, keep_going=keep_going, account=self._account, meters=self.meters):
            if made.result is not None:
                record_source(self.rec, made.plan, made.result, made.gpu_s)
            elif made.staged is not None:
                if made.plan.id not in staged:
                    self.rec.awaiting_source(made.plan, made.staged[0], made.gpu_s)
                written.append((made.plan, *made.staged, 0.0))  # its GPU seconds are on the awaiting line
        session.load_s += self._load_s
        self._gate_written(written)

    def _load_args(self) -> dict[str, Any]:
        return {"weights": self.s.weights, "device": self.s.device, "dtype": self.s.dtype}

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

    # -- jobs (Algorithm 2, lines 7-18) -------------------------------------------------------------
    def _jobs(self) -> list[Job]:
        usable = [(p.id, p.instructions) for p in self.plans if self.state.sources.get(p.id, {}).get("outcome") in USABLE]
        return enumerate_jobs(usable, attempts_for(self.editor_spec, universe_attempts(self.s.schedule, self.s.attempts)))

    def _source(self, source_id: str) -> Source:
        """The source image, PNG bytes and pixels, loaded once and kept for the next groups (the GPU loop
        and, under --batch-api, the pre-filter windows ask for them)."""
        return self._prefetch([source_id])[0].result()

    def _prefetch(self, source_ids: list[str]) -> list[Future[Source]]:
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

    def _read_source(self, source_id: str) -> Source:
        entry = self.state.sources[source_id]
        image, png = read_source(entry, self.s.png_level)
        return Source(entry=entry, png=png, array=np.asarray(image), image=image)

    def _editor(self) -> Edit:
        """The edit operator; on the local executor its model is loaded here, once (a load failure is
        raised), and its seed note (if any) is recorded in every candidate's params."""
        if self._edit_op is None:
            self._edit_op = Edit(self.loader, self.s.editor, self._load_args(), self.edit_params)
            if not self.flow.remote:
                self._local_model(self._edit_op)
                if self._edit_op.error is not None:
                    raise self._edit_op.error
                note = getattr(self._edit_op.model, "seed_note", None)
                self.recorded_params = {**self.edit_params, "note": note} if note else self.edit_params
        return self._edit_op

    def _edit(self, session: Session, universe: list[Job]) -> None:
        awaiting = {} if self.flow.remote else self._awaiting()
        clear_judged(self.s.out_dir, set(self.state.jobs))
        scheduler = make_scheduler(
            # Ray draws uniformly (as before the flow was shared): a learning draw needs each window's verdicts first
            "uniform" if self.flow.remote else self.s.schedule, universe, done=set(self.state.jobs) | set(awaiting),
            seed=self.s.seed, window=self.s.window,
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
            if len(scheduler):
                self._edit_groups(session, scheduler, learns)
            if self.windows is not None:
                self.windows.finish()
        finally:
            self.schedule_summary = scheduler.summary() if learns else None
        if learns and session.stop_reason != "budget" and scheduler.drawn >= scheduler.budget:
            session.stop_reason = "job_budget"

    def _edit_groups(self, session: Session, scheduler: Any, learns: bool) -> None:
        """Every drawn group through the flow; outcomes recorded as they come back."""
        ops: list[Any] = [self._editor()]
        if not self._batch_prefilter:
            _, prefilter = self._providers()
            ops.append(CheckEdits(prefilter, self.prefilter.thresholds, self.prefilter.lowlevel, self.candidates(),
                                  self.s.postprocess_workers, max(1, self.s.postprocess_workers // max(1, self.s.attempts))))
        self._load_s = 0.0
        groups = self.flow.map(ops, self._groups(scheduler, learns), keep_going=lambda g: self._within_budget(session),
                               account=self._account, meters=self.meters)
        for group in groups:
            if group is BARRIER:
                if self._batch_prefilter and (learns or self.s.until_first_pass):
                    self.windows.finish()  # type: ignore[union-attr]  # the next draw sees this window's verdicts
                continue
            self._record_group(group)
        session.load_s += self._load_s

    def _groups(self, scheduler: Any, learns: bool) -> Iterator[Group | object]:
        """The scheduler's groups, window by window (a learning schedule sees every verdict of a window
        before it draws the next: a BARRIER between windows). The whole drawn group runs (the same batch
        as an uninterrupted run); only `todo` is recorded."""
        barrier = learns or (self._batch_prefilter and self.s.until_first_pass)
        while windows := scheduler.next_window():
            for k, group in enumerate(windows):
                with self._lock:
                    group = [j for j in group if scheduler.runnable(j)]
                todo = scheduler.todo(group)
                if not todo:
                    continue
                view = None
                if not self.flow.remote:  # the local GPU loop asks for this source and the next ones' ahead
                    view = self._prefetch([group[0].source, *(g[0].source for g in windows[k + 1:k + 1 + PREFETCH])])[0]
                yield Group(group, todo, self.state.sources[group[0].source], view=view)
            if barrier:
                yield BARRIER

    def _record_group(self, group: Group) -> None:
        todo = group.todo
        if group.failure is not None:
            kind, message, timed = group.failure
            for job in todo:
                self.rec.job_failed(job, kind, message, group.gpu_s / len(todo) if timed else 0.0, edited=False)
            return
        if group.images is not None:  # --batch-api: staged, judged with its window
            assert self.windows is not None and group.view is not None
            for job, image in zip(todo, group.images, strict=True):
                self.windows.add(job, group.view.result(), image, group.gpu_s / len(todo))
            return
        for job, result in zip(todo, group.results, strict=True):
            if result.passed:
                self._passed(job)
            record_edit(self.rec, job, result, group.gpu_s / len(todo))

    @property
    def _batch_prefilter(self) -> bool:
        return self.prefilter.provider.batch is not None

    def _prefilter_windows(self) -> PrefilterWindows:
        from hilite_cli.engine.mine_local import drain

        pool = self.flow.pool
        return PrefilterWindows(
            prefilter=self.prefilter, recorder=self.rec, candidates=self.candidates, workers=pool,
            drain=drain, size=self.s.batch_window or self.s.max_pending,
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

    def candidates(self) -> Candidates:
        """How this run names and describes its candidates (the editor's seed note included)."""
        return Candidates(self.s.editor, self.edit_params, self.recorded_params, self.s.out_dir, self.s.keep_rejected,
                          self.s.png_level)


def _provider_name(provider: Provider) -> str:
    return f"{provider.name}:{provider.model}" if provider.model else provider.name
