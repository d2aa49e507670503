"""What the batch runner and the two wire formats share: job states, per-request results, settings,
and the reading of a results file line by line.

It sits below both `runner.py` and the backends (`gemini.py`, `openai.py`), so the runner can build
a backend and a backend can return results without either importing the other's module.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

import orjson
from pydantic import ValidationError

if TYPE_CHECKING:
    from hilite_cli.providers.base import Ask

log = logging.getLogger(__name__)

JobState = Literal["running", "succeeded", "failed", "expired", "cancelled"]


class BatchError(Exception):
    """A batch call failed in a way no retry fixes (the server has no batch API, a bad request)."""


@dataclass(frozen=True)
class JobStatus:
    state: JobState
    detail: str = ""  # progress or the server's error, for the progress line and reasons


@dataclass(frozen=True)
class RawResult:
    """One request's result inside a finished job: the reply object, the error the job reported, or
    the problem with a reply line that is not the wire format (`broken`)."""

    response: Any = None
    error: str | None = None
    transient: bool = False  # a per-request 429/5xx: submit again rather than record
    body: str | None = None  # this request's own reply as the job returned it: the raw of a broken reply
    broken: str | None = None  # why this request's reply cannot be read: a broken reply, that request only


class BatchBackend(Protocol):
    """What a backend provides: its wire format through its SDK."""

    def submit(self, items: list[tuple[str, Ask]]) -> str: ...

    def poll(self, job: str) -> JobStatus: ...

    def results(self, job: str) -> dict[str, RawResult]: ...


@dataclass(frozen=True)
class BatchSettings:
    """configs/providers.toml [batch]."""

    poll_interval: float = 30.0
    max_wait: float = 86400.0
    max_requests: int = 10000
    inline_limit_bytes: int = 10_000_000
    records_per_job: int = 2000

    @classmethod
    def from_config(cls, section: dict[str, Any], **overrides: Any) -> BatchSettings:
        given = {**section, **{k: v for k, v in overrides.items() if v is not None}}
        return cls(**{k: v for k, v in given.items() if k in cls.__dataclass_fields__})


class BadLine(ValueError):
    """A results line whose shape is wrong (a `response` that is not an object): that request's broken reply."""


# What reading one line's reply object may raise (pydantic's ValidationError is a ValueError).
LINE_ERRORS: tuple[type[BaseException], ...] = (ValueError, TypeError, AttributeError, KeyError, IndexError,
                                                RecursionError)


def read_results_file(
    job: str, data: bytes, key_field: str, read: Callable[[dict[str, Any], bytes], RawResult],
    into: dict[str, RawResult] | None = None,
) -> dict[str, RawResult]:
    """Each line of a results file, by the request key in `key_field`, read by `read(item, line)`.

    One bad line never costs the others: a line whose reply cannot be read is that request's broken
    reply (with the line kept as raw); a line that is not JSON or names no request is skipped with a
    warning, and its request, left unanswered, is submitted again like any request a job did not answer.
    """
    out = {} if into is None else into
    for number, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            log.warning("batch %s: line %d of its results is not JSON (%s); skipped", job, number, exc)
            continue
        key = item.get(key_field) if isinstance(item, dict) else None
        if not isinstance(key, str):
            log.warning("batch %s: line %d of its results names no request (`%s`); skipped", job, number, key_field)
            continue
        try:
            out[key] = read(item, line)
        except LINE_ERRORS as exc:
            out[key] = RawResult(broken=problem(exc), body=line.decode("utf-8", errors="replace"))
    return out


def problem(exc: BaseException) -> str:
    """One line for why a reply object cannot be read (a pydantic error names its first field only)."""
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(root)"
        count = exc.error_count()
        return (f"{count} field{'s' if count > 1 else ''} of {exc.title} do not validate "
                f"(first `{where}`: {first['msg'].lower()})")
    if isinstance(exc, BadLine):
        return str(exc)
    first_line = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first_line[:200]}"
