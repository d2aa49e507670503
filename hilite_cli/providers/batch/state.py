"""`<output>.batches.jsonl`: which batch job holds which requests, so no request is paid for twice.

Append-only JSONL, one event per line, fsynced as written:

    {"event": "submitted", "job": "batches/123", "backend": "gemini", "model": "…", "keys": [...], "at": …}
    {"event": "ended", "job": "batches/123", "state": "expired", "retry": [...], "at": …}
    {"event": "one_off", "job": "batches/123", "keys": [...], "at": …}

A request (its cache key) belongs to the newest job that holds it, unless that job ended with the key
in `retry` (expired, failed, a transient per-request error): then it is submitted again. A `one_off`
event names the keys whose answer from that job was a broken reply or a safety block: the next run
submits them again, in RESUBMIT_ONE_OFF new jobs at most (any number with `--retry-failed`). A torn
last line (a kill mid-write) is ignored on reading and never ends up half-merged with the next event.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import orjson

# New jobs a request gets, unasked, after one-off bad answers (more only with --retry-failed).
RESUBMIT_ONE_OFF = 1


class BatchState:
    """The ledger of one output's batch jobs."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.jobs: dict[str, dict[str, Any]] = {}  # job -> submitted event (+ "ended" once it ended)
        self._owner: dict[str, str] = {}  # key -> job that holds it
        self._one_off: dict[str, set[str]] = {}  # key -> jobs whose answer to it was a one-off bad answer
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
        elif event["event"] == "one_off":
            for key in event["keys"]:
                self._one_off.setdefault(key, set()).add(job)

    def _append(self, event: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("ab") as fh:
            fh.write(orjson.dumps(event) + b"\n")
            fh.flush()
            os.fsync(fh.fileno())
        self._apply(event)

    def job_for(self, key: str, *, resubmit: bool = False) -> str | None:
        """The job whose answer to `key` is (or will be) collectable, or None: to be submitted (again).

        A job that gave `key` a one-off bad answer is passed over while `key` has had fewer than
        RESUBMIT_ONE_OFF new jobs for it, or always with `resubmit` (--retry-failed)."""
        job = self._owner.get(key)
        bad = self._one_off.get(key, set())
        if job is not None and job in bad and (resubmit or len(bad) <= RESUBMIT_ONE_OFF):
            return None
        return job

    def record_one_off(self, job: str, keys: list[str]) -> None:
        """Note the keys whose answer from `job` was a one-off bad answer (each once)."""
        new = [key for key in keys if job not in self._one_off.get(key, set())]
        if new:
            self._append({"event": "one_off", "job": job, "keys": new, "at": time.time()})

    def keys_of(self, job: str) -> list[str]:
        return list(self.jobs[job]["keys"])

    def ended(self, job: str) -> bool:
        return "ended" in self.jobs.get(job, {})

    def record_submitted(self, job: str, backend: str, model: str | None, keys: list[str]) -> None:
        self._append({"event": "submitted", "job": job, "backend": backend, "model": model, "keys": keys,
                      "at": time.time()})

    def record_ended(self, job: str, state: str, retry: list[str]) -> None:
        self._append({"event": "ended", "job": job, "state": state, "retry": retry, "at": time.time()})
