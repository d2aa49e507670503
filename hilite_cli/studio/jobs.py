"""Background work for the studio: edits run in a worker pool, the server loop only submits and polls.

A job is a function taking a `report(phase, done, total)` callback; its state is read by polling
(`GET /api/jobs/{id}`), so a slow editor never holds a request open.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

Report = Callable[[str, int, int], None]


class Jobs:
    def __init__(self, workers: int) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="studio-edit")
        self._lock = threading.Lock()
        self._jobs: dict[str, dict[str, Any]] = {}

    def submit(self, work: Callable[[Report], dict[str, Any]]) -> str:
        job = secrets.token_hex(8)
        with self._lock:
            self._jobs[job] = {"status": "queued", "phase": "queued", "done": 0, "total": 0, "result": None,
                               "error": None}

        def report(phase: str, done: int, total: int) -> None:
            self._update(job, status="running", phase=phase, done=done, total=total)

        def run() -> None:
            try:
                self._update(job, status="running", phase="starting")
                self._update(job, status="done", phase="done", result=work(report))
            except Exception as exc:  # noqa: BLE001 - the job's failure is its answer, shown to the user
                self._update(job, status="failed", phase="failed", error=str(exc))

        self._pool.submit(run)
        return job

    def _update(self, job: str, **fields: Any) -> None:
        with self._lock:
            self._jobs[job].update(fields)

    def get(self, job: str) -> dict[str, Any] | None:
        with self._lock:
            state = self._jobs.get(job)
            return dict(state) if state else None

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
