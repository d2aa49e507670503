"""The mining dataflow, described once; the local and the Ray executor both run it.

    sources:  Made(plan)   -> Generate (GPU: one T2I call)      -> CheckSource (CPU + I/O: encode, write, A.5 gate)
    jobs:     Group(jobs)  -> Edit (GPU: one batched edit call)  -> CheckEdits (CPU + I/O: encode, low-level, A.2-A.4, write)

An operator is a class with declared `resources`, a `setup()` that loads its expensive parts once per
worker (a model, a provider, threads) and a `__call__` over a batch of items. The items are plain
dataclasses the operators fill in as they pass; they hold pixels, never encoded images, until a CPU
operator encodes them, so the GPU goes straight on to its next call. The executor owns placement
and parallelism (`engine/mine_local.py`: model calls on the driver's thread, CPU operators in its
thread pool; `engine/mine_ray.py`: one Ray Data `map_batches` per operator); the driver
(`pipeline.py`) owns the scheduler, the budget and the recorder, and sees every finished item.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from PIL import Image

from hilite_cli.images import ImageError, load_image
from hilite_cli.providers import Provider
from hilite_cli.records import Record, RecordError
from hilite_cli.stages.judging import Thresholds
from hilite_cli.stages.mine.jobs import Job
from hilite_cli.stages.mine.operators import (
    Candidates, EditResult, SourceResult, check_edit, check_source, read_source, write_source,
)
from hilite_cli.stages.mine.prefilter import Prefilter
from hilite_cli.stages.mine.sources import SourcePlan
from hilite_cli.stages.mine.windows import SourceView

SOURCE_CACHE = 16  # sources an operator keeps decoded for their next groups
BARRIER = object()  # in a stream of groups: record everything before the next group is drawn


@dataclass(frozen=True)
class Source(SourceView):
    """A usable source, loaded once for all its edit groups: state entry, PNG bytes, pixels, image."""

    image: Image.Image


@dataclass
class Made:
    """One source on its way: generated (or a photo passing through), then written and gated."""

    plan: SourcePlan
    image: Image.Image | None = None
    gpu_s: float = 0.0
    failure: tuple[str, str] | None = None
    load_s: float = 0.0  # the model's load time, on the first item an operator made
    staged: tuple[str, bytes] | None = None  # --batch-api: written (path, PNG), the gate asked later for all
    result: SourceResult | None = None


@dataclass
class Group:
    """One scheduled (source, instruction) group: ONE batched edit call; only `todo` is recorded."""

    jobs: list[Job]
    todo: list[Job]
    source: Record  # the source's state entry
    view: Future[Source] | None = None  # the local executor's prefetched source; Ray's operators load it
    images: list[Image.Image] | None = None  # of the todo jobs, until CheckEdits has encoded them
    gpu_s: float = 0.0
    span: tuple[float, float] | None = None  # wall clock of the model call
    failure: tuple[str, str, bool] | None = None  # kind, message, whether the model call was timed
    note: str | None = None  # the editor's seed note, recorded in every candidate's params
    load_s: float = 0.0
    results: list[EditResult] = field(default_factory=list)


@dataclass(frozen=True)
class Resources:
    """Where an operator runs: `gpu` holds an accelerator (one model call at a time per worker); the
    others take `cpus` each and run their provider calls in threads (they wait on the network)."""

    gpu: bool = False
    cpus: float = 1.0


@dataclass(frozen=True)
class ProviderRecipe:
    """How to open a provider on a worker (a live client does not travel): its spec and options."""

    spec: str
    options: dict[str, Any] = field(default_factory=dict)

    def open(self) -> Provider:
        from hilite_cli.providers import get_provider

        return get_provider(self.spec, **self.options)


def _open(provider: Provider | ProviderRecipe | None) -> Provider | None:
    return provider.open() if isinstance(provider, ProviderRecipe) else provider


def failure_of(exc: BaseException) -> tuple[str, str]:
    return getattr(exc, "kind", None) or type(exc).__name__, getattr(exc, "message", None) or str(exc)


class Operator:
    """One step of the flow (see the module docstring); `name` keys its stats and its Ray pool."""

    name: ClassVar[str]
    resources: ClassVar[Resources]
    batch_size: int = 1
    ready = False

    def setup(self) -> None:
        self.ready = True

    def __call__(self, items: list[Any]) -> list[Any]:
        raise NotImplementedError


class ModelOperator(Operator):
    """Loads one model once per worker; a load that fails is kept and answers every item with it."""

    resources = Resources(gpu=True)

    def __init__(self, loader: Any, model: str, load: dict[str, Any], params: dict[str, Any]) -> None:
        self.loader, self.model_name, self.load, self.params = loader, model, load, params
        self.model: Any = None
        self.error: BaseException | None = None
        self.load_s = 0.0

    def setup(self) -> None:
        t0 = time.perf_counter()
        try:
            self.model = self.loader(self.model_name, **self.load)
        except Exception as exc:  # noqa: BLE001 - a worker that cannot load its model must not hang the run
            self.error = exc
        self.load_s = time.perf_counter() - t0
        super().setup()

    def take_load_s(self) -> float:
        """The load time, reported once (on the first item after it)."""
        load_s, self.load_s = self.load_s, 0.0
        return load_s


class Generate(ModelOperator):
    """A.2 line 3: one T2I call per source at its planned size and seed; photos pass through."""

    name = "t2i"

    def __call__(self, items: list[Made]) -> list[Made]:
        for made in items:
            made.load_s = self.take_load_s()
            plan = made.plan
            if plan.kind != "t2i" or made.staged is not None:
                continue
            if self.error is not None:
                made.failure = failure_of(self.error)
                continue
            t0 = time.perf_counter()
            try:
                made.image = self.model.generate(plan.t2i_prompt, seeds=[plan.seed], width=plan.width,
                                                 height=plan.height, params=self.params)[0]
            except RecordError as exc:
                made.failure = (exc.kind, exc.message)
            made.gpu_s = time.perf_counter() - t0
        return items


class CheckSource(Operator):
    """Encode and write each generated source, then ask the A.5 gate (or, `gate_later`, only write it:
    --batch-api gates all of a run's sources in one job); a photo must be readable."""

    name = "gate"
    resources = Resources(cpus=1.0)

    def __init__(self, gate: Provider | ProviderRecipe | None, out_dir: Any, png_level: int, threads: int,
                 gate_later: bool = False) -> None:
        self.gate_spec, self.out_dir, self.png_level, self.threads = gate, out_dir, png_level, threads
        self.batch_size, self.gate_later = threads, gate_later

    def setup(self) -> None:
        self.gate = _open(self.gate_spec)
        self.pool = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="mine-gate")
        super().setup()

    def _one(self, made: Made) -> Made:
        generated = made.staged[1] if made.staged is not None else made.image if made.plan.kind == "t2i" else None
        made.image = None
        if made.failure is not None:
            made.result = SourceResult("failed", failure=made.failure)
        elif self.gate_later and made.plan.kind == "t2i":
            if made.staged is None:
                try:
                    made.staged = write_source(made.plan, generated, self.out_dir, self.png_level)
                except (RecordError, ImageError) as exc:
                    made.result = SourceResult("failed", failure=(getattr(exc, "kind", "bad_image"), str(exc)))
        else:
            made.result = check_source(self.gate, made.plan, generated, self.out_dir, self.png_level)
        return made

    def __call__(self, items: list[Made]) -> list[Made]:
        return list(self.pool.map(self._one, items))


