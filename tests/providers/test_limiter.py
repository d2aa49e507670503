"""The adaptive concurrency limit: AIMD rules, Retry-After pauses, and a real client held under a
server's concurrency cap without losing a request."""

from __future__ import annotations

import threading
import time

from support.loopback import Loopback, RateLimited, Received, Text

from hilite_cli.providers import Ask, get_provider
from hilite_cli.providers.limiter import AdaptiveLimiter, LimiterSettings
from hilite_cli.providers.retry_after import retry_after_from


def finish(limiter: AdaptiveLimiter, throttled: bool, retry_after: float | None = None) -> None:
    with limiter.slot() as slot:
        if throttled:
            slot.throttle(retry_after)


def test_a_429_halves_the_limit_once_per_window_and_successes_win_it_back_one_slot_per_window() -> None:
    limiter = AdaptiveLimiter(8, LimiterSettings(decrease=0.5))
    assert limiter.limit == 8  # --concurrency is the starting point
    for _ in range(8):  # a first window of answers at the ceiling: stays there
        finish(limiter, False)
    finish(limiter, True)
    assert limiter.limit == 4
    finish(limiter, True)  # the same burst: not halved again before a window has passed
    assert limiter.limit == 4
    for _ in range(4):
        finish(limiter, False)
    assert 4.9 < limiter.limit < 5.0  # +1/limit per answer: about one slot per window
    for _ in range(200):
        finish(limiter, False)
    assert limiter.limit == 8  # never above the ceiling


def test_the_limit_never_drops_below_the_floor() -> None:
    limiter = AdaptiveLimiter(4, LimiterSettings(floor=2, decrease=0.5))
    for _ in range(20):
        finish(limiter, True)
    assert limiter.limit == 2 and limiter.lowest == 2 and limiter.throttles == 20


def test_retry_after_holds_back_new_requests_for_that_long() -> None:
    limiter = AdaptiveLimiter(4)
    finish(limiter, True, retry_after=0.3)
    started = time.monotonic()
    finish(limiter, False)  # has to wait out the pause
    assert time.monotonic() - started >= 0.25


def test_the_pause_goes_through_the_sleep_seam_once_per_pause() -> None:
    waits: list[float] = []
    limiter = AdaptiveLimiter(4, sleep=waits.append)
    finish(limiter, True, retry_after=50)
    finish(limiter, False)  # waits out the pause once, through the seam, then goes
    finish(limiter, False)
    assert len(waits) == 2 and 49 < waits[0] <= 50 and 49 < waits[1] <= 50  # each new caller waits it out


def test_retry_after_ms_is_read_before_retry_after() -> None:
    assert retry_after_from({"retry-after-ms": "250", "retry-after": "3"}) == 0.25
    assert retry_after_from({"retry-after": "3"}) == 3.0
    assert retry_after_from({}) is None


def test_a_client_above_the_servers_cap_backs_off_and_loses_nothing(keys: str) -> None:
    """The server answers 429 (retry-after-ms 20) whenever more than 3 requests are in flight."""
    cap, lock = 3, threading.Lock()
    state = {"in_flight": 0, "peak_ok": 0, "rejected": 0}

    def answer(request: Received) -> RateLimited | Text:
        with lock:
            if state["in_flight"] >= cap:
                state["rejected"] += 1
                return RateLimited(retry_after_ms=20)
            state["in_flight"] += 1
            state["peak_ok"] = max(state["peak_ok"], state["in_flight"])
        time.sleep(0.03)
        with lock:
            state["in_flight"] -= 1
        return Text("yes")

    with Loopback(answer=answer) as server:
        provider = get_provider("openai:gpt-4.1", base_url=server.openai_url, concurrency=12, max_retries=8,
                                backoff_base=0.01, use_cache=False)
        try:
            answers = provider.ask_many([Ask(prompt=f"q{i}", expect="yesno") for i in range(40)])
        finally:
            provider.close()
    assert [a.status for a in answers] == ["ok"] * 40
    assert state["rejected"] >= 1 and provider.limiter.throttles == state["rejected"]
    assert provider.limiter.lowest <= 6  # it came down from 12 towards the server's cap
