"""`hilite mine --executor ray`: the mining flow (stages/mine/flow.py) as Ray Data operators.

One adapter, `OperatorActor`, turns each operator into a `map_batches` over an actor pool sized by
what the operator declares: a GPU operator gets `--workers`..`--max-workers` actors of
`--gpus-per-worker` GPUs and batches of one item; a CPU operator gets `num_cpus=1` actors running
its provider calls in threads. So the GPU actor only makes model calls; encoding, checks and writes
are the next operator's work, and Ray Data streams the two side by side.

Items travel as pickled rows and come back in input order (`preserve_order`), so the driver checks
the budget, counts GPU time and records through the run's `Recorder` exactly as it does for the
local executor: one process writes the pool, errors and state file. Workers write only
content-addressed images under `--out`, which must be storage every node sees (a shared mount). The
provider usage of the CPU actors comes back with their rows and joins the driver's meters (the cost
line, `--budget-usd`).

Stopping at the budget: items already computed past it are not recorded (at most one pool's worth;
nor is their provider usage counted); a resumed run redraws them.
"""

from __future__ import annotations

import os
import pickle
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from hilite_cli.engine.ray import actor_pool, connect, data_context, enter, node_id
from hilite_cli.engine.ray_usage import WorkerUsage, add_to, usage_column
from hilite_cli.stages.mine.flow import BARRIER, Operator

OPERATORS = ("t2i", "gate", "edit", "prefilter")


@dataclass(frozen=True)
class RayMineSettings:
    """Pool sizes: GPU actors (T2I, editor) and CPU actors for provider checks."""

    workers: int = 1
    max_workers: int | None = None
    gpus_per_worker: float = 0.0
    provider_workers: int | None = None
    address: str | None = None


class OperatorActor:
    """One operator per actor: `setup` once, then its batches; the node and provider usage ride along."""

    def __init__(self, op: Operator, cwd: str) -> None:
        enter(cwd)
        self.usage = WorkerUsage()  # before setup: a provider opened there joins it
        self.op = op
        op.setup()

    def __call__(self, table: Any) -> Any:
        import pyarrow as pa

        items = self.op([pickle.loads(raw) for raw in table.column("item").to_pylist()])  # noqa: S301 - our own rows
        name = self.op.name
        return table.drop_columns(["item"]) \
            .append_column("item", pa.array([pickle.dumps(x, protocol=pickle.HIGHEST_PROTOCOL) for x in items], pa.binary())) \
            .append_column(f"{name}_node", pa.array([node_id()] * len(items), pa.string())) \
            .append_column(f"{name}_usage", usage_column(self.usage, len(items)))


class RayFlow:
    """Runs flows as Ray Data datasets on RAY_ADDRESS (or a local instance)."""

    remote = True

    def __init__(self, settings: RayMineSettings) -> None:
        self.s = settings
        self.ray = connect(settings.address)
        data_context()  # the driver's own counter shows progress; per-operator detail is on the Ray dashboard
        self.nodes: dict[str, Counter[str]] = {op: Counter() for op in OPERATORS}

    @property
    def gpu_workers(self) -> int:
        return self.s.max_workers or self.s.workers

    def close(self) -> None:
        return None

    def summary(self) -> dict[str, Any]:
        return {"workers": self.s.workers, "max_workers": self.s.max_workers, "gpus_per_worker": self.s.gpus_per_worker,
                "nodes": {op: dict(c) for op, c in self.nodes.items()}}

    def _placement(self, op: Operator) -> dict[str, Any]:
        """Resources, pool and batch size from what the operator declares."""
        if op.resources.gpu:
            gpus = self.s.gpus_per_worker
            return {"compute": actor_pool(self.s.workers, self.s.max_workers), "batch_size": 1,
                    **({"num_gpus": gpus} if gpus else {"num_cpus": 1})}
        return {"compute": actor_pool(self.s.provider_workers or self.s.workers, None), "num_cpus": op.resources.cpus,
                "batch_size": op.batch_size}

    def map(self, ops: list[Operator], items: Iterable[Any], *, keep_going: Callable[[Any], bool],
            account: Callable[[Any], None], meters: dict[str, Any] | None = None) -> Iterator[Any]:
        """Each item through `ops`, in input order; the driver's `keep_going` is asked as each comes back."""
        todo = [x for x in items if x is not BARRIER]
        if not todo:
            return
        rows = [{"item": pickle.dumps(x, protocol=pickle.HIGHEST_PROTOCOL)} for x in todo]
        ds = self.ray.data.from_items(rows, override_num_blocks=len(rows))
        for op in ops:
            ds = ds.map_batches(OperatorActor, fn_constructor_args=(op, os.getcwd()), batch_format="pyarrow",
                                **self._placement(op))
        rows_back = iter(ds.iter_rows())
        try:
            for row in rows_back:
                item = pickle.loads(row["item"])  # noqa: S301 - our own rows
                if not keep_going(item):
                    break
                for op in ops:
                    self.nodes[op.name][row[f"{op.name}_node"]] += 1
                    add_to((meters or {}).get(op.name), row[f"{op.name}_usage"])
                account(item)
                yield item
        finally:
            rows_back.close()  # stopping early (the budget) shuts the actors down at once
