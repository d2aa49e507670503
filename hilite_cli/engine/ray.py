"""Run the same stage on a Ray cluster: one long-lived actor per worker, each calling `setup` once.

Batches stream through an `ActorPool` with a bounded window and come back in input order, so the
driver writes the manifest, the errors and the resume ledger exactly as the local executor does.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from hilite_cli.engine.local import Batch, run_batch
from hilite_cli.core import Record
from hilite_cli.stages.base import Stage


class _StageWorker:
    """Holds one copy of the stage for its whole life (models load once per worker)."""

    def __init__(self, stage: Stage) -> None:
        self.stage = stage
        self.stage.setup()

    def run(self, batch: Batch) -> list[Record]:
        return run_batch(self.stage, batch)

    def finish(self) -> list[Record]:
        return self.stage.finish()

    def teardown(self) -> None:
        self.stage.teardown()


@dataclass
class RayBatches:
    """A `BatchMapper` over Ray actors. `address=None` starts a local Ray instance."""

    workers: int = 2
    address: str | None = None
    num_gpus: float = 0.0
    num_cpus: float = 1.0

    def __call__(self, stage: Stage, batches: Iterator[Batch]) -> Iterator[tuple[Batch, list[Record]]]:
        try:
            import ray
            from ray.util import ActorPool
        except ImportError:
            raise RuntimeError("the Ray executor needs Ray: pip install 'hilite_cli[ray]'") from None

        if type(stage).finish is not Stage.finish and self.workers > 1:
            raise RuntimeError(
                f"`{stage.name}` needs the whole stream in one place (it emits at the end): use --workers 1 or the local executor"
            )
        if not ray.is_initialized():
            ray.init(address=self.address, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
        actor = ray.remote(num_cpus=self.num_cpus, num_gpus=self.num_gpus)(_StageWorker)
        actors = [actor.remote(stage) for _ in range(self.workers)]
        pool = ActorPool(actors)
        pending: list[Batch] = []
        try:
            for batch in batches:
                pool.submit(lambda a, b: a.run.remote(b), batch)
                pending.append(batch)
                if len(pending) >= 2 * self.workers:
                    yield pending.pop(0), pool.get_next()
            while pending:
                yield pending.pop(0), pool.get_next()
            for outputs in ray.get([a.finish.remote() for a in actors]):
                yield [], outputs
        finally:
            ray.get([a.teardown.remote() for a in actors])
            for a in actors:
                ray.kill(a)
