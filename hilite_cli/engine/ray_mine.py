"""`hilite mine --executor ray`: the mining dataflow as Ray Data operators, one scheduler in the driver.

Two datasets, each a chain of `map_batches` operators:

    sources:  plans -> T2IActor (GPU pool) -> GateActor (CPU pool, provider calls)
    jobs:     scheduled groups -> EditActor (GPU pool, one batched call per group) -> PrefilterActor (CPU pool)

The driver plans the sources, forms the scheduler's groups (the same seeded draw, windows and
groups as the local run), and consumes results in input order (`preserve_order`): it checks the
budget before each group with the model time every GPU actor reported so far, and records through
the run's `Recorder`, so the pool, errors and state file are written by one process exactly as the
local executor writes them; the gate and pre-filter actors' provider usage comes back with their
rows and joins the driver's providers' meters (the cost line, `--budget-usd`). Workers write only
content-addressed images under `--out`, which must be storage every node sees (a shared mount).

Stopping at the budget: groups already in flight past the budget are computed but not recorded
(at most one pool's worth; nor is their provider usage counted); a resumed run redraws them.
"""

from __future__ import annotations

import os
import pickle
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import orjson

from hilite_cli import storage
from hilite_cli.engine.ray import actor_pool, connect, data_context, enter, node_id
from hilite_cli.engine.ray_usage import WorkerUsage, add_to, usage_column
from hilite_cli.images import ImageError, load_image
from hilite_cli.records import Record, RecordError
from hilite_cli.stages.judging import Thresholds
from hilite_cli.stages.mine.jobs import Job, Scheduler
from hilite_cli.stages.mine.operators import (
    Candidates, EditResult, SourceResult, check_edit, check_source, read_source, record_edit, record_source,
)
from hilite_cli.stages.mine.pipeline import SOURCE_CACHE, MiningRun
from hilite_cli.stages.mine.prefilter import Prefilter
from hilite_cli.stages.mine.sources import SourcePlan
from hilite_cli.stages.mine.stats import Session


@dataclass(frozen=True)
class ProviderRecipe:
    """How to open a provider on a worker (a live client does not travel): its spec and options."""

    spec: str
    options: dict[str, Any] = field(default_factory=dict)

    def open(self) -> Any:
        from hilite_cli.providers import get_provider

        return get_provider(self.spec, **self.options)


@dataclass(frozen=True)
class RayMineSettings:
    """Pool sizes: GPU actors (T2I, editor) and CPU actors for provider checks."""

    workers: int = 1
    max_workers: int | None = None
    gpus_per_worker: float = 0.0
    provider_workers: int | None = None
    address: str | None = None


def _failure(exc: BaseException) -> list[str]:
    return [getattr(exc, "kind", None) or type(exc).__name__, getattr(exc, "message", None) or str(exc)]


class _ModelActor:
    """Loads one model once per actor; a load that fails answers every row with that failure."""

    def __init__(self, loader: Callable[..., Any], name: str, load: dict[str, Any]) -> None:
        t0 = time.perf_counter()
        enter(load.pop("cwd"))
        self.model: Any = None
        self.failure: list[str] | None = None
        try:
            self.model = loader(name, **load)
        except Exception as exc:  # noqa: BLE001 - a worker that cannot load its model must not hang the run
            self.failure = _failure(exc)
        self.unreported_load_s = time.perf_counter() - t0

    def _load_s(self) -> float:
        """This actor's load time, reported once (on its first row)."""
        load_s, self.unreported_load_s = self.unreported_load_s, 0.0
        return load_s


