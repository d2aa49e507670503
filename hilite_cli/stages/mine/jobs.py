"""The job queue of NHR 3.5's budget-aware random scheduler, and the state file that makes it resumable.

A job is one (source, instruction, seed) edit attempt; up to N x k x M of them are enumerated from
the sources that passed the gate. The scheduler fixes one seeded permutation of all jobs (so a
resumed run with the same `--seed` continues the same uniform draw without replacement), skips
the ones the state file already holds, and hands them out in windows: the jobs of a window that
share a (source, instruction) form one group, run as ONE batched `Editor.edit` call with their
seeds. Uniform sampling means a small window seldom holds two seeds of one pair, so the window is
large by default (configs/mining.toml) to let seeds batch.

The state file (`<pool>.state.jsonl`) has one line per finished source or job, each written with
a single `os.write` on an O_APPEND descriptor, so a kill leaves at most one torn last line, which
a resumed run cuts off. `--retry-failed` forgets failed outcomes so they run again; the retry's
line then follows the failed one and the last line for an id wins (GPU time counts both).

Each line also carries `usd`: the provider spend (gate + pre-filter) since the previous line, so
`--budget-usd` counts earlier runs the way `--budget-gpu-hours` does. Spend on calls whose line a
kill prevented is not counted; those answers sit in the response cache, so the resumed run does not
pay for them again.

Under `--batch-api` an edit waits for its pre-filter window as an `awaiting` line (its staged image
and GPU seconds), and a generated source waits for the gate's batch job the same way; the final
source or job line replaces it, and a resumed run judges what still awaits from its written bytes.
"""

from __future__ import annotations

import os
import random
import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from hilite_cli.manifest import ManifestError, repair_torn_tail
from hilite_cli.records import Record, stable_id


AWAITING_PREFILTER = "awaiting:prefilter"  # an edit staged for its pre-filter window (--batch-api)
AWAITING_GATE = "awaiting:gate"  # a generated source written, waiting for the gate's batch job


@dataclass(frozen=True)
class Job:
    id: str
    source: str
    instruction: str
    seed: int

    @property
    def pair(self) -> tuple[str, str]:
        return (self.source, self.instruction)


def enumerate_jobs(sources: list[tuple[str, list[str]]], attempts: int) -> list[Job]:
    """Every (source, instruction, seed) with seeds 0..M-1, from (source id, instructions) pairs."""
    return [
        Job(stable_id("job", source, instruction, seed), source, instruction, seed)
        for source, instructions in sources
        for instruction in instructions
        for seed in range(attempts)
    ]


class Scheduler:
    """Uniform draws without replacement, in windows grouped by (source, instruction).

    Done jobs (from the state of a killed run) stay in the draw, so a resumed run forms exactly the
    windows and groups of an uninterrupted one: a batched edit call gives bit-identical images only
    for the same batch, so a group that was cut short is recomputed whole and only its unfinished
    jobs are recorded (`todo`). Windows and groups that are all done cost nothing.
    """

    def __init__(
        self, jobs: list[Job], *, done: set[str], seed: int, window: int, passed_pairs: set[tuple[str, str]] | None = None
    ) -> None:
        if window < 1:
            raise ValueError(f"`window` must be >= 1, got {window}")
        order = sorted(jobs, key=lambda j: j.id)
        random.Random(seed).shuffle(order)
        self._queue = deque(order)
        self.done = done
        self.window = window
        # With --until-first-pass, pairs that already passed: their undrawn jobs are dropped.
        self.passed_pairs = passed_pairs

    def __len__(self) -> int:
        """Jobs still to run."""
        return sum(1 for j in self._queue if j.id not in self.done)

    def todo(self, group: list[Job]) -> list[Job]:
        return [j for j in group if j.id not in self.done]

    def runnable(self, job: Job) -> bool:
        return self.passed_pairs is None or job.pair not in self.passed_pairs

    def next_window(self) -> list[list[Job]]:
        """The next groups to run, in order of first draw; empty when the queue is exhausted.

        Windows that are all done are skipped in a loop (a resume may pass millions of them).
        """
        while True:
            groups: dict[tuple[str, str], list[Job]] = {}
            drawn = 0
            while self._queue and drawn < self.window:
                job = self._queue.popleft()
                if not self.runnable(job):
                    continue
                groups.setdefault(job.pair, []).append(job)
                drawn += 1
            runnable = [g for g in groups.values() if self.todo(g)]
            if runnable or not self._queue:
                return runnable


class StateFile:
    """Append-only record of finished sources and jobs (id -> outcome, GPU seconds), thread-safe."""

    def __init__(self, path: Path, *, resume: bool) -> None:
        self.path = path
        self.sources: dict[str, Record] = {}
        self.jobs: dict[str, Record] = {}
        self.awaiting: dict[str, Record] = {}  # source or job id -> its awaiting entry, until its own line
        self._lock = threading.Lock()
        self._spent_s = 0.0
        self._spent_usd = 0.0
        path.parent.mkdir(parents=True, exist_ok=True)
        if resume:
            repair_torn_tail(path)
            self._load()
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | (0 if resume else os.O_TRUNC)
        self._fd = os.open(path, flags, 0o644)

    def _load(self) -> None:
        if not self.path.is_file():
            return
        with self.path.open("rb") as fh:
            for number, raw in enumerate(fh, start=1):
                if raw.strip():
                    self._index(self._parse(raw, number))

    def _parse(self, raw: bytes, number: int) -> Record:
        """One state line; a damaged one (not the torn last line, cut before) stops the run, named."""
        try:
            entry = orjson.loads(raw)
            if isinstance(entry, dict) and entry.get("type") in ("source", "job", "awaiting") and isinstance(entry.get("id"), str) \
                    and isinstance(entry.get("outcome"), str):
                return entry
            problem = "not a source or job entry"
        except orjson.JSONDecodeError as exc:
            problem = f"malformed JSON ({exc})"
        raise ManifestError(f"state file {self.path}, line {number}: {problem}; repair or remove that line, "
                            "or start over with --overwrite")

    def _index(self, entry: Record) -> None:
        kind = entry["type"]
        if kind == "awaiting":
            self.awaiting[entry["id"]] = entry
        else:
            (self.sources if kind == "source" else self.jobs)[entry["id"]] = entry
            self.awaiting.pop(entry["id"], None)
        self._spent_s += float(entry.get("gpu_s") or 0.0)
        self._spent_usd += float(entry.get("usd") or 0.0)

    def append(self, entry: dict[str, Any]) -> None:
        """Write one entry as one line in one system call, then index it."""
        line = orjson.dumps(entry, option=orjson.OPT_SERIALIZE_NUMPY) + b"\n"
        with self._lock:
            os.write(self._fd, line)
            self._index(entry)

    def gpu_seconds(self) -> float:
        """GPU seconds recorded so far (generation + edits of every line, retried ones included)."""
        with self._lock:
            return self._spent_s

    def usd_spent(self) -> float:
        """Provider US dollars recorded so far (every line, retried ones included)."""
        with self._lock:
            return self._spent_usd

    def forget_failed(self) -> set[str]:
        """Drop failed sources and jobs from the index so the run does them again; their ids."""
        with self._lock:
            failed = {i for table in (self.sources, self.jobs) for i, e in table.items() if e["outcome"].startswith("failed:")}
            for table in (self.sources, self.jobs):
                for i in failed & table.keys():
                    del table[i]
        return failed

    def close(self) -> None:
        os.close(self._fd)
