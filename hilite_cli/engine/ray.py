"""Run the same stage on a Ray cluster through Ray Data.

The driver's batches become a Ray Dataset (one row per stage batch, its records as JSON bytes); the
stage runs in `map_batches` as a callable class, so each actor calls `setup` once, and an actor pool
of `--workers`..`--max-workers` actors (`num_gpus` each for GPU stages) autoscales. Rows come back in
input order (`preserve_order`), so the driver writes the manifest, the errors and the resume ledger
exactly as the local executor does (`run_stage` stays the one writer).

A stage that needs the whole stream (best-of selection, composition) names a `group_key`: its
records are grouped with `groupby(...).map_groups`, each group runs through a fresh copy of the
stage (`__call__` then `finish`), and the groups come back in order of their first input line.

Provider usage made in the workers comes back as a column of each output row and joins the
driver's usage summary (engine/ray_usage.py), so `--executor ray` prints the local cost line.

One row per block, so a killed task redoes one stage batch. Faults: Ray Data restarts a killed actor and retries its task (`max_restarts`/`max_task_retries`),
and a row is emitted only when its task finished, so a killed worker loses and duplicates nothing.
An actor whose `setup` fails (a model that does not load) answers every input with an error record.
"""

from __future__ import annotations

import copy
import os
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from hilite_cli.core import Record, with_error
from hilite_cli.engine.local import Batch, run_batch
from hilite_cli.engine.ray_usage import DriverUsage, WorkerUsage, usage_column
from hilite_cli.stages.base import Stage



def connect(address: str | None = None) -> Any:
    """Join the cluster at `address` (else RAY_ADDRESS, else a local instance) and return `ray`."""
    try:
        import ray
    except ImportError:
        raise RuntimeError("the Ray executor needs Ray: pip install 'hilite_cli[ray]'") from None
    if not ray.is_initialized():
        ray.init(address=address or os.environ.get("RAY_ADDRESS") or None, include_dashboard=False,
                 log_to_driver=False, ignore_reinit_error=True)
    return ray


def data_context(progress: bool = False) -> Any:
    """Ray Data settings for a run: results in input order, progress bars only when asked."""
    import ray.data

    ctx = ray.data.DataContext.get_current()
    ctx.execution_options.preserve_order = True
    ctx.enable_progress_bars = progress
    ctx.print_on_execution_start = False
    return ctx


def node_id() -> str:
    import ray

    return ray.get_runtime_context().get_node_id()


def actor_pool(workers: int, max_workers: int | None) -> Any:
    """A fixed pool of `workers` actors, or one that autoscales from `workers` to `max_workers`."""
    from ray.data import ActorPoolStrategy

    if max_workers is None or max_workers <= workers:
        return ActorPoolStrategy(size=workers)
    return ActorPoolStrategy(min_size=workers, max_size=max_workers)


def enter(cwd: str) -> None:
    """Work in the driver's folder, so relative paths (`--out edits/`) mean on a worker what they mean
    to the user; on a cluster that folder must exist on every node (shared storage, same path)."""
    if os.getcwd() != cwd:
        os.chdir(cwd)


def _failed_setup(stage: Stage, items: list[tuple[int, Record]], exc: BaseException) -> list[Record]:
    kind = getattr(exc, "kind", type(exc).__name__)
    message = getattr(exc, "message", None) or str(exc)
    return [with_error(r, stage.name, kind, f"line {n}: {stage.name} could not start on its worker: {message}") for n, r in items]


class StageActor:
    """One copy of the stage per actor: `setup` once; a failed setup answers with error records."""

    def __init__(self, stage: Stage, cwd: str) -> None:
        self.stage = stage
        self.failure: BaseException | None = None
        self.usage = WorkerUsage()  # before setup: a provider made there joins it
        try:
            enter(cwd)
            stage.setup()
        except Exception as exc:  # noqa: BLE001 - a worker that cannot load its model must not hang the run
            self.failure = exc

    def __call__(self, table: Any) -> Any:
        import pyarrow as pa

        outs = []
        for raw in table.column("batch").to_pylist():
            items = [(n, r) for n, r in orjson.loads(raw)]
            records = _failed_setup(self.stage, items, self.failure) if self.failure else run_batch(self.stage, items)
            outs.append(orjson.dumps(records))
        return pa.table({"i": table.column("i"), "out": pa.array(outs, pa.binary()),
                         "node": pa.array([node_id()] * len(outs), pa.string()), "usage": usage_column(self.usage, len(outs))})

    def __del__(self) -> None:
        if self.failure is None:
            self.stage.teardown()
        self.usage.close()