class T2IActor(_ModelActor):
    """Generates each T2I source (photos pass through); reports model seconds per row. The image goes
    on as pixels: the gate's CPU actor encodes it, so the GPU goes straight on to the next row."""

    def __init__(self, loader: Callable[..., Any], name: str, load: dict[str, Any], params: dict[str, Any]) -> None:
        self.params = params
        super().__init__(loader, name, load)

    def __call__(self, table: Any) -> Any:
        import pyarrow as pa

        images, gpu, fails, loads = [], [], [], []
        for raw in table.column("plan").to_pylist():
            plan = SourcePlan(**orjson.loads(raw))
            pixels, dt, fail = b"", 0.0, None
            if plan.kind == "t2i" and self.failure is not None:
                fail = self.failure
            elif plan.kind == "t2i":
                t0 = time.perf_counter()
                try:
                    image = self.model.generate(plan.t2i_prompt, seeds=[plan.seed], width=plan.width, height=plan.height,
                                                params=self.params)[0]
                except RecordError as exc:
                    fail = _failure(exc)
                dt = time.perf_counter() - t0
                pixels = pickle.dumps(image, protocol=pickle.HIGHEST_PROTOCOL) if fail is None else b""
            images.append(pixels)
            gpu.append(dt)
            fails.append(orjson.dumps(fail))
            loads.append(self._load_s())
        return table.append_column("image", pa.array(images, pa.binary())).append_column("gpu_s", pa.array(gpu, pa.float64())) \
            .append_column("fail", pa.array(fails, pa.binary())).append_column("load_s", pa.array(loads, pa.float64())) \
            .append_column("node", pa.array([node_id()] * len(images), pa.string()))


class GateActor:
    """Writes each generated source and asks the A.5 gate (CPU; provider calls in flight together)."""

    def __init__(self, gate: ProviderRecipe | None, out_dir: storage.Location, threads: int, cwd: str, png_level: int) -> None:
        enter(cwd)
        self.png_level = png_level
        self.usage = WorkerUsage()
        self.gate = gate.open() if gate is not None else None
        self.out_dir = out_dir
        self.threads = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="gate")

    def _one(self, raw_plan: bytes, pixels: bytes, fail: bytes) -> bytes:
        if orjson.loads(fail) is not None:
            return b"null"
        plan = SourcePlan(**orjson.loads(raw_plan))
        image = pickle.loads(pixels) if plan.kind == "t2i" else None  # noqa: S301 - pixels our own T2I actor pickled
        return orjson.dumps(asdict(check_source(self.gate, plan, image, self.out_dir, self.png_level)))

    def __call__(self, table: Any) -> Any:
        import pyarrow as pa

        cols = [table.column(c).to_pylist() for c in ("plan", "image", "fail")]
        results = list(self.threads.map(self._one, *cols))
        return table.drop_columns(["image"]).append_column("result", pa.array(results, pa.binary())) \
            .append_column("check_node", pa.array([node_id()] * len(results), pa.string())) \
            .append_column("usage", usage_column(self.usage, len(results)))


class EditActor(_ModelActor):
    """Runs each scheduled group as ONE batched edit call; returns the images of the jobs still to record,
    as pixels: encoding and writing are the pre-filter's CPU actors' work, off the GPU's path."""

    def __init__(self, loader: Callable[..., Any], name: str, load: dict[str, Any], params: dict[str, Any]) -> None:
        self.params = params
        self.sources: OrderedDict[str, Any] = OrderedDict()
        super().__init__(loader, name, load)

    def _source(self, entry: Record) -> Any:
        if entry["id"] not in self.sources:
            self.sources[entry["id"]] = load_image(entry["image"])
            while len(self.sources) > SOURCE_CACHE:
                self.sources.popitem(last=False)
        self.sources.move_to_end(entry["id"])
        return self.sources[entry["id"]]

    def __call__(self, table: Any) -> Any:
        import pyarrow as pa

        edits, gpu, fails, loads, notes, spans = [], [], [], [], [], []
        for raw in table.column("group").to_pylist():
            group = orjson.loads(raw)
            jobs, todo = [Job(**j) for j in group["jobs"]], set(group["todo"])
            pixels, dt, fail, span = b"", 0.0, None, [0.0, 0.0]
            if self.failure is not None:
                fail = [*self.failure, False]
            else:
                try:
                    image = self._source(group["source"])
                except ImageError as exc:
                    fail = [exc.kind, str(exc), False]
                else:
                    t0, span[0] = time.perf_counter(), time.time()
                    try:
                        images = self.model.edit(image, prompt=jobs[0].instruction, seeds=[j.seed for j in jobs], params=self.params)
                        if len(images) != len(jobs):
                            raise RecordError("model_output", f"{group['editor']} returned {len(images)} images for {len(jobs)} seeds")
                    except RecordError as exc:
                        fail = [exc.kind, exc.message, True]
                    dt, span[1] = time.perf_counter() - t0, time.time()
                    if fail is None:
                        pixels = pickle.dumps([im for j, im in zip(jobs, images, strict=True) if j.id in todo],
                                            protocol=pickle.HIGHEST_PROTOCOL)
            edits.append(pixels)
            gpu.append(dt)
            fails.append(orjson.dumps(fail))
            loads.append(self._load_s())
            notes.append(getattr(self.model, "seed_note", None) or "")
            spans.append(span)
        return table.append_column("span", pa.array(spans, pa.list_(pa.float64()))) \
            .append_column("edits", pa.array(edits, pa.binary())).append_column("gpu_s", pa.array(gpu, pa.float64())) \
            .append_column("fail", pa.array(fails, pa.binary())).append_column("load_s", pa.array(loads, pa.float64())) \
            .append_column("note", pa.array(notes, pa.string())).append_column("node", pa.array([node_id()] * len(gpu), pa.string()))


