"""The `--batch-api` flow shared by every backend: submit, persist, wait, collect, recover.

`Provider.ask_many` hands the runner the Asks its cache lacks (by cache key). Keys already held by
a job in the state file are collected from that job (a killed or detached run is picked up, never
paid for twice); the rest are packed into new jobs whose ids are written before any waiting. Each
job is polled until it ends or `max_wait` passes. A finished job's results are turned into Answers
by the backend's own reply reader (the same typed failures and strict parser as a plain request);
a request the job did not answer (expired, failed, cancelled, a per-request 429/5xx) is answered
`http_error`, which is never cached and sends the record to the errors manifest, so `--resume`
submits it again; a job still running when the wait ends answers `timeout` the same way, and
`--resume` collects it. One bad line in a results file is that request's broken reply; the rest of
the job is read as usual.

A one-off bad answer collected from a finished job (a broken reply, a safety block: asked again, it
may well come back good) is noted in the ledger; the next call that needs it (`--resume`) submits it
again in a new job instead of collecting the same answer. That happens once (`RESUBMIT_ONE_OFF`); with
`--retry-failed` (`provider.reask_failed`) each time. Good answers are never submitted twice.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hilite_cli.providers.batch.jobs import BatchBackend, BatchError, BatchSettings, JobStatus, RawResult
from hilite_cli.providers.batch.state import BatchState
from hilite_cli.providers.errors import TransientError

if TYPE_CHECKING:
    from hilite_cli.providers.base import Answer, Ask, SdkProvider

__all__ = ["BatchRunner", "BatchSettings", "backend_for"]


def backend_for(provider: SdkProvider, settings: BatchSettings) -> BatchBackend:
    if provider.name == "gemini":
        from hilite_cli.providers.batch.gemini import GeminiBatches

        return GeminiBatches(provider, settings)
    from hilite_cli.providers.batch.openai import OpenAIBatches

    return OpenAIBatches(provider)


class BatchRunner:
    """Answers a provider's cache misses through batch jobs recorded in `state_path`."""

    def __init__(
        self, provider: SdkProvider, state_path: Path, settings: BatchSettings, *,
        backend: BatchBackend | None = None, report: Callable[[str], None] | None = None,
    ) -> None:
        self.provider = provider
        self.settings = settings
        self.state = BatchState(state_path)
        self.backend = backend or backend_for(provider, settings)
        self.report = report or (lambda line: print(line, file=sys.stderr))
        self.clock = time.monotonic
        self._results: dict[str, dict[str, RawResult]] = {}  # job -> results, fetched once per process
        self.submitted: list[str] = []  # jobs this runner created (tests and the summary read it)

    # -- the flow ----------------------------------------------------------------------------------
    def run(self, asks: dict[str, Ask]) -> dict[str, Answer]:
        """An Answer for every key of `asks` (which the cache did not have)."""
        answers: dict[str, Answer] = {}
        waiting: dict[str, list[str]] = {}  # job -> the keys of `asks` it holds
        fresh: list[str] = []
        for key in asks:
            job = self.state.job_for(key, resubmit=self.provider.reask_failed)
            if job is None:
                fresh.append(key)
            else:
                waiting.setdefault(job, []).append(key)
        # 1. submit what no job holds, one job per `max_requests`, each recorded before any wait
        for start in range(0, len(fresh), self.settings.max_requests):
            chunk = fresh[start:start + self.settings.max_requests]
            try:
                job = self._call(lambda chunk=chunk: self.backend.submit([(k, asks[k]) for k in chunk]))
            except (BatchError, TransientError) as exc:
                for key in chunk:
                    answers[key] = self.provider.answer("http_error", reason=f"batch job not created: {_reason(exc)}")
                continue
            self.state.record_submitted(job, self.provider.name, self.provider.model, chunk)
            self.submitted.append(job)
            self.report(f"batch: submitted {job} ({len(chunk)} requests to {self.provider.name}:{self.provider.model})")
            waiting[job] = chunk
        # 2. wait for every job this call needs, then read each one's results
        ends = self._wait(list(waiting))
        for job, keys in waiting.items():
            status = ends.get(job)
            for key in keys:
                answers[key] = self._answer(job, status, key, asks[key])
            one_off = [key for key in keys if answers[key].one_off and answers[key].batch]
            self.state.record_one_off(job, one_off)
        return answers

    def _wait(self, jobs: list[str]) -> dict[str, JobStatus]:
        """Poll until every job ended or `max_wait` passed; the jobs that ended, with their last status."""
        ended: dict[str, JobStatus] = {}
        deadline = self.clock() + self.settings.max_wait
        last: dict[str, str] = {}
        while True:
            for job in jobs:
                if job in ended:
                    continue
                try:
                    status = self._call(lambda job=job: self.backend.poll(job))
                except (BatchError, TransientError) as exc:
                    status = JobStatus("running", f"status unavailable: {_reason(exc)}")
                if status.state != "running":
                    ended[job] = status
                    self._end(job, status)
                line = f"batch: {job} {status.state}{(': ' + status.detail) if status.detail else ''}"
                if last.get(job) != line:
                    self.report(line)
                    last[job] = line
            if len(ended) == len(jobs) or self.clock() >= deadline:
                return ended
            self.provider.sleep(min(self.settings.poll_interval, max(0.0, deadline - self.clock())))

    def _end(self, job: str, status: JobStatus) -> None:
        """Fetch a finished job's results once, and record which of its requests must be sent again."""
        try:
            results = self._call(lambda: self.backend.results(job))
        except (BatchError, TransientError) as exc:
            self.report(f"batch: results of {job} unavailable: {_reason(exc)}")
            results = {}
        self._results[job] = results
        if not self.state.ended(job):
            retry = [k for k in self.state.keys_of(job) if k not in results or results[k].transient]
            self.state.record_ended(job, status.state, retry)

    def _answer(self, job: str, status: JobStatus | None, key: str, ask: Ask) -> Answer:
        if status is None:
            return self.provider.answer("timeout", reason=(
                f"batch job {job} still running after {self.settings.max_wait:g} s; run again with --resume to collect it"))
        result = self._results.get(job, {}).get(key)
        if result is None:
            detail = f" ({status.detail})" if status.detail else ""
            return self.provider.answer("http_error", reason=(
                f"batch job {job} {status.state}{detail} without answering this request; --resume submits it again"))
        if result.error is not None:
            return self.provider.answer("http_error", reason=f"batch job {job}: {result.error}")
        if result.broken is not None:  # this request's line only: the rest of the job is read as usual
            return self.provider.broken_reply(result.broken, result.body).model_copy(update={"batch": True})
        answer = self.provider.read_response(ask, result.response, body=lambda: result.body)
        return answer.model_copy(update={"batch": True})

    def _call(self, step: Callable[[], Any]) -> Any:
        """A batch endpoint call, retried on 429/5xx like a request (the provider's retries and backoff)."""
        attempts = self.provider.settings.max_retries + 1
        for attempt in range(attempts):
            try:
                return step()
            except TransientError as exc:
                if attempt == attempts - 1:
                    raise
                self.provider.sleep(self.provider._backoff(attempt, exc.retry_after))
        raise AssertionError("unreachable: the last attempt returns or raises")


def _reason(exc: Exception) -> str:
    return getattr(exc, "reason", None) or str(exc)