def run_group(table: Any, stage: Stage, cwd: str) -> Any:
    """One group through a fresh copy of the stage: its batches, then `finish` (a Ray task: it holds
    no CPU between groups, so the shuffle before it always has room to run)."""
    import pyarrow as pa

    rows = sorted(zip(table.column("i").to_pylist(), table.column("rec").to_pylist(), strict=True))
    items = [(n, orjson.loads(raw)) for n, raw in rows]
    stage = copy.deepcopy(stage)
    usage = WorkerUsage()
    try:
        enter(cwd)
        stage.setup()
    except Exception as exc:  # noqa: BLE001 - see StageActor
        records, stats = _failed_setup(stage, items, exc), {}
    else:
        try:
            size = max(1, stage.batch_size)
            records = [out for k in range(0, len(items), size) for out in run_batch(stage, items[k:k + size])]
            records += stage.finish()
            stats = dict(getattr(stage, "stats", {}))
        finally:
            stage.teardown()
    spent = usage_column(usage, 1)
    usage.close()
    return pa.table({"first": [items[0][0]], "lines": [orjson.dumps(items)], "out": pa.array([orjson.dumps(records)], pa.binary()),
                     "stats": [orjson.dumps(stats)], "node": [node_id()], "usage": spent})


@dataclass
class RayBatches:
    """A `BatchMapper` over a Ray Data actor pool. `address=None`: RAY_ADDRESS or a local instance."""

    workers: int = 1
    max_workers: int | None = None
    address: str | None = None
    num_gpus: float = 0.0
    num_cpus: float = 1.0
    nodes: Counter[str] = field(default_factory=Counter)  # batches done per node id, for the summary
    usage: DriverUsage = field(default_factory=DriverUsage)  # the workers' provider usage, in the driver's scope

    def __call__(self, stage: Stage, batches: Iterator[Batch]) -> Iterator[tuple[Batch, list[Record]]]:
        ray = connect(self.address)
        data_context()
        if stage.whole_stream:
            yield from self._grouped(ray, stage, batches)
            return
        todo = list(batches)
        if not todo:
            return
        rows = [{"i": k, "batch": orjson.dumps(batch)} for k, batch in enumerate(todo)]
        ds = ray.data.from_items(rows, override_num_blocks=len(rows)).map_batches(
            StageActor, fn_constructor_args=(stage, os.getcwd()), batch_format="pyarrow", batch_size=1,
            compute=actor_pool(self.workers, self.max_workers), num_cpus=self.num_cpus, num_gpus=self.num_gpus or None,
        )
        for row in ds.iter_rows():
            self.nodes[row["node"]] += 1
            self.usage.add(row["usage"])
            yield todo[row["i"]], orjson.loads(row["out"])
        self._report(stage)

    def _report(self, stage: Stage) -> None:
        """Where the work ran (stderr), so a user sees every node of the cluster took part."""
        spread = ", ".join(f"{node[:8]}: {n}" for node, n in self.nodes.most_common())
        print(f"hilite {stage.name}: ray ran {sum(self.nodes.values())} batches on {len(self.nodes)} node(s) ({spread})",
              file=sys.stderr)

    def _grouped(self, ray: Any, stage: Stage, batches: Iterator[Batch]) -> Iterator[tuple[Batch, list[Record]]]:
        rows = [{"i": n, "key": stage.group_key(r), "rec": orjson.dumps(r)} for batch in batches for n, r in batch]
        if not rows:
            return
        ds = ray.data.from_items(rows).groupby("key").map_groups(
            run_group, fn_kwargs={"stage": stage, "cwd": os.getcwd()}, batch_format="pyarrow",
            compute=ray.data.TaskPoolStrategy(size=self.max_workers or self.workers), num_cpus=self.num_cpus,
            num_gpus=self.num_gpus or None,
        )
        groups = sorted(ds.iter_rows(), key=lambda g: g["first"])
        totals: Counter[str] = Counter()
        for group in groups:
            totals.update(orjson.loads(group["stats"]))
            self.nodes[group["node"]] += 1
            self.usage.add(group["usage"])
        if hasattr(stage, "stats"):
            stage.stats = totals
        for group in groups:
            yield [(n, r) for n, r in orjson.loads(group["lines"])], orjson.loads(group["out"])
        self._report(stage)