class Edit(ModelOperator):
    """ONE batched edit call per group (every seed drawn for its source and instruction)."""

    name = "edit"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sources: OrderedDict[str, Image.Image] = OrderedDict()

    def _image(self, group: Group) -> Image.Image:
        if group.view is not None:
            return group.view.result().image
        key = group.source["id"]
        if key not in self.sources:
            self.sources[key] = load_image(group.source["image"])
            while len(self.sources) > SOURCE_CACHE:
                self.sources.popitem(last=False)
        self.sources.move_to_end(key)
        return self.sources[key]

    def __call__(self, groups: list[Group]) -> list[Group]:
        for group in groups:
            group.load_s = self.take_load_s()
            if self.error is not None:
                group.failure = (*failure_of(self.error), False)
                continue
            try:
                image = self._image(group)
            except ImageError as exc:
                group.failure = (exc.kind, str(exc), False)
                continue
            t0, started = time.perf_counter(), time.time()
            try:
                images = self.model.edit(image, prompt=group.jobs[0].instruction, seeds=[j.seed for j in group.jobs],
                                         params=self.params)
                if len(images) != len(group.jobs):
                    raise RecordError("model_output", f"{self.model_name} returned {len(images)} images for {len(group.jobs)} seeds")
            except RecordError as exc:
                group.failure = (exc.kind, exc.message, True)
            group.gpu_s, group.span = time.perf_counter() - t0, (started, time.time())
            group.note = getattr(self.model, "seed_note", None)
            if group.failure is None:
                group.images = [im for j, im in zip(group.jobs, images, strict=True) if j in group.todo]
        return groups


class CheckEdits(Operator):
    """A.2 -> A.3/A.4 -> low-level for every edit of its groups, encoded and (if kept) written here;
    the provider calls of all its edits in flight together."""

    name = "prefilter"
    resources = Resources(cpus=1.0)

    def __init__(self, provider: Provider | ProviderRecipe, thresholds: Thresholds, lowlevel: bool,
                 candidates: Candidates, threads: int, batch_size: int = 1) -> None:
        self.provider, self.thresholds, self.lowlevel = provider, thresholds, lowlevel
        self.candidates, self.threads, self.batch_size = candidates, threads, batch_size

    def setup(self) -> None:
        self.prefilter = Prefilter(_open(self.provider), self.thresholds, lowlevel=self.lowlevel)  # type: ignore[arg-type]
        self.pool = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="mine-check")
        super().setup()

    def __call__(self, groups: list[Group]) -> list[Group]:
        tasks: list[tuple[Group, Job, Any, Image.Image | str, Candidates]] = []
        loaded: dict[str, Any] = {}  # the groups of one source in this batch load it once
        for group in groups:
            if group.failure is not None or group.images is None:
                continue
            params = self.candidates.edit_params
            candidates = Candidates(self.candidates.editor, params, {**params, "note": group.note} if group.note else params,
                                    self.candidates.out_dir, self.candidates.keep_rejected, self.candidates.png_level)
            try:
                if group.view is not None:
                    source = group.view.result()
                else:
                    key = group.source["id"]
                    if key not in loaded:
                        image, png = read_source(group.source, self.candidates.png_level)
                        loaded[key] = SourceView(group.source, png, np.asarray(image))
                    source = loaded[key]
            except ImageError as exc:
                source, group.images = None, [str(exc)] * len(group.todo)
            tasks += [(group, job, source, image, candidates) for job, image in zip(group.todo, group.images, strict=True)]
            group.images = None
        for (group, *_), result in zip(tasks, self.pool.map(self._one, tasks), strict=True):
            group.results.append(result)
        return groups

    def _one(self, task: tuple[Group, Job, Any, Image.Image | str, Candidates]) -> EditResult:
        group, job, source, image, candidates = task
        if source is None:
            return EditResult("failed", failure=("bad_image", str(image)))
        return check_edit(self.prefilter, job, group.source, source.png, source.array, image, candidates)

