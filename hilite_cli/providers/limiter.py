"""An adaptive concurrency limit: additive increase on success, multiplicative decrease on a 429.

A fixed `--concurrency` is either below a provider's rate limit (throughput left unused) or above it
(a storm of 429s and retries). AIMD, the rule TCP uses for the same problem, finds the limit while
running: every answered request raises the limit by 1/limit (one slot per full window), a 429
halves it (once per window, not once per 429 of the same burst), and a Retry-After pauses new
requests for that long. `--concurrency` is the ceiling and the starting point.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class LimiterSettings:
    """How the limit moves (configs/providers.toml [limiter])."""

    floor: int = 1
    increase: float = 1.0  # slots added per window of successes
    decrease: float = 0.7  # factor applied on a 429 (0.5 is classic AIMD; gentler keeps more of the rate)


class Slot:
    """One request's hold on the limiter; say how it went before leaving the `with` block."""

    def __init__(self) -> None:
        self.throttled = False
        self.retry_after: float | None = None

    def throttle(self, retry_after: float | None) -> None:
        """The server answered 429 (or said to slow down), optionally with a wait in seconds."""
        self.throttled = True
        self.retry_after = retry_after


class AdaptiveLimiter:
    """Thread-safe AIMD limit on requests in flight, between `floor` and `ceiling`."""

    def __init__(
        self, ceiling: int, settings: LimiterSettings | None = None, *, clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings or LimiterSettings()
        self.ceiling = max(1, ceiling)
        self.floor = max(1, min(self.settings.floor, self.ceiling))
        self.limit = float(self.ceiling)
        self.in_flight = 0
        self.throttles = 0
        self.lowest = self.limit
        self._clock = clock
        self._sleep = sleep  # the provider's seam, so tests that record waits are not held for real
        self._paused_until = 0.0
        # Requests finished since the last decrease (a burst of 429s halves once); the first 429 always counts.
        self._since_decrease = self.ceiling
        self._cond = threading.Condition()

    @contextmanager
    def slot(self) -> Iterator[Slot]:
        """Hold one of the `limit` slots for the duration of a request."""
        self._acquire()
        slot = Slot()
        try:
            yield slot
        finally:
            self._release(slot)

    def _acquire(self) -> None:
        served = 0.0  # the pause this caller has already waited out (each pause is waited once)
        with self._cond:
            while True:
                pause = self._paused_until
                wait = pause - self._clock()
                if wait > 0 and pause > served:
                    self._cond.release()
                    try:
                        self._sleep(wait)
                    finally:
                        self._cond.acquire()
                    served = pause
                    continue
                if self.in_flight < int(self.limit):
                    self.in_flight += 1
                    return
                self._cond.wait()

    def _release(self, slot: Slot) -> None:
        s = self.settings
        with self._cond:
            self.in_flight -= 1
            self._since_decrease += 1
            if slot.throttled:
                self.throttles += 1
                if self._since_decrease >= int(self.limit) or self.limit <= self.floor:
                    self.limit = max(float(self.floor), self.limit * s.decrease)
                    self.lowest = min(self.lowest, self.limit)
                    self._since_decrease = 0
                if slot.retry_after:
                    self._paused_until = max(self._paused_until, self._clock() + slot.retry_after)
            else:
                self.limit = min(float(self.ceiling), self.limit + s.increase / self.limit)
            self._cond.notify_all()