class PrefilterActor:
    """A.2 -> A.3/A.4 -> low-level for every edit of its rows, the calls in flight together (CPU)."""

    def __init__(self, provider: ProviderRecipe, thresholds: Thresholds, lowlevel: bool, candidates: Candidates,
                 threads: int, cwd: str) -> None:
        enter(cwd)
        self.usage = WorkerUsage()
        self.prefilter = Prefilter(provider.open(), thresholds, lowlevel=lowlevel)
        self.candidates = candidates
        self.threads = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="prefilter")

    def _source(self, entry: Record) -> tuple[bytes, np.ndarray]:
        image, png = read_source(entry, self.candidates.png_level)
        return png, np.asarray(image)

    def __call__(self, table: Any) -> Any:
        import pyarrow as pa

        tasks: list[tuple[int, Job, Record, tuple[bytes, np.ndarray] | None, Any, Candidates]] = []
        sources: dict[str, tuple[bytes, np.ndarray]] = {}  # the groups of one source in these rows load it once
        rows = zip(table.column("group").to_pylist(), table.column("edits").to_pylist(), table.column("fail").to_pylist(),
                   table.column("note").to_pylist(), strict=True)
        for k, (raw, pixels, fail, note) in enumerate(rows):
            if orjson.loads(fail) is not None:
                continue
            images = pickle.loads(pixels)  # noqa: S301 - pixels our own edit actor pickled
            group = orjson.loads(raw)
            todo = [Job(**j) for j in group["jobs"] if j["id"] in set(group["todo"])]
            params = self.candidates.edit_params
            candidates = Candidates(self.candidates.editor, params, {**params, "note": note} if note else params,
                                    self.candidates.out_dir, self.candidates.keep_rejected, self.candidates.png_level)
            source_id = group["source"]["id"]
            try:
                if source_id not in sources:
                    sources[source_id] = self._source(group["source"])
                source = sources[source_id]
            except ImageError as exc:
                source, images = None, [str(exc)] * len(todo)
            tasks += [(k, job, group["source"], source, image, candidates) for job, image in zip(todo, images, strict=True)]
        done = list(self.threads.map(self._one, tasks))
        results: list[list[Record]] = [[] for _ in range(table.num_rows)]
        for (k, *_), result in zip(tasks, done, strict=True):
            results[k].append(asdict(result))
        return table.drop_columns(["edits"]).append_column("results", pa.array([orjson.dumps(r) for r in results], pa.binary())) \
            .append_column("check_node", pa.array([node_id()] * len(results), pa.string())) \
            .append_column("usage", usage_column(self.usage, len(results)))

    def _one(self, task: tuple[int, Job, Record, tuple[bytes, np.ndarray] | None, Any, Candidates]) -> EditResult:
        """Encode, check, judge and (if kept) write one edit."""
        _, job, entry, source, image, candidates = task
        if source is None:
            return EditResult("failed", failure=("bad_image", image))
        return check_edit(self.prefilter, job, entry, source[0], source[1], image, candidates)


