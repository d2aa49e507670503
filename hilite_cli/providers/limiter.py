"""An adaptive concurrency limit: additive increase per round trip, multiplicative decrease per congestion event.

A fixed `--concurrency` is either below a provider's rate limit (throughput left unused) or above it
(a storm of 429s and retries). AIMD, the rule TCP uses for the same problem, finds the limit while
running. Against a requests-per-second limit (a token bucket) the throughput of `c` requests in
flight is `c / latency`, so the limit has to settle just above `rate * latency`:

- every answered request raises the limit by `increase / limit` (about `increase` slots per round trip);
- a 429 multiplies it by `decrease`, at most once per congestion event: a 429 of a request sent before
  the last decrease, or within one smoothed round trip of it, reflects the old limit (429s are
  answered at once, so a burst of them arrives well before a smaller limit can show its effect);
  and never takes it below what the server was seen to hold at once (the rate estimate, by Little's
  law: the seconds answered requests spent in flight over the last `rate_window` seconds, divided
  by the window: answers per second times their round trip).
  Above `rate * latency` a limit costs only 429s; below it, it costs throughput;
- a Retry-After holds back new requests until then (each caller waits a pause once).

Measured in bench/provider_concurrency.py: a deep decrease counted per request (the first version)
pushed the limit below `rate * latency` (and 429'd requests slept for a second, see
Provider._backoff); a factor per round trip alone still dipped below it at 50 req/s x 250 ms.
`--concurrency` is the ceiling and the starting point; configs/providers.toml [limiter] sets the rest.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class LimiterSettings:
    """How the limit moves (configs/providers.toml [limiter])."""

    floor: int = 1
    increase: float = 1.0  # slots added per round trip of answers
    decrease: float = 0.8  # factor applied per congestion event (0.5 is classic AIMD; gentler keeps more of the rate)
    rtt_weight: float = 0.125  # weight of a new round-trip sample in the smoothed RTT (TCP's 1/8)
    rate_window: float = 2.0  # seconds of answers the rate estimate counts


class Slot:
    """One request's hold on the limiter; say how it went before leaving the `with` block."""

    def __init__(self, started: float) -> None:
        self.started = started
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
        self.decreases = 0
        self.lowest = self.limit
        self.rtt: float | None = None  # smoothed seconds per answered request
        self._clock = clock
        self._sleep = sleep  # the provider's seam, so tests that record waits are not held for real
        self._paused_until = 0.0
        self._last_decrease = float("-inf")
        self._answered: deque[tuple[float, float]] = deque()  # (when, seconds in flight) of recent answers
        self._held = 0.0  # their seconds in flight, summed
        self._first_sent = float("inf")
        self._cond = threading.Condition()

    @contextmanager
    def slot(self) -> Iterator[Slot]:
        """Hold one of the `limit` slots for the duration of a request."""
        slot = Slot(self._acquire())
        try:
            yield slot
        finally:
            self._release(slot)

    def _acquire(self) -> float:
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
                    now = self._clock()
                    self._first_sent = min(self._first_sent, now)
                    return now
                self._cond.wait()

    def _release(self, slot: Slot) -> None:
        s = self.settings
        with self._cond:
            now = self._clock()
            self.in_flight -= 1
            if slot.throttled:
                self.throttles += 1
                if self._new_congestion(slot, now):
                    cut = max(float(self.floor), self.limit * s.decrease, self._sustained(now))
                    self.limit = min(self.limit, cut)
                    self.lowest = min(self.lowest, self.limit)
                    self.decreases += 1
                    self._last_decrease = now
                if slot.retry_after:
                    self._paused_until = max(self._paused_until, now + slot.retry_after)
            else:
                sample = now - slot.started
                self.rtt = sample if self.rtt is None else self.rtt + s.rtt_weight * (sample - self.rtt)
                self._answered.append((now, sample))
                self._held += sample
                self.limit = min(float(self.ceiling), self.limit + s.increase / self.limit)
            self._cond.notify_all()

    def _new_congestion(self, slot: Slot, now: float) -> bool:
        """A 429 that says something the last decrease did not already answer (the limit at the floor always does)."""
        if self.limit <= self.floor:
            return True
        if slot.started < self._last_decrease:
            return False
        return self.rtt is None or now - self._last_decrease >= self.rtt

    def _sustained(self, now: float) -> float:
        """Requests the server was seen to hold at once over the last `rate_window` seconds (Little's law:
        the answered requests' seconds in flight over the window's length), the limit that keeps it
        saturated; 0 before a window has passed."""
        window = self.settings.rate_window
        while self._answered and self._answered[0][0] <= now - window:
            self._held -= self._answered.popleft()[1]
        if now - self._first_sent < window:
            return 0.0
        return self._held / window
