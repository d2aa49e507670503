"""The local executor of the mining flow (stages/mine/flow.py): the model operator on the driver's
own thread, the CPU operators in a thread pool beside it.

Items are pulled one at a time, so the driver's `keep_going` (the budget) is asked before each model
call, and a `BARRIER` in the stream (a learning schedule's window end) waits until every earlier item
is back before the next one is drawn. At most `max_pending` items wait for the CPU operators; beyond
that the model loop waits (and the GPU idles, which the busy fraction shows honestly). Without
`overlap` it waits after every model call: the baseline the bench compares.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from hilite_cli.stages.mine.flow import BARRIER, Operator


def drain(pending: list[Future[Any]], keep: int) -> list[Future[Any]]:
    """Wait until at most `keep` futures are pending; re-raise what a worker raised."""
    while len(pending) > keep:
        done, rest = wait(pending, return_when=FIRST_COMPLETED)
        for f in done:
            f.result()
        pending = list(rest)
    for f in [f for f in pending if f.done()]:
        f.result()
    return [f for f in pending if not f.done()]


class LocalFlow:
    """Runs flows in this process; `pool` also serves the driver's own CPU work (--batch-api windows)."""

    remote = False
    gpu_workers = 1

    def __init__(self, workers: int, max_pending: int, overlap: bool = True) -> None:
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mine-post")
        self.max_pending = max_pending if overlap else 0

    def close(self) -> None:
        self.pool.shutdown(wait=True)

    def summary(self) -> dict[str, Any] | None:
        return None

    def map(self, ops: list[Operator], items: Iterable[Any], *, keep_going: Callable[[Any], bool],
            account: Callable[[Any], None], meters: dict[str, Any] | None = None) -> Iterator[Any]:
        """Each item through `ops`, in input order; `account` sees it as soon as its model call is done."""
        model, rest = (ops[0], ops[1:]) if ops[0].resources.gpu else (None, ops)
        pending: deque[Future[Any]] = deque()
        for item in items:
            if item is BARRIER:
                while pending:
                    yield pending.popleft().result()
                yield BARRIER
                continue
            if not keep_going(item):
                break
            for op in ops:
                if not op.ready:
                    op.setup()
            if model is not None:
                item = model([item])[0]
                account(item)
            pending.append(self.pool.submit(_chain, rest, item))
            while len(pending) > self.max_pending or (pending and pending[0].done()):
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _chain(ops: list[Operator], item: Any) -> Any:
    for op in ops:
        item = op([item])[0]
    return item