class RayMiningRun(MiningRun):
    """`MiningRun` whose model calls and checks run on Ray actors; recording stays in the driver."""

    def __init__(self, *args: Any, ray: RayMineSettings, gate_recipe: ProviderRecipe | None,
                 prefilter_recipe: ProviderRecipe, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.s.until_first_pass:
            raise ValueError("--until-first-pass is not supported with --executor ray: dropping seeds changes a group's "
                             "batch, so its images would differ from a local run")
        self.ray = ray
        self.gate_recipe = gate_recipe
        self.prefilter_recipe = prefilter_recipe
        self.nodes: dict[str, Counter[str]] = {op: Counter() for op in ("t2i", "gate", "edit", "prefilter")}
        self._ray = connect(ray.address)
        data_context()  # the driver's own counter shows progress; per-operator detail is on the Ray dashboard

    # -- pools -------------------------------------------------------------------------------------
    def _load(self) -> dict[str, Any]:
        return {"weights": self.s.weights, "device": self.s.device, "dtype": self.s.dtype, "cwd": os.getcwd()}

    def _gpu_pool(self) -> dict[str, Any]:
        gpus = self.ray.gpus_per_worker
        return {"compute": actor_pool(self.ray.workers, self.ray.max_workers), "batch_size": 1,
                **({"num_gpus": gpus} if gpus else {"num_cpus": 1})}

    def _cpu_pool(self) -> dict[str, Any]:
        return {"compute": actor_pool(self.ray.provider_workers or self.ray.workers, None), "num_cpus": 1}

    def _dataset(self, rows: list[Record]) -> Any:
        return self._ray.data.from_items(rows, override_num_blocks=len(rows))

    def _editor(self, session: Session) -> None:  # type: ignore[override]
        """The editor loads on the GPU actors, not in the driver."""
        return None

    def run(self) -> dict[str, Any]:
        result = super().run()
        workers = self.ray.max_workers or self.ray.workers
        loop_s = result["utilization"]["wall_s"] - result["utilization"]["load_s"]
        result["utilization"]["gpu_busy_fraction"] = result["utilization"]["gpu_busy_s"] / (loop_s * workers) if loop_s > 0 else None
        result["ray"] = {"workers": self.ray.workers, "max_workers": self.ray.max_workers,
                         "gpus_per_worker": self.ray.gpus_per_worker,
                         "nodes": {op: dict(c) for op, c in self.nodes.items()}}
        return result

    def _stats_settings(self) -> dict[str, Any]:
        return {**super()._stats_settings(), "executor": "ray"}

    # -- sources -----------------------------------------------------------------------------------
    def _make_sources(self, session: Session) -> None:
        todo = [p for p in self.plans if p.id not in self.state.sources]
        if not todo:
            return
        ds = self._dataset([{"k": k, "plan": orjson.dumps(asdict(p))} for k, p in enumerate(todo)])
        if any(p.kind == "t2i" for p in todo):
            ds = ds.map_batches(T2IActor, fn_constructor_args=(self.loader, self.s.t2i, self._load(), self.t2i_params),
                                batch_format="pyarrow", **self._gpu_pool())
        else:
            ds = ds.map_batches(_no_model, batch_format="pyarrow", num_cpus=0)
        ds = ds.map_batches(GateActor, fn_constructor_args=(self.gate_recipe, self.s.out_dir, self.s.postprocess_workers, os.getcwd(),
                                                                   self.s.png_level),
                            batch_format="pyarrow", batch_size=self.s.postprocess_workers, **self._cpu_pool())
        load_s = 0.0  # the pool's actors load side by side: the phase waits for the slowest
        for row in _rows(ds):
            plan = todo[row["k"]]
            load_s = max(load_s, row["load_s"])
            if plan.kind == "t2i" and not self._budget_left(session):
                session.stop_reason = "budget"
                break
            session.busy_s += row["gpu_s"]
            add_to(self.gate.usage if self.gate is not None else None, row["usage"])
            self.nodes["t2i"][row["node"]] += 1
            self.nodes["gate"][row["check_node"]] += 1
            fail = orjson.loads(row["fail"])
            if fail is not None:
                self.rec.source_failed(plan, fail[0], fail[1], row["gpu_s"])
                continue
            record_source(self.rec, plan, SourceResult(**orjson.loads(row["result"])), row["gpu_s"])
        session.load_s += load_s

    # -- jobs --------------------------------------------------------------------------------------
    def _groups(self, universe: list[Job]) -> list[tuple[list[Job], list[Job]]]:
        """The (group, todo) pairs an uninterrupted local run forms, in its order."""
        scheduler = Scheduler(universe, done=set(self.state.jobs), seed=self.s.seed, window=self.s.window)
        return [(g, scheduler.todo(g)) for window in iter(scheduler.next_window, []) for g in window if scheduler.todo(g)]

    def _edit(self, session: Session, universe: list[Job]) -> None:
        groups = self._groups(universe)
        if not groups:
            return
        rows = [{"k": k, "group": orjson.dumps({"jobs": [asdict(j) for j in g], "todo": [j.id for j in todo],
                                                "source": self.state.sources[g[0].source], "editor": self.s.editor})}
                for k, (g, todo) in enumerate(groups)]
        base = Candidates(self.s.editor, self.edit_params, self.edit_params, self.s.out_dir, self.s.keep_rejected, self.s.png_level)
        per_call = max(1, self.s.postprocess_workers // max(1, self.s.attempts))
        ds = self._dataset(rows).map_batches(
            EditActor, fn_constructor_args=(self.loader, self.s.editor, self._load(), self.edit_params),
            batch_format="pyarrow", **self._gpu_pool(),
        ).map_batches(
            PrefilterActor, batch_format="pyarrow", batch_size=per_call,
            fn_constructor_args=(self.prefilter_recipe, self.prefilter.thresholds, self.prefilter.lowlevel, base,
                                 self.s.postprocess_workers, os.getcwd()),
            **self._cpu_pool(),
        )
        load_s = 0.0
        for row in _rows(ds):
            group, todo = groups[row["k"]]
            load_s = max(load_s, row["load_s"])
            if not self._budget_left(session):
                session.stop_reason = "budget"
                break
            session.busy_s += row["gpu_s"]
            if row["span"][1]:
                session.called(*row["span"])
            add_to(self.prefilter.provider.usage, row["usage"])
            self.nodes["edit"][row["node"]] += 1
            self.nodes["prefilter"][row["check_node"]] += 1
            fail = orjson.loads(row["fail"])
            if fail is not None:
                kind, message, timed = fail
                for job in todo:
                    self.rec.job_failed(job, kind, message, row["gpu_s"] / len(todo) if timed else 0.0, edited=False)
                continue
            for job, result in zip(todo, orjson.loads(row["results"]), strict=True):
                record_edit(self.rec, job, EditResult(**{**result, "failure": _pair(result["failure"])}), row["gpu_s"] / len(todo))
        session.load_s += load_s


def _rows(ds: Any) -> Iterator[Record]:
    """The dataset's rows in order; stopping early (the budget) shuts its actors down at once."""
    rows = iter(ds.iter_rows())
    try:
        yield from rows
    finally:
        rows.close()


def _pair(value: list[str] | None) -> tuple[str, str] | None:
    return None if value is None else (value[0], value[1])


def _no_model(table: Any) -> Any:
    """The T2I step for a run of photos only: nothing to generate, nothing loaded."""
    import pyarrow as pa

    n = table.num_rows
    return table.append_column("image", pa.array([b""] * n, pa.binary())).append_column("gpu_s", pa.array([0.0] * n)) \
        .append_column("fail", pa.array([b"null"] * n, pa.binary())).append_column("load_s", pa.array([0.0] * n)) \
        .append_column("node", pa.array([""] * n, pa.string()))
