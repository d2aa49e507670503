"""Token usage of every answer, totalled per provider, so each stage can say what a run cost.

The SDKs report tokens per reply (Gemini `usage_metadata`, OpenAI `usage`). A meter adds them up
for one provider: requests sent now, answers served by the cache (tokens paid in an earlier run,
not again), and for each how many tokens went in and out, split by interactive and batch price.
A run's meters are collected by `usage_scope()` so the command can print and record them after
the stage has closed its providers. Meters made in another process (a Ray actor) travel as
`counts()` and are added to a driver's meter with `add_counts()` (engine/ray.py).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict


class Usage(BaseModel):
    """Tokens of one reply, as the provider reported them; None where it reported none."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input_tokens: int | None = None
    output_tokens: int | None = None


def gemini_usage(response: Any) -> Usage | None:
    """From a google-genai GenerateContentResponse: prompt tokens in; candidate + thinking tokens out
    (Gemini bills thinking tokens as output)."""
    meta = getattr(response, "usage_metadata", None)
    if meta is None:
        return None
    out = meta.candidates_token_count
    if meta.thoughts_token_count:
        out = (out or 0) + meta.thoughts_token_count
    if meta.prompt_token_count is None and out is None:
        return None
    return Usage(input_tokens=meta.prompt_token_count, output_tokens=out)


def openai_usage(completion: Any) -> Usage | None:
    """From an openai ChatCompletion: prompt tokens in, completion tokens out."""
    usage = getattr(completion, "usage", None)
    if usage is None:
        return None
    return Usage(input_tokens=usage.prompt_tokens, output_tokens=usage.completion_tokens)


@dataclass
class Tally:
    """Requests and tokens of one kind (interactive, batch, or cached)."""

    answers: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    without_usage: int = 0  # answers the provider reported no token counts for

    def counts(self) -> list[int]:
        return [self.answers, self.input_tokens, self.output_tokens, self.without_usage]

    def add_counts(self, counts: list[int]) -> None:
        self.answers += counts[0]
        self.input_tokens += counts[1]
        self.output_tokens += counts[2]
        self.without_usage += counts[3]

    def add(self, usage: Usage | None) -> None:
        self.answers += 1
        if usage is None or usage.input_tokens is None or usage.output_tokens is None:
            self.without_usage += 1
        if usage is not None:
            self.input_tokens += usage.input_tokens or 0
            self.output_tokens += usage.output_tokens or 0


KINDS = ("interactive", "batch", "cached")


@dataclass
class UsageMeter:
    """Thread-safe totals for one provider (`backend:model`)."""

    backend: str
    model: str | None
    interactive: Tally = field(default_factory=Tally)
    batch: Tally = field(default_factory=Tally)
    cached: Tally = field(default_factory=Tally)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, usage: Usage | None, *, cached: bool, batch: bool) -> None:
        with self._lock:
            (self.cached if cached else self.batch if batch else self.interactive).add(usage)

    def counts(self) -> dict[str, list[int]]:
        """The totals as plain numbers, to send to another process."""
        with self._lock:
            return {kind: getattr(self, kind).counts() for kind in KINDS}

    def add_counts(self, counts: dict[str, list[int]]) -> None:
        """Add totals that came from another meter's `counts()`."""
        with self._lock:
            for kind in KINDS:
                getattr(self, kind).add_counts(counts[kind])

    @property
    def calls(self) -> int:
        """Answers obtained from the provider in this run (interactive requests plus batch requests)."""
        return self.interactive.answers + self.batch.answers


_scopes: list[list[UsageMeter]] = []
_scopes_lock = threading.Lock()


def register(meter: UsageMeter) -> None:
    """Called by every new provider: the meter joins each open `usage_scope`."""
    with _scopes_lock:
        for scope in _scopes:
            scope.append(meter)


@contextmanager
def usage_scope() -> Iterator[list[UsageMeter]]:
    """Collect the meters of the providers made inside the block (by any thread)."""
    scope: list[UsageMeter] = []
    with _scopes_lock:
        _scopes.append(scope)
    try:
        yield scope
    finally:
        with _scopes_lock:
            _scopes.remove(scope)
