"""Provider usage made inside Ray workers, brought back to the driver's usage summary.

A provider-bound stage on Ray (validate, route; mine's gate and pre-filter) makes its providers in the actors, so their
meters live in the worker processes, out of the driver's `usage_scope`. Each actor keeps its own
scope open and returns, beside each batch's records, what its meters counted during that batch (a
column of the output row: map_batches stays a pure function of its input, and a batch whose task
is retried after a killed actor is counted once, from the row that was emitted; the calls the
killed actor made for it were paid but are not counted, so the total is then a lower bound). The driver adds
those deltas to one meter per `backend:model`, registered in its scope (mine: to its own gate and
pre-filter providers' meters, which `--budget-usd` reads), so the command prints and writes the same
cost line as the local executor.
"""

from __future__ import annotations

from typing import Any

import orjson

from hilite_cli.providers.usage import UsageMeter, register, usage_scope


class WorkerUsage:
    """In a worker: the meters of the providers made since it started, and what each counted since the last `take`."""

    def __init__(self) -> None:
        self._scope = usage_scope()
        self.meters = self._scope.__enter__()  # held open for the life of the actor (a context of one process)
        self._sent: dict[int, dict[str, list[int]]] = {}

    def take(self) -> bytes:
        """JSON of [{backend, model, counts}] counted since the last call."""
        out = []
        for meter in list(self.meters):
            now = meter.counts()
            before = self._sent.get(id(meter))
            self._sent[id(meter)] = now
            delta = {k: [a - b for a, b in zip(v, before[k], strict=True)] if before else v for k, v in now.items()}
            if any(any(v) for v in delta.values()):
                out.append({"backend": meter.backend, "model": meter.model, "counts": delta})
        return orjson.dumps(out)

    def close(self) -> None:
        self._scope.__exit__(None, None, None)


def usage_column(usage: WorkerUsage, rows: int) -> Any:
    """A batch's usage as an output column: the whole delta on its first row (rows are read in order)."""
    import pyarrow as pa

    return pa.array([usage.take()] + [b"[]"] * (rows - 1), pa.binary()) if rows else pa.array([], pa.binary())


def add_to(meter: UsageMeter | None, payload: bytes | None) -> None:
    """Add a row's usage to the driver's meter of the same provider (a worker opened it from the same recipe)."""
    if meter is None or not payload:
        return
    for entry in orjson.loads(payload):
        meter.add_counts(entry["counts"])


class DriverUsage:
    """On the driver: one meter per `backend:model`, joined to the open usage scopes when first seen."""

    def __init__(self) -> None:
        self.meters: dict[tuple[str, str | None], UsageMeter] = {}

    def add(self, payload: bytes | None) -> None:
        for entry in orjson.loads(payload) if payload else []:
            key = (entry["backend"], entry["model"])
            if key not in self.meters:
                self.meters[key] = UsageMeter(*key)
                register(self.meters[key])
            self.meters[key].add_counts(entry["counts"])
