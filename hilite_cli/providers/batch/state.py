"""`<output>.batches.jsonl`: which batch job holds which requests, so no request is paid for twice.

Append-only JSONL, one event per line, fsynced as written:

    {"event": "submitted", "job": "batches/123", "backend": "gemini", "model": "…", "keys": [...], "at": …}
    {"event": "ended", "job": "batches/123", "state": "expired", "retry": [...], "at": …}

A request (its cache key) belongs to the newest job that holds it, unless that job ended with the key
in `retry` (expired, failed, a transient per-request error): then it is submitted again. A torn last
line (a kill mid-write) is ignored on reading and never ends up half-merged with the next event.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import orjson


class BatchState:
    """The ledger of one output's batch jobs."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.jobs: dict[str, dict[str, Any]] = {}  # job -> submitted event (+ "ended" once it ended)
        self._owner: dict[str, str] = {}  # key -> job that holds it
        self._load()

    def _load(self) -> None:
        if not self.path.is_file():
            return
        data = self.path.read_bytes()
        for line in data.splitlines():
            try:
                event = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue  # a torn last line from a killed run
            self._apply(event)
        if data and not data.endswith(b"\n"):
            with self.path.open("ab") as fh:  # so the next event starts on its own line
                fh.write(b"\n")

    def _apply(self, event: dict[str, Any]) -> None:
        job = event["job"]
        if event["event"] == "submitted":
            self.jobs[job] = dict(event)
            for key in event["keys"]:
                self._owner[key] = job
        elif event["event"] == "ended" and job in self.jobs:
            self.jobs[job]["ended"] = event
            for key in event.get("retry", []):
                if self._owner.get(key) == job:
                    del self._owner[key]

    def _append(self, event: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("ab") as fh:
            fh.write(orjson.dumps(event) + b"\n")
            fh.flush()
            os.fsync(fh.fileno())
        self._apply(event)

    def job_for(self, key: str) -> str | None:
        """The job whose answer to `key` is (or will be) collectable, or None: not submitted yet."""
        return self._owner.get(key)

    def keys_of(self, job: str) -> list[str]:
        return list(self.jobs[job]["keys"])

    def ended(self, job: str) -> bool:
        return "ended" in self.jobs.get(job, {})

    def record_submitted(self, job: str, backend: str, model: str | None, keys: list[str]) -> None:
        self._append({"event": "submitted", "job": job, "backend": backend, "model": model, "keys": keys,
                      "at": time.time()})

    def record_ended(self, job: str, state: str, retry: list[str]) -> None:
        self._append({"event": "ended", "job": job, "state": state, "retry": retry, "at": time.time()})
